//! The sign-in a Cognito user pool runs through our custom-authentication trigger: the password
//! (SRP) first, then one challenge answered with a TOTP code or a backup code (or, for a user
//! who must enroll first, the first code of a new authenticator). Define's rule, as a pure
//! function of what has happened so far, and the token guard's rule, which holds whatever
//! flows a pool's app clients allow.

use time::{Duration, OffsetDateTime};

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
    /// Two-factor is required: after the password the user sets up an authenticator as the
    /// sign-in's challenge, and gets tokens only once its first code is right.
    Require,
}

/// The two challenges Create can pose; their names are what the client sees as `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// A current TOTP code or an unused backup code.
    Code,
    /// Add this secret to an authenticator app and answer with its first code.
    Enrollment,
}

impl Challenge {
    pub fn name(self) -> &'static str {
        match self {
            Challenge::Code => "TOTP_OR_BACKUP_CODE",
            Challenge::Enrollment => "TOTP_ENROLLMENT",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Challenge::Code, Challenge::Enrollment]
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// The challenge for a user past the password: a code if they have an authenticator, else
    /// its setup. Define never lets an unenrolled user reach a challenge unless the pool
    /// requires two-factor.
    pub fn for_user(enrolled: bool) -> Self {
        if enrolled {
            Challenge::Code
        } else {
            Challenge::Enrollment
        }
    }
}

/// How long a passed challenge lets one token generation through. After Verify, Cognito runs
/// Define, any Post Authentication trigger and Pre Token Generation, waiting at most 5 s for
/// each: a pass that outlives them is one a failure left behind, and it goes.
pub const SIGN_IN_PASS_LIFETIME: Duration = Duration::seconds(15);

/// A user pool's app client, as Cognito names it in a trigger's `callerContext.clientId`:
/// 1 to 128 word characters or `+` (Cognito's own pattern for a client id).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AppClient(String);

impl AppClient {
    pub fn parse(raw: &str) -> Option<Self> {
        let valid = (1..=128).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'+');
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Cognito user pool's id, as `<region>_<9 or so letters and digits>` (`eu-west-1_AbC123xyZ`):
/// the pool whose sessions end after a factor change (`USER_POOL_ID`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPoolId(String);

impl UserPoolId {
    /// Cognito's own pattern for a pool id: `[\w-]+_[0-9a-zA-Z]+`, at most 55 characters.
    pub fn parse(raw: &str) -> Option<Self> {
        let (region, id) = raw.split_once('_')?;
        let valid = raw.len() <= 55
            && !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The mark a passed challenge leaves on the user's record, written by the same conditional
/// write that spends the code: the token guard consumes it, once, before it expires, and only
/// for the app client whose sign-in passed. A pass a failed trigger left behind is thus no use
/// to a sign-in through another client, nor to any sign-in after 15 s.
///
/// It also says how the challenge was passed, which the token guard tells the app in the ID
/// token (`SignInClaims`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInPass {
    pub until: OffsetDateTime,
    pub client: AppClient,
    pub method: SignInMethod,
    /// Backup codes the user has left after this sign-in.
    pub remaining_codes: usize,
}

impl SignInPass {
    pub fn starting(
        now: OffsetDateTime,
        client: AppClient,
        method: SignInMethod,
        remaining_codes: usize,
    ) -> Self {
        Self {
            until: now + SIGN_IN_PASS_LIFETIME,
            client,
            method,
            remaining_codes,
        }
    }

