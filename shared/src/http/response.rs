//! The one place where outcomes become HTTP status codes and JSON bodies.

use lambda_http::{
    http::{header, StatusCode},
    Body, Response,
};
use serde::Serialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use crate::{
    app::errors::{
        AdminResetError, CodeSetError, EnrollError, Fault, FilingError, Locked, MemberError,
        MembershipError, RedeemError, VerifyError,
    },
    domain::display_text,
    ports::StoreError,
};

/// Every `error` a refusal can carry; `openapi.yaml` lists the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    AlreadyEnrolled,
    EmailFailed,
    Forbidden,
    InternalError,
    InvalidBody,
    InvalidClaim,
    InvalidCode,
    InvalidField,
    InvalidHeader,
    InvalidJson,
    InvalidRequest,
    LinkInvalid,
    Locked,
    MethodNotAllowed,
    MissingBody,
    MissingField,
    NoPendingEnrollment,
    NoPendingReplacement,
    NotEnrolled,
    NotFound,
    PayloadTooLarge,
    RecoveryClosed,
    RecoveryRequestNotFound,
    RecoveryWaiting,
    SetNotPending,
    TooManyAccounts,
    TooManyAdmins,
    TotpRequired,
    TryAgain,
    TwoFactorRequired,
    Unauthenticated,
    Unavailable,
    UnknownField,
    UnsupportedMediaType,
    UserHasNoEmail,
    UserNotEnrolled,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 36] = [
        ErrorCode::AlreadyEnrolled,
        ErrorCode::EmailFailed,
        ErrorCode::Forbidden,
        ErrorCode::InternalError,
        ErrorCode::InvalidBody,
        ErrorCode::InvalidClaim,
        ErrorCode::InvalidCode,
        ErrorCode::InvalidField,
        ErrorCode::InvalidHeader,
        ErrorCode::InvalidJson,
        ErrorCode::InvalidRequest,
        ErrorCode::LinkInvalid,
        ErrorCode::Locked,
        ErrorCode::MethodNotAllowed,
        ErrorCode::MissingBody,
        ErrorCode::MissingField,
        ErrorCode::NoPendingEnrollment,
        ErrorCode::NoPendingReplacement,
        ErrorCode::NotEnrolled,
        ErrorCode::NotFound,
        ErrorCode::PayloadTooLarge,
        ErrorCode::RecoveryClosed,
        ErrorCode::RecoveryRequestNotFound,
        ErrorCode::RecoveryWaiting,
        ErrorCode::SetNotPending,
        ErrorCode::TooManyAccounts,
        ErrorCode::TooManyAdmins,
        ErrorCode::TotpRequired,
        ErrorCode::TryAgain,
        ErrorCode::TwoFactorRequired,
        ErrorCode::Unauthenticated,
        ErrorCode::Unavailable,
        ErrorCode::UnknownField,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::UserHasNoEmail,
        ErrorCode::UserNotEnrolled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AlreadyEnrolled => "already_enrolled",
            ErrorCode::EmailFailed => "email_failed",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::InvalidClaim => "invalid_claim",
            ErrorCode::InvalidCode => "invalid_code",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::InvalidHeader => "invalid_header",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::LinkInvalid => "link_invalid",
            ErrorCode::Locked => "locked",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::MissingBody => "missing_body",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::NoPendingEnrollment => "no_pending_enrollment",
            ErrorCode::NoPendingReplacement => "no_pending_replacement",
            ErrorCode::NotEnrolled => "not_enrolled",
            ErrorCode::NotFound => "not_found",
            ErrorCode::SetNotPending => "set_not_pending",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RecoveryClosed => "recovery_closed",
            ErrorCode::RecoveryRequestNotFound => "recovery_request_not_found",
            ErrorCode::RecoveryWaiting => "recovery_waiting",
            ErrorCode::TooManyAccounts => "too_many_accounts",
            ErrorCode::TooManyAdmins => "too_many_admins",
            ErrorCode::TotpRequired => "totp_required",
            ErrorCode::TryAgain => "try_again",
            ErrorCode::TwoFactorRequired => "two_factor_required",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::UserHasNoEmail => "user_has_no_email",
            ErrorCode::UserNotEnrolled => "user_not_enrolled",
        }
    }
}

/// A refusal as the client sees it: `{"error": "snake_case", "message": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Verify's refusals also say `"valid": false`, so its callers can read one field either way.
    pub verify_shape: bool,
    /// When to come back (429, 503): the `Retry-After` header and `retry_after_seconds`.
    pub retry_after_seconds: Option<u64>,
    /// A recovery request's earliest approval, for `recovery_waiting`: `approvable_from`.
    pub approvable_from: Option<time::OffsetDateTime>,
}

/// How long a client should wait after the store was unreachable: long enough for throttling
/// to ease, short enough for a person at a sign-in page.
pub const UNAVAILABLE_RETRY_SECONDS: u64 = 2;

/// How long a client should wait before sending again a code that lost a race it did not lose
/// on its merits: the racing writes are single requests, done well within a second.
pub const CONTENDED_RETRY_SECONDS: u64 = 1;

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            verify_shape: false,
            retry_after_seconds: None,
            approvable_from: None,
        }
    }

    /// A dependency did not answer in time; the client may try again shortly.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the service's storage is not answering; try again shortly",
        )
        .retry_after(UNAVAILABLE_RETRY_SECONDS)
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn for_verify(mut self) -> Self {
        self.verify_shape = true;
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let mut body = json!({ "error": self.code.as_str(), "message": self.message });
        if self.verify_shape {
            body["valid"] = json!(false);
        }
        if let Some(seconds) = self.retry_after_seconds {
            body["retry_after_seconds"] = json!(seconds);
        }
        if let Some(at) = self.approvable_from.and_then(|at| at.format(&Rfc3339).ok()) {
            body["approvable_from"] = json!(at);
        }
        let mut response = json_response(self.status, &body);
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

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

/// Every response may carry a secret or a code, so none may be cached.
fn base(status: StatusCode) -> lambda_http::http::response::Builder {
    Response::builder()
        .status(status)
        .header(header::CACHE_CONTROL, "no-store")
}

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).expect("response bodies are plain JSON values");
    base(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(text))
        .expect("static headers are valid")
}

/// The web components: the same bytes for everyone, so browsers and CDNs may keep them an hour.
pub fn script_response(script: &'static str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .header(header::CONTENT_TYPE, "text/javascript; charset=utf-8")
        .header("x-content-type-options", "nosniff")
        .body(Body::Text(script.to_owned()))
        .expect("static headers are valid")
}

pub fn empty_response(status: StatusCode) -> Response<Body> {
    base(status)
        .body(Body::Empty)
        .expect("static headers are valid")
}

/// An HTML page whose one inline script is allowed by hash, and nothing else by default.
pub fn html_response(
    status: StatusCode,
    page: &crate::presentation::pages::Page,
) -> Response<Body> {
    base(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header("content-security-policy", page.content_security_policy())
        .header("referrer-policy", "no-referrer")
        .header("x-content-type-options", "nosniff")
        .body(Body::Text(page.html.clone()))
        .expect("static headers are valid")
}

pub fn text_attachment(status: StatusCode, filename: &str, text: String) -> Response<Body> {
    base(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        )
        .body(Body::Text(text))
        .expect("static headers are valid")
}
