//! Request bodies and headers, parsed into typed inputs or refused with a message naming the field.

use std::net::IpAddr;

use headers_accept::Accept;
use lambda_http::{
    http::{header, StatusCode},
    request::RequestContext,
    Body, Request, RequestExt,
};
use mediatype::{names, MediaType};
use serde::de::DeserializeOwned;

use super::response::{ApiError, ErrorCode};
use crate::domain::{
    account::AccountId,
    events::{Source, UserAgent},
    user::UserId,
};

/// Larger bodies are refused before parsing: every request here is a few short fields.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

fn check_size(req: &Request) -> Result<&[u8], ApiError> {
    let bytes = body_bytes(req);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("the request body must be at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    Ok(bytes)
}

/// A body without a content type is read as JSON (API Gateway and some clients drop the header);
/// any other declared type is refused so a form post does not fail with a confusing JSON error.
fn check_json_content_type(req: &Request) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    if media.eq_ignore_ascii_case("application/json")
        || media.to_ascii_lowercase().ends_with("+json")
    {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
        format!("the body must be JSON (Content-Type: application/json), not {media:?}"),
    ))
}

/// Parses a required JSON body.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    optional_json_body(req)?.ok_or_else(|| {
        ApiError::bad_request(ErrorCode::MissingBody, "the request needs a JSON body")
    })
}

/// Parses a JSON body if there is one.
pub fn optional_json_body<T: DeserializeOwned>(req: &Request) -> Result<Option<T>, ApiError> {
    let bytes = check_size(req)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    check_json_content_type(req)?;
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|err| {
        ApiError::bad_request(
            ErrorCode::InvalidJson,
            format!("the body is not valid JSON: {err}"),
        )
    })?;
    // Derived structs also accept an array in field order; only an object names its fields.
    if !value.is_object() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidBody,
            "the body must be a JSON object with named fields",
        ));
    }
    serde_path_to_error::deserialize(value)
        .map(Some)
        .map_err(|err| {
            let path = err.path().to_string();
            let detail = err.into_inner().to_string();
            if detail.starts_with("missing field") {
                ApiError::bad_request(ErrorCode::MissingField, format!("the body is {detail}"))
            } else if detail.starts_with("unknown field") {
                ApiError::bad_request(ErrorCode::UnknownField, format!("the body has an {detail}"))
            } else {
                ApiError::bad_request(ErrorCode::InvalidField, format!("field `{path}`: {detail}"))
            }
        })
}

/// A one-time password from the body field, or else from the `X-OTP` header.
pub fn otp(from_body: Option<String>, req: &Request) -> Result<Option<String>, ApiError> {
    if from_body.is_some() {
        return Ok(from_body);
    }
    req.headers()
        .get("x-otp")
        .map(|v| {
            v.to_str().map(str::to_owned).map_err(|_| {
                ApiError::bad_request(
                    ErrorCode::InvalidHeader,
                    "header X-OTP must be plain ASCII (a TOTP code or a backup code)",
                )
            })
        })
        .transpose()
}

/// True for a form post (the download page's Continue button).
/// What a regenerate or a redemption answers as `set_id`: 1 to 64 letters and digits.
pub fn is_set_id_shaped(set_id: &str) -> bool {
    !set_id.is_empty() && set_id.len() <= 64 && set_id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The fields of a form post, or `None` when the body is too large or not a form's encoding.
pub fn form_fields(req: &Request) -> Option<Vec<(String, String)>> {
    let bytes = match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b.as_slice(),
        _ => &[],
    };
    (bytes.len() <= MAX_BODY_BYTES)
        .then(|| serde_urlencoded::from_bytes(bytes).ok())
        .flatten()
}

