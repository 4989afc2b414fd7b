//! Cold-start wiring shared by every Lambda binary: config, clients and services, built once.

use std::sync::Arc;

use lambda_http::{service_fn, Body, Error, Request, Response};

use crate::{
    adapters::{dynamodb::DynamoStore, ses::SesMailer},
    app::{LinkSettings, Services},
    config::Config,
    domain::{codes::CodeHasher, link_token::LinkSigner, sealing::SecretSealer},
    http::{dispatch, Api, Function},
    ports::{Mailer, Store, SystemClock},
};

/// Builds the services around `store`; links and mail are only for the functions that use them.
pub fn services(
    config: &Config,
    store: Arc<dyn Store>,
    links: Option<LinkSettings>,
    mailer: Option<Arc<dyn Mailer>>,
) -> Result<Services, Error> {
    Ok(Services {
        store,
        clock: Arc::new(SystemClock),
        hasher: CodeHasher::new(config.hash_cost)?,
        sealer: SecretSealer::new(config.require_keys()?.clone()),
        settings: config.settings.clone(),
        links,
        mailer,
    })
}

/// Reads the environment and builds the clients `function` needs, once per cold start.
pub async fn api_from_env(function: Function) -> Result<Api, Error> {
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), config.require_table()?);
    let links = match function {
        Function::AdminRegenerate | Function::Download => Some(LinkSettings {
            signer: LinkSigner::new(config.require_signing_keys()?.clone()),
            // Redeeming never builds a link, so only the admin function needs the base URL.
            base_url: match function {
                Function::AdminRegenerate => config.require_link_base_url()?.to_owned(),
                _ => String::new(),
            },
            ttl: config.link_ttl,
        }),
        _ => None,
    };
    let mailer: Option<Arc<dyn Mailer>> = match function {
        Function::AdminRegenerate => Some(Arc::new(SesMailer::new(
            aws_sdk_ses::Client::new(&aws),
            config.require_from_address()?,
        ))),
        _ => None,
    };
    Ok(Api {
        services: services(&config, Arc::new(store), links, mailer)?,
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
