"""Starts ministack for the tests with its Cognito gaps closed where they would hide what the
tests check. Each patch makes the emulator do what AWS does; nothing in production depends on
any of them.

1. ministack ends a CUSTOM_AUTH sign-in once three rounds carry a result, and it counts the SRP_A
   and PASSWORD_VERIFIER rounds among them, so after the password only one custom answer is
   ever evaluated. Cognito leaves the number of rounds to the Define Auth Challenge trigger, and
   ours allows three answers (shared/src/domain/sign_in.rs): the cap is raised so the tests see
   our trigger's limit, not the emulator's.
2. A failing Pre Token Generation trigger: ministack logs it and issues the tokens anyway unless
   MINISTACK_COGNITO_PRETOKEN_STRICT is set, and then answers with an internal error. Cognito
   issues no tokens and answers UserLambdaValidationException ("PreTokenGeneration failed with
   error ..."): strict mode, with that answer.
3. An app client's ExplicitAuthFlows: ministack enforces them for USER_PASSWORD_AUTH and
   ADMIN_USER_PASSWORD_AUTH only when started with AUTH=true (which brings checks the stack
   cannot pass on the emulator, see tests/deployed/stack.py). Cognito always refuses a flow the
   client does not allow: that one check is applied always.
4. AdminCreateUserConfig.AllowAdminCreateUserOnly: ministack stores it but still lets anyone
   SignUp. Cognito refuses SignUp with NotAuthorizedException: refused here too.
5. A temporary password (FORCE_CHANGE_PASSWORD) in the custom flow: ministack goes on to Define
   after PASSWORD_VERIFIER as for anyone. Cognito answers NEW_PASSWORD_REQUIRED there, as it does
   in USER_SRP_AUTH, and once the new password is set issues tokens without calling Define
   (TokenGeneration_NewPasswordChallenge; amazon-cognito-identity-js#341, and the Define
   trigger's session never lists NEW_PASSWORD_REQUIRED): ministack's own answer for USER_SRP_AUTH
   is given, and its NEW_PASSWORD_REQUIRED handler already sets the password and then generates
   the tokens that way.
6. A Pre Token Generation event's userAttributes: Cognito includes the user's status
   (`cognito:user_status`: CONFIRMED, EXTERNAL_PROVIDER for a user it made at an identity
   provider's sign-in, ...); ministack leaves it out. The token guard exempts a federated-only
   identity by that status (shared/src/domain/federation.rs), and refuses when it is missing:
   the user's own status is added, as Cognito sends it.
"""

import os
import sys

import ministack.services.cognito as cognito
from ministack.app import main
from ministack.core.responses import error_response_json

assert cognito._MAX_CHALLENGE_ATTEMPTS == 3, "ministack changed its cap: re-check workaround 1"
cognito._MAX_CHALLENGE_ATTEMPTS = 100

os.environ["MINISTACK_COGNITO_PRETOKEN_STRICT"] = "1"

_run_idp_handler = cognito._run_idp_handler


def _as_cognito_answers(handler, action: str, data: dict):
    if action == "SignUp":
        pool, _ = cognito._pool_for_client(data.get("ClientId"))
        if (pool or {}).get("AdminCreateUserConfig", {}).get("AllowAdminCreateUserOnly"):
            return error_response_json("NotAuthorizedException", "SignUp is not permitted for this user pool", 400)
    refused = cognito._auth_flow_error(action, data)
    if refused:
        return refused
    try:
        return _run_idp_handler(handler, action, data)
    except RuntimeError as failure:
        if "PreTokenGeneration" not in str(failure):
            raise
        return error_response_json(
            "UserLambdaValidationException", f"PreTokenGeneration failed with error {failure}.", 400
        )


_respond_to_password_verifier = cognito._respond_to_password_verifier


def _new_password_first(data: dict, cid: str):
    token = data.get("Session")
    session = cognito._get_challenge_session(token)[0] if token else None
    custom = session is not None and session.get("pending_builtin_challenge") == "PASSWORD_VERIFIER"
    if custom and session["client_id"] == cid:
        pool = cognito._user_pools.get(session["pool_id"])
        user = cognito._resolve_user(pool, session["username"])[0] if pool else None
        responses = data.get("ChallengeResponses") or {}
        if (user is not None and user.get("UserStatus") == "FORCE_CHANGE_PASSWORD"
                and not cognito._srp_response_format_error(responses)
                and cognito._srp_proof_valid(session["pool_id"], user, session["srp"], responses)):
            return cognito._password_auth_result(pool, session["pool_id"], cid, user, user["Username"],
                                                 data.get("ClientMetadata", {}), data)
    return _respond_to_password_verifier(data, cid)


for name in ("_get_challenge_session", "_user_pools", "_resolve_user", "_srp_response_format_error",
             "_srp_proof_valid", "_password_auth_result"):
    assert hasattr(cognito, name), f"ministack changed: re-check workaround 5 ({name})"
cognito._respond_to_password_verifier = _new_password_first

_build_pretoken_event = cognito._build_pretoken_event


def _with_user_status(pool_id, client_id, username, user_attrs, *args, **kwargs):
    event = _build_pretoken_event(pool_id, client_id, username, user_attrs, *args, **kwargs)
    pool = cognito._get_pool_unscoped(pool_id)
    user = cognito._resolve_user(pool, username)[0] if pool and username else None
    if user is not None and user.get("UserStatus"):
        event["request"]["userAttributes"]["cognito:user_status"] = user["UserStatus"]
    return event


assert callable(getattr(cognito, "_get_pool_unscoped", None)), "ministack changed: re-check workaround 6"
cognito._build_pretoken_event = _with_user_status

assert callable(getattr(cognito, "_auth_flow_error", None)), "ministack changed: re-check workaround 3"
assert callable(getattr(cognito, "_pool_for_client", None)), "ministack changed: re-check workaround 4"
cognito._run_idp_handler = _as_cognito_answers

if __name__ == "__main__":
    sys.exit(main())
