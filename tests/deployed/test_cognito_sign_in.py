"""Sign-ins through the emulated Cognito with the deployed cognito-challenge function attached
as the pool's custom-auth triggers (as the README wires an existing pool): a real SRP client
(pycognito's AWSSRP) answers the password, then a TOTP code or a backup code."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from conftest import PASSWORD, SIGN_IN_TIMINGS, Api, User, Users, enroll
from pycognito.aws_srp import AWSSRP

import stack as deployment


def timed(call: str, request, **kwargs) -> dict:
    started = time.perf_counter()
    try:
        return request(**kwargs)
    finally:
        SIGN_IN_TIMINGS.add(call, time.perf_counter() - started)


def sign_in(user: User, answers: list[str]) -> dict | None:
    """CUSTOM_AUTH with SRP, as Amplify's CUSTOM_WITH_SRP does: the tokens, or None when Cognito
    refuses (or still asks after the last answer)."""
    idp = deployment.client("cognito-idp")
    srp = AWSSRP(username=user.username, password=PASSWORD, pool_id=user.pool_id,
                 client_id=user.client_id, client=idp)
    params = {**srp.get_auth_params(), "CHALLENGE_NAME": "SRP_A"}
    step = timed("InitiateAuth: Define", idp.initiate_auth,
                 AuthFlow="CUSTOM_AUTH", ClientId=user.client_id, AuthParameters=params)
    assert step["ChallengeName"] == "PASSWORD_VERIFIER", step
    try:
        step = timed(
            "password: Define, Create", idp.respond_to_auth_challenge,
            ClientId=user.client_id,
            ChallengeName="PASSWORD_VERIFIER",
            Session=step.get("Session"),
            ChallengeResponses=srp.process_challenge(step["ChallengeParameters"], params),
        )
        for answer in answers:
            if "AuthenticationResult" in step:
                break
            assert step["ChallengeName"] == "CUSTOM_CHALLENGE", step
            assert step["ChallengeParameters"] == {"type": "TOTP_OR_BACKUP_CODE"}, step
            step = timed(
                "answer: Verify, Define", idp.respond_to_auth_challenge,
                ClientId=user.client_id,
                ChallengeName="CUSTOM_CHALLENGE",
                Session=step["Session"],
                ChallengeResponses={"USERNAME": user.username, "ANSWER": answer},
                ClientMetadata={"ip": "203.0.113.9", "user_agent": "pytest sign-in"},
            )
    except idp.exceptions.NotAuthorizedException:
        return None
    return step.get("AuthenticationResult")


def test_a_totp_code_signs_in_and_a_replayed_one_does_not(api: Api, users: Users):
    user = enroll(api, users.new("ivy"))
    code = user.totp()
    tokens = sign_in(user, [code])
    assert tokens and tokens["IdToken"], "a TOTP code gets tokens"
    assert sign_in(user, [code]) is None, "the same TOTP code again is refused"


def test_a_backup_code_signs_in_once(api: Api, users: Users):
    user = enroll(api, users.new("jo"))
    assert sign_in(user, [user.codes[0]]) is not None
    assert sign_in(user, [user.codes[0]]) is None
    trail = api.call("GET", "/v1/audit", token=user.sign_in()).json["events"]
    used = next(e for e in trail if e["type"] == "backup_code_used")
    assert (used["ip"], used["user_agent"]) == ("203.0.113.9", "pytest sign-in")


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


def test_a_stack_that_creates_its_pool_signs_users_in_with_a_code(stack_with_created_pool):
    """CreateUserPool=true and nothing else about identity: the template's own pool has the
    triggers attached, its app client's tokens are what the API trusts."""
    api, users = Api(stack_with_created_pool), Users(stack_with_created_pool)
    user = users.new("pia")
    first = sign_in(user, [])
    assert first and first["IdToken"], "not enrolled yet: tokens after the password (allow)"
    enroll(api, user, token=first["IdToken"])
    tokens = sign_in(user, [user.totp()])
    assert tokens and tokens["IdToken"], "enrolled: a TOTP code gets tokens"
    assert sign_in(user, ["000000"]) is None
    status = api.call("GET", "/v1/backup-codes", token=tokens["IdToken"])
    assert (status.status, status.json["remaining"]) == (200, 10)
