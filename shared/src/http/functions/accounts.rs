//! The `accounts` function: an account's administrators act on its members, and only on them.
//! Who administers an account, and who belongs to it, is what the team's backend wrote
//! (the `memberships` function), read at each request; the platform's admin group, the team's
//! own support, may act here too, on the account's members alone.

use std::sync::Arc;

use lambda_http::{http::StatusCode, Body, Error, Request, RequestExt, Response};
use serde::Deserialize;
use serde_json::json;

use super::{
    admin::{link_mailed, ResetLinks},
    audit::{page_asked, page_limit, page_response},
    proof_from, rfc3339, serve, totp_from,
};
use crate::{
    app::{
        account_admin, account_rules, address::KeepsAddress, FactorChecks, FactorServices, Services,
    },
    config::IdentitySettings,
    domain::{access::Admin, account::TwoFactorRule, user::UserId},
    entry::{wiring_while, Host, Invoked, LambdaFunction},
    http::{
        identity::caller,
        request::{caller_source, json_body, path_account, path_user},
        response::{empty_response, json_response, ApiError, ErrorCode},
        table::{Authorization, Route},
    },
    ports::{
        AccountRecords, Addresses, DownloadGrants, MemberLists, MemberRecords, Memberships,
        RuleWrites, TwoFactorOff,
    },
};

crate::ports::view! {
    /// What the accounts function does to the store: read who administers and belongs to an account
    /// and a page of its members' records, check the admin's own code, reset or turn off a member's
    /// two-factor, and read and set the account's rule.
    pub trait AccountAdminStore:
        FactorChecks, DownloadGrants, TwoFactorOff, Addresses, Memberships, MemberLists,
        MemberRecords, AccountRecords, RuleWrites
}

pub struct AccountsApi {
    pub services: FactorServices<dyn AccountAdminStore>,
    pub reset_links: ResetLinks,
    pub identity: IdentitySettings,
}

serve!(
    AccountsApi: list_members,
    reset_member,
    disable_member_two_factor,
    member_audit,
    read_rule,
    set_rule,
);

/// The account's two-factor rule.
const RULE_PATH: &str = "/v1/accounts/{account_id}/policy";

impl LambdaFunction for AccountsApi {
    const NAME: &'static str = "accounts";
    const INVOKED: Invoked<Self> = Invoked::Http(&[
        Route {
            method: "GET",
            path: "/v1/accounts/{account_id}/members",
            authorization: Authorization::Jwt,
            handler: serve::list_members,
        },
        Route {
            method: "POST",
            path: "/v1/accounts/{account_id}/members/{user_id}/backup-codes",
            authorization: Authorization::Jwt,
            handler: serve::reset_member,
        },
        Route {
            method: "DELETE",
            path: "/v1/accounts/{account_id}/members/{user_id}/totp",
            authorization: Authorization::Jwt,
            handler: serve::disable_member_two_factor,
        },
        Route {
            method: "GET",
            path: "/v1/accounts/{account_id}/members/{user_id}/audit",
            authorization: Authorization::Jwt,
            handler: serve::member_audit,
        },
        Route {
            method: "GET",
            path: RULE_PATH,
            authorization: Authorization::Jwt,
            handler: serve::read_rule,
        },
        Route {
            method: "PUT",
            path: RULE_PATH,
            authorization: Authorization::Jwt,
            handler: serve::set_rule,
        },
    ]);

    async fn build(host: &impl Host) -> Result<Self, Error> {
        let both = async { tokio::try_join!(host.sealing_keys(), host.signing_keys()) };
        let (wiring, (sealing, signing)) = wiring_while(host, both).await?;
        Ok(AccountsApi {
            services: wiring
                .factor_services(wiring.shared_store() as Arc<dyn AccountAdminStore>, sealing)?,
            reset_links: ResetLinks::build(host, &wiring, signing)?,
            identity: wiring.config.identity.clone(),
        })
    }

    fn signed_in(&self) -> Option<&dyn KeepsAddress> {
        Some(&self.services.services)
    }
}

async fn account_admin(api: &AccountsApi, req: &Request) -> Result<Admin, ApiError> {
    admin_of_path_account(&api.services, &api.identity, req).await
}

/// The caller as an administrator of the account in the path, or 403: decided from the
/// memberships the backend wrote, before the body is read. Every account route's guard.
pub(super) async fn admin_of_path_account<S: Memberships + ?Sized>(
    services: &Services<S>,
    identity: &IdentitySettings,
    req: &Request,
) -> Result<Admin, ApiError> {
    let who = caller(req, &identity.groups_claim)?;
    let account = path_account(req)?;
    let platform = Admin::by_membership(&who.user, &who.groups, &identity.admin_group);
    account_admin::admin_of(services, &who.user, platform, &account)
        .await?
        .ok_or_else(ApiError::not_account_admin)
}

