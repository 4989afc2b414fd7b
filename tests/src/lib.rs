//! Test harness: a fresh app per test on either store, driven by API Gateway v2 events through
//! the same dispatch the Lambda binaries use.

pub mod browser;
pub mod cognito;
pub mod runtime_api;
pub mod stream;
pub mod suite;
pub mod template;

use std::sync::{Arc, Mutex};

use backup_codes::{
    adapters::{dynamodb, memory::MemoryStore},
    app::mail_budget::MailCounts,
    app::notify::Notifier,
    config::Config,
    domain::{
        codes::HashCost,
        sealing::{Keyring, SecretKey},
        totp::{step_at, TotpSecret},
        user::UserId,
    },
    entry::LocalHost,
    functions::{dispatch_any, Functions},
    ports::{
        Clock, Deliveries, EventSink, MailError, Mailer, OutgoingMail, SessionEnder, SinkError,
        Storage,
    },
    stream::{deliver_batch, NotifyFunction},
    wiring::Wiring,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use lambda_http::{http::StatusCode, Body};
use serde_json::{json, Value};
use time::OffsetDateTime;

/// Everything the service writes to its log, as one string: a test installs it as the
/// subscriber's writer.
#[derive(Clone, Default)]
pub struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLog {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Remembers whose sessions it ended, in order, like an identity provider's sign-out; can be
/// told to fail like an unreachable one.
#[derive(Default)]
pub struct RecordingSessions {
    pub ended: Mutex<Vec<String>>,
    pub failing: std::sync::atomic::AtomicBool,
}

impl RecordingSessions {
    pub fn ended(&self) -> Vec<String> {
        self.ended.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl SessionEnder for RecordingSessions {
    async fn end_sessions(&self, user: &UserId) -> Result<(), SinkError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SinkError("the identity provider is unreachable".into()));
        }
        self.ended.lock().unwrap().push(user.as_str().to_owned());
        Ok(())
    }
}

/// Keeps every event the notifier puts on the bus, as a team's rule would see them.
#[derive(Default)]
pub struct RecordingBus(pub Mutex<Vec<backup_codes::domain::events::SecurityEvent>>);

#[async_trait::async_trait]
impl EventSink for RecordingBus {
    fn name(&self) -> &'static str {
        "bus"
    }

    async fn publish(
        &self,
        event: &backup_codes::domain::events::SecurityEvent,
        _: Option<&backup_codes::domain::user::Email>,
    ) -> Result<(), SinkError> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

/// A clock that only moves when a test moves it.
pub struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    pub fn advance(&self, seconds: i64) {
        let mut now = self.0.lock().unwrap();
        *now += time::Duration::seconds(seconds);
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// Keeps every mail it is given; can be told to fail like an unreachable mail service.
#[derive(Default)]
pub struct RecordingMailer {
    pub sent: Mutex<Vec<OutgoingMail>>,
    pub failing: std::sync::atomic::AtomicBool,
}

impl RecordingMailer {
    pub fn last(&self) -> OutgoingMail {
        self.sent
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a mail was sent")
    }

    pub fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }

    pub fn all(&self) -> Vec<OutgoingMail> {
        self.sent.lock().unwrap().clone()
    }

    /// The mails sent whose subject contains `subject`.
    pub fn about(&self, subject: &str) -> Vec<OutgoingMail> {
        self.all()
            .into_iter()
            .filter(|m| m.subject.contains(subject))
            .collect()
    }
}

#[async_trait::async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(MailError("mail service unreachable".into()));
        }
        self.sent.lock().unwrap().push(mail.clone());
        Ok(())
    }
}

/// The token in a mailed download link (`...#token=...`).
pub fn token_in(mail: &OutgoingMail) -> String {
    let start = mail.text.find("#token=").expect("link with a token") + "#token=".len();
    mail.text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// An HTTP API (payload format 2.0) event with a JWT authorizer, in the shape AWS documents.
const EVENT_FIXTURE: &str = include_str!("../fixtures/apigw-v2-jwt.json");

pub const LINK_BASE_URL: &str = "https://codes.example.com";
pub const ADMIN_GROUP: &str = "backup-codes-admins";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Memory,
    DynamoDb,
}

