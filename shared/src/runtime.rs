//! Cold-start wiring shared by every Lambda binary: config, keys, clients and services, built
//! once per cold start.

use std::sync::Arc;

use lambda_http::{service_fn, Body, Error, Request, Response};

use crate::{
    adapters::{
        dynamodb::{self, DynamoStore},
        secrets,
        ses::SesMailer,
    },
    config::{Config, ConfigError},
    domain::sealing::{Keyring, SecretKey},
    http::{dispatch, Api, Function},
    ports::{Mailer, SystemClock},
    wiring::{build_api, Parts},
};

/// A keyring given directly in the environment, or else read from Secrets Manager.
async fn keyring(
    direct: Option<&Keyring>,
    secret_id: Option<&str>,
    missing: &'static str,
    aws: &aws_config::SdkConfig,
) -> Result<Keyring, Error> {
    match (direct, secret_id) {
        (Some(keys), _) => Ok(keys.clone()),
        (None, Some(id)) => {
            let client = aws_sdk_secretsmanager::Client::new(aws);
            Ok(secrets::keyring(&client, id).await?)
        }
        (None, None) => Err(ConfigError::Missing(missing).into()),
    }
}

/// Reads the environment and builds the clients `function` needs, once per cold start.
/// Each function gets only the keys it uses, matching what the template lets it read.
pub async fn api_from_env(function: Function) -> Result<Api, Error> {
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let store = DynamoStore::new(dynamodb::client(&aws), config.require_table()?);
    let sealing_keys = async {
        match function {
            // Redeeming a link never opens a TOTP secret, so this function is not trusted with
            // the encryption key; a throwaway key fills the slot and could open nothing.
            Function::Download => Ok(Keyring::new(SecretKey::generate(), vec![])),
            _ => {
                keyring(
                    config.keys.as_ref(),
                    config.keys_secret_id.as_deref(),
                    "ENCRYPTION_KEY_SECRET_ID",
                    &aws,
                )
                .await
            }
        }
    };
    let signing_keys = async {
        match function {
            Function::AdminRegenerate | Function::Download => keyring(
                config.signing_keys.as_ref(),
                config.signing_keys_secret_id.as_deref(),
                "SIGNING_KEY_SECRET_ID",
                &aws,
            )
            .await
            .map(Some),
            _ => Ok(None),
        }
    };
    // Fetched side by side: each is a Secrets Manager round trip inside the cold start.
    let (keys, signing_keys) = tokio::try_join!(sealing_keys, signing_keys)?;
    let mailer: Option<Arc<dyn Mailer>> = match function {
        Function::AdminRegenerate => Some(Arc::new(SesMailer::new(
            aws_sdk_ses::Client::new(&aws),
            config.require_from_address()?,
        ))),
        _ => None,
    };
    let parts = Parts {
        store: Arc::new(store),
        clock: Arc::new(SystemClock),
        sealing_keys: keys,
        signing_keys,
        mailer,
    };
    Ok(build_api(&config, parts)?)
}

/// The whole life of a Lambda binary serving `function`.
pub async fn run_lambda(function: Function) -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let api = api_from_env(function).await?;
    lambda_http::run(service_fn(|req: Request| {
        let api = &api;
        async move { Ok::<Response<Body>, Error>(dispatch(api, Some(function), req).await) }
    }))
    .await
}
