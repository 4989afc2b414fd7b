"""Starts ministack for the tests with one emulator gap closed.

ministack ends a CUSTOM_AUTH sign-in once three rounds carry a result, and it counts the SRP_A and
PASSWORD_VERIFIER rounds among them, so after the password only one custom answer is ever
evaluated. Cognito leaves the number of rounds to the Define Auth Challenge trigger, and ours
allows three answers (shared/src/domain/sign_in.rs). Raising the emulator's cap lets the tests see
our trigger's limit, not the emulator's; nothing in production depends on this.
"""

import sys

import ministack.services.cognito as cognito
from ministack.app import main

assert cognito._MAX_CHALLENGE_ATTEMPTS == 3, "ministack changed its cap: re-check this workaround"
cognito._MAX_CHALLENGE_ATTEMPTS = 100

if __name__ == "__main__":
    sys.exit(main())
