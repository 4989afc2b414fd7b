//! The one place where outcomes become HTTP status codes and JSON bodies.

use lambda_http::{
    http::{header, StatusCode},
    Body, Response,
};
use serde::Serialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

mod refusals;

/// Every `error` a refusal can carry; `openapi.yaml` lists the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    AlreadyEnrolled,
    EmailFailed,
    FederatedUser,
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
    pub const ALL: [ErrorCode; 37] = [
        ErrorCode::AlreadyEnrolled,
        ErrorCode::EmailFailed,
        ErrorCode::FederatedUser,
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
            ErrorCode::FederatedUser => "federated_user",
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
