"""A factor change ends the user's sessions, on the deployed stack: the notify function, reading
the table's stream, calls the emulated Cognito's AdminUserGlobalSignOut on the pool the stack
was given (SignOutOnFactorChange defaults to true), so a refresh token from before the change
gives no tokens after it. The ID token the change was made with lasts until it expires."""

from __future__ import annotations

import time

import stack as deployment
from conftest import SEEN_SECRETS, Api, User, Users, enroll


def refreshes(user: User, refresh_token: str) -> bool:
    idp = deployment.client("cognito-idp")
    try:
        idp.initiate_auth(AuthFlow="REFRESH_TOKEN_AUTH", ClientId=user.client_id,
                          AuthParameters={"REFRESH_TOKEN": refresh_token})
        return True
    except idp.exceptions.NotAuthorizedException:
        return False


def until_refused(user: User, refresh_token: str, seconds: float = 30) -> bool:
    """The notifier runs off the request path, from the stream: wait for it, as an app would
    find out at its next refresh."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not refreshes(user, refresh_token):
            return True
        time.sleep(0.5)
    return False


def test_after_a_replacement_the_earlier_refresh_token_gives_no_tokens(api: Api, users: Users):
    user = enroll(api, users.new("ses"))
    # Another device's session, and this one's: both signed in with a code.
    elsewhere = user.custom_sign_in([user.totp()])
    here = user.custom_sign_in([user.totp()])
    assert elsewhere and here
    assert refreshes(user, elsewhere["RefreshToken"]), "a session refreshes before any change"

    started = api.call("POST", "/v1/totp/enrollment", token=here["IdToken"], headers={"X-OTP": user.totp()})
    assert started.status == 201, started
    assert refreshes(user, elsewhere["RefreshToken"]), "a replacement merely started ends nothing"
    user.secret = started.json["secret"]
    SEEN_SECRETS.add(user.secret)
    confirmed = api.call("POST", "/v1/totp/enrollment/confirm", token=here["IdToken"],
                         payload={"code": user.totp()})
    assert (confirmed.status, confirmed.json) == (200, {"authenticator_replaced": True}), confirmed

    assert until_refused(user, elsewhere["RefreshToken"]), "the other device's session ended"
    assert not refreshes(user, here["RefreshToken"]), "and the one that made the change"
    # Cognito cannot take back a JWT: the ID token lasts until it expires.
    status = api.call("GET", "/v1/backup-codes", token=here["IdToken"])
    assert status.status == 200 and status.json["sessions_end_on_change"] is True, status
    # Signing in again, with the new app, opens a session that lasts.
    again = user.custom_sign_in([user.totp()])
    assert again and refreshes(user, again["RefreshToken"])


def test_signing_in_with_a_backup_code_ends_no_session(api: Api, users: Users):
    user = enroll(api, users.new("sev"))
    session = user.custom_sign_in([user.totp()])
    assert user.custom_sign_in([user.codes[0]]), "a backup code signs in"
    time.sleep(3)  # time for the notifier to act, were it to
    assert refreshes(user, session["RefreshToken"])
