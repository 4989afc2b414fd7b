//! The `audit` function: a user reads their own security events; an administrator reads any
//! user's. It only reads the trail, so it is given nothing else.

use std::sync::Arc;

use lambda_http::{http::StatusCode, Body, Error, Request, RequestExt, Response};
use serde_json::json;

use super::serve;
use crate::{
    app::audit,
    config::IdentitySettings,
    domain::{access::Admin, events::AuditPosition, user::UserId},
    entry::{Host, Invoked, LambdaFunction},
    http::{
        identity::caller,
        request::path_user,
        response::{json_response, ApiError, ErrorCode},
        table::{Authorization, Route},
    },
    ports::AuditLog,
};

/// Events a page holds unless `?limit=` asks otherwise, and the most it may ask for.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

pub struct AuditApi {
    pub audit: Arc<dyn AuditLog>,
    pub identity: IdentitySettings,
}

serve!(AuditApi: own_audit, user_audit);

impl LambdaFunction for AuditApi {
    const NAME: &'static str = "audit";
    const INVOKED: Invoked<Self> = Invoked::Http(&[
        Route {
            method: "GET",
            path: "/v1/audit",
            authorization: Authorization::Jwt,
            handler: serve::own_audit,
        },
        Route {
            method: "GET",
            path: "/v1/admin/users/{user_id}/audit",
            authorization: Authorization::Jwt,
            handler: serve::user_audit,
        },
    ]);

    /// It reads trails only: no keys, no mail, no writes.
    async fn build(host: &impl Host) -> Result<Self, Error> {
        let wiring = host.wiring()?;
        Ok(AuditApi {
            audit: wiring.store.clone(),
            identity: wiring.config.identity.clone(),
        })
    }
}

async fn own_audit(api: &AuditApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    page(api, req, &who.user).await
}

async fn user_audit(api: &AuditApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    Admin::by_membership(&who.user, &who.groups, &api.identity.admin_group)
        .ok_or_else(ApiError::not_admin)?;
    let target = path_user(req)?;
    page(api, req, &target).await
}

/// One page, newest first; `next` is the cursor for the following page, `null` on the last.
async fn page(api: &AuditApi, req: &Request, user: &UserId) -> Result<Response<Body>, ApiError> {
    let query = req.query_string_parameters_ref();
    let param = |name: &str| query.and_then(|q| q.first(name));
    let limit = match param("limit") {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidField,
                    format!("query parameter `limit` must be a whole number from 1 to {MAX_PAGE}"),
                )
            })?,
    };
    let after = param("next")
        .map(|cursor| {
            AuditPosition::decode(cursor).ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidField,
                    "query parameter `next` must be a cursor from a previous page",
                )
            })
        })
        .transpose()?;
    let page = audit::trail(api.audit.as_ref(), user, limit, after.as_ref()).await?;
    let events: Vec<_> = page.events.iter().map(|e| e.to_json()).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "events": events, "next": page.next.as_ref().map(AuditPosition::encode) }),
    ))
}
