//! A Cognito user pool's custom-authentication triggers (Define, Create and Verify Auth
//! Challenge), served by one function: Cognito's events in, the sign-in rule
//! (`domain::sign_in`) and the verify use case in between, Cognito's responses out.

use std::net::IpAddr;

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsChallengeResult, CognitoEventUserPoolsCreateAuthChallenge,
    CognitoEventUserPoolsDefineAuthChallenge, CognitoEventUserPoolsVerifyAuthChallenge,
};
use serde_json::Value;
use tracing::{info, warn};

use crate::{
    app::{
        errors::{Fault, VerifyError},
        verify, FactorServices,
    },
    domain::{
        events::{Source, UserAgent},
        sign_in::{after_password, next_step, Next, Step, Unenrolled},
        user::UserId,
    },
};

/// The binary's package name under `functions/`: the one function that is not an HTTP route.
pub const FUNCTION_NAME: &str = "cognito-challenge";

/// What the client is told the challenge is; no secret, nothing about the user.
pub const CHALLENGE: &str = "TOTP_OR_BACKUP_CODE";

/// The three triggers, as one function's dependencies.
pub struct CognitoTrigger {
    pub services: FactorServices,
    pub unenrolled: Unenrolled,
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("not a custom-authentication trigger this function serves: {0:?}")]
    UnknownTrigger(String),
    #[error("the {trigger} event is malformed: {source}")]
    Malformed {
        trigger: &'static str,
        source: serde_json::Error,
    },
    /// The store or the hashing failed: the sign-in fails rather than guessing an answer.
    #[error(transparent)]
    Fault(#[from] Fault),
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
            "DefineAuthChallenge_Authentication" => {
                let mut event: CognitoEventUserPoolsDefineAuthChallenge = parse("Define", event)?;
                self.define(&mut event).await?;
                Ok(to_json(&event))
            }
            "CreateAuthChallenge_Authentication" => {
                let mut event: CognitoEventUserPoolsCreateAuthChallenge = parse("Create", event)?;
                create(&mut event);
                Ok(to_json(&event))
            }
            "VerifyAuthChallengeResponse_Authentication" => {
                let mut event: CognitoEventUserPoolsVerifyAuthChallenge = parse("Verify", event)?;
                event.response.answer_correct = self.verify(&event).await?;
                Ok(to_json(&event))
            }
            _ => Err(TriggerError::UnknownTrigger(source)),
        }
    }

    async fn define(
        &self,
        event: &mut CognitoEventUserPoolsDefineAuthChallenge,
    ) -> Result<(), TriggerError> {
        let session: Vec<Step> = event.request.session.iter().map(step).collect();
        let mut next = next_step(&session);
        if next == Next::AfterPassword {
            // Cognito's password step fails a user it did not find, so none should get here;
            // if one does, it is refused rather than let through as "not enrolled".
            next = match sub(&event.request.user_attributes) {
                Some(user) if !event.request.user_not_found => {
                    let record = self
                        .services
                        .store
                        .get_user(&user)
                        .await
                        .map_err(Fault::from)?;
                    after_password(record.is_some_and(|r| r.is_enrolled()), self.unenrolled)
                }
                _ => Next::Fail,
            };
        }
        info!(step = ?next, answers = session.len().saturating_sub(2), "define auth challenge");
        let response = &mut event.response;
        (
            response.challenge_name,
            response.issue_tokens,
            response.fail_authentication,
        ) = match next {
            Next::PasswordVerifier => (Some("PASSWORD_VERIFIER".into()), false, false),
            Next::AskForCode => (Some("CUSTOM_CHALLENGE".into()), false, false),
            Next::IssueTokens => (None, true, false),
            Next::Fail | Next::AfterPassword => (None, false, true),
        };
        Ok(())
    }

    /// The same verify as `POST /v1/verify`: the attempt ledger, single use, TOTP replay,
    /// the audit trail and the user's mail. Locked and wrong are both a wrong answer to Cognito.
    async fn verify(
        &self,
        event: &CognitoEventUserPoolsVerifyAuthChallenge,
    ) -> Result<bool, TriggerError> {
        let request = &event.request;
        let answer = request.challenge_answer.as_ref().and_then(Value::as_str);
        let (Some(user), Some(answer)) = (sub(&request.user_attributes), answer) else {
            return Ok(false);
        };
        if request.user_not_found {
            return Ok(false);
        }
        let source = source(&request.client_metadata);
        match verify::verify(&self.services, &user, answer, &source).await {
            Ok(_) => Ok(true),
            Err(VerifyError::InvalidCode) => Ok(false),
            Err(VerifyError::Locked(locked)) => {
                info!(
                    retry_after = locked.retry_after_seconds,
                    "sign-in refused: locked"
                );
                Ok(false)
            }
            Err(VerifyError::Fault(fault)) => Err(fault.into()),
        }
    }
}

fn create(event: &mut CognitoEventUserPoolsCreateAuthChallenge) {
    let response = &mut event.response;
    response.public_challenge_parameters = [("type".to_owned(), CHALLENGE.to_owned())].into();
    response.private_challenge_parameters = Default::default();
    response.challenge_metadata = Some(CHALLENGE.to_owned());
}

fn step(entry: &Option<CognitoEventUserPoolsChallengeResult>) -> Step {
    entry.as_ref().map_or(Step::Other, |entry| {
        Step::from_cognito(entry.challenge_name.as_deref(), entry.challenge_result)
    })
}

/// The user is the `sub` attribute, the same `sub` the API's JWTs carry.
fn sub(attributes: &std::collections::HashMap<String, String>) -> Option<UserId> {
    attributes.get("sub").and_then(|s| UserId::parse(s).ok())
}

/// Where the sign-in came from, if the client passed it as `clientMetadata` (`ip`,
/// `user_agent`). It is only told to the audit trail and the user: a value that does not parse
/// is left out rather than failing the sign-in.
fn source(metadata: &std::collections::HashMap<String, String>) -> Source {
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
    Source { ip, user_agent }
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
