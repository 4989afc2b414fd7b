//! How each use case can end other than in success: one enum per use case, over a small shared
//! core (`Fault`, and `CheckFailed` for the code check several of them make). `http::response`
//! turns every one of them into a status and a body, in one place.

use crate::{
    domain::{account::AccountId, codes::HashingFailed, sealing::UnsealError},
    ports::{MailError, StoreError},
};

/// Something that should not happen: the client gets a generic answer (503 for an unreachable
/// store, 500 otherwise) and the log gets the cause.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a stored TOTP secret could not be opened")]
    Unseal(#[from] UnsealError),
    #[error(transparent)]
    Hashing(#[from] HashingFailed),
    #[error(transparent)]
    HashingPool(#[from] super::hashing::PoolStopped),
    #[error("this function is not configured for {0}")]
    NotConfigured(&'static str),
}

/// The user's attempt ledger is full: no code is checked until it opens.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("too many codes were tried; try again in {retry_after_seconds} s")]
pub struct Locked {
    pub retry_after_seconds: u64,
}

/// Why a code check did not pass: the shared outcome of reserving and evaluating a code.
#[derive(Debug, thiserror::Error)]
pub enum CheckFailed {
    #[error("the code is not valid")]
    InvalidCode,
    #[error(transparent)]
    Locked(Locked),
    /// The code checked out, but other requests for the same user kept changing the ledger
    /// under its write: it was not spent, and the same request may be sent again.
    #[error("the code was not spent: other requests for this user changed it at the same moment")]
    Contended,
    #[error(transparent)]
    Fault(Fault),
}

/// `POST /v1/verify` (and a Cognito sign-in's code) ends as the code check does.
pub type VerifyError = CheckFailed;

/// Starting and confirming TOTP enrollment, and replacing an enrolled authenticator.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("TOTP is already enrolled for this user")]
    AlreadyEnrolled,
    /// A federated-only identity: its identity provider owns its second factor.
    #[error("this identity signs in through its identity provider, which owns its second factor")]
    FederatedUser,
    /// Replacing an enrolled authenticator needs a step-up proof.
    #[error("a current TOTP code or an unused backup code is required")]
    TotpRequired,
    #[error("there is no pending TOTP enrollment to confirm")]
    NoPendingEnrollment,
    /// Cancelling a replacement when none is pending (never started, confirmed, expired, or
    /// already ended).
    #[error("no new authenticator is being set up")]
    NoPendingReplacement,
    #[error("the code is not valid")]
    InvalidCode,
    #[error(transparent)]
    Locked(Locked),
    /// See `CheckFailed::Contended`.
    #[error("the code was not spent: other requests for this user changed it at the same moment")]
    Contended,
    #[error(transparent)]
    Fault(Fault),
}

/// The owner's status, regenerate, activate and delete of their set.
#[derive(Debug, thiserror::Error)]
pub enum CodeSetError {
    #[error("TOTP is not enrolled for this user")]
    NotEnrolled,
    /// Activating a set that is not this user's pending one (unknown, expired, replaced,
    /// already activated, or another user's).
    #[error("there is no pending set with that id")]
    NoPendingSet,
    #[error("a current TOTP code is required")]
    TotpRequired,
    /// Turning two-factor off while these accounts of the user's require it.
    #[error("an account the user belongs to requires two-factor")]
    TwoFactorRequired { accounts: Vec<AccountId> },
    #[error("the code is not valid")]
    InvalidCode,
    #[error(transparent)]
    Locked(Locked),
    /// See `CheckFailed::Contended`.
    #[error("the code was not spent: other requests for this user changed it at the same moment")]
    Contended,
    #[error(transparent)]
    Fault(Fault),
}

/// An administrator's reset of another user's codes.
#[derive(Debug, thiserror::Error)]
pub enum AdminResetError {
    #[error("a current TOTP code is required")]
    TotpRequired,
    #[error("the code is not valid")]
    InvalidCode,
    #[error(transparent)]
    Locked(Locked),
    /// See `CheckFailed::Contended`.
    #[error("the code was not spent: other requests for this user changed it at the same moment")]
    Contended,
    /// See `MemberError::NotAMember`.
    #[error("the target user is not a member of the administrator's account")]
    NotAMember,
    #[error("the target user has not enrolled TOTP")]
    UserNotEnrolled,
    #[error("the target user has no email address on file")]
    UserHasNoEmail,
    #[error("the email could not be sent")]
    EmailFailed(#[source] MailError),
    /// No recovery request with that id that this administrator may see.
    #[error("there is no recovery request with that id")]
    RequestNotFound,
    /// Approved, denied, cancelled or expired already.
    #[error("the recovery request is closed")]
    RequestClosed,
    /// Filed too recently to approve: not before `until`.
    #[error("the recovery request may not be approved yet")]
    RequestWaiting { until: time::OffsetDateTime },
    #[error(transparent)]
    Fault(Fault),
}

/// Filing a recovery request. Whatever the user, filed or not, the caller is answered the same.
#[derive(Debug, thiserror::Error)]
pub enum FilingError {
    #[error("the mail that tells the user could not be sent, so nothing was filed")]
    EmailFailed(#[source] MailError),
    #[error("the request was not filed: other filings changed its accounts at the same moment")]
    Contended,
    #[error(transparent)]
    Fault(Fault),
}

/// Redeeming a download link.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("the download link is no longer valid")]
    LinkInvalid,
    /// The set named is not the one this link last showed (the link was opened again since).
    #[error("the codes are not the ones this link last showed")]
    NotTheShownSet,
    #[error(transparent)]
    Fault(Fault),
}

/// Every use-case error carries faults the same way, so `?` works on every port call.
macro_rules! carries_faults {
    ($($error:ident),+) => {$(
        impl From<Fault> for $error {
            fn from(fault: Fault) -> Self {
                Self::Fault(fault)
            }
        }
        impl From<StoreError> for $error {
            fn from(err: StoreError) -> Self {
                Self::Fault(err.into())
            }
        }
    )+};
}

/// The use cases that check a code take its outcome as their own.
macro_rules! checks_codes {
    ($($error:ident),+) => {$(
        impl From<CheckFailed> for $error {
            fn from(failed: CheckFailed) -> Self {
                match failed {
                    CheckFailed::InvalidCode => Self::InvalidCode,
                    CheckFailed::Locked(locked) => Self::Locked(locked),
                    CheckFailed::Contended => Self::Contended,
                    CheckFailed::Fault(fault) => Self::Fault(fault),
                }
            }
        }
    )+};
}

carries_faults!(
    FilingError,
    CheckFailed,
    EnrollError,
    CodeSetError,
    AdminResetError,
    RedeemError
);
checks_codes!(EnrollError, CodeSetError, AdminResetError);

/// An account administrator's read of one of the account's members.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// Not a member of the administrator's account now: unknown, another account's, or
    /// removed. Each is answered as the others, so no account can probe another's users.
    #[error("the user is not a member of this account")]
    NotAMember,
    #[error(transparent)]
    Fault(#[from] Fault),
}

impl From<StoreError> for MemberError {
    fn from(err: StoreError) -> Self {
        MemberError::Fault(err.into())
    }
}

impl From<MemberError> for AdminResetError {
    fn from(err: MemberError) -> Self {
        match err {
            MemberError::NotAMember => AdminResetError::NotAMember,
            MemberError::Fault(fault) => AdminResetError::Fault(fault),
        }
    }
}

/// Writing a membership, as the team's backend asks.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("the user already belongs to {most} accounts, the most one user may")]
    TooManyAccounts { most: usize },
    #[error("the account already has {most} admins, the most one account may")]
    TooManyAdmins { most: usize },
    /// Other writes of the same membership kept changing it under this one: nothing was
    /// written, and the same request may be sent again.
    #[error("the membership was not written: other writes changed it at the same moment")]
    Contended,
    #[error(transparent)]
    Fault(#[from] Fault),
}

impl From<StoreError> for MembershipError {
    fn from(err: StoreError) -> Self {
        MembershipError::Fault(err.into())
    }
}
