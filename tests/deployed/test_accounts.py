"""Accounts on the deployed stack: the team's backend writes memberships through API Gateway's
IAM auth, and nothing else can."""

from __future__ import annotations

from conftest import Api, Users, enroll


def test_the_backend_writes_memberships_with_its_signature_and_no_one_else_can(api: Api, users: Users):
    user = users.new("mia")
    path = f"/v1/accounts/acme-eu/members/{user.sub}"
    unsigned = api.call("PUT", path, payload={"role": "admin"})
    assert (unsigned.status, unsigned.body) == (403, {"message": "Forbidden"})
    # A user's token in place of a signature would pass the emulator, which takes any
    # Authorization header as signed (see test_verify_refuses_a_forged_signature).
    token = user.sign_in()

    joined = api.call("PUT", path, payload={"role": "member"}, signed=True)
    assert joined.status == 201, joined.body
    assert joined.json == {"account_id": "acme-eu", "user_id": user.sub, "role": "member",
                           "previous_role": None}
    promoted = api.call("PUT", path, payload={"role": "admin"}, signed=True)
    assert (promoted.status, promoted.json["previous_role"]) == (200, "member")
    odd = api.call("PUT", path, payload={"role": "owner"}, signed=True)
    assert (odd.status, odd.json["error"]) == (400, "invalid_field")

    trail = api.call("GET", "/v1/audit", token=token).json["events"]
    changes = sorted((e["type"], e["role"], e["account_id"], e["actor"]) for e in trail
                     if e["type"].startswith("membership_"))
    assert changes == [("membership_added", "member", "acme-eu", "backend"),
                       ("membership_changed", "admin", "acme-eu", "backend")]

    assert api.call("DELETE", path, signed=True).status == 204
    assert api.call("DELETE", path, signed=True).status == 204, "removed already"


def backend_puts(api: Api, account: str, user, role: str) -> None:
    reply = api.call("PUT", f"/v1/accounts/{account}/members/{user.sub}", payload={"role": role},
                     signed=True)
    assert reply.status in (200, 201), reply.body


def test_a_requiring_accounts_member_enrolls_at_first_sign_in_and_an_optional_ones_does_not(
        api: Api, users: Users):
    """The stack's pool lets unenrolled users in (UnenrolledUsers=allow); an account that
    requires two-factor is stricter for its members, and the strictest rule wins."""
    stamp = users.count
    strict, relaxed = f"strict-{stamp}", f"relaxed-{stamp}"
    boss = enroll(api, users.new("boss"))
    backend_puts(api, strict, boss, "admin")
    token = boss.sign_in()
    refused = api.call("PUT", f"/v1/accounts/{strict}/policy", token=token,
                       payload={"two_factor": "required"})
    assert (refused.status, refused.json["error"]) == (401, "totp_required")
    made = api.call("PUT", f"/v1/accounts/{strict}/policy", token=token,
                    payload={"two_factor": "required", "totp": boss.totp()})
    assert (made.status, made.json["changed"]) == (200, True), made.body

    nel = users.new("nel")
    backend_puts(api, strict, nel, "member")
    challenges: list[dict] = []
    tokens = nel.custom_sign_in([nel.first_code], challenges=challenges)
    assert [c["type"] for c in challenges] == ["TOTP_ENROLLMENT"], challenges
    assert tokens and tokens["IdToken"], "enrolled at sign-in, then let in"
    required = api.call("GET", f"/v1/accounts/{strict}/members/{nel.sub}/requirement", signed=True)
    assert required.json == {"two_factor": "required", "enrolled": True}
    status = api.call("GET", "/v1/backup-codes", token=tokens["IdToken"])
    assert status.json["required_by"] == [strict]

    oli = users.new("oli")
    backend_puts(api, relaxed, oli, "member")
    asked: list[dict] = []
    assert oli.custom_sign_in([], challenges=asked), "an optional account's member is let in"
    assert asked == []
