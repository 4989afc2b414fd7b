//! Keys from AWS Secrets Manager, read once at cold start. The version staged `AWSCURRENT` signs
//! and seals; `AWSPREVIOUS`, when there is one, still verifies and opens what it made, so
//! `put-secret-value` rotates a key without breaking links or secrets already issued.

use aws_sdk_secretsmanager::{operation::get_secret_value::GetSecretValueError, Client};
use zeroize::Zeroizing;

use crate::domain::sealing::{Keyring, SecretKey};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read secret {secret_id} ({stage}): {source}")]
    Read {
        secret_id: String,
        stage: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("secret {secret_id} ({stage}) has no SecretString")]
    NotAString {
        secret_id: String,
        stage: &'static str,
    },
    #[error("secret {secret_id} ({stage}) {reason}")]
    Malformed {
        secret_id: String,
        stage: &'static str,
        reason: String,
    },
}

/// The keyring held by `secret_id` (a name or ARN).
pub async fn keyring(client: &Client, secret_id: &str) -> Result<Keyring, SecretError> {
    // Both reads at once: this runs during a cold start, which a user is waiting on.
    let (current, previous) = tokio::try_join!(
        key_at(client, secret_id, "AWSCURRENT"),
        key_at(client, secret_id, "AWSPREVIOUS"),
    )?;
    let current = current.ok_or_else(|| SecretError::NotAString {
        secret_id: secret_id.to_owned(),
        stage: "AWSCURRENT",
    })?;
    Ok(Keyring::new(current, previous.into_iter().collect()))
}

/// The key at `stage`, or `None` when no version carries that stage.
async fn key_at(
    client: &Client,
    secret_id: &str,
    stage: &'static str,
) -> Result<Option<SecretKey>, SecretError> {
    let out = match client
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage(stage)
        .send()
        .await
    {
        Ok(out) => out,
        Err(err)
            if stage != "AWSCURRENT"
                && err
                    .as_service_error()
                    .is_some_and(GetSecretValueError::is_resource_not_found_exception) =>
        {
            return Ok(None)
        }
        Err(err) => {
            return Err(SecretError::Read {
                secret_id: secret_id.to_owned(),
                stage,
                source: Box::new(err),
            })
        }
    };
    let text = Zeroizing::new(out.secret_string.ok_or_else(|| SecretError::NotAString {
        secret_id: secret_id.to_owned(),
        stage,
    })?);
    SecretKey::from_secret_string(&text)
        .map(Some)
        .map_err(|e| SecretError::Malformed {
            secret_id: secret_id.to_owned(),
            stage,
            reason: e.to_string(),
        })
}
