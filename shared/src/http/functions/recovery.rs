//! The `recovery` function: a user who lost both their phone and their backup codes asks,
//! after the password, for their two-factor to be reset (the team's auth server files it, IAM);
//! they alone can cancel it through the mailed link (no authorizer, like the download link);
//! their accounts' admins, or the platform's support, list and answer it (JWT). Who may answer
//! is what the team's backend wrote, read at each request.

use std::sync::Arc;

use lambda_http::{http::StatusCode, Body, Error, Request, RequestExt, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    accounts,
    admin::{link_mailed, ResetLinks},
    audit::page_limit,
    proof_from, rfc3339, serve,
};
use crate::{
    app::{
        address::KeepsAddress,
        errors::Fault,
        errors::FilingError,
        recovery::{self, CancelError, Filing, FilingStore, RequestNoticeDelivery},
        recovery_answers::{self, AnswerStore},
        FactorServices, Services,
    },
    config::IdentitySettings,
    domain::{
        access::Admin,
        link_token::{LinkSigner, MAX_TOKEN_LEN},
        recovery::{DenyReason, RecoveryRequest},
        recovery_queue::QueuedRequest,
        sealing::Keyring,
        source::{Source, UserAgent},
        user::UserId,
    },
    entry::{wiring_while, Host, Invoked, LambdaFunction},
    http::{
        identity::caller,
        request::{
            caller_source, form_fields, is_form, json_body, optional_json_body, path_request_id,
            reported_source,
        },
        response::{empty_response, html_response, json_response, ApiError, ErrorCode},
        table::{Authorization, Route},
    },
    ports::{Addresses, MailBudget, Mailer, RecoveryDecisions, RequestPosition},
    presentation::{pages, recovery_mail::RequestMail, RECOVERY_CANCEL_PATH},
    wiring::Wiring,
};

crate::ports::view! {
    /// What the recovery function does to the store: file a request (the user's record and
    /// accounts, those accounts' admins and queues), cancel one, and let admins list and answer
    /// them (their own code, the members they reach, the reset's download grant).
    pub trait RecoveryStore: FilingStore, AnswerStore, RecoveryDecisions, Addresses
}

pub struct RecoveryApi {
    pub services: FactorServices<dyn RecoveryStore>,
    pub reset_links: ResetLinks,
    pub desk: RequestDesk,
    /// The time between filing and the earliest approval (`RECOVERY_WAIT_HOURS`).
    pub wait: time::Duration,
    pub identity: IdentitySettings,
}

/// What filing a request takes besides the store: the mail that tells the user, with its
/// signed cancel link, counted in the stack's daily mail. This function and the Cognito
/// challenge file through it alike.
pub struct RequestDesk {
    /// Signs and checks the links that cancel a request.
    pub cancel_signer: LinkSigner,
    pub mailer: Arc<dyn Mailer>,
    pub mail_budget: Arc<dyn MailBudget>,
    pub product: String,
    pub wait: time::Duration,
    /// Where cancel links point; `None`: the address the filing came through.
    pub link_base_url: Option<String>,
}

impl RequestDesk {
    pub fn build(host: &impl Host, wiring: &Wiring<'_>, signing: Keyring) -> Result<Self, Error> {
        Ok(RequestDesk {
            cancel_signer: LinkSigner::new(signing).for_recovery_cancel(),
            mailer: host.mailer()?,
            mail_budget: wiring.mail_budget.clone(),
            product: wiring.config.settings.product.clone(),
            wait: wiring.config.recovery_wait,
            link_base_url: wiring.config.link_base_url.clone(),
        })
    }

