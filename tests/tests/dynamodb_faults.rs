//! DynamoDB that throttles, fails or is gone. Every route that needs the table answers 503
//! `unavailable` with `Retry-After` after the SDK's bounded retries, well inside the Lambda
//! timeout; and when the table fails in the middle of an operation, every user's record is
//! exactly as it was before or after that operation, never between.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Instant,
};

use aws_sdk_dynamodb::types::AttributeValue;
use backup_codes::{
    adapters::dynamodb::{
        self, DynamoStore, AUDIT_INDEX, AUDIT_USER, PARTITION_KEY, SDK_TRIES_PER_REQUEST,
        TRANSACTION_SENDS,
    },
    domain::{
        codes::random_id,
        link_token::{DownloadGrant, LinkSigner},
        sealing::Keyring,
        user::UserId,
    },
    http::routes::REQUEST_DEADLINE,
    ports::Clock,
};
use http_body_util::{BodyExt, Full};
use hyper::{body::Bytes, server::conn::http1, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use integration_tests::{
    dynamodb_client, dynamodb_endpoint, emulator_config_at, fresh_table, token_in, Call, Reply,
    TestApp,
};
use lambda_http::http::StatusCode;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// DynamoDB's throttling answer, which the SDK retries with backoff.
    Throttle,
    /// An internal error, which the SDK also retries.
    ServerError,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Forward,
    /// Every request numbered `from` or later gets `fault` instead of reaching the table.
    FailFrom {
        from: usize,
        fault: Fault,
    },
    /// The next `times` transactions are cancelled as a concurrent write to one of their items
    /// would cancel them (`TransactionConflict`); other requests reach the table.
    ConflictTransactions {
        times: usize,
    },
}

/// A proxy between the SDK and DynamoDB that can stop forwarding at any request.
struct FaultyTable {
    url: String,
    mode: Arc<Mutex<Mode>>,
    seen: Arc<AtomicUsize>,
}

impl FaultyTable {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(Mode::Forward));
        let seen = Arc::new(AtomicUsize::new(0));
        let upstream = dynamodb_endpoint();
        let http = reqwest::Client::new();
        let (task_mode, task_seen) = (mode.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (mode, seen, upstream, http) = (
                    task_mode.clone(),
                    task_seen.clone(),
                    upstream.clone(),
                    http.clone(),
                );
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (mode, seen, upstream, http) =
                            (mode.clone(), seen.clone(), upstream.clone(), http.clone());
                        async move {
                            let number = seen.fetch_add(1, Ordering::SeqCst);
                            let transaction = req
                                .headers()
                                .get("x-amz-target")
                                .is_some_and(|t| t.as_bytes().ends_with(b".TransactWriteItems"));
                            let now = {
                                let mut mode = mode.lock().unwrap();
                                let now = *mode;
                                if let Mode::ConflictTransactions { times } = &mut *mode {
                                    if transaction && *times > 0 {
                                        *times -= 1;
                                    }
                                }
                                now
                            };
                            let response = match now {
                                Mode::FailFrom { from, fault } if number >= from => failure(fault),
                                Mode::ConflictTransactions { times }
                                    if transaction && times > 0 =>
                                {
                                    conflict()
                                }
                                _ => forward(&http, &upstream, req).await,
                            };
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, mode, seen }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }

    /// From now on, the `k`-th request (0 = the next one) and every later one fail.
    fn fail_after(&self, k: usize, fault: Fault) {
        self.set(Mode::FailFrom {
            from: self.seen() + k,
            fault,
        });
    }
}

fn failure(fault: Fault) -> Response<Full<Bytes>> {
    let (status, kind) = match fault {
        Fault::Throttle => (400, "ProvisionedThroughputExceededException"),
        Fault::ServerError => (500, "InternalServerError"),
    };
    let body = json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
        "message": "injected by the test",
    });
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// DynamoDB's answer to a transaction that a concurrent write to its first item cancelled.
fn conflict() -> Response<Full<Bytes>> {
    let body = json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]",
        "CancellationReasons": [
            {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
            {"Code": "None"},
        ],
    });
    Response::builder()
        .status(400)
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn forward(
    http: &reqwest::Client,
    upstream: &str,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let mut request = http.post(upstream).body(body.to_vec());
    for (name, value) in &parts.headers {
        if name != "host" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = request.send().await.expect("DynamoDB answers");
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        response = response.header(name.as_str(), value.as_bytes());
    }
    let bytes = answer.bytes().await.unwrap();
    response.body(Full::new(bytes)).unwrap()
}

