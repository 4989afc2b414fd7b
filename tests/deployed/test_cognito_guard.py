"""The second factor cannot be skipped: every sign-in flow tried with the right password, on the
pool the template creates (CreateUserPool=true, two-factor required) and on an existing pool
whose app client allows password-only flows, wired as the README says (custom-auth triggers and
the token guard). Through the emulated Cognito, with real SRP."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
from botocore.exceptions import ClientError
from cognito_flows import password_only
from conftest import PASSWORD, SEEN_SECRETS, Api, User, Users, enroll

import stack as deployment

PASSWORD_ONLY_FLOWS = ["USER_SRP_AUTH", "USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH"]


def refusal(flow: str, user: User, client_id: str | None = None) -> str:
    """The error code Cognito answers a password-only sign-in with; fails if it gave tokens."""
    idp = deployment.client("cognito-idp")
    try:
        answer = password_only(idp, flow, user.username, PASSWORD, user.pool_id, client_id or user.client_id)
    except ClientError as refused:
        return refused.response["Error"]["Code"]
    pytest.fail(f"{flow} with the password alone answered {sorted(answer)}, not a refusal")


def gets_tokens(flow: str, user: User) -> bool:
    idp = deployment.client("cognito-idp")
    answer = password_only(idp, flow, user.username, PASSWORD, user.pool_id, user.client_id)
    return bool(answer.get("AuthenticationResult", {}).get("IdToken"))


def custom_auth_without_srp(user: User, client_id: str | None = None) -> str:
    """CUSTOM_AUTH that skips SRP_A: Define must fail it, so no answer can stand in for the password."""
    idp = deployment.client("cognito-idp")
    try:
        step = idp.initiate_auth(AuthFlow="CUSTOM_AUTH", ClientId=client_id or user.client_id,
                                 AuthParameters={"USERNAME": user.username})
    except ClientError as refused:
        return refused.response["Error"]["Code"]
    pytest.fail(f"CUSTOM_AUTH without SRP_A went on: {step}")


# The existing pool: its client allows USER_SRP_AUTH, USER_PASSWORD_AUTH and
# ADMIN_USER_PASSWORD_AUTH, and the guard is attached (stack.attach_triggers).

def test_an_enrolled_user_gets_no_tokens_from_any_password_only_flow(api: Api, users: Users):
    user = enroll(api, users.new("quin"))
    for flow in PASSWORD_ONLY_FLOWS:
        assert refusal(flow, user) == "UserLambdaValidationException", flow
    assert custom_auth_without_srp(user) == "NotAuthorizedException"
    tokens = user.custom_sign_in([user.totp()])
    assert tokens and tokens["IdToken"], "the custom flow with a code still signs in"
    idp = deployment.client("cognito-idp")
    refreshed = idp.initiate_auth(AuthFlow="REFRESH_TOKEN_AUTH", ClientId=user.client_id,
                                  AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    assert refreshed["AuthenticationResult"]["IdToken"], "a refresh token still works"
    status = api.call("GET", "/v1/backup-codes", token=refreshed["AuthenticationResult"]["IdToken"])
    assert (status.status, status.json["remaining"]) == (200, 10)


def test_an_unenrolled_user_gets_tokens_from_any_flow_where_the_pool_allows_it(users: Users):
    user = users.new("rae")
    for flow in PASSWORD_ONLY_FLOWS:
        assert gets_tokens(flow, user), flow
    assert user.custom_sign_in([]), "the custom flow: tokens after the password (allow)"


def test_one_passed_challenge_lets_one_of_two_racing_token_generations_through(api: Api, users: Users, stack):
    """The window the README names: a password-only sign-in racing a real one within the pass's
    life. Cognito's Verify call is made directly (the function, with Cognito's event) so that
    two token generations, not one, race for its pass."""
    user = enroll(api, users.new("sol"))
    verify_event = {
        "version": "1", "region": deployment.REGION, "userPoolId": user.pool_id, "userName": user.username,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": user.client_id},
        "triggerSource": "VerifyAuthChallengeResponse_Authentication",
        "request": {"userAttributes": {"sub": user.sub, "email": user.username, "email_verified": "true"},
                    "privateChallengeParameters": {}, "challengeAnswer": user.codes[0], "userNotFound": False},
        "response": {"answerCorrect": None},
    }
    invoked = deployment.client("lambda").invoke(
        FunctionName=stack.functions["CognitoChallengeFunction"], Payload=json.dumps(verify_event).encode())
    assert json.loads(invoked["Payload"].read())["response"]["answerCorrect"] is True
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: _issued(user), range(2)))
    assert sorted(outcomes) == [False, True], outcomes
    assert not _issued(user), "and the pass is gone"


def _issued(user: User) -> bool:
    idp = deployment.client("cognito-idp")
    try:
        return bool(password_only(idp, "USER_PASSWORD_AUTH", user.username, PASSWORD, user.pool_id,
                                  user.client_id)["AuthenticationResult"]["IdToken"])
    except idp.exceptions.UserLambdaValidationException:
        return False


# The pool the template creates: only CUSTOM_AUTH and refresh, admin-only sign-up, two-factor
# required (the created stack is deployed with UnenrolledUsers=require).

def test_a_new_user_of_the_created_pool_enrolls_at_sign_in_and_then_uses_the_api(stack_with_created_pool):
    api, users = Api(stack_with_created_pool), Users(stack_with_created_pool)
    user = users.new("tam")
    challenges: list[dict] = []
    tokens = user.custom_sign_in([user.first_code], challenges=challenges)
    assert [c["type"] for c in challenges] == ["TOTP_ENROLLMENT"], challenges
    assert set(challenges[0]) == {"type", "qr", "otpauth_uri", "secret"}
    assert tokens and tokens["IdToken"], "the first code from the app gets the tokens"
    enrollment_code = pyotp.TOTP(user.secret).at(user.last_step * 30)
    assert user.custom_sign_in([enrollment_code]) is None, "the enrollment's code is a replay"

    status = api.call("GET", "/v1/backup-codes", token=tokens["IdToken"])
    assert (status.status, status.json["total"], status.json["remaining"]) == (200, 0, 0), \
        "enrolled, no backup codes yet"
    made = api.call("POST", "/v1/backup-codes", token=tokens["IdToken"], headers={"X-OTP": user.totp()})
    assert made.status == 201 and len(made.json["backup_codes"]) == 10, made
    SEEN_SECRETS.update(made.json["backup_codes"])
    activated = api.call("POST", "/v1/backup-codes/activate", token=tokens["IdToken"],
                         payload={"set_id": made.json["set_id"]})
    assert activated.status == 200, activated
    again: list[dict] = []
    assert user.custom_sign_in([made.json["backup_codes"][0]], challenges=again), "a backup code signs in"
    assert [c["type"] for c in again] == ["TOTP_OR_BACKUP_CODE"]


def test_a_wrong_first_code_asks_again_with_the_same_secret(stack_with_created_pool):
    user = Users(stack_with_created_pool).new("uma")
    challenges: list[dict] = []
    tokens = user.custom_sign_in(["000000", user.first_code], challenges=challenges)
    assert tokens and tokens["IdToken"], challenges
    assert [c["type"] for c in challenges] == ["TOTP_ENROLLMENT", "TOTP_ENROLLMENT"]
    assert challenges[0]["secret"] == challenges[1]["secret"], "the app already holds it"
    late = Users(stack_with_created_pool).new("val")
    assert late.custom_sign_in(["000000", "111111", "222222", late.first_code]) is None, \
        "three wrong answers end the sign-in"


def test_the_created_pool_refuses_every_flow_that_skips_the_code(stack_with_created_pool):
    users = Users(stack_with_created_pool)
    user = users.new("wes")
    assert user.custom_sign_in([user.first_code]), "enrolled at sign-in"
    for flow in PASSWORD_ONLY_FLOWS:
        assert refusal(flow, user) == "InvalidParameterException", f"{flow}: not allowed on the client"
    assert custom_auth_without_srp(user) == "NotAuthorizedException"
    assert user.custom_sign_in([user.totp()]), "the normal sign-in still works"

    # A team that later adds a client allowing password-only flows is still guarded.
    idp = deployment.client("cognito-idp")
    loose = idp.create_user_pool_client(
        UserPoolId=user.pool_id, ClientName="loose", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                           "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    for flow in PASSWORD_ONLY_FLOWS:
        assert refusal(flow, user, loose) == "UserLambdaValidationException", f"{flow} on a looser client"
    # Required two-factor: a user who has not enrolled gets no tokens without the challenge either.
    newcomer = users.new("xia")
    assert refusal("USER_PASSWORD_AUTH", newcomer, loose) == "UserLambdaValidationException"


def test_the_created_pool_is_closed_to_sign_up_and_has_the_guard(stack_with_created_pool):
    idp = deployment.client("cognito-idp")
    pool = idp.describe_user_pool(UserPoolId=stack_with_created_pool.pool.id)["UserPool"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    function = stack_with_created_pool.outputs["CognitoChallengeFunctionArn"]
    assert pool["LambdaConfig"]["PreTokenGeneration"] == function
    client = idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=stack_with_created_pool.pool.client_id)
    assert sorted(client["UserPoolClient"]["ExplicitAuthFlows"]) == ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    with pytest.raises(ClientError) as refused:
        idp.sign_up(ClientId=stack_with_created_pool.pool.client_id, Username="stranger@example.com",
                    Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": "stranger@example.com"}])
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
