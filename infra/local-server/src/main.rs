//! `cargo run -p local-server`: the whole API on 127.0.0.1:3000 with an in-memory store.

use std::sync::Arc;

use backup_codes::{
    adapters::{dynamodb, memory::MemoryStore},
    config::Config,
    domain::sealing::{Keyring, SecretKey},
    http::Api,
    ports::Store,
    runtime,
};
use local_server::{
    check_loopback,
    options::{Options, StoreKind},
    serve,
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
    let store: Arc<dyn Store> = match options.store {
        StoreKind::Memory => {
            if config.keys.is_none() {
                // Memory forgets everything on exit, so a key that lives as long is enough.
                eprintln!(
                    "ENCRYPTION_KEY not set: sealing TOTP secrets with a random key for this run"
                );
                config.keys = Some(Keyring::new(SecretKey::generate(), vec![]));
            }
            Arc::new(MemoryStore::new())
        }
        StoreKind::DynamoDb => {
            let table = config
                .require_table()
                .map_err(|e| e.to_string())?
                .to_owned();
            let aws = aws_config::load_from_env().await;
            let client = aws_sdk_dynamodb::Client::new(&aws);
            dynamodb::ensure_table(&client, &table).await.map_err(|e| {
                format!(
                    "cannot use DynamoDB table {table}: {e} ({:?})",
                    std::error::Error::source(&e)
                )
            })?;
            Arc::new(dynamodb::DynamoStore::new(client, table))
        }
    };
    let api = Api {
        services: runtime::services(&config, store).map_err(|e| e.to_string())?,
        identity: config.identity.clone(),
    };
    let listener = TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    eprintln!(
        "identity: claims are read from `Authorization: Bearer <JWT>` WITHOUT checking the signature \
         (API Gateway's JWT authorizer checks it in production); for local use only"
    );
    println!(
        "listening on http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    serve(listener, Arc::new(api))
        .await
        .map_err(|e| e.to_string())
}