/// The administrator, the member acted on, and the administrator's own proof.
async fn acting(
    api: &AccountsApi,
    req: &Request,
) -> Result<(Admin, UserId, Option<String>), ApiError> {
    let admin = account_admin(api, req).await?;
    let target = path_user(req)?;
    let proof = totp_from(req)?;
    Ok((admin, target, proof))
}

async fn reset_member(api: &AccountsApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let (admin, target, proof) = acting(api, req).await?;
    let base_url = api.reset_links.base_url(req)?;
    let mail = api.reset_links.mail(&base_url);
    let grant = account_admin::reset_member(
        &api.services,
        &api.reset_links.links,
        &admin,
        &target,
        proof.as_deref(),
        api.reset_links.delivery(&mail),
        &caller_source(req),
    )
    .await?;
    Ok(link_mailed(&grant))
}

async fn disable_member_two_factor(
    api: &AccountsApi,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let (admin, target, proof) = acting(api, req).await?;
    account_admin::disable_for_member(
        &api.services,
        &admin,
        &target,
        proof.as_deref(),
        &caller_source(req),
    )
    .await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

async fn member_audit(api: &AccountsApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let admin = account_admin(api, req).await?;
    let target = path_user(req)?;
    let (limit, after) = page_asked(req)?;
    let page =
        account_admin::member_trail(&api.services, &admin, &target, limit, after.as_ref()).await?;
    Ok(page_response(&page))
}

/// One page of the account's members, by user id; `next` starts the following page, `null`
/// on the last. `?limit=` and `?next=` follow the audit trail's rules.
async fn list_members(api: &AccountsApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let admin = account_admin(api, req).await?;
    let query = req.query_string_parameters_ref();
    let param = |name: &str| query.and_then(|q| q.first(name));
    let limit = page_limit(param("limit"))?;
    // The cursor is the last user id of the page before: any id is a place in the list.
    let after = param("next")
        .map(|cursor| {
            UserId::parse(cursor).map_err(|e| {
                ApiError::bad_request(
                    ErrorCode::InvalidField,
                    format!("query parameter `next` {e}: give the `next` of the page before"),
                )
            })
        })
        .transpose()?;
    let page = account_admin::members(&api.services, &admin, limit, after.as_ref()).await?;
    let low = |remaining| api.services.is_low(remaining);
    let members: Vec<_> = page
        .members
        .iter()
        .map(|m| {
            json!({
                "user_id": m.user.as_str(),
                "role": m.role.as_str(),
                "enrolled": m.enrolled,
                "remaining_codes": m.remaining_codes,
                "low": m.enrolled && low(m.remaining_codes),
                "last_code": m.last_code.map(|(at, method)| json!({
                    "at": rfc3339(at),
                    "method": method.as_str(),
                })),
                "pending_link": m.pending_link_until.map(|until| json!({
                    "expires_at": rfc3339(until),
                })),
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "members": members,
            "next": page.next.as_ref().map(UserId::as_str),
        }),
    ))
}

async fn read_rule(api: &AccountsApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let admin = account_admin(api, req).await?;
    let rule = account_rules::rule_of(&api.services, &admin).await?;
    Ok(rule_response(&admin, rule, false))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleBody {
    two_factor: String,
    /// The admin's own proof, here or in `X-OTP`; `null` is malformed, never read as absent.
    #[serde(default, deserialize_with = "super::string_if_present")]
    totp: Option<String>,
}

/// 200 with the rule and whether this request changed it.
async fn set_rule(api: &AccountsApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let admin = account_admin(api, req).await?;
    let body: RuleBody = json_body(req)?;
    let rule = TwoFactorRule::parse(&body.two_factor).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidField,
            "field `two_factor` must be \"required\" or \"optional\"",
        )
    })?;
    let proof = proof_from(body.totp, req)?;
    let changed = account_rules::set_rule(
        &api.services,
        &admin,
        rule,
        proof.as_deref(),
        &caller_source(req),
    )
    .await?;
    Ok(rule_response(&admin, rule, changed))
}

fn rule_response(admin: &Admin, rule: TwoFactorRule, changed: bool) -> Response<Body> {
    json_response(
        StatusCode::OK,
        &json!({
            "account_id": admin.account().map(|a| a.as_str()),
            "two_factor": rule.as_str(),
            "changed": changed,
        }),
    )
}