pub fn is_form(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// Whether the client would rather have the codes as a text file than as JSON: the Accept
/// header negotiated (RFC 9110's q-values and specificity) between the two we serve, JSON first
/// when the client ranks them equal, and JSON for a missing or unreadable header.
pub fn wants_text(req: &Request) -> bool {
    const APPLICATION_JSON: MediaType = MediaType::new(names::APPLICATION, names::JSON);
    const TEXT_PLAIN: MediaType = MediaType::new(names::TEXT, names::PLAIN);
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| Accept::try_from(value).ok())
    else {
        return false;
    };
    accept.negotiate(&[APPLICATION_JSON, TEXT_PLAIN]) == Some(&TEXT_PLAIN)
}

/// Where a user's request came from, as API Gateway saw it (never a client-set header).
pub fn caller_source(req: &Request) -> Source {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return Source::default();
    };
    Source::seen(
        ctx.http.source_ip.as_deref().and_then(|ip| ip.parse().ok()),
        ctx.http
            .user_agent
            .as_deref()
            .and_then(UserAgent::from_header),
    )
}

/// The sign-in's source as the team's auth server reports it in `ip` and `user_agent`.
pub fn reported_source(ip: Option<&str>, user_agent: Option<&str>) -> Result<Source, ApiError> {
    let ip = ip
        .map(|raw| {
            raw.parse::<IpAddr>().map_err(|_| {
                ApiError::bad_request(
                    ErrorCode::InvalidField,
                    "field `ip` must be an IPv4 or IPv6 address",
                )
            })
        })
        .transpose()?;
    let user_agent = user_agent
        .map(|raw| {
            UserAgent::parse(raw).map_err(|e| {
                ApiError::bad_request(ErrorCode::InvalidField, format!("field `user_agent` {e}"))
            })
        })
        .transpose()?
        .flatten();
    Ok(Source::reported(ip, user_agent))
}

/// The `{user_id}` of a route. API Gateway has already matched and percent-decoded the
/// path: decoding again would read `%2541` as `A`, not `%41`.
pub fn path_user(req: &Request) -> Result<UserId, ApiError> {
    UserId::parse(path_parameter(req, "user_id")).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::InvalidField,
            format!("path parameter `user_id` {e}"),
        )
    })
}

/// The `{account_id}` of a route, decoded once as `{user_id}` is.
pub fn path_account(req: &Request) -> Result<AccountId, ApiError> {
    AccountId::parse(path_parameter(req, "account_id")).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::InvalidField,
            format!("path parameter `account_id` {e}"),
        )
    })
}

/// The `{request_id}` of a recovery route: 32 lowercase hexadecimal characters, as filed.
pub fn path_request_id(req: &Request) -> Result<String, ApiError> {
    let id = path_parameter(req, "request_id");
    let shaped = id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !shaped {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "path parameter `request_id` must be a request's `id`: 32 lowercase hexadecimal \
             characters",
        ));
    }
    Ok(id.to_owned())
}

fn path_parameter<'r>(req: &'r Request, name: &str) -> &'r str {
    req.path_parameters_ref()
        .and_then(|params| params.first(name))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use lambda_http::{http, Body, Request};

    use super::wants_text;

    fn accepting(value: &str) -> Request {
        http::Request::builder()
            .header("accept", value)
            .body(Body::Empty)
            .unwrap()
    }

    #[test]
    fn the_codes_come_as_text_only_when_the_client_ranks_text_above_json() {
        for (accept, text) in [
            ("text/plain", true),
            ("text/*", true),
            ("text/plain, application/json", true),
            ("text/plain, application/json;q=0.5", true),
            ("application/json;q=0, text/plain;q=0.1", true),
            ("application/json", false),
            ("application/json, text/plain", false),
            ("text/plain;q=0.5, application/json", false),
            ("*/*", false),
            ("text/plain;q=0", false),
            ("text/plain;q=0, */*", false),
            ("image/png", false),
            ("not a media type", false),
        ] {
            assert_eq!(wants_text(&accepting(accept)), text, "Accept: {accept}");
        }
        assert!(!wants_text(&Request::default()));
    }
}