/// A test app whose store reaches the table only through `proxy_url`.
async fn app_through(proxy_url: String) -> (TestApp, String) {
    let (_, table) = fresh_table().await;
    let client = dynamodb::client(&emulator_config_at(proxy_url).await);
    (
        TestApp::with_store(Arc::new(DynamoStore::new(client, table.clone()))),
        table,
    )
}

/// A user's item as stored, without the attempt ledger: a code check that is counted and then
/// fails counts as an attempt, which is the point of counting before evaluating.
async fn item(table: &str, user: &str) -> HashMap<String, AttributeValue> {
    let mut item = dynamodb_client()
        .await
        .get_item()
        .table_name(table)
        .key(PARTITION_KEY, AttributeValue::S(format!("user#{user}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default();
    item.remove("attempts");
    item.remove("attempts_until");
    item
}

/// How many events `user`'s trail holds.
async fn trail_len(table: &str, user: &str) -> usize {
    dynamodb_client()
        .await
        .query()
        .table_name(table)
        .index_name(AUDIT_INDEX)
        .key_condition_expression("#owner = :owner")
        .expression_attribute_names("#owner", AUDIT_USER)
        .expression_attribute_values(":owner", AttributeValue::S(format!("user#{user}")))
        .send()
        .await
        .unwrap()
        .count as usize
}

fn assert_unavailable(what: &str, reply: &Reply) {
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        reply.text
    );
    let body = reply.json();
    assert_eq!(body["error"], "unavailable", "{what}");
    assert_eq!(reply.headers["retry-after"], "2", "{what}");
    assert_eq!(body["retry_after_seconds"], 2, "{what}");
}

/// One request per route that needs the table, with input that gets as far as the table.
fn every_route(app: &TestApp) -> Vec<(&'static str, Call<'static>)> {
    let signer = LinkSigner::new(Keyring::new(app.signing_key.clone(), vec![]));
    let grant = DownloadGrant {
        id: random_id(),
        expires_at: app.clock.now() + time::Duration::hours(1),
    };
    let token = signer.sign(&UserId::parse("ana").unwrap(), &grant);
    vec![
        (
            "start enrollment",
            Call::new("POST", "/v1/totp/enrollment").user("ana"),
        ),
        (
            "confirm enrollment",
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("ana")
                .json(json!({ "code": "123456" })),
        ),
        (
            "verify",
            Call::new("POST", "/v1/verify").json(json!({ "user_id": "ana", "code": "123456" })),
        ),
        ("status", Call::new("GET", "/v1/backup-codes").user("ana")),
        (
            "regenerate",
            Call::new("POST", "/v1/backup-codes")
                .user("ana")
                .header("x-otp", "123456"),
        ),
        (
            "delete",
            Call::new("DELETE", "/v1/backup-codes")
                .user("ana")
                .header("x-otp", "123456"),
        ),
        (
            "admin reset",
            Call::new("POST", "/v1/admin/users/ana/backup-codes")
                .admin("root")
                .json(json!({ "totp": "123456" })),
        ),
        (
            "redeem",
            Call::new("POST", "/v1/backup-codes/download").json(json!({ "token": token })),
        ),
        (
            "save a redeemed set",
            Call::new("POST", "/v1/backup-codes/download/activate")
                .json(json!({ "token": token, "set_id": random_id() })),
        ),
    ]
}

async fn every_route_answers_503(app: &TestApp, proxy: Option<&FaultyTable>) {
    for (what, call) in every_route(app) {
        let before = proxy.map_or(0, FaultyTable::seen);
        let started = Instant::now();
        let reply = app.send(call).await;
        let took = started.elapsed();
        assert_unavailable(what, &reply);
        assert!(took < REQUEST_DEADLINE, "{what} took {took:?}");
        if let Some(proxy) = proxy {
            let sent = proxy.seen() - before;
            assert!(
                (1..=SDK_TRIES_PER_REQUEST as usize).contains(&sent),
                "{what}: {sent} requests; the SDK gives up after {SDK_TRIES_PER_REQUEST}"
            );
        }
        println!("fault: {what}: 503 after {took:?}");
    }
}

#[tokio::test]
async fn an_unreachable_table_is_503_on_every_route() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let (app, _) = app_through(closed).await;
    every_route_answers_503(&app, None).await;
}

#[tokio::test]
async fn a_throttling_or_failing_table_is_503_after_bounded_retries() {
    for fault in [Fault::Throttle, Fault::ServerError] {
        let proxy = FaultyTable::start().await;
        let (app, _) = app_through(proxy.url.clone()).await;
        proxy.fail_after(0, fault);
        every_route_answers_503(&app, Some(&proxy)).await;
    }
}

/// Runs `operation` once for every point at which the table can stop answering (after 0, 1,
/// ... of its requests), each time on fresh users made by `setup`, and checks that each user's
/// item and trail are unchanged whenever the operation answered 503; then runs it to success,
/// which adds `events` to the last user's trail with its change: never a change without its
/// event, nor an event without its change.
async fn fails_cleanly_at_every_step<S, Op>(name: &str, events: usize, setup: S, operation: Op)
where
    S: AsyncFn(&TestApp) -> (Vec<&'static str>, String),
    Op: AsyncFn(&TestApp, &str) -> Reply,
{
    let proxy = FaultyTable::start().await;
    for k in 0.. {
        let (app, table) = app_through(proxy.url.clone()).await;
        proxy.set(Mode::Forward);
        let (users, code) = setup(&app).await;
        let mut before = vec![];
        let mut trails = vec![];
        for user in &users {
            before.push(item(&table, user).await);
            trails.push(trail_len(&table, user).await);
        }
        proxy.fail_after(k, Fault::ServerError);
        let reply = operation(&app, &code).await;
        proxy.set(Mode::Forward);
        let mut trails_after = vec![];
        for user in &users {
            trails_after.push(trail_len(&table, user).await);
        }
        if reply.status.is_success() {
            let last = users.len() - 1;
            assert_eq!(
                trails_after[last] - trails[last],
                events,
                "{name}: the change and its events, together"
            );
            println!("fault: {name}: completes in {k} table requests; each earlier failure left every record as it was");
            assert!(k > 0, "{name} succeeded without the table");
            return;
        }
        assert_unavailable(&format!("{name}, table gone after {k} requests"), &reply);
        assert_eq!(
            trails, trails_after,
            "{name}, table gone after {k} requests: no event without its change"
        );
        for (user, before) in users.iter().zip(before) {
            let after = item(&table, user).await;
            let changed: Vec<&String> = after
                .keys()
                .chain(before.keys())
                .filter(|key| after.get(*key) != before.get(*key))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            // The one step of an admin reset that commits before the target is touched: the
            // admin's own code is spent, as a successful sign-in would spend it.
            let spent_admin_code = *user == "root" && changed == ["totp_last_step"];
            // A redemption holds its link before it hashes: if the table goes after that, the
            // hold stays until it lapses (15 s), and then the link works again; the hold counts
            // as one of the link's redemptions.
            let held_link = changed == ["grant_claim", "grant_claim_until", "grant_redemptions"];
            assert!(
                changed.is_empty() || spent_admin_code || held_link,
                "{name}, table gone after {k} requests: {user}'s record changed in {changed:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_table_failing_mid_operation_leaves_records_before_or_after() {
    fails_cleanly_at_every_step(
        "verify a backup code",
        1,
        async |app: &TestApp| {
            let (_, codes) = app.enrolled("ana").await;
            (vec!["ana"], codes[0].clone())
        },
        async |app: &TestApp, code: &str| app.verify("ana", code).await,
    )
    .await;
    fails_cleanly_at_every_step(
        "verify a TOTP code",
        1,
        async |app: &TestApp| {
            let (secret, _) = app.enrolled("ana").await;
            app.next_step();
            (vec!["ana"], app.totp(&secret))
        },
        async |app: &TestApp, code: &str| app.verify("ana", code).await,
    )
    .await;
    fails_cleanly_at_every_step(
        "confirm enrollment",
        2,
        async |app: &TestApp| {
            let started = app
                .send(Call::new("POST", "/v1/totp/enrollment").user("ana"))
                .await;
            let secret = started.json()["secret"].as_str().unwrap().to_owned();
            (vec!["ana"], app.totp(&secret))
        },
        async |app: &TestApp, code: &str| {
            app.send(
                Call::new("POST", "/v1/totp/enrollment/confirm")
                    .user("ana")
                    .json(json!({ "code": code })),
            )
            .await
        },
    )
    .await;
    for method in ["POST", "DELETE"] {
        // A regenerated set is recorded when it is activated; a removal, at once.
        fails_cleanly_at_every_step(
            &format!("{method} /v1/backup-codes"),
            usize::from(method == "DELETE"),
            async |app: &TestApp| {
                let (secret, _) = app.enrolled("ana").await;
                app.next_step();
                (vec!["ana"], app.totp(&secret))
            },
            async |app: &TestApp, code: &str| {
                app.send(
                    Call::new(method, "/v1/backup-codes")
                        .user("ana")
                        .header("x-otp", code),
                )
                .await
            },
        )
        .await;
    }
    fails_cleanly_at_every_step(
        "admin reset",
        1,
        async |app: &TestApp| {
            let (secret, _) = app.enrolled("root").await;
            app.enrolled("ana").await;
            app.next_step();
            (vec!["root", "ana"], app.totp(&secret))
        },
        async |app: &TestApp, code: &str| app.admin_reset("root", "ana", code).await,
    )
    .await;
    // A redemption records nothing of its own (its set is pending); the save does.
    fails_cleanly_at_every_step(
        "redeem a download link",
        0,
        async |app: &TestApp| {
            let (secret, _) = app.enrolled("root").await;
            app.enrolled("ana").await;
            app.next_step();
            let reset = app.admin_reset("root", "ana", &app.totp(&secret)).await;
            assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.text);
            (vec!["ana"], token_in(&app.mailer.last()))
        },
        async |app: &TestApp, code: &str| {
            app.send(Call::new("POST", "/v1/backup-codes/download").json(json!({ "token": code })))
                .await
        },
    )
    .await;
    fails_cleanly_at_every_step(
        "save a redeemed set",
        1,
        async |app: &TestApp| {
            let (secret, _) = app.enrolled("root").await;
            app.enrolled("ana").await;
            app.next_step();
            let reset = app.admin_reset("root", "ana", &app.totp(&secret)).await;
            assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.text);
            let token = token_in(&app.mailer.last());
            let shown = app
                .send(
                    Call::new("POST", "/v1/backup-codes/download").json(json!({ "token": token })),
                )
                .await;
            assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
            let set_id = shown.json()["set_id"].as_str().unwrap().to_owned();
            (vec!["ana"], format!("{token} {set_id}"))
        },
        async |app: &TestApp, saved: &str| {
            let (token, set_id) = saved.split_once(' ').unwrap();
            app.send(
                Call::new("POST", "/v1/backup-codes/download/activate")
                    .json(json!({ "token": token, "set_id": set_id })),
            )
            .await
        },
    )
    .await;
}

#[tokio::test]
async fn a_transaction_a_concurrent_write_cancelled_is_sent_again_a_bounded_number_of_times() {
    let proxy = FaultyTable::start().await;
    let (app, _) = app_through(proxy.url.clone()).await;
    let (_, codes) = app.enrolled("kim").await;
    // Accepting a backup code is a transaction (the code spent and its event kept together).
    proxy.set(Mode::ConflictTransactions {
        times: TRANSACTION_SENDS - 1,
    });
    let started = Instant::now();
    let accepted = app.verify("kim", &codes[0]).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    println!(
        "{} conflicts, then applied: {:?}",
        TRANSACTION_SENDS - 1,
        started.elapsed()
    );

    proxy.set(Mode::ConflictTransactions {
        times: TRANSACTION_SENDS,
    });
    assert_unavailable(
        "conflicts past the bound",
        &app.verify("kim", &codes[1]).await,
    );
    assert!(
        matches!(
            *proxy.mode.lock().unwrap(),
            Mode::ConflictTransactions { times: 0 }
        ),
        "sent exactly {TRANSACTION_SENDS} times"
    );
    proxy.set(Mode::Forward);
    let unspent = app.verify("kim", &codes[1]).await;
    assert_eq!(
        unspent.status,
        StatusCode::OK,
        "nothing was written: {}",
        unspent.text
    );
}
