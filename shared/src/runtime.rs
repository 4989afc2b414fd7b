//! Cold-start wiring shared by every Lambda binary: config, clients and services, built once.

use std::sync::Arc;

use lambda_http::{service_fn, Body, Error, Request, Response};

use crate::{
    adapters::dynamodb::DynamoStore,
    app::Services,
    config::Config,
    domain::{codes::CodeHasher, sealing::SecretSealer},
    http::{dispatch, Api, Function},
    ports::{Store, SystemClock},
};

/// Builds the services around `store` from an already-read config.
pub fn services(config: &Config, store: Arc<dyn Store>) -> Result<Services, Error> {
    Ok(Services {
        store,
        clock: Arc::new(SystemClock),
        hasher: CodeHasher::new(config.hash_cost)?,
        sealer: SecretSealer::new(config.require_keys()?.clone()),
        settings: config.settings.clone(),
    })
}

/// Reads the environment and connects to DynamoDB, as a Lambda does once per cold start.
pub async fn api_from_env() -> Result<Api, Error> {
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), config.require_table()?);
    Ok(Api {
        services: services(&config, Arc::new(store))?,
        identity: config.identity.clone(),
    })
}

/// The whole life of a Lambda binary serving `function`.
pub async fn run_lambda(function: Function) -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let api = api_from_env().await?;
    lambda_http::run(service_fn(|req: Request| {
        let api = &api;
        async move { Ok::<Response<Body>, Error>(dispatch(api, Some(function), req).await) }
    }))
    .await
}
