//! Cold-start wiring shared by every Lambda binary: config, keys, clients and services, built
//! once per cold start.

use std::sync::{Arc, OnceLock};

use lambda_http::{lambda_runtime, service_fn, Body, Error, LambdaEvent, Request, Response};
use serde_json::Value;

use crate::{
    adapters::{
        cognito::CognitoSessions,
        dynamodb::{self, DynamoStore},
        eventbridge::EventBridgeSink,
        secrets,
        ses::SesMailer,
    },
    config::{Config, ConfigError},
    domain::sealing::Keyring,
    entry::{Host, Invoked, LambdaFunction},
    http::dispatch,
    ports::{Deliveries, EventSink, Mailer, SessionEnder, SystemClock},
    wiring::Wiring,
};

/// The roots every AWS endpoint's certificate chains to: Amazon Root CA 1 to 4 and Starfield
/// Services Root G2 (Amazon Trust Services). Trusting only these spares each cold start reading
/// and parsing the platform's whole store, about 140 roots and 3 ms of a 7 ms start (measured
/// by `bash infra/bench.sh`). `SSL_CERT_FILE` set in the function's environment (a proxy that
/// re-signs TLS) brings the platform store back.
const AMAZON_ROOTS: &str = include_str!("amazon_roots.pem");

/// The AWS configuration every function's clients are built from.
async fn aws_config() -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    // Lambda puts the region and the role's credentials in the environment: read them there
    // rather than build the default chains (profile files, web identity, ECS, IMDS), which
    // cost each cold start about 0.4 ms. Elsewhere the chains find them as usual.
    let region = std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty());
    if let (Some(region), Some(_)) = (region, std::env::var_os("AWS_ACCESS_KEY_ID")) {
        use aws_config::environment::EnvironmentVariableCredentialsProvider;
        loader = loader
            .region(aws_config::Region::new(region))
            .credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // Lambda has no ~/.aws: reading for those files is a cold start's wasted work.
        use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
        let none = EnvConfigFiles::builder()
            .include_default_config_file(false)
            .include_default_credentials_file(false)
            .with_contents(EnvConfigFileKind::Config, "")
            .build();
        loader = loader.profile_files(none);
    }
    if std::env::var_os("SSL_CERT_FILE").is_some() {
        return loader.load().await;
    }
    use aws_smithy_http_client::tls;
    let trust = tls::TrustStore::empty().with_pem_certificate(AMAZON_ROOTS.as_bytes());
    let context = tls::TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context from fixed roots");
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https();
    loader.http_client(client).load().await
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

/// What a function is built from at cold start: the parsed configuration, the AWS clients'
/// settings and production's wiring over DynamoDB and the system clock.
pub struct ColdStart<'a> {
    pub config: &'a Config,
    pub aws: &'a aws_config::SdkConfig,
    /// Built at first use, so that a Secrets Manager fetch sent before it overlaps its build.
    store: OnceLock<Arc<DynamoStore>>,
}

impl<'a> ColdStart<'a> {
    pub fn new(config: &'a Config, aws: &'a aws_config::SdkConfig) -> Self {
        Self {
            config,
            aws,
            store: OnceLock::new(),
        }
    }

    /// The table's store, one client for the whole process.
    pub fn store(&self) -> Result<Arc<DynamoStore>, Error> {
        let table = self.config.require_table()?;
        let store = self
            .store
            .get_or_init(|| Arc::new(DynamoStore::new(dynamodb::client(self.aws), table)));
        Ok(store.clone())
    }
}

/// Production's host: the table for records, the audit trail, the mail budget and the delivery
/// marks; SES; the team's bus; keys from Secrets Manager; the system clock.
impl Host for ColdStart<'_> {
    fn wiring(&self) -> Result<Wiring<'_>, Error> {
        let store = self.store()?;
        Ok(Wiring {
            config: self.config,
            store: store.clone(),
            mail_budget: store,
            clock: Arc::new(SystemClock),
        })
    }

    async fn sealing_keys(&self) -> Result<Keyring, Error> {
        keyring(
            self.config.keys.as_ref(),
            self.config.keys_secret_id.as_deref(),
            "ENCRYPTION_KEY_SECRET_ID",
            self.aws,
        )
        .await
    }

    async fn signing_keys(&self) -> Result<Keyring, Error> {
        keyring(
            self.config.signing_keys.as_ref(),
            self.config.signing_keys_secret_id.as_deref(),
            "SIGNING_KEY_SECRET_ID",
            self.aws,
        )
        .await
    }

    /// SES, for the two functions that mail: admin (the link) and notify. Only they
    /// call this, so no other function's binary links the SES client. Its client is built at
    /// the first mail.
    fn mailer(&self) -> Result<Arc<dyn Mailer>, Error> {
        let from = self.config.require_from_address()?;
        Ok(Arc::new(SesMailer::lazy(self.aws, from)))
    }

    /// The team's event bus when `EVENT_BUS_NAME` is set: notify's only, built at first use.
    fn bus(&self) -> Option<Arc<dyn EventSink>> {
        self.config.event_bus.as_ref().map(|bus| {
            let config = aws_sdk_eventbridge::config::Builder::from(self.aws)
                .timeout_config(notifier_timeouts());
            Arc::new(EventBridgeSink::lazy(config, bus)) as Arc<dyn EventSink>
        })
    }

    /// The pool whose sessions end after a factor change (`USER_POOL_ID`): notify's only, its
    /// client built at the first change.
    fn sessions(&self) -> Option<Arc<dyn SessionEnder>> {
        self.config.sign_out_pool.clone().map(|pool| {
            let config = aws_sdk_cognitoidentityprovider::config::Builder::from(self.aws)
                .timeout_config(notifier_timeouts());
            Arc::new(CognitoSessions::lazy(config, pool)) as Arc<dyn SessionEnder>
        })
    }

    /// The notifier's marks are items of the same table.
    fn deliveries(&self) -> Result<Arc<dyn Deliveries>, Error> {
        Ok(self.store()?)
    }
}

/// A slow bus or pool must not hold a batch of the notifier's for long: bounded like the table.
fn notifier_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_timeout(std::time::Duration::from_secs(2))
        .build()
}

/// The whole life of a Lambda binary serving `F`: built once per cold start, then every
/// invocation through the same handler: API Gateway's requests through its route table, or
/// each event to its event handler (an error fails that invocation, which Lambda retries or
/// Cognito reports as it does for any function).
pub async fn run<F: LambdaFunction>() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config().await;
    let function = F::build(&ColdStart::new(&config, &aws)).await?;
    let function = &function;
    match F::INVOKED {
        Invoked::Http(_) => {
            lambda_http::run(service_fn(|req: Request| async move {
                Ok::<Response<Body>, Error>(dispatch(function, req).await)
            }))
            .await
        }
        Invoked::Event(answer) => {
            lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
                answer(function, event.payload).await
            }))
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AMAZON_ROOTS;
    use base64::{engine::general_purpose::STANDARD, Engine};

    #[test]
    fn the_trusted_roots_are_amazon_trust_services_five() {
        let ders: Vec<Vec<u8>> = AMAZON_ROOTS
            .split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|block| {
                let body = block.split("-----END CERTIFICATE-----").next().unwrap();
                let text: String = body.split_whitespace().collect();
                STANDARD.decode(text).expect("base64 DER")
            })
            .collect();
        let names = [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ];
        assert_eq!(ders.len(), names.len());
        for (der, name) in ders.iter().zip(names) {
            let holds = der.windows(name.len()).any(|w| w == name.as_bytes());
            assert!(holds, "{name}");
        }
    }
}
