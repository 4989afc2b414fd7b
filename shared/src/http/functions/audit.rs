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
    ports::{AuditLog, AuditPage},
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
    let (limit, after) = page_asked(req)?;
    let page = audit::trail(api.audit.as_ref(), user, limit, after.as_ref()).await?;
    Ok(page_response(&page))
}

/// The page a request asks for: `?limit=` (1 to `MAX_PAGE`, `DEFAULT_PAGE` when absent) and
/// `?next=`, a cursor from the page before.
pub(super) fn page_asked(req: &Request) -> Result<(usize, Option<AuditPosition>), ApiError> {
    let query = req.query_string_parameters_ref();
    let param = |name: &str| query.and_then(|q| q.first(name));
    let limit = page_limit(param("limit"))?;
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
    Ok((limit, after))
}

/// `?limit=`: a whole number from 1 to `MAX_PAGE`, `DEFAULT_PAGE` when absent.
pub(super) fn page_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_PAGE);
    };
    raw.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::InvalidField,
                format!("query parameter `limit` must be a whole number from 1 to {MAX_PAGE}"),
            )
        })
}

pub(super) fn page_response(page: &AuditPage) -> Response<Body> {
    let events: Vec<_> = page.events.iter().map(|e| e.to_json()).collect();
    json_response(
        StatusCode::OK,
        &json!({ "events": events, "next": page.next.as_ref().map(AuditPosition::encode) }),
    )
}
