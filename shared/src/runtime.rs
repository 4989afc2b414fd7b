//! Cold-start wiring shared by every Lambda binary: config, keys, clients and services, built
//! once per cold start.

use std::{future::Future, sync::Arc};

use lambda_http::{lambda_runtime, service_fn, Body, Error, LambdaEvent, Request, Response};
use serde_json::Value;

use crate::{
    adapters::{
        dynamodb::{self, DynamoStore},
        eventbridge::EventBridgeSink,
        secrets,
        ses::SesMailer,
    },
    config::{Config, ConfigError},
    domain::sealing::Keyring,
    http::{
        dispatch, AdminRegenerateApi, AuditApi, DownloadApi, EnrollApi, RegenerateApi, Served,
        VerifyApi,
    },
    ports::{EventSink, SystemClock},
    stream::NotifyFunction,
    wiring::{audit_api, Wiring},
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

/// What a function is built from at cold start: the parsed configuration, the AWS clients'
/// settings and production's wiring over DynamoDB and the system clock.
pub struct ColdStart<'a> {
    pub config: &'a Config,
    pub aws: &'a aws_config::SdkConfig,
    pub store: Arc<DynamoStore>,
}

impl<'a> ColdStart<'a> {
    pub fn new(config: &'a Config, aws: &'a aws_config::SdkConfig) -> Result<Self, Error> {
        let store = DynamoStore::new(dynamodb::client(aws), config.require_table()?);
        Ok(Self {
            config,
            aws,
            store: Arc::new(store),
        })
    }

    /// Production's wiring: the table for records and the audit trail, SES for mail, and the
    /// event bus when `EVENT_BUS_NAME` is set.
    pub fn wiring(&self) -> Result<Wiring<'_>, Error> {
        let mailer = SesMailer::new(
            aws_sdk_ses::Client::new(self.aws),
            self.config.require_from_address()?,
        );
        let bus = self.config.event_bus.as_ref().map(|bus| {
            // A slow bus must not hold the request it is told about: bounded like the table.
            let timeouts = aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(1))
                .operation_timeout(std::time::Duration::from_secs(2))
                .build();
            let config = aws_sdk_eventbridge::config::Builder::from(self.aws)
                .timeout_config(timeouts)
                .build();
            let client = aws_sdk_eventbridge::Client::from_conf(config);
            Arc::new(EventBridgeSink::new(client, bus)) as Arc<dyn EventSink>
        });
        Ok(Wiring {
            config: self.config,
            store: self.store.clone(),
            audit: self.store.clone(),
            clock: Arc::new(SystemClock),
            mailer: Arc::new(mailer),
            bus,
        })
    }

    /// The keys that seal TOTP secrets.
    pub async fn sealing_keys(&self) -> Result<Keyring, Error> {
        keyring(
            self.config.keys.as_ref(),
            self.config.keys_secret_id.as_deref(),
            "ENCRYPTION_KEY_SECRET_ID",
            self.aws,
        )
        .await
    }

    /// The keys that sign download links.
    pub async fn signing_keys(&self) -> Result<Keyring, Error> {
        keyring(
            self.config.signing_keys.as_ref(),
            self.config.signing_keys_secret_id.as_deref(),
            "SIGNING_KEY_SECRET_ID",
            self.aws,
        )
        .await
    }
}

/// A Lambda function that can build itself at cold start. Each fetches only the keys it uses,
/// matching what the template lets it read.
pub trait Lambda: Served {
    fn build(start: &ColdStart<'_>) -> impl Future<Output = Result<Self, Error>> + Send;
}

impl Lambda for EnrollApi {
    async fn build(start: &ColdStart<'_>) -> Result<Self, Error> {
        Ok(start.wiring()?.enroll(start.sealing_keys().await?)?)
    }
}

impl Lambda for VerifyApi {
    async fn build(start: &ColdStart<'_>) -> Result<Self, Error> {
        Ok(start.wiring()?.verify(start.sealing_keys().await?)?)
    }
}

impl Lambda for RegenerateApi {
    async fn build(start: &ColdStart<'_>) -> Result<Self, Error> {
        Ok(start.wiring()?.regenerate(start.sealing_keys().await?)?)
    }
}

impl Lambda for AdminRegenerateApi {
    async fn build(start: &ColdStart<'_>) -> Result<Self, Error> {
        // Fetched side by side: each is a Secrets Manager round trip inside the cold start.
        let (sealing, signing) = tokio::try_join!(start.sealing_keys(), start.signing_keys())?;
        Ok(start.wiring()?.admin_regenerate(sealing, signing)?)
    }
}

impl Lambda for AuditApi {
    async fn build(start: &ColdStart<'_>) -> Result<Self, Error> {
        Ok(audit_api(start.config, start.store.clone()))
    }
}

impl Lambda for DownloadApi {
    async fn build(start: &ColdStart<'_>) -> Result<Self, Error> {
        Ok(start.wiring()?.download(start.signing_keys().await?)?)
    }
}

/// The whole life of a Lambda binary serving `F`: built once per cold start, then every
/// request through the same dispatch.
pub async fn run_lambda<F: Lambda>() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let function = F::build(&ColdStart::new(&config, &aws)?).await?;
    lambda_http::run(service_fn(|req: Request| {
        let function = &function;
        async move { Ok::<Response<Body>, Error>(dispatch(function, req).await) }
    }))
    .await
}

/// The Cognito custom-authentication triggers' function: the same cold start, then each
/// trigger event to `CognitoTrigger`. An error fails the sign-in, which is what Cognito does
/// with a trigger that fails.
pub async fn run_cognito_trigger() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let start = ColdStart::new(&config, &aws)?;
    let trigger = start
        .wiring()?
        .cognito_trigger(start.sealing_keys().await?)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let trigger = &trigger;
        async move { Ok::<Value, Error>(trigger.handle(event.payload).await?) }
    }))
    .await
}

/// The notify function: the same cold start (no keys: it opens no secret and signs nothing),
/// then each batch of the table's stream to `NotifyFunction`.
pub async fn run_notify() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let start = ColdStart::new(&config, &aws)?;
    let function = NotifyFunction {
        notifier: start.wiring()?.notifier(start.store.clone()),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let function = &function;
        async move { Ok::<Value, Error>(function.handle(&event.payload).await?) }
    }))
    .await
}