    /// Files for `user` after their password passed, with the cancel link under `base_url`.
    pub async fn file<S: FilingStore + ?Sized>(
        &self,
        services: &Services<S>,
        user: &UserId,
        source: &Source,
        base_url: &str,
    ) -> Result<Filing, FilingError> {
        let mail = RequestMail {
            mailer: self.mailer.as_ref(),
            base_url,
            product: &self.product,
        };
        let delivery = RequestNoticeDelivery {
            signer: &self.cancel_signer,
            notice: &mail,
            budget: self.mail_budget.as_ref(),
            wait: self.wait,
        };
        recovery::file(services, user, source, delivery).await
    }
}

serve!(
    RecoveryApi: file_request,
    cancel_page,
    cancel_request,
    account_requests,
    approve_for_account,
    deny_for_account,
    all_requests,
    approve_as_support,
    deny_as_support,
);

const ACCOUNT_REQUESTS: &str = "/v1/accounts/{account_id}/recovery-requests";
const SUPPORT_REQUESTS: &str = "/v1/admin/recovery-requests";

impl LambdaFunction for RecoveryApi {
    const NAME: &'static str = "recovery";
    const INVOKED: Invoked<Self> = Invoked::Http(&[
        Route {
            method: "POST",
            path: "/v1/recovery-requests",
            authorization: Authorization::Iam,
            handler: serve::file_request,
        },
        Route {
            method: "GET",
            path: RECOVERY_CANCEL_PATH,
            authorization: Authorization::None,
            handler: serve::cancel_page,
        },
        Route {
            method: "POST",
            path: RECOVERY_CANCEL_PATH,
            authorization: Authorization::None,
            handler: serve::cancel_request,
        },
        Route {
            method: "GET",
            path: ACCOUNT_REQUESTS,
            authorization: Authorization::Jwt,
            handler: serve::account_requests,
        },
        Route {
            method: "POST",
            path: "/v1/accounts/{account_id}/recovery-requests/{request_id}/approve",
            authorization: Authorization::Jwt,
            handler: serve::approve_for_account,
        },
        Route {
            method: "POST",
            path: "/v1/accounts/{account_id}/recovery-requests/{request_id}/deny",
            authorization: Authorization::Jwt,
            handler: serve::deny_for_account,
        },
        Route {
            method: "GET",
            path: SUPPORT_REQUESTS,
            authorization: Authorization::Jwt,
            handler: serve::all_requests,
        },
        Route {
            method: "POST",
            path: "/v1/admin/recovery-requests/{request_id}/approve",
            authorization: Authorization::Jwt,
            handler: serve::approve_as_support,
        },
        Route {
            method: "POST",
            path: "/v1/admin/recovery-requests/{request_id}/deny",
            authorization: Authorization::Jwt,
            handler: serve::deny_as_support,
        },
    ]);

    async fn build(host: &impl Host) -> Result<Self, Error> {
        let both = async { tokio::try_join!(host.sealing_keys(), host.signing_keys()) };
        let (wiring, (sealing, signing)) = wiring_while(host, both).await?;
        Ok(RecoveryApi {
            services: wiring
                .factor_services(wiring.shared_store() as Arc<dyn RecoveryStore>, sealing)?,
            desk: RequestDesk::build(host, &wiring, signing.clone())?,
            reset_links: ResetLinks::build(host, &wiring, signing)?,
            wait: wiring.config.recovery_wait,
            identity: wiring.config.identity.clone(),
        })
    }

