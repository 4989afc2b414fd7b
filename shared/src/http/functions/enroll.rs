//! The `enroll` function: start a TOTP enrollment, and confirm it for the first codes.

use lambda_http::{http::StatusCode, Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

use super::serve;
use crate::{
    app::{enroll, FactorServices},
    config::IdentitySettings,
    http::{
        identity::caller,
        request::{caller_source, json_body},
        response::{json_response, ApiError},
        table::{Authorization, Function, Route, Served},
    },
};

pub struct EnrollApi {
    pub services: FactorServices,
    pub identity: IdentitySettings,
}

serve!(EnrollApi: start_enrollment, confirm_enrollment);

impl Served for EnrollApi {
    const FUNCTION: Function = Function::Enroll;
    const ROUTES: &'static [Route<Self>] = &[
        Route {
            method: "POST",
            path: "/v1/totp/enrollment",
            authorization: Authorization::Jwt,
            handler: serve::start_enrollment,
        },
        Route {
            method: "POST",
            path: "/v1/totp/enrollment/confirm",
            authorization: Authorization::Jwt,
            handler: serve::confirm_enrollment,
        },
    ];
}

async fn start_enrollment(api: &EnrollApi, req: &Request) -> Result<Response<Body>, ApiError> {
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

async fn confirm_enrollment(api: &EnrollApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let body: CodeBody = json_body(req)?;
    let issued = enroll::confirm(
        &api.services,
        &who.user,
        who.email.as_ref(),
        &body.code,
        &caller_source(req),
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "backup_codes": issued.display(), "remaining": issued.plaintext.len() }),
    ))
}
