//! Each use case's refusals as the client sees them: a status, an `ErrorCode` and a message
//! naming what was wrong, worded once for the refusals several share.

use lambda_http::http::StatusCode;
use time::format_description::well_known::Rfc3339;

use super::{ApiError, ErrorCode, CONTENDED_RETRY_SECONDS};
use crate::{
    app::errors::{
        AdminResetError, CodeSetError, EnrollError, Fault, FilingError, Locked, MemberError,
        MembershipError, RedeemError, VerifyError,
    },
    domain::display_text,
    ports::StoreError,
};

/// The refusals the use cases share, each worded once.
impl ApiError {
    fn invalid_code() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidCode,
            "the code is not valid",
        )
    }

    fn locked(locked: Locked) -> Self {
        let seconds = locked.retry_after_seconds;
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Locked,
            format!(
                "too many codes were tried for this user; no code is checked until the lock \
                 ends in {seconds} s"
            ),
        )
        .retry_after(seconds)
    }

    /// A valid code whose write lost to other requests for the same user, retried already:
    /// it was not spent, so the same request may simply be sent again.
    fn contended() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            ErrorCode::TryAgain,
            "the code checked out but was not spent: other requests for this user changed it \
             at the same moment; send this request again",
        )
        .retry_after(CONTENDED_RETRY_SECONDS)
    }

    fn totp_required() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::TotpRequired,
            "a current TOTP code or an unused backup code is required in the `totp` field or the X-OTP header",
        )
    }

    pub fn not_admin() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only members of the administrators group may reset another user's codes",
        )
    }

    /// The same answer for an unknown user, another account's and a removed member.
    fn not_a_member() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "the user in the path is not a member of this account",
        )
    }

    /// A caller who is neither an admin of the account in the path nor in the admin group.
    pub fn not_account_admin() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only an admin of the account in the path may act on its members",
        )
    }

    fn conflict(code: ErrorCode, message: &str) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// A federated-only identity (the token's `backup_codes:federated`) has nothing to set up.
    pub fn federated_user() -> Self {
        Self::conflict(
            ErrorCode::FederatedUser,
            "this identity signs in through its identity provider (single sign-on), which owns \
             its second factor: there is no authenticator or backup code to set up here",
        )
    }
}

impl From<Fault> for ApiError {
    fn from(fault: Fault) -> Self {
        if let Fault::Store(StoreError::Request { .. }) = fault {
            tracing::error!(error = %error_chain(&fault), "storage unavailable");
            return Self::unavailable();
        }
        // The cause chain goes to the log, never to the client.
        tracing::error!(error = %error_chain(&fault), "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "the request could not be completed; try again",
        )
    }
}

impl From<VerifyError> for ApiError {
    fn from(err: VerifyError) -> Self {
        match err {
            VerifyError::InvalidCode => Self::invalid_code(),
            VerifyError::Locked(locked) => Self::locked(locked),
            VerifyError::Contended => Self::contended(),
            VerifyError::Fault(fault) => fault.into(),
        }
    }
}

impl From<EnrollError> for ApiError {
    fn from(err: EnrollError) -> Self {
        match err {
            EnrollError::AlreadyEnrolled => Self::conflict(
                ErrorCode::AlreadyEnrolled,
                "TOTP is already enrolled for this user, and no replacement is waiting to be \
                 confirmed: to set up a new app, POST /v1/totp/enrollment with a step-up proof",
            ),
            EnrollError::FederatedUser => Self::federated_user(),
            EnrollError::TotpRequired => Self::totp_required(),
            EnrollError::NoPendingEnrollment => Self::conflict(
                ErrorCode::NoPendingEnrollment,
                "there is no enrollment to confirm: POST /v1/totp/enrollment first",
            ),
            EnrollError::NoPendingReplacement => Self::conflict(
                ErrorCode::NoPendingReplacement,
                "no new authenticator is being set up: it was confirmed, cancelled or ended \
                 already, or it expired",
            ),
            EnrollError::InvalidCode => Self::invalid_code(),
            EnrollError::Locked(locked) => Self::locked(locked),
            EnrollError::Contended => Self::contended(),
            EnrollError::Fault(fault) => fault.into(),
        }
    }
}

impl From<CodeSetError> for ApiError {
    fn from(err: CodeSetError) -> Self {
        match err {
            CodeSetError::NotEnrolled => Self::conflict(
                ErrorCode::NotEnrolled,
                "TOTP is not enrolled for this user: enroll an authenticator first",
            ),
            CodeSetError::NoPendingSet => Self::conflict(
                ErrorCode::SetNotPending,
                "`set_id` names no set waiting to be activated: it expired (15 minutes), was \
                 replaced by a newer one or activated already; regenerate again",
            ),
            CodeSetError::TotpRequired => Self::totp_required(),
            CodeSetError::TwoFactorRequired { accounts } => {
                let named: Vec<String> = accounts
                    .iter()
                    .map(|a| format!("\u{201c}{}\u{201d}", display_text::clean(a.as_str())))
                    .collect();
                Self::conflict(
                    ErrorCode::TwoFactorRequired,
                    &format!(
                        "two-factor cannot be turned off: the account {} requires it of its \
                         members; nothing was changed and no code was spent",
                        named.join(", the account ")
                    ),
                )
            }
            CodeSetError::InvalidCode => Self::invalid_code(),
            CodeSetError::Locked(locked) => Self::locked(locked),
            CodeSetError::Contended => Self::contended(),
            CodeSetError::Fault(fault) => fault.into(),
        }
    }
}

