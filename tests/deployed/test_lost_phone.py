"""The lost-phone path on the deployed stack, as the README's "Lost your phone?" walks it: a user
signs in through Cognito with a backup code, sets up a new phone with another backup code as
the proof, confirms it, and makes new codes that count once activated; and an admin turns off
two-factor for a user who lost both phone and codes. Through API Gateway's JWT authorizer, with
the auth server's SigV4 verify checking which codes work at each step."""

from __future__ import annotations

from conftest import SEEN_SECRETS, Api, Users, enroll


def verify(api: Api, user, code: str) -> int:
    return api.call("POST", "/v1/verify", payload={"user_id": user.sub, "code": code}, signed=True).status


def test_a_user_who_lost_the_phone_gets_back_in_with_backup_codes(api: Api, users: Users):
    user = enroll(api, users.new("yan"))
    old_app = user.secret
    # 1. The phone is gone: sign in through Cognito with a backup code.
    tokens = user.custom_sign_in([user.codes[0]])
    assert tokens and tokens["IdToken"], "a backup code signs in"
    token = tokens["IdToken"]

    # 2. The new phone, with another backup code as the proof.
    started = api.call("POST", "/v1/totp/enrollment", token=token, headers={"X-OTP": user.codes[1]})
    assert started.status == 201, started
    new_app = started.json["secret"]
    SEEN_SECRETS.add(new_app)
    status = api.call("GET", "/v1/backup-codes", token=token).json
    assert (status["totp"]["replacement_pending"], status["remaining"]) == (True, 8)
    assert verify(api, user, user.totp()) == 200, "the old app (found again) works until the new one confirms"

    # 3. Confirm with the new app's code; a fresh code of the old app is refused from then on.
    user.secret = new_app
    confirmed = api.call("POST", "/v1/totp/enrollment/confirm", token=token, payload={"code": user.totp()})
    assert (confirmed.status, confirmed.json) == (200, {"authenticator_replaced": True}), confirmed
    user.secret = old_app
    assert verify(api, user, user.totp()) == 401, "the old app is refused"
    user.secret = new_app

    # 4. New codes with the new app; the old set works until they are activated.
    regenerated = api.call("POST", "/v1/backup-codes", token=token, headers={"X-OTP": user.totp()})
    assert regenerated.status == 201, regenerated
    new_codes = regenerated.json["backup_codes"]
    SEEN_SECRETS.update(new_codes)
    assert verify(api, user, user.codes[2]) == 200
    activated = api.call("POST", "/v1/backup-codes/activate", token=token,
                         payload={"set_id": regenerated.json["set_id"]})
    assert activated.status == 200, activated
    assert verify(api, user, user.codes[3]) == 401, "the old set is dead"
    assert verify(api, user, new_codes[0]) == 200

    trail = api.call("GET", "/v1/audit?limit=20", token=token).json["events"]
    kinds = [e["type"] for e in trail]
    for kind in ("backup_code_used", "authenticator_replaced", "codes_regenerated"):
        assert kind in kinds, kinds
    proof = next(e for e in trail if e["authorised"] == "replace_authenticator")
    assert proof["type"] == "backup_code_used"


def test_an_admin_turns_off_two_factor_for_a_user_who_lost_everything(api: Api, users: Users):
    admin = enroll(api, users.new("zoe", admin=True))
    user = enroll(api, users.new("abe"))
    refused = api.call("DELETE", f"/v1/admin/users/{admin.sub}/totp", token=user.sign_in(),
                       payload={"totp": user.totp()})
    assert (refused.status, refused.json["error"]) == (403, "forbidden")
    off = api.call("DELETE", f"/v1/admin/users/{user.sub}/totp", token=admin.sign_in(),
                   payload={"totp": admin.codes[0]})
    assert off.status == 204, off
    assert verify(api, user, user.codes[0]) == 401, "as never enrolled"
    again = api.call("POST", "/v1/totp/enrollment", token=user.sign_in())
    assert again.status == 201, "enrolling again needs no proof"
    event = api.call("GET", f"/v1/admin/users/{user.sub}/audit", token=admin.sign_in()).json["events"][0]
    assert (event["type"], event["actor"]) == ("two_factor_disabled", f"admin:{admin.sub}")
