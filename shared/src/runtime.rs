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
    app::{LinkSettings, Services},
    config::{Config, ConfigError},
    domain::{
        codes::CodeHasher,
        link_token::LinkSigner,
        sealing::{Keyring, SecretKey, SecretSealer},
    },
    http::{dispatch, Api, Function},
    ports::{Mailer, Store, SystemClock},
};

/// Builds the services around `store`; links and mail are only for the functions that use them.
pub fn services(
    config: &Config,
    keys: Keyring,
    store: Arc<dyn Store>,
    links: Option<LinkSettings>,
    mailer: Option<Arc<dyn Mailer>>,
) -> Result<Services, Error> {
    Ok(Services {
        store,
        clock: Arc::new(SystemClock),
        hasher: CodeHasher::new(config.hash_cost)?,
        sealer: SecretSealer::new(keys),
        settings: config.settings.clone(),
        links,
        mailer,
    })
}

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
    let links = signing_keys.map(|keys| LinkSettings {
        signer: LinkSigner::new(keys),
        base_url: config.link_base_url.clone(),
        ttl: config.link_ttl,
    });
    let mailer: Option<Arc<dyn Mailer>> = match function {
        Function::AdminRegenerate => Some(Arc::new(SesMailer::new(
            aws_sdk_ses::Client::new(&aws),
            config.require_from_address()?,
        ))),
        _ => None,
    };
    Ok(Api {
        services: services(&config, keys, Arc::new(store), links, mailer)?,
        identity: config.identity.clone(),
    })
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
