//! The sign-in a Cognito user pool runs through our custom-authentication trigger: the password
//! (SRP) first, then one challenge answered with a TOTP code or a backup code. This is the
//! Define step's rule, as a pure function of what has happened so far.

/// A step Cognito reports in the sign-in's session, and whether it passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    SrpA,
    PasswordVerifier,
    /// Our challenge; `true` when Verify accepted the answer.
    Code(bool),
    /// Anything else (another challenge name, or none): never part of our flow.
    Other,
}

impl Step {
    pub fn from_cognito(challenge_name: Option<&str>, result: bool) -> Self {
        match (challenge_name, result) {
            (Some("SRP_A"), true) => Step::SrpA,
            (Some("PASSWORD_VERIFIER"), true) => Step::PasswordVerifier,
            (Some("CUSTOM_CHALLENGE"), passed) => Step::Code(passed),
            _ => Step::Other,
        }
    }
}

/// What a user pool does with a user who has not enrolled TOTP here (`UNENROLLED_USERS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unenrolled {
    /// Tokens after the password alone, so a pool can adopt the trigger user by user.
    #[default]
    Allow,
    /// No tokens until the user enrolls (through the API, signed in some other way).
    Deny,
}

/// What Define tells Cognito to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    PasswordVerifier,
    AskForCode,
    IssueTokens,
    Fail,
    /// The password just passed: `after_password` decides, once the user's record is read
    /// (read then and no earlier, so the steps before cost no store request).
    AfterPassword,
}

/// Wrong answers one sign-in may give before it fails; the user's attempt ledger still counts
/// every one of them, across sign-ins.
pub const MAX_ANSWERS: usize = 3;

/// The next step for a sign-in whose session so far is `session`.
pub fn next_step(session: &[Step]) -> Next {
    match session {
        [Step::SrpA] => Next::PasswordVerifier,
        [Step::SrpA, Step::PasswordVerifier] => Next::AfterPassword,
        [Step::SrpA, Step::PasswordVerifier, answers @ ..] if answers.len() <= MAX_ANSWERS => {
            let (last, earlier) = answers.split_last().expect("at least one answer");
            if earlier.iter().any(|a| *a != Step::Code(false)) {
                return Next::Fail;
            }
            match last {
                Step::Code(true) => Next::IssueTokens,
                Step::Code(false) if answers.len() < MAX_ANSWERS => Next::AskForCode,
                _ => Next::Fail,
            }
        }
        _ => Next::Fail,
    }
}

/// Right after the password: the code for an enrolled user, else what the pool allows.
pub fn after_password(enrolled: bool, unenrolled: Unenrolled) -> Next {
    match (enrolled, unenrolled) {
        (true, _) => Next::AskForCode,
        (false, Unenrolled::Allow) => Next::IssueTokens,
        (false, Unenrolled::Deny) => Next::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::{after_password, next_step, Next, Step, Unenrolled, MAX_ANSWERS};
    use Step::*;

    #[test]
    fn the_password_comes_first_then_the_code() {
        assert_eq!(next_step(&[SrpA]), Next::PasswordVerifier);
        assert_eq!(next_step(&[SrpA, PasswordVerifier]), Next::AfterPassword);
        assert_eq!(after_password(true, Unenrolled::Allow), Next::AskForCode);
        assert_eq!(after_password(true, Unenrolled::Deny), Next::AskForCode);
        assert_eq!(
            next_step(&[SrpA, PasswordVerifier, Code(true)]),
            Next::IssueTokens
        );
    }

    #[test]
    fn an_unenrolled_user_is_let_through_or_refused_as_configured() {
        assert_eq!(after_password(false, Unenrolled::Allow), Next::IssueTokens);
        assert_eq!(after_password(false, Unenrolled::Deny), Next::Fail);
    }

    #[test]
    fn three_wrong_answers_fail_the_sign_in() {
        let mut session = vec![SrpA, PasswordVerifier];
        for _ in 1..MAX_ANSWERS {
            session.push(Code(false));
            assert_eq!(next_step(&session), Next::AskForCode);
        }
        session.push(Code(false));
        assert_eq!(next_step(&session), Next::Fail);
        let mut late = session[..4].to_vec();
        late.push(Code(true));
        assert_eq!(
            next_step(&late),
            Next::IssueTokens,
            "right on the third answer"
        );
    }

    #[test]
    fn any_other_session_shape_fails() {
        for session in [
            vec![],
            vec![PasswordVerifier],
            vec![Other],
            vec![SrpA, Other],
            vec![SrpA, SrpA],
            vec![Code(true)],
            vec![SrpA, Code(true)],
            vec![SrpA, PasswordVerifier, Other],
            vec![SrpA, PasswordVerifier, Code(true), Code(true)],
            vec![SrpA, PasswordVerifier, Code(true), Code(false)],
            vec![SrpA, PasswordVerifier, PasswordVerifier],
            vec![
                SrpA,
                PasswordVerifier,
                Code(false),
                Code(false),
                Code(false),
                Code(true),
            ],
        ] {
            assert_eq!(next_step(&session), Next::Fail, "{session:?}");
        }
    }

    #[test]
    fn a_failed_password_or_srp_step_is_not_a_passed_one() {
        assert_eq!(Step::from_cognito(Some("SRP_A"), false), Other);
        assert_eq!(Step::from_cognito(Some("PASSWORD_VERIFIER"), false), Other);
        assert_eq!(
            Step::from_cognito(Some("CUSTOM_CHALLENGE"), false),
            Code(false)
        );
        assert_eq!(Step::from_cognito(None, true), Other);
        assert_eq!(next_step(&[SrpA, Other]), Next::Fail);
    }
}
