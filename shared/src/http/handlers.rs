//! Thin adapters: parse the request, call the use case, shape the success body.

use std::{future::Future, pin::Pin};

use lambda_http::{http::StatusCode, request::RequestContext, Body, Request, RequestExt, Response};
use serde::Deserialize;
use serde_json::json;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{
    identity::caller,
    request::{is_form, json_body, optional_json_body, otp, wants_text, MAX_BODY_BYTES},
    response::{
        empty_response, html_response, json_response, text_attachment, ApiError, ErrorCode,
    },
    Api,
};
use crate::{
    app::{
        admin_regenerate, backup_codes, enroll,
        errors::{Fault, RedeemError},
        redeem, verify,
    },
    domain::{access::Admin, link_token::MAX_TOKEN_LEN, user::UserId},
    presentation::{codes_file, download_mail::LinkMail, pages},
};

/// A handler's future, boxed so that one route table can name every handler.
pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send + 'a>>;

/// What a route runs.
pub type Handler = for<'a> fn(&'a Api, &'a Request) -> HandlerFuture<'a>;

/// The handlers as the route table names them (`handlers::serve::verify`): each boxes the
/// async function of the same name below.
macro_rules! serve {
    ($($name:ident),+ $(,)?) => {
        pub mod serve {
            use super::*;
            $(
                pub fn $name<'a>(api: &'a Api, req: &'a Request) -> HandlerFuture<'a> {
                    Box::pin(super::$name(api, req))
                }
            )+
        }
    };
}

serve!(
    start_enrollment,
    confirm_enrollment,
    verify,
    code_set_status,
    regenerate_code_set,
    delete_code_set,
    admin_regenerate,
    download_page,
    redeem_download,
);

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

/// Verify's refusals also say `"valid": false`.
async fn verify(api: &Api, req: &Request) -> Result<Response<Body>, ApiError> {
    verify_code(api, req).await.map_err(ApiError::for_verify)
}

async fn verify_code(api: &Api, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: VerifyBody = json_body(req)?;
    let user = UserId::parse(&body.user_id).map_err(|e| {
        ApiError::bad_request(ErrorCode::InvalidField, format!("field `user_id` {e}"))
    })?;
    if body.code.trim().is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
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
            codes_file(&api.services.settings.product, &issued),
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

async fn admin_regenerate(api: &Api, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let admin = Admin::by_membership(&who.user, &who.groups, &api.identity.admin_group);
    // API Gateway has already matched and percent-decoded the path: decoding again would
    // read `%2541` as `A`, not `%41`.
    let target = req
        .path_parameters_ref()
        .and_then(|params| params.first("user_id"))
        .unwrap_or_default();
    let target = UserId::parse(target).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::InvalidField,
            format!("path parameter `user_id` {e}"),
        )
    })?;
    // Authorization before reading the body: a non-admin learns nothing from its validation.
    let admin = admin.ok_or_else(ApiError::not_admin)?;
    let totp = totp_from(req)?;
    let called_at = public_base_url(req);
    let base_url = api
        .link_base_url
        .as_deref()
        .or(called_at.as_deref())
        .ok_or(Fault::NotConfigured("a link base URL"))?;
    let mailer = api
        .services
        .mailer
        .as_deref()
        .ok_or(Fault::NotConfigured("a mailer"))?;
    let notice = LinkMail {
        mailer,
        base_url,
        product: &api.services.settings.product,
    };
    let grant =
        admin_regenerate::regenerate_for(&api.services, &admin, &target, totp.as_deref(), &notice)
            .await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({ "status": "email_sent", "expires_at": rfc3339(grant.expires_at) }),
    ))
}

/// The address the caller reached, as API Gateway reports it (its own domain or the custom
/// domain, never a client-supplied Host header).
fn public_base_url(req: &Request) -> Option<String> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let domain = ctx.domain_name.as_deref().filter(|d| !d.is_empty())?;
            match ctx.stage.as_deref() {
                Some(stage) if !stage.is_empty() && stage != "$default" => {
                    Some(format!("https://{domain}/{stage}"))
                }
                _ => Some(format!("https://{domain}")),
            }
        }
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    token: String,
}

/// What the emailed link opens; it never redeems.
async fn download_page(api: &Api, _: &Request) -> Result<Response<Body>, ApiError> {
    Ok(html_response(
        StatusCode::OK,
        &pages::landing(&api.services.settings.product),
    ))
}

/// JSON callers get JSON; the page's form post gets a page. Both say the same on refusal.
async fn redeem_download(api: &Api, req: &Request) -> Result<Response<Body>, ApiError> {
    let product = &api.services.settings.product;
    if is_form(req) {
        let bytes = match req.body() {
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b.as_slice(),
            _ => &[],
        };
        let token = (bytes.len() <= MAX_BODY_BYTES)
            .then(|| serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).ok())
            .flatten()
            .and_then(|pairs| {
                pairs
                    .into_iter()
                    .find(|(k, _)| k == "token")
                    .map(|(_, v)| v)
            })
            .unwrap_or_default();
        return match redeem::redeem(&api.services, &token).await {
            Ok(issued) => Ok(html_response(
                StatusCode::OK,
                &pages::codes(product, &issued.display(), &codes_file(product, &issued)),
            )),
            Err(RedeemError::LinkInvalid) => Ok(html_response(
                StatusCode::GONE,
                &pages::link_invalid(product),
            )),
            Err(other) => Err(other.into()),
        };
    }
    let body: TokenBody = json_body(req)?;
    if body.token.trim().is_empty() || body.token.chars().count() > MAX_TOKEN_LEN {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            format!("field `token` must be 1 to {MAX_TOKEN_LEN} characters: the part of the link after #token="),
        ));
    }
    let issued = redeem::redeem(&api.services, &body.token).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "backup_codes": issued.display() }),
    ))
}