    fn signed_in(&self) -> Option<&dyn KeepsAddress> {
        Some(&self.services.services)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilingBody {
    user_id: String,
    /// Where the sign-in came from, as the auth server saw it: for the mail and the trail.
    ip: Option<String>,
    user_agent: Option<String>,
}

/// 202 whoever the user is: filed, open already, or nothing filed (unknown, without a factor
/// or an address) all read alike, so the answer tells nobody who has a factor.
async fn file_request(api: &RecoveryApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: FilingBody = json_body(req)?;
    let user = UserId::parse(&body.user_id).map_err(|e| {
        ApiError::bad_request(ErrorCode::InvalidField, format!("field `user_id` {e}"))
    })?;
    let source = reported_source(body.ip.as_deref(), body.user_agent.as_deref())?;
    let base_url = api.reset_links.base_url(req)?;
    api.desk
        .file(&api.services, &user, &source, &base_url)
        .await?;
    Ok(requested())
}

fn requested() -> Response<Body> {
    json_response(
        StatusCode::ACCEPTED,
        &json!({
            "status": "requested",
            "message": "if this user can be helped, their administrators have been asked and \
                        they have been mailed a link to cancel the request",
        }),
    )
}

/// What the cancel link opens; it never cancels.
async fn cancel_page(api: &RecoveryApi, _: &Request) -> Result<Response<Body>, ApiError> {
    Ok(html_response(
        StatusCode::OK,
        &pages::cancel_landing(&api.reset_links.product),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    token: String,
}

/// The page's form gets a page; a JSON caller gets JSON. Both say the same on refusal.
async fn cancel_request(api: &RecoveryApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let product = &api.reset_links.product;
    let shaped = |token: &str| !token.is_empty() && token.chars().count() <= MAX_TOKEN_LEN;
    let source = caller_source(req);
    if is_form(req) {
        let token = form_fields(req)
            .and_then(|fields| fields.into_iter().find(|(k, _)| k == "token"))
            .map(|(_, v)| v)
            .unwrap_or_default();
        if !shaped(&token) {
            let page = pages::cancel_link_invalid(product);
            return Ok(html_response(StatusCode::BAD_REQUEST, &page));
        }
        return match recovery::cancel(&api.services, &api.desk.cancel_signer, &token, &source).await
        {
            Ok(()) => Ok(html_response(
                StatusCode::OK,
                &pages::request_cancelled(product),
            )),
            Err(CancelError::LinkInvalid) => Ok(html_response(
                StatusCode::GONE,
                &pages::cancel_link_invalid(product),
            )),
            Err(CancelError::Store(err)) => Err(Fault::from(err).into()),
        };
    }
    let body: TokenBody = json_body(req)?;
    if !shaped(&body.token) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            format!(
                "field `token` must be 1 to {MAX_TOKEN_LEN} characters: the part of the link \
                 after #token="
            ),
        ));
    }
    match recovery::cancel(&api.services, &api.desk.cancel_signer, &body.token, &source).await {
        Ok(()) => Ok(json_response(
            StatusCode::OK,
            &json!({ "status": "cancelled" }),
        )),
        Err(CancelError::LinkInvalid) => Err(ApiError::new(
            StatusCode::GONE,
            ErrorCode::LinkInvalid,
            "this link is no longer valid: the request it cancels is closed already",
        )),
        Err(CancelError::Store(err)) => Err(Fault::from(err).into()),
    }
}

/// The caller as an administrator of the account in the path, or 403, before the body is read.
async fn account_admin(api: &RecoveryApi, req: &Request) -> Result<Admin, ApiError> {
    accounts::admin_of_path_account(&api.services, &api.identity, req).await
}

/// The caller as the platform's support (the admin group), or 403.
fn support(api: &RecoveryApi, req: &Request) -> Result<Admin, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    Admin::by_membership(&who.user, &who.groups, &api.identity.admin_group)
        .ok_or_else(ApiError::not_admin)
}

/// Where a request came from and when it may be approved, as both lists show it.
fn shown(
    api: &RecoveryApi,
    id: &str,
    user: &UserId,
    filed_at: time::OffsetDateTime,
    source: &Source,
) -> Value {
    let approvable_from = filed_at + api.wait;
    let now = api.services.clock.now();
    json!({
        "id": id,
        "user_id": user.as_str(),
        "filed_at": rfc3339(filed_at),
        "approvable_from": rfc3339(approvable_from),
        "waiting": now < approvable_from,
        "expires_at": rfc3339(filed_at + crate::domain::recovery::REQUEST_LIFETIME),
        "ip": source.ip.map(|ip| ip.to_string()),
        "device": source.user_agent.as_ref().and_then(UserAgent::device),
        "reported_by_sign_in_client": source.reported,
    })
}