/// The endpoint the test script exports after starting DynamoDB (ministack's).
/// The Lambda binaries, one directory each under functions/, sorted.
pub fn function_binaries() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    let mut binaries: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    binaries.sort();
    binaries
}

pub fn dynamodb_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|_| {
        panic!(
            "DynamoDB tests need a running DynamoDB. Run `bash infra/test.sh`, which starts \
             ministack's (`source infra/emulators.sh; start_dynamodb`) and exports AWS_ENDPOINT_URL_DYNAMODB."
        )
    })
}

/// An SDK client for the emulator, with the dummy credentials it accepts.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    dynamodb::client(&emulator_config().await)
}

pub async fn emulator_config() -> aws_config::SdkConfig {
    emulator_config_at(dynamodb_endpoint()).await
}

/// moto's base URL, exported by the test script.
pub fn moto_url() -> String {
    std::env::var("MOTO_URL").unwrap_or_else(|_| {
        panic!(
            "SES tests need a running moto server. Run `bash infra/test.sh`, which installs \
             moto[server] from PyPI into .tools/venv, starts it and exports MOTO_URL."
        )
    })
}

/// An SES client for moto, with `from` verified as a sender (SES refuses unverified senders).
pub async fn ses_client_with_sender(from: &str) -> aws_sdk_ses::Client {
    let client = aws_sdk_ses::Client::new(&emulator_config_at(moto_url()).await);
    client
        .verify_email_identity()
        .email_address(from)
        .send()
        .await
        .expect("verify the sender identity in moto");
    client
}

/// A Secrets Manager client for moto.
pub async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&emulator_config_at(moto_url()).await)
}

/// Messages moto accepted for `to`, oldest first (its HTML part when there is one).
pub async fn mail_in_moto(to: &str) -> Vec<Value> {
    let data: Value = reqwest::get(format!("{}/moto-api/data.json", moto_url()))
        .await
        .expect("moto data")
        .json()
        .await
        .expect("moto data is JSON");
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == to))
        })
        .collect()
}

pub async fn emulator_config_at(endpoint: String) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// The notify function's notifier over `app`'s mailer and bus, marking deliveries in `marks`.
pub fn notifier_over(app: &TestApp, marks: Arc<dyn Deliveries>) -> Notifier {
    app.wiring()
        .notifier(
            marks,
            app.sender.clone(),
            app.bus.clone(),
            app.sessions.clone(),
        )
        .expect("the tests' hash cost is valid")
}

/// A new table for every test, so tests never see each other's users.
pub async fn fresh_table() -> (aws_sdk_dynamodb::Client, String) {
    let client = dynamodb_client().await;
    let table = format!(
        "backup-codes-test-{}",
        backup_codes::domain::codes::random_id()
    );
    dynamodb::ensure_table(&client, &table)
        .await
        .expect("create test table");
    (client, table)
}

/// The configuration every test app is built from, through production's `Config` parsing:
/// a cheap hash cost, the product "Acme", links under `LINK_BASE_URL`, and defaults otherwise.
pub fn test_config() -> Config {
    let memory = TEST_HASH_COST.memory_kib.to_string();
    let iterations = TEST_HASH_COST.iterations.to_string();
    let settings = [
        ("PRODUCT_NAME", "Acme"),
        ("LINK_BASE_URL", LINK_BASE_URL),
        ("ADMIN_GROUP", ADMIN_GROUP),
        ("ARGON2_MEMORY_KIB", memory.as_str()),
        ("ARGON2_ITERATIONS", iterations.as_str()),
    ];
    Config::from_lookup(|name| {
        settings
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    })
    .expect("valid test settings")
}

/// Cheap enough that a suite of many sets runs in seconds; the benchmarks use the real cost.
pub const TEST_HASH_COST: HashCost = HashCost {
    memory_kib: 256,
    iterations: 1,
    parallelism: 1,
};

