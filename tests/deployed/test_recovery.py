"""Recovery requests on the deployed stack, through Cognito: a user who lost both the phone and
the codes asks from the custom challenge (no tokens), is mailed at once with a link that
cancels it, their account's admin sees and approves it through API Gateway's JWT authorizer,
and the user collects new codes from the mailed link and signs in with one. The stack with the
pool the template creates, whose LinkBaseUrl names the links' address."""

from __future__ import annotations

import re
import time

from conftest import SEEN_SECRETS, Api, Users
from test_accounts import backend_puts
from test_deployed_stack import mail_to

import stack as deployment

# domain::recovery::REQUEST_ANSWER: never a code, so never checked as one.
REQUEST_ANSWER = "RECOVERY_REQUEST_LOST_PHONE_AND_CODES"


def enrolled_at_sign_in(users: Users, name: str):
    user = users.new(name)
    tokens = user.custom_sign_in([user.first_code])
    assert tokens, f"{name} enrolls at their first sign-in"
    user.tokens[user.client_id] = tokens["IdToken"]
    return user


def mail_after(user, before: int, subject: str) -> dict:
    deadline = time.monotonic() + 10
    while True:
        found = [m for m in mail_to(user)[before:] if subject in m["Subject"]]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no mail '{subject}' to {user.username}"
        time.sleep(0.2)


def link_token(mail: dict, path: str) -> str:
    link = re.search(rf"{re.escape(deployment.LINK_BASE_URL)}{re.escape(path)}#token=(\S+)",
                     mail["BodyText"])
    assert link, mail["BodyText"]
    SEEN_SECRETS.add(link.group(1))
    return link.group(1)


def test_a_user_who_lost_everything_asks_at_sign_in_and_is_let_back_in_once_approved(
        stack_with_created_pool):
    api, users = Api(stack_with_created_pool), Users(stack_with_created_pool)
    account = f"rescue-{int(time.time())}"
    ada = enrolled_at_sign_in(users, "ada")
    mo = enrolled_at_sign_in(users, "mo")
    backend_puts(api, account, ada, "admin")
    backend_puts(api, account, mo, "member")

    # The phone and the codes are gone: after the password, mo asks instead of giving a code.
    before = len(mail_to(mo))
    challenges: list[dict] = []
    assert mo.custom_sign_in([REQUEST_ANSWER], challenges=challenges) is None, "no tokens"
    assert challenges[-1].get("recovery_request") == "open", challenges
    told = mail_after(mo, before, "someone asked to reset your two-factor")
    assert "203.0.113.9" in told["BodyText"], told["BodyText"]
    link_token(told, "/v1/recovery-requests/cancel")

    listed = api.call("GET", f"/v1/accounts/{account}/recovery-requests", token=ada.sign_in())
    assert listed.status == 200, listed
    [request] = listed.json["requests"]
    assert (request["user_id"], request["waiting"]) == (mo.sub, False)

    approved = api.call("POST", f"/v1/accounts/{account}/recovery-requests/{request['id']}/approve",
                        token=ada.sign_in(), payload={"totp": ada.totp()})
    assert (approved.status, approved.json["status"]) == (202, "email_sent"), approved
    again = api.call("POST", f"/v1/accounts/{account}/recovery-requests/{request['id']}/approve",
                     token=ada.sign_in(), payload={"totp": ada.totp()})
    assert (again.status, again.json["error"]) == (409, "recovery_closed")

    # The reset we have: the mailed link's codes, saved, then a sign-in with one of them.
    reset = mail_after(mo, before, "your backup codes were reset")
    token = link_token(reset, "/v1/backup-codes/download")
    redeemed = api.call("POST", "/v1/backup-codes/download", payload={"token": token})
    assert redeemed.status == 200, redeemed
    codes = redeemed.json["backup_codes"]
    SEEN_SECRETS.update(codes)
    saved = api.call("POST", "/v1/backup-codes/download/activate",
                     payload={"token": token, "set_id": redeemed.json["set_id"]})
    assert saved.status == 200, saved
    tokens = mo.custom_sign_in([codes[0]])
    assert tokens and tokens["IdToken"], "a collected code signs mo in"
    trail = api.call("GET", "/v1/audit?limit=20", token=tokens["IdToken"]).json["events"]
    kinds = [e["type"] for e in trail]
    for kind in ("recovery_requested", "recovery_approved", "codes_reset_by_admin"):
        assert kind in kinds, kinds


def test_the_mailed_link_cancels_a_request_once(stack_with_created_pool):
    api, users = Api(stack_with_created_pool), Users(stack_with_created_pool)
    mel = enrolled_at_sign_in(users, "mel")
    before = len(mail_to(mel))
    assert mel.custom_sign_in([REQUEST_ANSWER]) is None
    token = link_token(mail_after(mel, before, "someone asked"), "/v1/recovery-requests/cancel")
    page = api.call("GET", "/v1/recovery-requests/cancel")
    assert page.status == 200 and "Cancel the request" in page.body
    cancelled = api.call("POST", "/v1/recovery-requests/cancel", payload={"token": token})
    assert (cancelled.status, cancelled.json) == (200, {"status": "cancelled"}), cancelled
    twice = api.call("POST", "/v1/recovery-requests/cancel", payload={"token": token})
    assert (twice.status, twice.json["error"]) == (410, "link_invalid")
