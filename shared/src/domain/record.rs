//! What is stored about one user, and the rules that read it.

use time::OffsetDateTime;

use super::{
    attempts::AttemptLedger,
    codes::BackupCodeSet,
    events::Source,
    link_token::{DownloadGrant, GrantClaim},
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
    /// When the authenticator in use was confirmed (unknown for records older than this field).
    pub since: Option<OffsetDateTime>,
    /// A new authenticator being set up while the current one keeps working.
    pub replacement: Option<Replacement>,
}

/// A replacement authenticator's secret, shown but not yet proven by a code from the new app.
/// Any response of the owner or an administrator ends it (cancelling it, an admin reset or
/// turn-off, a new set activated, the sets removed, a download link redeemed): a thief who
/// started one with a seen backup code cannot finish it after the owner has acted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replacement {
    pub secret: SealedSecret,
    /// When and where it was started, for the owner to recognise it (unknown for replacements
    /// started before these were kept).
    pub started_at: Option<OffsetDateTime>,
    pub started_from: Source,
    /// Past this, the replacement is dropped: it cannot be confirmed and the status no longer
    /// shows it.
    pub expires_at: OffsetDateTime,
}

impl Replacement {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }
}

/// Everything stored about one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub user_id: UserId,
    pub totp: TotpEnrollment,
    pub email: Option<Email>,
    pub codes: Option<BackupCodeSet>,
    /// A regenerated set shown to the user, counting only once they say they saved it.
    pub pending_codes: Option<PendingSet>,
    /// A download link an administrator had mailed, not yet redeemed (it may have expired).
    pub grant: Option<DownloadGrant>,
    /// A redemption of that grant in progress (see `GrantClaim`).
    pub grant_claim: Option<GrantClaim>,
    /// How many redemptions of that grant have begun (see `DownloadGrant::MAX_REDEMPTIONS`).
    pub grant_redemptions: u32,
    pub ledger: AttemptLedger,
    /// A Cognito sign-in's passed challenge, not yet turned into tokens.
    pub sign_in_pass: Option<SignInPass>,
}

/// How long a regenerated set waits to be activated before it is dropped.
pub const PENDING_SET_LIFETIME: time::Duration = time::Duration::minutes(15);

/// A regenerated set, not yet the one that works: the current set keeps working until this
/// one is activated (the user saved it), so a set whose answer never reached its user (a
/// closed tab, a dropped connection) costs them nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingSet {
    pub set: BackupCodeSet,
    pub expires_at: OffsetDateTime,
}

impl PendingSet {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }
}

impl UserRecord {
    pub fn is_enrolled(&self) -> bool {
        self.totp.state == EnrollmentState::Active
    }

    /// The replacement still pending at `now`: not confirmed, cancelled or expired.
    pub fn live_replacement(&self, now: OffsetDateTime) -> Option<&Replacement> {
        self.totp.replacement.as_ref().filter(|r| r.is_live(now))
    }
}