pub struct Reply {
    pub status: StatusCode,
    pub headers: lambda_http::http::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }

    pub fn codes(&self) -> Vec<String> {
        serde_json::from_value(self.json()["backup_codes"].clone()).expect("backup_codes array")
    }
}

/// Where a test app finds the events its requests kept, for the notifier it runs after each
/// request as the table's stream runs the notify function.
pub enum EventFeed {
    Memory(Arc<MemoryStore>),
    Stream {
        feed: stream::StreamFeed,
        /// The delivery marks, through a client of their own (so request counts and fault
        /// proxies on the app's client see only the requests' own traffic).
        marks: Arc<dynamodb::DynamoStore>,
    },
}

impl EventFeed {
    fn deliveries(&self) -> Arc<dyn Deliveries> {
        match self {
            EventFeed::Memory(store) => store.clone(),
            EventFeed::Stream { marks, .. } => marks.clone(),
        }
    }

    /// The notifier's mail budget, on the same client as its delivery marks.
    fn mail_budget(&self) -> Arc<dyn MailCounts> {
        match self {
            EventFeed::Memory(store) => store.clone(),
            EventFeed::Stream { marks, .. } => marks.clone(),
        }
    }
}

pub struct TestApp {
    /// Every function, wired as production wires them, from `config`.
    pub functions: Arc<Functions>,
    /// The notify function's notifier, over the same mailer and bus.
    pub notifier: Arc<Notifier>,
    pub event_feed: Option<EventFeed>,
    pub config: Config,
    pub clock: Arc<TestClock>,
    pub store: Arc<dyn Storage>,
    /// What the functions send mail through.
    pub sender: Arc<dyn Mailer>,
    /// The event bus, if the test gives one.
    pub bus: Option<Arc<dyn EventSink>>,
    /// Where the notifier ends a user's sessions, if the test gives one.
    pub sessions: Option<Arc<dyn SessionEnder>>,
    pub mailer: Arc<RecordingMailer>,
    pub signing_key: SecretKey,
    /// The key that seals TOTP secrets.
    pub sealing_key: SecretKey,
}

/// One request as a test writes it.
pub struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub user: Option<&'a str>,
    pub groups: &'a str,
    pub headers: Vec<(&'a str, String)>,
    pub body: Option<String>,
    /// Claims that replace or join the default ones (`email` is `<sub>@example.com`, any `%`
    /// in the sub a `-`).
    pub claims: Vec<(&'a str, String)>,
}

impl<'a> Call<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Self {
            method,
            path,
            user: None,
            groups: "[users]",
            headers: vec![("content-type", "application/json".into())],
            body: None,
            claims: vec![],
        }
    }

    pub fn user(mut self, sub: &'a str) -> Self {
        self.user = Some(sub);
        self
    }

    /// A caller in the administrators group.
    pub fn admin(mut self, sub: &'a str) -> Self {
        self.user = Some(sub);
        self.groups = "[users backup-codes-admins]";
        self
    }

    /// Sets a JWT claim as API Gateway passes it (a string).
    pub fn claim(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.claims.push((name, value.into()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string());
        self
    }

    pub fn raw(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    pub fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }

    /// The API Gateway HTTP API v2 event for this call: the documented payload (format 2.0,
    /// JWT authorizer) from `tests/fixtures`, with this call's method, path, headers, body and
    /// claims, as the authorizer passes them (strings; arrays flattened to `[a b]`).
    pub fn event(&self) -> Value {
        let mut event: Value = serde_json::from_str(EVENT_FIXTURE).expect("the fixture is JSON");
        let (path, query) = self.path.split_once('?').unwrap_or((self.path, ""));
        event["rawPath"] = json!(path);
        event["rawQueryString"] = json!(query);
        let params: serde_json::Map<String, Value> =
            serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .expect("a test's query string")
                .into_iter()
                .map(|(k, v)| (k, json!(v)))
                .collect();
        event["queryStringParameters"] = json!(params);
        event["requestContext"]["http"]["method"] = json!(self.method);
        event["requestContext"]["http"]["path"] = json!(path);
        for (name, value) in &self.headers {
            event["headers"][*name] = json!(value);
            // API Gateway reports the caller's User-Agent header in the request context too.
            if *name == "user-agent" {
                event["requestContext"]["http"]["userAgent"] = json!(value);
            }
        }
        match self.user {
            Some(sub) => {
                let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
                claims["sub"] = json!(sub);
                // `%` is no part of an accepted address (relays route on it); a sub may hold it.
                claims["email"] = json!(format!("{}@example.com", sub.replace('%', "-")));
                claims["cognito:groups"] = json!(self.groups);
                for (name, value) in &self.claims {
                    claims[*name] = json!(value);
                }
            }
            None => {
                let context = event["requestContext"].as_object_mut().unwrap();
                context.remove("authorizer");
            }
        }
        // API Gateway matches the route and decodes `{user_id}` before the function runs.
        event["pathParameters"] = json!(backup_codes::functions::path_parameters(path).map(|p| p
            .iter()
            .map(|(k, v)| (k.to_owned(), json!(v)))
            .collect::<serde_json::Map<_, _>>()));
        event["body"] = json!(self.body.as_deref().map(|b| STANDARD.encode(b)));
        event
    }
}