impl From<AdminResetError> for ApiError {
    fn from(err: AdminResetError) -> Self {
        match err {
            AdminResetError::TotpRequired => Self::totp_required(),
            AdminResetError::InvalidCode => Self::invalid_code(),
            AdminResetError::Locked(locked) => Self::locked(locked),
            AdminResetError::Contended => Self::contended(),
            AdminResetError::NotAMember => Self::not_a_member(),
            AdminResetError::UserNotEnrolled => Self::conflict(
                ErrorCode::UserNotEnrolled,
                "the user in the path has not enrolled TOTP, so has no backup codes to reset",
            ),
            AdminResetError::UserHasNoEmail => Self::conflict(
                ErrorCode::UserHasNoEmail,
                "the user in the path has no email address on file to send the link to",
            ),
            AdminResetError::EmailFailed(cause) => {
                tracing::error!(error = %error_chain(&cause), "download email not sent");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    ErrorCode::EmailFailed,
                    "the email could not be sent; nothing was changed, so try again",
                )
            }
            AdminResetError::RequestNotFound => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::RecoveryRequestNotFound,
                "the recovery request in the path does not exist, or is not one you may answer",
            ),
            AdminResetError::RequestClosed => Self::conflict(
                ErrorCode::RecoveryClosed,
                "the recovery request in the path is closed already: approved, denied, \
                 cancelled by its user or expired; nothing was changed",
            ),
            AdminResetError::RequestWaiting { until } => {
                let at = until.format(&Rfc3339).unwrap_or_default();
                let mut refused = Self::conflict(
                    ErrorCode::RecoveryWaiting,
                    &format!(
                        "the recovery request in the path may be approved from {at}, so its \
                         user has time to see the mail and cancel it; nothing was changed"
                    ),
                );
                refused.approvable_from = Some(until);
                refused
            }
            AdminResetError::Fault(fault) => fault.into(),
        }
    }
}

impl From<FilingError> for ApiError {
    fn from(err: FilingError) -> Self {
        match err {
            FilingError::EmailFailed(cause) => {
                tracing::error!(error = %error_chain(&cause), "recovery request mail not sent");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    ErrorCode::EmailFailed,
                    "the mail that tells the user could not be sent, so nothing was filed; try \
                     again",
                )
            }
            FilingError::Contended => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::TryAgain,
                "the request was not filed: other filings changed its accounts at the same \
                 moment; send it again",
            )
            .retry_after(CONTENDED_RETRY_SECONDS),
            FilingError::Fault(fault) => fault.into(),
        }
    }
}

impl From<RedeemError> for ApiError {
    fn from(err: RedeemError) -> Self {
        match err {
            RedeemError::LinkInvalid => Self::new(
                StatusCode::GONE,
                ErrorCode::LinkInvalid,
                "this download link is no longer valid; ask your administrator for a new one",
            ),
            RedeemError::NotTheShownSet => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::SetNotPending,
                "field `set_id` is not the set this link last showed: it was opened again since; \
                 save and activate the newest codes",
            ),
            RedeemError::Fault(fault) => fault.into(),
        }
    }
}

impl From<MembershipError> for ApiError {
    fn from(err: MembershipError) -> Self {
        match err {
            MembershipError::TooManyAccounts { most } => Self::conflict(
                ErrorCode::TooManyAccounts,
                &format!(
                    "the user in the path already belongs to {most} accounts, the most one user \
                     may: remove one of their memberships first"
                ),
            ),
            MembershipError::TooManyAdmins { most } => Self::conflict(
                ErrorCode::TooManyAdmins,
                &format!(
                    "the account in the path already has {most} admins, the most one account \
                     may: make one of them a member first"
                ),
            ),
            MembershipError::Contended => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::TryAgain,
                "other writes changed this membership at the same moment, and this one was not \
                 written; send it again",
            )
            .retry_after(CONTENDED_RETRY_SECONDS),
            MembershipError::Fault(fault) => fault.into(),
        }
    }
}

impl From<MemberError> for ApiError {
    fn from(err: MemberError) -> Self {
        match err {
            MemberError::NotAMember => Self::not_a_member(),
            MemberError::Fault(fault) => fault.into(),
        }
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
