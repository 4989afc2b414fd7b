//! `cargo run -p local-server`: the whole API on 127.0.0.1:3000 with an in-memory store;
//! emails (the admin's download links) are written to ./outbox.

use std::sync::Arc;

#[cfg(feature = "dynamodb")]
use backup_codes::adapters::dynamodb;
use backup_codes::{
    adapters::{
        memory::MemoryStore,
        outbox::{OutboxMailer, LOCAL_SENDER},
    },
    config::Config,
    domain::sealing::{Keyring, SecretKey},
    entry::LocalHost,
    functions::Functions,
    ports::{Mailer, Storage, SystemClock},
    wiring::Wiring,
};
use local_server::{
    check_loopback,
    home::Home,
    options::{Options, StoreKind},
    serve_local, InProcessNotify,
};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("local-server: {message}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    lambda_http::tracing::init_default_subscriber();
    let options = Options::parse(std::env::args().skip(1))?;
    check_loopback(&options.addr)?;
    let mut config = Config::from_env().map_err(|e| e.to_string())?;
    // The home page walks a recovery request from asking to approval in one sitting.
    if std::env::var_os("RECOVERY_WAIT_HOURS").is_none() {
        eprintln!(
            "RECOVERY_WAIT_HOURS not set: recovery requests may be approved at once here \
             (a deployed stack waits 24 hours unless told otherwise)"
        );
        config.recovery_wait = time::Duration::ZERO;
    }
    let (store, memory): (Arc<dyn Storage>, _) = match options.store {
        StoreKind::Memory => {
            // Memory forgets everything on exit, so keys that live as long are enough.
            for (name, keys) in [
                ("ENCRYPTION_KEY", &mut config.keys),
                ("SIGNING_KEY", &mut config.signing_keys),
            ] {
                if keys.is_none() {
                    eprintln!("{name} not set: using a random key for this run");
                    *keys = Some(Keyring::new(SecretKey::generate(), vec![]));
                }
            }
            let store = Arc::new(MemoryStore::new());
            (store.clone(), Some(store))
        }
        #[cfg(feature = "dynamodb")]
        StoreKind::DynamoDb => {
            let table = config
                .require_table()
                .map_err(|e| e.to_string())?
                .to_owned();
            let aws = aws_config::load_from_env().await;
            let client = dynamodb::client(&aws);
            dynamodb::ensure_table(&client, &table).await.map_err(|e| {
                let cause = std::error::Error::source(&e)
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                format!("cannot use DynamoDB table {table}: {e}: {cause}")
            })?;
            (Arc::new(dynamodb::DynamoStore::new(client, table)), None)
        }
        #[cfg(not(feature = "dynamodb"))]
        StoreKind::DynamoDb => {
            return Err(
                "this build has no DynamoDB store (it keeps the AWS SDK out of the \
                        first build): run `cargo run -p local-server --features dynamodb -- \
                        --store dynamodb`"
                    .to_owned(),
            )
        }
    };
    let listener = TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Links point at this server unless LINK_BASE_URL says otherwise.
    if config.link_base_url.is_none() {
        config.link_base_url = Some(format!("http://{addr}"));
    }
    let sealing_keys = config.require_keys().map_err(|e| e.to_string())?.clone();
    let signing_keys = config
        .require_signing_keys()
        .map_err(|e| e.to_string())?
        .clone();
    let wiring = Wiring {
        config: &config,
        store: store.clone(),
        mail_budget: Arc::new(store.clone()),
        clock: Arc::new(SystemClock),
    };
    let mailer: Arc<dyn Mailer> = Arc::new(
        OutboxMailer::new(
            &options.outbox,
            config.from_address.as_deref().unwrap_or(LOCAL_SENDER),
        )
        .map_err(|e| e.to_string())?,
    );
    let host = LocalHost {
        wiring: wiring.clone(),
        sealing_keys,
        signing_keys,
        mailer: mailer.clone(),
        bus: None,
        deliveries: store.clone(),
        // No identity provider here: the bus (none either) would say no session was ended.
        sessions: None,
    };
    let functions = Functions::build(&host).await.map_err(|e| e.to_string())?;
    local_server::home::seed_accounts(&functions)
        .await
        .map_err(|e| format!("the home page's accounts could not be written: {e}"))?;
    // Over DynamoDB the table's stream is the notify function's on AWS; over memory it runs here.
    let notify = match memory {
        Some(store) => Some(InProcessNotify {
            notifier: wiring
                .notifier(store.clone(), mailer, None, None)
                .map_err(|e| e.to_string())?,
            store,
        }),
        None => None,
    };
    eprintln!(
        "identity: claims are read from `Authorization: Bearer <JWT>` WITHOUT checking the signature \
         (API Gateway's JWT authorizer checks it in production); for local use only"
    );
    eprintln!("emails are written to {}", options.outbox.display());
    eprintln!("open http://{addr}/ in a browser: the screens, a sign-in to try and the outbox");
    println!("listening on http://{addr}");
    let home = Home {
        outbox: Some(options.outbox.clone()),
    };
    serve_local(listener, Arc::new(functions), home, notify)
        .await
        .map_err(|e| e.to_string())
}