/// What the notifier reaches besides the mail: the team's bus, and where sessions end.
type BeyondMail = (Option<Arc<dyn EventSink>>, Option<Arc<dyn SessionEnder>>);

/// What every function is built from, as production builds it: over `store`, with the keys,
/// mailer and bus given, and the notifier's marks and mail budget from `event_feed`.
fn host<'a>(
    config: &'a Config,
    store: &Arc<dyn Storage>,
    clock: Arc<TestClock>,
    (sealing_key, signing_key): (&SecretKey, &SecretKey),
    sender: &Arc<dyn Mailer>,
    (bus, sessions): BeyondMail,
    event_feed: Option<&EventFeed>,
) -> LocalHost<'a> {
    LocalHost {
        wiring: Wiring {
            config,
            store: store.clone(),
            mail_budget: event_feed.map_or_else(
                || Arc::new(store.clone()) as Arc<dyn MailCounts>,
                EventFeed::mail_budget,
            ),
            clock,
        },
        sealing_keys: Keyring::new(sealing_key.clone(), vec![]),
        signing_keys: Keyring::new(signing_key.clone(), vec![]),
        mailer: sender.clone(),
        bus,
        sessions,
        deliveries: event_feed.map_or_else(
            || Arc::new(MemoryStore::new()) as Arc<dyn Deliveries>,
            EventFeed::deliveries,
        ),
    }
}

/// Every HTTP function and the notifier, each built by its own `build`, as its Lambda is.
fn wire(host: &LocalHost<'_>) -> (Functions, Notifier) {
    let functions = Functions::build_locally(host).expect("the test configuration builds");
    let notify: NotifyFunction = host.build().expect("the test configuration builds");
    (functions, notify.notifier)
}

impl TestApp {
    /// Over a new store of `backend`, whose kept events are delivered after each request.
    pub async fn new(backend: Backend) -> Self {
        let mailer = Arc::new(RecordingMailer::default());
        Self::with_mailer(backend, mailer.clone(), mailer).await
    }

    /// `mailer` sends; `recorder` is what tests read (the same object unless a real mailer is used).
    pub async fn with_mailer(
        backend: Backend,
        mailer: Arc<dyn Mailer>,
        recorder: Arc<RecordingMailer>,
    ) -> Self {
        let (store, event_feed): (Arc<dyn Storage>, EventFeed) = match backend {
            Backend::Memory => {
                let store = Arc::new(MemoryStore::new());
                (store.clone(), EventFeed::Memory(store))
            }
            Backend::DynamoDb => {
                let (client, table) = fresh_table().await;
                let marks = dynamodb::DynamoStore::new(dynamodb_client().await, table.clone());
                let event_feed = EventFeed::Stream {
                    feed: stream::StreamFeed::new(&table),
                    marks: Arc::new(marks),
                };
                (
                    Arc::new(dynamodb::DynamoStore::new(client, table)),
                    event_feed,
                )
            }
        };
        Self::build(store, Some(event_feed), mailer, recorder)
    }

