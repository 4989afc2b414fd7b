//! The `memberships` function: the team's backend says who belongs to which of its customer
//! accounts, and as what. IAM-authorised, like verify: a membership is never taken from a
//! caller's token or word.

use std::sync::Arc;

use lambda_http::{http::StatusCode, Body, Error, Request, Response};
use serde::Deserialize;
use serde_json::json;

use super::serve;
use crate::{
    app::{account_rules, memberships, Services},
    domain::{
        account::{MembershipChange, Role},
        events::Source,
    },
    entry::{Host, Invoked, LambdaFunction},
    http::{
        request::{json_body, path_account, path_user},
        response::{empty_response, json_response, ApiError, ErrorCode},
        table::{Authorization, Route},
    },
    ports::{AccountRecords, MembershipWrites, Memberships, UserRecords},
};

crate::ports::view! {
    /// What the memberships function does to the store: read a membership and write it, and read
    /// the account's admins (a limit) and rule, and whether a member enrolled (a requirement).
    pub trait MembershipStore: Memberships, MembershipWrites, AccountRecords, UserRecords
}

pub struct MembershipsApi {
    pub services: Services<dyn MembershipStore>,
}

serve!(MembershipsApi: put_membership, remove_membership, requirement);

const MEMBER_PATH: &str = "/v1/accounts/{account_id}/members/{user_id}";

impl LambdaFunction for MembershipsApi {
    const NAME: &'static str = "memberships";
    const INVOKED: Invoked<Self> = Invoked::Http(&[
        Route {
            method: "PUT",
            path: MEMBER_PATH,
            authorization: Authorization::Iam,
            handler: serve::put_membership,
        },
        Route {
            method: "DELETE",
            path: MEMBER_PATH,
            authorization: Authorization::Iam,
            handler: serve::remove_membership,
        },
        Route {
            method: "GET",
            path: "/v1/accounts/{account_id}/members/{user_id}/requirement",
            authorization: Authorization::Iam,
            handler: serve::requirement,
        },
    ]);

    /// It checks no code and opens no secret: no keys.
    async fn build(host: &impl Host) -> Result<Self, Error> {
        let wiring = host.wiring()?;
        Ok(MembershipsApi {
            services: wiring.services(wiring.shared_store() as Arc<dyn MembershipStore>)?,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MembershipBody {
    role: String,
}

/// 201 for a user who joined, 200 for a role changed or written again as it was.
async fn put_membership(api: &MembershipsApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let account = path_account(req)?;
    let user = path_user(req)?;
    let body: MembershipBody = json_body(req)?;
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidField,
            "field `role` must be \"member\" or \"admin\"",
        )
    })?;
    // The actor is the backend; its address is not the user's, so the event names none.
    let change = memberships::put(&api.services, &account, &user, role, &Source::default()).await?;
    let (status, previous) = match change {
        MembershipChange::Added(_) => (StatusCode::CREATED, None),
        MembershipChange::RoleChanged { from, .. } => (StatusCode::OK, Some(from)),
        MembershipChange::Unchanged(held) | MembershipChange::Removed(held) => {
            (StatusCode::OK, Some(held))
        }
    };
    Ok(json_response(
        status,
        &json!({
            "account_id": account.as_str(),
            "user_id": user.as_str(),
            "role": role.as_str(),
            "previous_role": previous.map(Role::as_str),
        }),
    ))
}

/// 204 whether or not the user was a member: a removal sent again after a dropped answer
/// finds it done.
async fn remove_membership(
    api: &MembershipsApi,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let account = path_account(req)?;
    let user = path_user(req)?;
    memberships::remove(&api.services, &account, &user, &Source::default()).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// Whether the member may enter the account without a code: the account's rule, and whether
/// they have a second factor to give. Anyone who is not a member gets 404.
async fn requirement(api: &MembershipsApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let account = path_account(req)?;
    let user = path_user(req)?;
    let asked = account_rules::requirement(&api.services, &account, &user).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "two_factor": asked.rule.as_str(), "enrolled": asked.enrolled }),
    ))
}
