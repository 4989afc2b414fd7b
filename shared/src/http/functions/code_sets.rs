//! The `code-sets` function: a user reads their status, makes a new set (pending until they
//! activate it, having saved it), or deletes their sets.

use std::sync::Arc;

use lambda_http::{
    http::{HeaderValue, StatusCode},
    Body, Error, Request, Response,
};
use serde::Deserialize;
use serde_json::json;

use super::{rfc3339, serve, totp_from};
use crate::{
    app::{
        account_rules::{requiring_accounts, RulesOfUser},
        address::KeepsAddress,
        backup_codes, FactorChecks, FactorServices,
    },
    config::IdentitySettings,
    domain::events::UserAgent,
    entry::{wiring_while, Host, Invoked, LambdaFunction},
    http::{
        identity::caller,
        request::{caller_source, is_set_id_shaped, json_body, wants_text},
        response::{empty_response, json_response, text_attachment, ApiError, ErrorCode},
        table::{Authorization, Route},
    },
    ports::{Addresses, CodeSets},
    presentation::codes_file,
};

crate::ports::view! {
    /// What the code-sets function does to the store: check codes, make, save and remove code sets,
    /// keep the address current, and tell the status which of the user's accounts require two-
    /// factor.
    pub trait CodeSetStore: FactorChecks, CodeSets, Addresses, RulesOfUser
}

pub struct CodeSetsApi {
    pub services: FactorServices<dyn CodeSetStore>,
    pub identity: IdentitySettings,
}

serve!(CodeSetsApi: code_set_status, regenerate_code_set, activate_code_set, delete_code_set);

impl LambdaFunction for CodeSetsApi {
    const NAME: &'static str = "code-sets";
    const INVOKED: Invoked<Self> = Invoked::Http(&[
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
            method: "POST",
            path: "/v1/backup-codes/activate",
            authorization: Authorization::Jwt,
            handler: serve::activate_code_set,
        },
        Route {
            method: "DELETE",
            path: "/v1/backup-codes",
            authorization: Authorization::Jwt,
            handler: serve::delete_code_set,
        },
    ]);

    async fn build(host: &impl Host) -> Result<Self, Error> {
        let (wiring, keys) = wiring_while(host, host.sealing_keys()).await?;
        Ok(CodeSetsApi {
            services: wiring
                .factor_services(wiring.shared_store() as Arc<dyn CodeSetStore>, keys)?,
            identity: wiring.config.identity.clone(),
        })
    }

    fn signed_in(&self) -> Option<&dyn KeepsAddress> {
        Some(&self.services.services)
    }
}

async fn code_set_status(api: &CodeSetsApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let status = match backup_codes::status(&api.services, &who.user).await {
        // Not "not enrolled, set one up": there is nothing to set up for this identity.
        Err(crate::app::errors::CodeSetError::NotEnrolled) if who.federated_only => {
            return Err(ApiError::federated_user())
        }
        other => other?,
    };
    let required_by = requiring_accounts(api.services.store.as_ref(), &who.user).await?;
    let used: Vec<_> = status
        .used
        .iter()
        .map(|code| json!({ "number": code.number, "used_at": rfc3339(code.at) }))
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
            "sessions_end_on_change": api.services.settings.sessions_end_on_change,
            "totp": {
                "enrolled": true,
                "since": status.totp.since.map(rfc3339),
                "replacement_pending": status.totp.replacement.is_some(),
                // When and where, so the owner can tell it is not theirs and cancel it.
                "replacement": status.totp.replacement.map(|r| json!({
                    "started_at": r.started_at.map(rfc3339),
                    "expires_at": rfc3339(r.expires_at),
                    "ip": r.started_from.ip.map(|ip| ip.to_string()),
                    "device": r.started_from.user_agent.as_ref().and_then(UserAgent::device),
                })),
            },
            "pending_set": status.pending_set.map(|p| json!({
                "generated_at": rfc3339(p.generated_at),
                "expires_at": rfc3339(p.expires_at),
            })),
            // The user's accounts that require two-factor: while any does, it stays on.
            "required_by": required_by.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        }),
    ))
}

async fn regenerate_code_set(api: &CodeSetsApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let totp = totp_from(req)?;
    let pending = backup_codes::regenerate(
        &api.services,
        &who.user,
        totp.as_deref(),
        &caller_source(req),
    )
    .await?;
    let issued = &pending.issued;
    if wants_text(req) {
        let mut file = text_attachment(
            StatusCode::CREATED,
            "backup-codes.txt",
            codes_file(&api.services.settings.product, issued),
        );
        // The file is the codes alone; activating them needs the set's id.
        let headers = file.headers_mut();
        headers.insert(SET_ID_HEADER, header_value(&issued.set.id));
        headers.insert(
            SET_EXPIRES_HEADER,
            header_value(&rfc3339(pending.expires_at)),
        );
        return Ok(file);
    }
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "backup_codes": issued.display(),
            "generated_at": rfc3339(issued.set.generated_at),
            "set_id": issued.set.id,
            "expires_at": rfc3339(pending.expires_at),
        }),
    ))
}

/// The pending set's id (and when it expires) on a regenerate answered as a file.
pub const SET_ID_HEADER: &str = "x-backup-codes-set-id";
pub const SET_EXPIRES_HEADER: &str = "x-backup-codes-expires-at";

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("set ids and timestamps are plain ASCII")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateBody {
    set_id: String,
}

async fn activate_code_set(api: &CodeSetsApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let body: ActivateBody = json_body(req)?;
    let set_id = body.set_id.trim();
    if !is_set_id_shaped(set_id) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "field `set_id` must be the `set_id` a regenerate answered (letters and digits)",
        ));
    }
    let activated =
        backup_codes::activate(&api.services, &who.user, set_id, &caller_source(req)).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "set_id": set_id,
            "remaining": activated.remaining,
            "generated_at": rfc3339(activated.generated_at),
        }),
    ))
}

async fn delete_code_set(api: &CodeSetsApi, req: &Request) -> Result<Response<Body>, ApiError> {
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
