//! The `enroll` function: start a TOTP enrollment, confirm it for the first codes, and turn
//! two-factor off again.

use std::sync::Arc;

use lambda_http::{http::StatusCode, Body, Error, Request, Response};
use serde::Deserialize;
use serde_json::json;

use super::{serve, totp_from};
use crate::{
    app::{
        account_rules::RulesOfUser,
        address::KeepsAddress,
        enroll::{self, Confirmed},
        two_factor, FactorChecks, FactorServices,
    },
    config::IdentitySettings,
    entry::{wiring_while, Host, Invoked, LambdaFunction},
    http::{
        identity::caller,
        request::{caller_source, json_body, wants_text},
        response::{empty_response, json_response, text_attachment, ApiError},
        table::{Authorization, Route},
    },
    ports::{Addresses, Enrollment, Replacements, TwoFactorOff},
    presentation::codes_file,
};

crate::ports::view! {
    /// What the enroll function does to the store: check codes, enroll, replace the authenticator,
    /// turn two-factor off (unless an account of the user's requires it), and keep the address
    /// current.
    pub trait EnrollStore:
        FactorChecks, Enrollment, Replacements, TwoFactorOff, Addresses, RulesOfUser
}

pub struct EnrollApi {
    pub services: FactorServices<dyn EnrollStore>,
    pub identity: IdentitySettings,
}

serve!(EnrollApi: start_enrollment, confirm_enrollment, cancel_replacement, disable_two_factor);

impl LambdaFunction for EnrollApi {
    const NAME: &'static str = "enroll";
    const INVOKED: Invoked<Self> = Invoked::Http(&[
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
        Route {
            method: "DELETE",
            path: "/v1/totp/enrollment/replacement",
            authorization: Authorization::Jwt,
            handler: serve::cancel_replacement,
        },
        Route {
            method: "DELETE",
            path: "/v1/totp/enrollment",
            authorization: Authorization::Jwt,
            handler: serve::disable_two_factor,
        },
    ]);

    async fn build(host: &impl Host) -> Result<Self, Error> {
        let (wiring, keys) = wiring_while(host, host.sealing_keys()).await?;
        Ok(EnrollApi {
            services: wiring
                .factor_services(wiring.shared_store() as Arc<dyn EnrollStore>, keys)?,
            identity: wiring.config.identity.clone(),
        })
    }

    fn signed_in(&self) -> Option<&dyn KeepsAddress> {
        Some(&self.services.services)
    }
}

async fn start_enrollment(api: &EnrollApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let proof = totp_from(req)?;
    let started = enroll::start(
        &api.services,
        &who.user,
        who.email.as_ref(),
        proof.as_deref(),
        &caller_source(req),
        who.federated_only,
    )
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "secret": started.secret_base32,
            "otpauth_uri": started.otpauth_uri,
            "qr_svg": started.qr_svg,
            // Confirming it ends the user's sessions: the screens say to sign in again.
            "sessions_end_on_change": api.services.settings.sessions_end_on_change,
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
    let confirmed = enroll::confirm(
        &api.services,
        &who.user,
        who.email.as_ref(),
        &body.code,
        &caller_source(req),
    )
    .await?;
    Ok(match confirmed {
        Confirmed::Enrolled(issued) if wants_text(req) => text_attachment(
            StatusCode::OK,
            "backup-codes.txt",
            codes_file(&api.services.settings.product, &issued),
        ),
        Confirmed::Enrolled(issued) => json_response(
            StatusCode::OK,
            &json!({ "backup_codes": issued.display(), "remaining": issued.plaintext.len() }),
        ),
        // The backup codes stay as they were: nothing new to show.
        Confirmed::Replaced => {
            json_response(StatusCode::OK, &json!({ "authenticator_replaced": true }))
        }
    })
}

/// By the owner's token alone: cancelling only takes power away.
async fn cancel_replacement(api: &EnrollApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    enroll::cancel_replacement(&api.services, &who.user, &caller_source(req)).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

async fn disable_two_factor(api: &EnrollApi, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req, &api.identity.groups_claim)?;
    let proof = totp_from(req)?;
    two_factor::disable(
        &api.services,
        &who.user,
        proof.as_deref(),
        &caller_source(req),
    )
    .await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}
