//! A Cognito user pool's triggers, served by one function: the custom-authentication
//! challenge (Define, Create and Verify Auth Challenge, in `challenge`) and the token guard
//! (Pre Token Generation, in `token_guard`). Cognito's events in, the sign-in rules
//! (`domain::sign_in`) and the verify and enroll use cases in between, Cognito's responses out.
//! Everything in an event is untrusted input, parsed strictly.

mod challenge;
mod token_guard;

use std::{collections::HashMap, net::IpAddr, sync::Arc};

use aws_lambda_events::event::cognito::CognitoEventUserPoolsHeader;
use serde_json::Value;
use tracing::warn;

use crate::{
    app::{
        account_rules::{requiring_accounts, RulesOfUser},
        errors::Fault,
        recovery::FilingStore,
        FactorChecks, FactorServices,
    },
    domain::{
        events::{Source, UserAgent},
        sign_in::{AppClient, TokenGeneration, Unenrolled},
        user::{Email, UserId},
    },
    entry::{wiring_while, EventFuture, Host, Invoked, LambdaFunction},
    http::functions::recovery::RequestDesk,
    ports::{Enrollment, SignInPasses},
};

/// What the client is told an ordinary challenge is; no secret, nothing about the user.
pub const CHALLENGE: &str = "TOTP_OR_BACKUP_CODE";

crate::ports::view! {
    /// What the Cognito triggers do to the store: check codes, enroll at a sign-in, leave and
    /// consume the sign-in pass, and ask whether an account of an unenrolled user requires two-
    /// factor; file a recovery request in place of a code.
    pub trait SignInStore: FactorChecks, Enrollment, SignInPasses, RulesOfUser, FilingStore
}

/// The triggers, as one function's dependencies.
pub struct CognitoTrigger {
    pub services: FactorServices<dyn SignInStore>,
    pub unenrolled: Unenrolled,
    /// Files a recovery request answered in place of a code, its cancel link under the
    /// stack's `LINK_BASE_URL` (a trigger has no request to take an address from); `None`
    /// where none is configured, and such an answer is a wrong one.
    pub recovery: Option<(RequestDesk, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("not a trigger this function serves: {0:?}")]
    UnknownTrigger(String),
    #[error("the {trigger} event is malformed: {source}")]
    Malformed {
        trigger: &'static str,
        source: serde_json::Error,
    },
    /// The token guard's refusal: Cognito issues no tokens and tells the client it failed.
    #[error("sign-in refused: no second factor was passed for this sign-in")]
    NoSecondFactor,
    /// The store or the hashing failed: the sign-in fails rather than guessing an answer.
    #[error(transparent)]
    Fault(#[from] Fault),
}

impl LambdaFunction for CognitoTrigger {
    const NAME: &'static str = "cognito-challenge";
    const INVOKED: Invoked<Self> = Invoked::Event(answer);

    async fn build(host: &impl Host) -> Result<Self, lambda_http::Error> {
        let both = async { tokio::try_join!(host.sealing_keys(), host.signing_keys()) };
        let (wiring, (sealing, signing)) = wiring_while(host, both).await?;
        let desk = RequestDesk::build(host, &wiring, signing)?;
        Ok(CognitoTrigger {
            services: wiring
                .factor_services(wiring.shared_store() as Arc<dyn SignInStore>, sealing)?,
            unenrolled: wiring.config.unenrolled_users,
            recovery: wiring.config.link_base_url.clone().map(|url| (desk, url)),
        })
    }
}

impl CognitoTrigger {
    /// What the pool does with `user`, who has no authenticator: its own rule, made strict when
    /// any account they belong to requires two-factor (the strictest rule wins).
    async fn unenrolled_rule(&self, user: &UserId) -> Result<Unenrolled, Fault> {
        if self.unenrolled == Unenrolled::Require {
            return Ok(Unenrolled::Require);
        }
        let requiring = requiring_accounts(self.services.store.as_ref(), user).await?;
        Ok(match requiring.is_empty() {
            true => self.unenrolled,
            false => Unenrolled::Require,
        })
    }
}

/// An error fails the sign-in, which is what Cognito does with a trigger that fails.
fn answer(trigger: &CognitoTrigger, event: Value) -> EventFuture<'_> {
    Box::pin(async move { Ok(trigger.handle(event).await?) })
}

impl CognitoTrigger {
    /// One trigger event, dispatched on its `triggerSource`.
    pub async fn handle(&self, event: Value) -> Result<Value, TriggerError> {
        let source = event
            .get("triggerSource")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match source.as_str() {
            "DefineAuthChallenge_Authentication" => self.define(parse("Define", event)?).await,
            "CreateAuthChallenge_Authentication" => self.create(parse("Create", event)?).await,
            "VerifyAuthChallengeResponse_Authentication" => {
                self.verify(parse("Verify", event)?).await
            }
            _ => match TokenGeneration::from_trigger_source(&source) {
                Some(generation) => {
                    self.guard_tokens(generation, parse("Pre Token Generation", event)?)
                        .await
                }
                // Tokens for a purpose this guard does not know (client credentials, a source
                // Cognito adds later) are refused, like anything else unknown.
                None => Err(TriggerError::UnknownTrigger(source)),
            },
        }
    }
}

/// The user is the `sub` attribute, the same `sub` the API's JWTs carry.
fn sub(attributes: &HashMap<String, String>) -> Option<UserId> {
    attributes.get("sub").and_then(|s| UserId::parse(s).ok())
}

/// The app client a sign-in runs through, as Cognito names it; `None` when it is missing or
/// not a client id (such an event leaves and consumes no pass).
fn app_client<T>(header: &CognitoEventUserPoolsHeader<T>) -> Option<AppClient> {
    header
        .caller_context
        .client_id
        .as_deref()
        .and_then(AppClient::parse)
}

/// The user's address, only when the pool says it is verified (attributes are strings there).
fn verified_email(attributes: &HashMap<String, String>) -> Option<Email> {
    let verified = attributes.get("email_verified").map(String::as_str) == Some("true");
    attributes
        .get("email")
        .filter(|_| verified)
        .and_then(|raw| Email::parse(raw))
}

/// Where the sign-in came from, if the client passed it as `clientMetadata` (`ip`,
/// `user_agent`). It is only told to the audit trail and the user: a value that does not parse
/// is left out rather than failing the sign-in.
fn source(metadata: &HashMap<String, String>) -> Source {
    let ip = metadata.get("ip").and_then(|raw| {
        let parsed = raw.trim().parse::<IpAddr>();
        if parsed.is_err() {
            warn!("clientMetadata ip is not an IP address; left out of the event");
        }
        parsed.ok()
    });
    let user_agent = metadata
        .get("user_agent")
        .and_then(|raw| UserAgent::from_header(raw));
    Source::reported(ip, user_agent)
}

fn parse<T: serde::de::DeserializeOwned>(
    trigger: &'static str,
    event: Value,
) -> Result<T, TriggerError> {
    serde_json::from_value(event).map_err(|source| TriggerError::Malformed { trigger, source })
}

fn to_json<T: serde::Serialize>(event: &T) -> Value {
    serde_json::to_value(event).expect("Cognito event types serialize")
}
