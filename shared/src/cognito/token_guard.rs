//! The token guard: the pool's Pre Token Generation trigger (V1 event). Whatever flows a pool's
//! app clients allow (`USER_SRP_AUTH`, `USER_PASSWORD_AUTH`, the managed login pages, ...),
//! Cognito generates tokens only through here, and an enrolled user's sign-in gets them only by
//! consuming the pass a passed challenge left. An error from this trigger is how a function
//! tells Cognito to issue no tokens.

use aws_lambda_events::event::cognito::CognitoEventUserPoolsPreTokenGen;
use serde_json::Value;
use tracing::{info, warn};

use super::{app_client, sub, to_json, CognitoTrigger, TriggerError};
use crate::{
    app::errors::Fault,
    domain::{
        federation::{is_federated_only, CLAIM_FEDERATED},
        sign_in::{sign_in_claims, tokens_without_pass, TokenGeneration, WithoutPass},
    },
};

impl CognitoTrigger {
    pub(super) async fn guard_tokens(
        &self,
        generation: TokenGeneration,
        event: CognitoEventUserPoolsPreTokenGen,
    ) -> Result<Value, TriggerError> {
        let attributes = &event.request.user_attributes;
        let federated = is_federated_only(
            attributes.get("cognito:user_status").map(String::as_str),
            attributes.get("identities").map(String::as_str),
        );
        let federated_claim = [(CLAIM_FEDERATED, "true".to_owned())];
        match generation {
            // The sign-in that issued the refresh token was guarded; revoking it is the pool's.
            // A federated identity's refreshed token still says what it is.
            TokenGeneration::Refresh if federated => {
                return Ok(with_claims(to_json(&event), &federated_claim));
            }
            TokenGeneration::Refresh => return Ok(to_json(&event)),
            // Single sign-on: the identity provider owns this user's second factor, and the
            // managed login, its only way in, cannot run our challenge (domain::federation).
            TokenGeneration::ManagedLogin if federated => {
                info!("tokens allowed: a federated-only identity's managed-login sign-in");
                return Ok(with_claims(to_json(&event), &federated_claim));
            }
            _ => {}
        }
        let Some(user) = sub(&event.request.user_attributes) else {
            warn!("tokens refused: the event names no valid user");
            return Err(TriggerError::NoSecondFactor);
        };
        let store = &self.services.store;
        let now = self.services.clock.now();
        let client = app_client(&event.cognito_event_user_pools_header);
        if let (TokenGeneration::AfterChallenge, Some(client)) = (generation, client) {
            let consumed = store
                .consume_sign_in_pass(&user, &client, now)
                .await
                .map_err(Fault::from)?;
            if let Some(pass) = consumed {
                info!(%user, method = pass.method.name(), "tokens allowed: the sign-in passed its challenge");
                let low = self.services.is_low(pass.remaining_codes);
                return Ok(with_claims(to_json(&event), &sign_in_claims(&pass, low)));
            }
        }
        let record = store.get_user(&user).await.map_err(Fault::from)?;
        let (without, rule) = match record.is_some_and(|r| r.is_enrolled()) {
            true => (WithoutPass::Enrolled, self.unenrolled),
            false => (WithoutPass::NotEnrolled, self.unenrolled_rule(&user).await?),
        };
        if tokens_without_pass(without, rule) {
            info!(%user, "tokens allowed: not enrolled, and the pool lets them in");
            return Ok(to_json(&event));
        }
        warn!(%user, user_state = ?without, "tokens refused: no passed challenge");
        Err(TriggerError::NoSecondFactor)
    }
}

/// The V1 response that adds `claims` to the ID token. Written into the event as JSON rather
/// than through the event type, whose serialised group override would be an empty list: that
/// would take the user out of every group in their tokens.
fn with_claims(mut event: Value, claims: &[(&'static str, String)]) -> Value {
    let added: serde_json::Map<String, Value> = claims
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Value::String(value.clone())))
        .collect();
    event["response"] = serde_json::json!({
        "claimsOverrideDetails": { "claimsToAddOrOverride": added }
    });
    event
}
