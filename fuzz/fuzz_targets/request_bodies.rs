//! Request parsing of every route: any body, content type and path parameter, through the
//! same dispatch the Lambda functions use, on a fresh in-memory store. A 5xx or a panic is a
//! bug: bad input must get a 4xx.
#![no_main]

use std::sync::Arc;

use backup_codes::{
    adapters::memory::MemoryStore,
    config::Config,
    domain::sealing::{Keyring, SecretKey},
    entry::LocalHost,
    functions::{all_routes, dispatch_any, path_parameters, Functions},
    ports::{MailError, Mailer, OutgoingMail, SystemClock},
    wiring::Wiring,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

struct Discard;

#[async_trait::async_trait]
impl Mailer for Discard {
    async fn send(&self, _: &OutgoingMail) -> Result<(), MailError> {
        Ok(())
    }
}

/// Production's wiring, with a hash cost cheap enough for thousands of runs a second.
fn functions() -> Functions {
    let config = Config::from_lookup(|name| match name {
        "ARGON2_MEMORY_KIB" => Some("8".into()),
        "ARGON2_ITERATIONS" => Some("1".into()),
        "ADMIN_GROUP" => Some("admins".into()),
        "LINK_BASE_URL" => Some("https://codes.example.com".into()),
        _ => None,
    })
    .unwrap();
    let key = || Keyring::new(SecretKey::generate(), vec![]);
    let store = Arc::new(MemoryStore::new());
    let host = LocalHost {
        wiring: Wiring {
            config: &config,
            store: store.clone(),
            mail_budget: store.clone(),
            clock: Arc::new(SystemClock),
        },
        sealing_keys: key(),
        signing_keys: key(),
        mailer: Arc::new(Discard),
        bus: None,
        deliveries: store,
        sessions: None,
    };
    Functions::build_locally(&host).unwrap()
}

const CONTENT_TYPES: [Option<&str>; 4] = [
    Some("application/json"),
    None,
    Some("application/x-www-form-urlencoded"),
    Some("text/plain"),
];

fuzz_target!(|input: (u8, u8, &str, &str, &[u8])| {
    let (route, content_type, path_user, claim_email, body) = input;
    let routes = all_routes();
    let route = &routes[usize::from(route) % routes.len()];
    // The account comes from the same draw as the claimed email: odd in its own ways.
    let path = route
        .path
        .replace("{user_id}", path_user)
        .replace("{request_id}", path_user)
        .replace("{account_id}", claim_email);
    let mut headers = serde_json::Map::new();
    if let Some(kind) = CONTENT_TYPES[usize::from(content_type) % CONTENT_TYPES.len()] {
        headers.insert("content-type".into(), json!(kind));
    }
    if content_type & 0x80 != 0 {
        headers.insert("x-otp".into(), json!(claim_email));
    }
    let params = path_parameters(&path).map(|p| {
        p.iter()
            .map(|(k, v)| (k.to_owned(), json!(v)))
            .collect::<serde_json::Map<_, _>>()
    });
    let event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": headers, "pathParameters": params,
        "requestContext": {
            "accountId": "1", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": "r", "routeKey": "$default", "stage": "$default",
            "time": "", "timeEpoch": 0,
            "http": { "method": route.method, "path": path, "protocol": "HTTP/1.1",
                      "sourceIp": "192.0.2.1", "userAgent": "fuzz" },
            "authorizer": { "jwt": { "claims": {
                "sub": "ana", "email": claim_email, "cognito:groups": "[admins]"
            }, "scopes": null } }
        },
        "body": STANDARD.encode(body), "isBase64Encoded": true,
    });
    let Ok(request) = lambda_http::request::from_str(&event.to_string()) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let response = runtime.block_on(dispatch_any(&functions(), request));
    assert!(
        response.status().as_u16() < 500,
        "{} {path}: {} for body {:?}",
        route.method,
        response.status(),
        String::from_utf8_lossy(body)
    );
});