    /// Over `store`, with no notifier run: for tests that count or break the table's requests.
    pub fn with_store(store: Arc<dyn Storage>) -> Self {
        let mailer = Arc::new(RecordingMailer::default());
        Self::build(store, None, mailer.clone(), mailer)
    }

    fn build(
        store: Arc<dyn Storage>,
        event_feed: Option<EventFeed>,
        mailer: Arc<dyn Mailer>,
        recorder: Arc<RecordingMailer>,
    ) -> Self {
        let signing_key = SecretKey::generate();
        let sealing_key = SecretKey::generate();
        // A fixed, step-aligned start keeps TOTP steps predictable.
        let clock = Arc::new(TestClock(Mutex::new(
            OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        )));
        let config = test_config();
        let (functions, notifier) = wire(&host(
            &config,
            &store,
            clock.clone(),
            (&sealing_key, &signing_key),
            &mailer,
            (None, None),
            event_feed.as_ref(),
        ));
        Self {
            functions: Arc::new(functions),
            notifier: Arc::new(notifier),
            event_feed,
            config,
            clock,
            store,
            sender: mailer,
            bus: None,
            sessions: None,
            mailer: recorder,
            signing_key,
            sealing_key,
        }
    }

    /// Rebuilds every function through production's wiring from the configuration as `change`
    /// leaves it, over the same store, clock, keys and mailer.
    pub fn reconfigure(&mut self, change: impl FnOnce(&mut Config)) {
        change(&mut self.config);
        let (functions, notifier) = wire(&self.host());
        self.functions = Arc::new(functions);
        self.notifier = Arc::new(notifier);
    }

