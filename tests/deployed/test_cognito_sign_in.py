"""Sign-ins through the emulated Cognito with the deployed cognito-challenge function attached
as the pool's custom-auth triggers and token guard (as the README wires an existing pool): a
real SRP client (pycognito's AWSSRP) answers the password, then a TOTP code or a backup code.
What the guard refuses, and the created pool, are in test_cognito_guard.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from conftest import Api, User, Users, enroll, jwt_claims


def sign_in(user: User, answers: list[str]) -> dict | None:
    """The custom flow with these answers: the tokens, or None. Every challenge an enrolled
    user meets is the code challenge, which names no secret."""
    challenges: list[dict] = []
    tokens = user.custom_sign_in(answers, challenges=challenges)
    assert all(c == {"type": "TOTP_OR_BACKUP_CODE"} for c in challenges), challenges
    return tokens


def test_a_totp_code_signs_in_and_a_replayed_one_does_not(api: Api, users: Users):
    user = enroll(api, users.new("ivy"))
    code = user.totp()
    tokens = sign_in(user, [code])
    assert tokens and tokens["IdToken"], "a TOTP code gets tokens"
    assert jwt_claims(tokens["IdToken"])["backup_codes:method"] == "totp"
    assert sign_in(user, [code]) is None, "the same TOTP code again is refused"


def test_a_backup_code_signs_in_once(api: Api, users: Users):
    user = enroll(api, users.new("jo"))
    tokens = sign_in(user, [user.codes[0]])
    assert tokens is not None
    # The token guard tells the app how the user signed in, so it can say "9 left: make new ones".
    claims = jwt_claims(tokens["IdToken"])
    assert (claims["backup_codes:method"], claims["backup_codes:remaining"], claims["backup_codes:low"]) == \
        ("backup_code", "9", "false"), claims
    assert "backup_codes:method" not in jwt_claims(tokens["AccessToken"]), "a V1 guard writes the ID token only"
    assert sign_in(user, [user.codes[0]]) is None
    trail = api.call("GET", "/v1/audit", token=user.sign_in()).json["events"]
    used = next(e for e in trail if e["type"] == "backup_code_used")
    assert (used["ip"], used["user_agent"]) == ("203.0.113.9", "pytest sign-in")
    assert used["reported_by_sign_in_client"] is True


def test_three_wrong_answers_fail_the_sign_in(api: Api, users: Users):
    user = enroll(api, users.new("kit"))
    assert sign_in(user, ["000000-0", "wrong-code", "12345678"]) is None
    # A fourth answer is never asked for: the third wrong one ended the sign-in.
    assert sign_in(user, ["wrong", "wrong", "wrong", user.codes[0]]) is None


def test_after_the_lockout_threshold_the_right_code_is_refused(api: Api, users: Users):
    user = enroll(api, users.new("lou"))
    for _ in range(4):  # 12 wrong answers, past the default threshold of 10
        sign_in(user, ["wrong-1", "wrong-2", "wrong-3"])
    assert sign_in(user, [user.codes[0]]) is None
    status = api.call("GET", "/v1/backup-codes", token=user.sign_in()).json
    assert status["remaining"] == 10, "the refused code was not used up"


def test_ten_concurrent_sign_ins_with_one_backup_code_get_tokens_once(api: Api, users: Users):
    user = enroll(api, users.new("max"))
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: sign_in(user, [user.codes[0]]), range(10)))
    assert sum(r is not None for r in results) == 1, results


def test_a_user_who_has_not_enrolled_gets_tokens_after_the_password(users: Users):
    user = users.new("ned")
    tokens = sign_in(user, [])
    assert tokens and tokens["IdToken"], "UnenrolledUsers=allow, the default"
