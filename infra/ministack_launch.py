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


assert callable(getattr(cognito, "_auth_flow_error", None)), "ministack changed: re-check workaround 3"
assert callable(getattr(cognito, "_pool_for_client", None)), "ministack changed: re-check workaround 4"
cognito._run_idp_handler = _as_cognito_answers

if __name__ == "__main__":
    sys.exit(main())