    /// Whether the token generation for `client` at `now` may consume it.
    pub fn admits(&self, client: &AppClient, now: OffsetDateTime) -> bool {
        now < self.until && self.client == *client
    }
}

/// How a guarded sign-in passed its challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInMethod {
    Totp,
    BackupCode,
    /// The user set up their authenticator as this sign-in's challenge (and has no backup
    /// codes yet: they make them once signed in).
    Enrollment,
}

impl SignInMethod {
    pub const ALL: [SignInMethod; 3] = [
        SignInMethod::Totp,
        SignInMethod::BackupCode,
        SignInMethod::Enrollment,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SignInMethod::Totp => "totp",
            SignInMethod::BackupCode => "backup_code",
            SignInMethod::Enrollment => "enrollment",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The claims the token guard adds to the ID token of a sign-in that passed our challenge, so
/// the app can say "you signed in with a backup code, 3 left: make new ones" at that moment.
/// Cognito's own `amr` cannot name a custom challenge, and a V1 trigger's claims are strings.
pub const CLAIM_METHOD: &str = "backup_codes:method";
pub const CLAIM_REMAINING: &str = "backup_codes:remaining";
pub const CLAIM_LOW: &str = "backup_codes:low";

/// The claims for a consumed `pass`; `low` is `LOW_CODES_THRESHOLD` or fewer codes left.
pub fn sign_in_claims(pass: &SignInPass, low: bool) -> [(&'static str, String); 3] {
    [
        (CLAIM_METHOD, pass.method.name().to_owned()),
        (CLAIM_REMAINING, pass.remaining_codes.to_string()),
        (CLAIM_LOW, low.to_string()),
    ]
}

/// Why Cognito is generating tokens (a Pre Token Generation trigger source).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenGeneration {
    /// A sign-in that may have run our challenge: the custom flow (or a remembered device's
    /// step after it). A passed challenge's pass is consumed here.
    AfterChallenge,
    /// The managed login pages, which cannot run our challenge: a password typed there, or a
    /// federated identity's sign-in at its identity provider (see `domain::federation`).
    ManagedLogin,
    /// A temporary password just changed: Cognito issues those tokens without calling Define.
    NewPassword,
    /// A refresh token exchanged for new tokens: the sign-in that issued it was guarded.
    Refresh,
}

impl TokenGeneration {
    /// The trigger sources of a V1 Pre Token Generation event; any other is not ours to pass.
    pub fn from_trigger_source(source: &str) -> Option<Self> {
        match source {
            "TokenGeneration_Authentication" | "TokenGeneration_AuthenticateDevice" => {
                Some(Self::AfterChallenge)
            }
            "TokenGeneration_HostedAuth" => Some(Self::ManagedLogin),
            "TokenGeneration_NewPasswordChallenge" => Some(Self::NewPassword),
            "TokenGeneration_RefreshTokens" => Some(Self::Refresh),
            _ => None,
        }
    }
}

/// What the token guard knows about the user when a sign-in's pass was not there to consume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithoutPass {
    Enrolled,
    NotEnrolled,
}

/// Whether a sign-in that did not consume a pass may have tokens: only an unenrolled user of
/// a pool that lets them in without a second factor.
pub fn tokens_without_pass(user: WithoutPass, unenrolled: Unenrolled) -> bool {
    matches!(
        (user, unenrolled),
        (WithoutPass::NotEnrolled, Unenrolled::Allow)
    )
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

/// Right after the password: the code for an enrolled user; for anyone else, tokens where the
/// pool allows that, or else the authenticator's setup as the challenge (Create poses it).
pub fn after_password(enrolled: bool, unenrolled: Unenrolled) -> Next {
    match (enrolled, unenrolled) {
        (true, _) | (false, Unenrolled::Require) => Next::AskForCode,
        (false, Unenrolled::Allow) => Next::IssueTokens,
    }
}

#[cfg(test)]
mod tests {
    use super::{
        after_password, next_step, tokens_without_pass, AppClient, Challenge, Next, SignInMethod,
        SignInPass, Step, TokenGeneration, Unenrolled, WithoutPass, MAX_ANSWERS,
    };
    use Step::*;

    #[test]
    fn the_password_comes_first_then_the_code() {
        assert_eq!(next_step(&[SrpA]), Next::PasswordVerifier);
        assert_eq!(next_step(&[SrpA, PasswordVerifier]), Next::AfterPassword);
        assert_eq!(after_password(true, Unenrolled::Allow), Next::AskForCode);
        assert_eq!(after_password(true, Unenrolled::Require), Next::AskForCode);
        assert_eq!(
            next_step(&[SrpA, PasswordVerifier, Code(true)]),
            Next::IssueTokens
        );
    }

    #[test]
    fn an_unenrolled_user_is_let_through_or_asked_to_enroll_as_configured() {
        assert_eq!(after_password(false, Unenrolled::Allow), Next::IssueTokens);
        assert_eq!(after_password(false, Unenrolled::Require), Next::AskForCode);
        assert_eq!(Challenge::for_user(false), Challenge::Enrollment);
        assert_eq!(Challenge::for_user(true), Challenge::Code);
        for challenge in [Challenge::Code, Challenge::Enrollment] {
            assert_eq!(Challenge::from_name(challenge.name()), Some(challenge));
        }
        assert_eq!(Challenge::from_name("totp_or_backup_code"), None);
    }

    #[test]
    fn every_sign_in_trigger_source_is_guarded_and_a_refresh_is_not() {
        for (source, generation) in [
            (
                "TokenGeneration_Authentication",
                TokenGeneration::AfterChallenge,
            ),
            (
                "TokenGeneration_AuthenticateDevice",
                TokenGeneration::AfterChallenge,
            ),
            ("TokenGeneration_HostedAuth", TokenGeneration::ManagedLogin),
            (
                "TokenGeneration_NewPasswordChallenge",
                TokenGeneration::NewPassword,
            ),
            ("TokenGeneration_RefreshTokens", TokenGeneration::Refresh),
        ] {
            assert_eq!(
                TokenGeneration::from_trigger_source(source),
                Some(generation),
                "{source}"
            );
        }
        for other in [
            "",
            "TokenGeneration_ClientCredentials",
            "tokengeneration_authentication",
            "DefineAuthChallenge_Authentication",
        ] {
            assert_eq!(TokenGeneration::from_trigger_source(other), None, "{other}");
        }
    }

    #[test]
    fn without_a_pass_only_an_unenrolled_user_of_an_open_pool_gets_tokens() {
        assert!(tokens_without_pass(
            WithoutPass::NotEnrolled,
            Unenrolled::Allow
        ));
        assert!(!tokens_without_pass(
            WithoutPass::NotEnrolled,
            Unenrolled::Require
        ));
        assert!(!tokens_without_pass(
            WithoutPass::Enrolled,
            Unenrolled::Allow
        ));
        assert!(!tokens_without_pass(
            WithoutPass::Enrolled,
            Unenrolled::Require
        ));
    }

    #[test]
    fn a_pass_admits_its_own_client_for_fifteen_seconds() {
        let now = time::OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let web = AppClient::parse("1example23456789").unwrap();
        let other = AppClient::parse("2other+client_id").unwrap();
        let pass = SignInPass::starting(now, web.clone(), SignInMethod::Totp, 10);
        assert!(pass.admits(&web, now + time::Duration::seconds(14)));
        assert!(!pass.admits(&web, now + time::Duration::seconds(15)));
        assert!(!pass.admits(&other, now));
    }

    #[test]
    fn an_app_client_id_is_cognitos_pattern_and_nothing_else() {
        for bad in [
            "",
            "a b",
            "id/..",
            "id\n",
            "\u{e9}t\u{e9}",
            &"a".repeat(129),
        ] {
            assert_eq!(AppClient::parse(bad), None, "{bad:?}");
        }
        assert!(AppClient::parse(&"a".repeat(128)).is_some());
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
