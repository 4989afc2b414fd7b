//! What is stored about one user, and the rules that read it.

use super::{
    attempts::AttemptLedger,
    codes::BackupCodeSet,
    link_token::DownloadGrant,
    sealing::SealedSecret,
    sign_in::SignInPass,
    user::{Email, UserId},
};

/// Whether TOTP is only started (secret shown, not yet proven) or in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrollmentState {
    Pending,
    Active,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotpEnrollment {
    pub state: EnrollmentState,
    pub secret: SealedSecret,
    /// The last time step accepted; a code for this step or an earlier one is a replay.
    pub last_step: u64,
}

/// Everything stored about one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub user_id: UserId,
    pub totp: TotpEnrollment,
    pub email: Option<Email>,
    pub codes: Option<BackupCodeSet>,
    /// A download link an administrator had mailed, not yet redeemed (it may have expired).
    pub grant: Option<DownloadGrant>,
    pub ledger: AttemptLedger,
    /// A Cognito sign-in's passed challenge, not yet turned into tokens.
    pub sign_in_pass: Option<SignInPass>,
}

impl UserRecord {
    pub fn is_enrolled(&self) -> bool {
        self.totp.state == EnrollmentState::Active
    }
}
