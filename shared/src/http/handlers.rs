//! Thin adapters: parse the request, call the use case, shape the success body.

use lambda_http::{http::StatusCode, Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{
    identity::caller,
    request::{json_body, optional_json_body, otp, wants_text},
    response::{empty_response, json_response, text_attachment, ApiError},
    routes::Endpoint,
    Api,
};
use crate::{
    app::{backup_codes, enroll, verify},
    domain::{codes::IssuedCodes, user::UserId},
};

pub(super) async fn handle(
    api: &Api,
    endpoint: Endpoint,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    match endpoint {
        Endpoint::StartEnrollment => start_enrollment(api, &req).await,
        Endpoint::ConfirmEnrollment => confirm_enrollment(api, &req).await,
        Endpoint::Verify => verify_code(api, &req).await.map_err(ApiError::for_verify),
        Endpoint::CodeSetStatus => code_set_status(api, &req).await,
        Endpoint::RegenerateCodeSet => regenerate_code_set(api, &req).await,
        Endpoint::DeleteCodeSet => delete_code_set(api, &req).await,
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("UTC timestamps always format")
}

async fn start_enrollment(api: &Api, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let started = enroll::start(&api.services, &who.user, who.email.as_ref()).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "secret": started.secret_base32,
            "otpauth_uri": started.otpauth_uri,
            "qr_svg": started.qr_svg,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

async fn confirm_enrollment(api: &Api, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let body: CodeBody = json_body(req)?;
    let issued = enroll::confirm(&api.services, &who.user, who.email.as_ref(), &body.code).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "backup_codes": issued.display(), "remaining": issued.plaintext.len() }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    user_id: String,
    code: String,
}

async fn verify_code(api: &Api, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: VerifyBody = json_body(req)?;
    let user = UserId::parse(&body.user_id)
        .map_err(|e| ApiError::bad_request("invalid_field", format!("field `user_id` {e}")))?;
    if body.code.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_field",
            "field `code` must not be empty",
        ));
    }
    let verified = verify::verify(&api.services, &user, &body.code).await?;
    let method = match verified.method {
        verify::Method::Totp => "totp",
        verify::Method::BackupCode => "backup_code",
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "valid": true,
            "method": method,
            "remaining_backup_codes": verified.remaining_backup_codes,
        }),
    ))
}

async fn code_set_status(api: &Api, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let status = backup_codes::status(&api.services, &who.user).await?;
    let used: Vec<_> = status
        .used_at
        .iter()
        .map(|t| json!({ "used_at": rfc3339(*t) }))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "total": status.total,
            "remaining": status.remaining,
            "generated_at": status.generated_at.map(rfc3339),
            "used": used,
            "pending_download": status.pending_download,
        }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TotpBody {
    totp: Option<String>,
}

fn totp_from(req: &Request) -> Result<Option<String>, ApiError> {
    let body: TotpBody = optional_json_body(req)?.unwrap_or_default();
    otp(body.totp, req)
}

async fn regenerate_code_set(api: &Api, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let totp = totp_from(req)?;
    let issued = backup_codes::regenerate(&api.services, &who.user, totp.as_deref()).await?;
    if wants_text(req) {
        return Ok(text_attachment(
            "backup-codes.txt",
            codes_file(&api.services.settings.issuer, &issued),
        ));
    }
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "backup_codes": issued.display(), "generated_at": rfc3339(issued.set.generated_at) }),
    ))
}

async fn delete_code_set(api: &Api, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let totp = totp_from(req)?;
    backup_codes::delete(&api.services, &who.user, totp.as_deref()).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// The downloadable file: a short header naming the service and date, then one code a line.
pub fn codes_file(product: &str, issued: &IssuedCodes) -> String {
    let date = issued.set.generated_at.date();
    let mut text = format!(
        "{product} backup codes\nGenerated {date} (UTC). Each code works once; keep them somewhere safe.\n\n"
    );
    for code in issued.display() {
        text.push_str(&code);
        text.push('\n');
    }
    text
}
