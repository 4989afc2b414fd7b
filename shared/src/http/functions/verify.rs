//! The `verify` function: the team's auth server asks whether a code is valid for a user.

use std::sync::Arc;

use lambda_http::{http::StatusCode, Body, Error, Request, Response};
use serde::Deserialize;
use serde_json::json;

use super::serve;
use crate::{
    app::{verify, FactorChecks, FactorServices},
    domain::user::UserId,
    entry::{wiring_while, Host, Invoked, LambdaFunction},
    http::{
        request::{json_body, reported_source},
        response::{json_response, ApiError, ErrorCode},
        table::{Authorization, Route},
    },
};

/// The verify function only checks codes: `FactorChecks` is all it does to the store.
pub struct VerifyApi {
    pub services: FactorServices<dyn FactorChecks>,
}

serve!(VerifyApi: verify);

impl LambdaFunction for VerifyApi {
    const NAME: &'static str = "verify";
    const INVOKED: Invoked<Self> = Invoked::Http(&[Route {
        method: "POST",
        path: "/v1/verify",
        authorization: Authorization::Iam,
        handler: serve::verify,
    }]);

    async fn build(host: &impl Host) -> Result<Self, Error> {
        let (wiring, keys) = wiring_while(host, host.sealing_keys()).await?;
        Ok(VerifyApi {
            services: wiring
                .factor_services(wiring.shared_store() as Arc<dyn FactorChecks>, keys)?,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    user_id: String,
    code: String,
    /// Where the sign-in came from, as the auth server saw it: for the audit trail and the mail.
    ip: Option<String>,
    user_agent: Option<String>,
}

/// Verify's refusals also say `"valid": false`.
async fn verify(api: &VerifyApi, req: &Request) -> Result<Response<Body>, ApiError> {
    verify_code(api, req).await.map_err(ApiError::for_verify)
}

async fn verify_code(api: &VerifyApi, req: &Request) -> Result<Response<Body>, ApiError> {
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
    let source = reported_source(body.ip.as_deref(), body.user_agent.as_deref())?;
    let verified = verify::verify(&api.services, &user, &body.code, &source).await?;
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
            "low": verified.low,
        }),
    ))
}