fn queued_json(api: &RecoveryApi, queued: &QueuedRequest) -> Value {
    shown(
        api,
        &queued.id,
        &queued.user,
        queued.filed_at,
        &queued.source,
    )
}

fn request_json(api: &RecoveryApi, request: &RecoveryRequest) -> Value {
    let mut shown = shown(
        api,
        &request.id,
        &request.user,
        request.filed_at,
        &request.source,
    );
    shown["accounts"] = json!(request
        .accounts
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>());
    shown
}

/// The open requests that asked the account, newest first (at most a week's worth of the
/// account's daily limit, so one page).
async fn account_requests(api: &RecoveryApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let admin = account_admin(api, req).await?;
    let open = recovery_answers::account_requests(&api.services, &admin).await?;
    let requests: Vec<Value> = open.iter().map(|q| queued_json(api, q)).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "requests": requests }),
    ))
}

/// Every open request, newest first, a page at a time (`?limit=`, `?next=`).
async fn all_requests(api: &RecoveryApi, req: &Request) -> Result<Response<Body>, ApiError> {
    support(api, req)?;
    let query = req.query_string_parameters_ref();
    let param = |name: &str| query.and_then(|q| q.first(name));
    let limit = page_limit(param("limit"))?;
    let after = param("next")
        .map(|cursor| {
            RequestPosition::parse(cursor).ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidField,
                    "query parameter `next` must be the `next` of the page before",
                )
            })
        })
        .transpose()?;
    let page = recovery_answers::all_requests(&api.services, limit, after.as_ref()).await?;
    let requests: Vec<Value> = page.requests.iter().map(|r| request_json(api, r)).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "requests": requests,
            "next": page.next.as_ref().map(RequestPosition::sort_key),
        }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    /// The admin's own proof, here or in `X-OTP`; `null` is malformed, never read as absent.
    #[serde(default, deserialize_with = "super::string_if_present")]
    totp: Option<String>,
}

async fn approve(
    api: &RecoveryApi,
    req: &Request,
    admin: Admin,
) -> Result<Response<Body>, ApiError> {
    let id = path_request_id(req)?;
    let body: ApproveBody = optional_json_body(req)?.unwrap_or_default();
    let proof = proof_from(body.totp, req)?;
    let base_url = api.reset_links.base_url(req)?;
    let mail = api.reset_links.mail(&base_url);
    let grant = recovery_answers::approve(
        &api.services,
        &api.reset_links.links,
        &admin,
        &id,
        proof.as_deref(),
        api.wait,
        api.reset_links.delivery(&mail),
        &caller_source(req),
    )
    .await?;
    Ok(link_mailed(&grant))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DenyBody {
    /// Mailed to the user; at most 500 plain characters.
    #[serde(default, deserialize_with = "super::string_if_present")]
    reason: Option<String>,
}

async fn deny(api: &RecoveryApi, req: &Request, admin: Admin) -> Result<Response<Body>, ApiError> {
    let id = path_request_id(req)?;
    let body: DenyBody = optional_json_body(req)?.unwrap_or_default();
    let reason = body
        .reason
        .as_deref()
        .map(DenyReason::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidField, format!("field `reason` {e}")))?
        .flatten();
    recovery_answers::deny(&api.services, &admin, &id, reason, &caller_source(req)).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

async fn approve_for_account(api: &RecoveryApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let admin = account_admin(api, req).await?;
    approve(api, req, admin).await
}

async fn deny_for_account(api: &RecoveryApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let admin = account_admin(api, req).await?;
    deny(api, req, admin).await
}

async fn approve_as_support(api: &RecoveryApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let admin = support(api, req)?;
    approve(api, req, admin).await
}

async fn deny_as_support(api: &RecoveryApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let admin = support(api, req)?;
    deny(api, req, admin).await
}
