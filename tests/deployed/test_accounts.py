"""Accounts on the deployed stack: the team's backend writes memberships through API Gateway's
IAM auth, and nothing else can."""

from __future__ import annotations

from conftest import Api, Users


def test_the_backend_writes_memberships_with_its_signature_and_no_one_else_can(api: Api, users: Users):
    user = users.new("mia")
    path = f"/v1/accounts/acme%2Feu/members/{user.sub}"
    unsigned = api.call("PUT", path, payload={"role": "admin"})
    assert (unsigned.status, unsigned.body) == (403, {"message": "Forbidden"})
    # A user's token in place of a signature would pass the emulator, which takes any
    # Authorization header as signed (see test_verify_refuses_a_forged_signature).
    token = user.sign_in()

    joined = api.call("PUT", path, payload={"role": "member"}, signed=True)
    assert joined.status == 201, joined.body
    assert joined.json == {"account_id": "acme/eu", "user_id": user.sub, "role": "member",
                           "previous_role": None}
    promoted = api.call("PUT", path, payload={"role": "admin"}, signed=True)
    assert (promoted.status, promoted.json["previous_role"]) == (200, "member")
    odd = api.call("PUT", path, payload={"role": "owner"}, signed=True)
    assert (odd.status, odd.json["error"]) == (400, "invalid_field")

    trail = api.call("GET", "/v1/audit", token=token).json["events"]
    changes = sorted((e["type"], e["role"], e["account_id"], e["actor"]) for e in trail
                     if e["type"].startswith("membership_"))
    assert changes == [("membership_added", "member", "acme/eu", "backend"),
                       ("membership_changed", "admin", "acme/eu", "backend")]

    assert api.call("DELETE", path, signed=True).status == 204
    assert api.call("DELETE", path, signed=True).status == 204, "removed already"
