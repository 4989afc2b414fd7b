"""Signing in to the emulated Cognito the way users and attackers would: the custom flow users
sign in with (CUSTOM_AUTH starting with SRP_A, as Amplify's CUSTOM_WITH_SRP does: the password
by SRP, then our challenge), and each password-only flow an attacker with a stolen password
would try. Shared by the tests and by `stack.py`'s demo users."""

from __future__ import annotations

from typing import Callable, Union

from pycognito.aws_srp import AWSSRP

# An answer to a challenge: a fixed string, or one worked out from the challenge's public
# parameters (the enrollment challenge carries the secret the first code comes from).
Answer = Union[str, Callable[[dict], str]]


def custom_sign_in(idp, username: str, password: str, pool_id: str, client_id: str,
                   answers: list[Answer], metadata: dict | None = None,
                   challenges: list[dict] | None = None,
                   timed: Callable | None = None) -> dict | None:
    """The tokens (AuthenticationResult), or None when Cognito refuses or still asks after the
    last answer. Each challenge's public parameters are appended to `challenges`."""
    call = timed or (lambda _name, request, **kwargs: request(**kwargs))
    srp = AWSSRP(username=username, password=password, pool_id=pool_id, client_id=client_id, client=idp)
    params = {**srp.get_auth_params(), "CHALLENGE_NAME": "SRP_A"}
    try:
        step = call("InitiateAuth: Define", idp.initiate_auth,
                    AuthFlow="CUSTOM_AUTH", ClientId=client_id, AuthParameters=params)
        assert step["ChallengeName"] == "PASSWORD_VERIFIER", step
        step = call(
            "password: Define, Create", idp.respond_to_auth_challenge,
            ClientId=client_id,
            ChallengeName="PASSWORD_VERIFIER",
            Session=step.get("Session"),
            ChallengeResponses=srp.process_challenge(step["ChallengeParameters"], params),
        )
        for answer in answers:
            if "AuthenticationResult" in step:
                break
            assert step["ChallengeName"] == "CUSTOM_CHALLENGE", step
            if challenges is not None:
                challenges.append(step["ChallengeParameters"])
            text = answer(step["ChallengeParameters"]) if callable(answer) else answer
            step = call(
                "answer: Verify, Define", idp.respond_to_auth_challenge,
                ClientId=client_id,
                ChallengeName="CUSTOM_CHALLENGE",
                Session=step["Session"],
                ChallengeResponses={"USERNAME": username, "ANSWER": text},
                ClientMetadata=metadata or {"ip": "203.0.113.9", "user_agent": "pytest sign-in"},
            )
    except (idp.exceptions.NotAuthorizedException, idp.exceptions.UserLambdaValidationException):
        return None
    if "AuthenticationResult" not in step and challenges is not None and "ChallengeParameters" in step:
        challenges.append(step["ChallengeParameters"])
    return step.get("AuthenticationResult")


def password_only(idp, flow: str, username: str, password: str, pool_id: str, client_id: str) -> dict:
    """One password-only sign-in: USER_SRP_AUTH, USER_PASSWORD_AUTH or ADMIN_USER_PASSWORD_AUTH.
    Returns the answer, or raises the client error Cognito answered with."""
    if flow == "USER_SRP_AUTH":
        srp = AWSSRP(username=username, password=password, pool_id=pool_id, client_id=client_id, client=idp)
        return srp.authenticate_user()
    auth = {"USERNAME": username, "PASSWORD": password}
    if flow == "USER_PASSWORD_AUTH":
        return idp.initiate_auth(AuthFlow=flow, ClientId=client_id, AuthParameters=auth)
    if flow == "ADMIN_USER_PASSWORD_AUTH":
        return idp.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id, AuthFlow=flow, AuthParameters=auth)
    raise ValueError(flow)
