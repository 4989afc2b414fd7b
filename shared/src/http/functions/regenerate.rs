//! The `regenerate` function: a user reads, replaces or deletes their own code set.

use lambda_http::{http::StatusCode, Body, Request, Response};
use serde_json::json;

use super::{rfc3339, serve, totp_from};
use crate::{
    app::{backup_codes, FactorServices},
    config::IdentitySettings,
    http::{
        identity::caller,
        request::{caller_source, wants_text},
        response::{empty_response, json_response, text_attachment, ApiError},
        table::{Authorization, Function, Route, Served},
    },
    presentation::codes_file,
};

pub struct RegenerateApi {
    pub services: FactorServices,
    pub identity: IdentitySettings,
}

serve!(RegenerateApi: code_set_status, regenerate_code_set, delete_code_set);

impl Served for RegenerateApi {
    const FUNCTION: Function = Function::Regenerate;
    const ROUTES: &'static [Route<Self>] = &[
        Route {
            method: "GET",
            path: "/v1/backup-codes",
            authorization: Authorization::Jwt,
            handler: serve::code_set_status,
        },
        Route {
            method: "POST",
            path: "/v1/backup-codes",
            authorization: Authorization::Jwt,
            handler: serve::regenerate_code_set,
        },
        Route {
            method: "DELETE",
            path: "/v1/backup-codes",
            authorization: Authorization::Jwt,
            handler: serve::delete_code_set,
        },
    ];
}

async fn code_set_status(api: &RegenerateApi, req: &Request) -> Result<Response<Body>, ApiError> {
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
            "low": status.low,
        }),
    ))
}

async fn regenerate_code_set(
    api: &RegenerateApi,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let totp = totp_from(req)?;
    let issued = backup_codes::regenerate(
        &api.services,
        &who.user,
        totp.as_deref(),
        &caller_source(req),
    )
    .await?;
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

async fn delete_code_set(api: &RegenerateApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let totp = totp_from(req)?;
    backup_codes::delete(
        &api.services,
        &who.user,
        totp.as_deref(),
        &caller_source(req),
    )
    .await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}