    /// Production's wiring over this app's configuration, store and clock.
    pub fn wiring(&self) -> Wiring<'_> {
        Wiring {
            config: &self.config,
            store: self.store.clone(),
            mail_budget: self.event_feed.as_ref().map_or_else(
                || Arc::new(self.store.clone()) as Arc<dyn MailCounts>,
                EventFeed::mail_budget,
            ),
            clock: self.clock.clone(),
        }
    }

    /// What this app's functions are built from: its configuration, store, clock, keys,
    /// mailer and bus.
    pub fn host(&self) -> LocalHost<'_> {
        host(
            &self.config,
            &self.store,
            self.clock.clone(),
            (&self.sealing_key, &self.signing_key),
            &self.sender,
            (self.bus.clone(), self.sessions.clone()),
            self.event_feed.as_ref(),
        )
    }

    /// The Cognito triggers' function over the same store, clock, keys and mailer.
    pub fn cognito_trigger(&self) -> backup_codes::cognito::CognitoTrigger {
        self.host().build().expect("the test configuration builds")
    }

    /// Rebuilds the notifier with `sessions` as where a user's sessions end.
    pub fn with_sessions(mut self, sessions: Arc<dyn SessionEnder>) -> Self {
        self.sessions = Some(sessions);
        self.reconfigure(|_| {});
        self
    }

    /// Rebuilds every function with `bus` as its event bus.
    pub fn with_bus(mut self, bus: Arc<dyn EventSink>) -> Self {
        self.bus = Some(bus);
        self.reconfigure(|_| {});
        self
    }

    /// Sends the call the way its Lambda would receive it.
    pub async fn send(&self, call: Call<'_>) -> Reply {
        let request =
            lambda_http::request::from_str(&call.event().to_string()).expect("valid event");
        let response = dispatch_any(&self.functions, request).await;
        self.deliver().await;
        let (parts, body) = response.into_parts();
        let text = match body {
            Body::Text(t) => t,
            Body::Binary(b) => String::from_utf8(b).expect("utf-8 body"),
            _ => String::new(),
        };
        Reply {
            status: parts.status,
            headers: parts.headers,
            text,
        }
    }

    /// Hands the events kept since the last delivery to the notifier, as the table's stream
    /// does in production; one that fails is tried again at the next delivery.
    pub async fn deliver(&self) {
        match &self.event_feed {
            None => {}
            Some(EventFeed::Memory(store)) => {
                let failed = self.notifier.notify_each(store.take_new_events()).await;
                store.return_undelivered(failed);
                self.notifier.sweep().await.expect("the digest sweep");
            }
            Some(EventFeed::Stream { feed, .. }) => {
                // What the template's schedule does on AWS, before the stream's next batch.
                self.notifier.sweep().await.expect("the digest sweep");
                let batch = feed.read().await;
                if batch["Records"].as_array().is_some_and(Vec::is_empty) {
                    return;
                }
                let answer = deliver_batch(&self.notifier, &batch).await;
                feed.answered(&batch, answer.as_ref().map_err(|_| ()));
            }
        }
    }

    /// The code an authenticator with this base32 secret shows now.
    pub fn totp(&self, secret_base32: &str) -> String {
        self.totp_at_offset(secret_base32, 0)
    }

    pub fn totp_at_offset(&self, secret_base32: &str, steps: i64) -> String {
        let secret = TotpSecret::from_base32(secret_base32).expect("base32 secret");
        let step = step_at(self.clock.now()) as i64 + steps;
        secret.code_at_step(step as u64)
    }

    /// Moves to the next 30 s step, so a new TOTP code is fresh.
    pub fn next_step(&self) {
        self.clock.advance(30);
    }

    /// Enrolls and confirms `user`; returns the TOTP secret and the first codes.
    pub async fn enrolled(&self, user: &str) -> (String, Vec<String>) {
        let started = self
            .send(Call::new("POST", "/v1/totp/enrollment").user(user))
            .await;
        assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
        let secret = started.json()["secret"].as_str().unwrap().to_owned();
        let confirmed = self
            .send(
                Call::new("POST", "/v1/totp/enrollment/confirm")
                    .user(user)
                    .json(json!({ "code": self.totp(&secret) })),
            )
            .await;
        assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
        (secret, confirmed.codes())
    }

    /// The administrator `admin` resets `user`'s codes, proving their own `totp` in the body.
    pub async fn admin_reset(&self, admin: &str, user: &str, totp: &str) -> Reply {
        let path = format!("/v1/admin/users/{user}/backup-codes");
        self.send(
            Call::new("POST", &path)
                .admin(admin)
                .json(json!({ "totp": totp })),
        )
        .await
    }

    /// The user replaces their own set, proving `totp` in the body.
    pub async fn regenerate(&self, user: &str, totp: &str) -> Reply {
        self.send(
            Call::new("POST", "/v1/backup-codes")
                .user(user)
                .json(json!({ "totp": totp })),
        )
        .await
    }

    /// Activates the pending set a regenerate answered with (`regenerated`).
    pub async fn activate(&self, user: &str, regenerated: &Reply) -> Reply {
        let set_id = regenerated.json()["set_id"].clone();
        assert!(set_id.is_string(), "{}", regenerated.text);
        self.send(
            Call::new("POST", "/v1/backup-codes/activate")
                .user(user)
                .json(json!({ "set_id": set_id })),
        )
        .await
    }

    /// Regenerates with `proof` and activates the new set, as a user who saved it does: the
    /// new codes.
    pub async fn regenerate_and_activate(&self, user: &str, proof: &str) -> Vec<String> {
        let regenerated = self.regenerate(user, proof).await;
        assert_eq!(
            regenerated.status,
            StatusCode::CREATED,
            "{}",
            regenerated.text
        );
        let activated = self.activate(user, &regenerated).await;
        assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
        regenerated.codes()
    }

    pub async fn verify(&self, user: &str, code: &str) -> Reply {
        self.send(Call::new("POST", "/v1/verify").json(json!({ "user_id": user, "code": code })))
            .await
    }

    /// The types of `user`'s newest 50 trail events, newest first.
    pub async fn trail_kinds(&self, user: &str) -> Vec<String> {
        let trail = self
            .send(Call::new("GET", "/v1/audit?limit=50").user(user))
            .await
            .json();
        trail["events"]
            .as_array()
            .unwrap_or_else(|| panic!("no events in {trail}"))
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn status(&self, user: &str) -> Value {
        let reply = self
            .send(Call::new("GET", "/v1/backup-codes").user(user))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()
    }
}
