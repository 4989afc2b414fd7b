//! The packaged functions, as Lambda runs them: each `bootstrap` from its zip is started as a
//! process against a stand-in for the Lambda Runtime API, takes its keys from Secrets Manager
//! (moto), its data from DynamoDB (ministack's), mails through SES (moto), and answers API Gateway
//! HTTP API v2 events. Together they walk the whole product.
//!
//! The zips come from `bash infra/package.sh` (the test command runs it first).

use std::{
    collections::HashMap,
    convert::Infallible,
    io::Read,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use backup_codes::domain::{
    codes::random_id,
    totp::{step_at, TotpSecret},
};
use http_body_util::{BodyExt, Full};
use hyper::{body::Bytes, server::conn::http1, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use integration_tests::{
    dynamodb_endpoint, fresh_table, mail_in_moto, moto_url, secrets_client, ses_client_with_sender,
    Call,
};
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::{
    net::TcpListener,
    process::{Child, Command},
    sync::{mpsc, Mutex},
};

const RUNTIME: &str = "/2018-06-01/runtime";

/// What the function posted back for an invocation, or for its initialisation.
enum Outcome {
    Response(Value),
    Error(Value),
    InitError(Value),
}

/// The documented Runtime API endpoints: `next` hands out one queued event at a time;
/// `response`, `error` and `init/error` report back.
struct RuntimeApi {
    events: Mutex<mpsc::Receiver<(String, Value)>>,
    outcomes: mpsc::Sender<Outcome>,
}

impl RuntimeApi {
    async fn handle(
        self: Arc<Self>,
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let path = req.uri().path().to_owned();
        let method = req.method().clone();
        let body = req.into_body().collect().await.map(|b| b.to_bytes());
        let body: Value = body
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let accepted = || {
            Response::builder()
                .status(202)
                .body(Full::new(Bytes::from_static(b"{\"status\":\"OK\"}")))
                .unwrap()
        };
        if method == hyper::Method::GET && path == format!("{RUNTIME}/invocation/next") {
            let next = self.events.lock().await.recv().await;
            let Some((request_id, event)) = next else {
                // No more events: hold the function here until the test ends it.
                std::future::pending::<()>().await;
                unreachable!()
            };
            let deadline = (OffsetDateTime::now_utc().unix_timestamp() + 30) * 1000;
            return Ok(Response::builder()
                .header("lambda-runtime-aws-request-id", request_id)
                .header("lambda-runtime-deadline-ms", deadline.to_string())
                .header(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:backup-codes",
                )
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000",
                )
                .body(Full::new(Bytes::from(event.to_string())))
                .unwrap());
        }
        let outcome = if path == format!("{RUNTIME}/init/error") {
            Outcome::InitError(body)
        } else if path.ends_with("/response") {
            Outcome::Response(body)
        } else if path.ends_with("/error") {
            Outcome::Error(body)
        } else {
            return Ok(Response::builder()
                .status(404)
                .body(Full::new(Bytes::new()))
                .unwrap());
        };
        let _ = self.outcomes.send(outcome).await;
        Ok(accepted())
    }
}

/// One packaged function, running.
struct Lambda {
    name: &'static str,
    events: mpsc::Sender<(String, Value)>,
    outcomes: mpsc::Receiver<Outcome>,
    process: Child,
}

/// The HTTP response a function gave for an API Gateway event.
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Lambda {
    async fn invoke(&mut self, call: Call<'_>) -> Answer {
        let request_id = random_id();
        self.events
            .send((request_id, call.event()))
            .await
            .expect("the stand-in is running");
        let outcome = tokio::time::timeout(Duration::from_secs(30), self.outcomes.recv())
            .await
            .unwrap_or_else(|_| panic!("{} did not answer within 30 s", self.name))
            .expect("an outcome");
        let response = match outcome {
            Outcome::Response(response) => response,
            Outcome::Error(error) => panic!("{} reported an invocation error: {error}", self.name),
            Outcome::InitError(error) => panic!("{} could not start: {error}", self.name),
        };
        let raw = response["body"].as_str().unwrap_or_default();
        let body = if response["isBase64Encoded"] == true {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .unwrap();
            String::from_utf8(bytes).unwrap()
        } else {
            raw.to_owned()
        };
        Answer {
            status: response["statusCode"].as_u64().expect("statusCode") as u16,
            headers: response["headers"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap_or_default().to_owned()))
                .collect(),
            body,
        }
    }
}

fn packages_dir() -> PathBuf {
    std::env::var_os("LAMBDA_PACKAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/lambda"))
}

/// Takes `bootstrap` out of the function's zip, checking Lambda could execute it.
fn unpack(name: &str, into: &Path) -> PathBuf {
    let zip_path = packages_dir().join(name).join("bootstrap.zip");
    let file = std::fs::File::open(&zip_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. Package the functions first: `bash infra/package.sh` (the test command does)",
            zip_path.display()
        )
    });
    let mut archive = zip::ZipArchive::new(file).expect("a zip");
    let mut entry = archive
        .by_name("bootstrap")
        .expect("bootstrap at the zip's root");
    let mode = entry.unix_mode().expect("unix permissions in the zip");
    assert!(
        mode & 0o111 != 0,
        "{name}: bootstrap is not executable ({mode:o})"
    );
    let mut bytes = vec![];
    entry.read_to_end(&mut bytes).unwrap();
    let dir = into.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bootstrap");
    std::fs::write(&path, bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

async fn start(name: &'static str, work: &Path, env: &[(&str, String)]) -> Lambda {
    let bootstrap = unpack(name, work);
    let (event_tx, event_rx) = mpsc::channel(1);
    let (outcome_tx, outcome_rx) = mpsc::channel(4);
    let api = Arc::new(RuntimeApi {
        events: Mutex::new(event_rx),
        outcomes: outcome_tx,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let api = api.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| api.clone().handle(req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let log = std::fs::File::create(work.join(format!("{name}.log"))).unwrap();
    let process = Command::new(&bootstrap)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bootstrap.display()));
    Lambda {
        name,
        events: event_tx,
        outcomes: outcome_rx,
        process,
    }
}

fn totp_now(secret: &str, steps_ahead: u64) -> String {
    let secret = TotpSecret::from_base32(secret).unwrap();
    secret.code_at_step(step_at(OffsetDateTime::now_utc()) + steps_ahead)
}

async fn create_secret(client: &aws_sdk_secretsmanager::Client, purpose: &str) -> String {
    client
        .create_secret()
        .name(format!("backup-codes-{purpose}-{}", random_id()))
        // 64 alphanumeric characters, as the template's GenerateSecretString makes them.
        .secret_string(format!("{}{}", random_id(), random_id()))
        .send()
        .await
        .unwrap()
        .arn
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_packaged_functions_serve_the_whole_product() {
    let (_, table) = fresh_table().await;
    let secrets = secrets_client().await;
    let encryption = create_secret(&secrets, "encryption").await;
    let signing = create_secret(&secrets, "signing").await;
    let from = "security@runtime.example";
    ses_client_with_sender(from).await;

    let env = vec![
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint()),
        ("AWS_ENDPOINT_URL_SES", moto_url()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_url()),
        ("TABLE_NAME", table),
        ("PRODUCT_NAME", "Runtime Co".to_owned()),
        // Every function but audit mails its security notices, as the template's globals say.
        ("FROM_ADDRESS", from.to_owned()),
    ];
    let with = |extra: &[(&'static str, &str)]| {
        let mut all = env.clone();
        all.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        all
    };
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("runtime-{}", random_id()));
    std::fs::create_dir_all(&work).unwrap();
    let sealing = [("ENCRYPTION_KEY_SECRET_ID", encryption.as_str())];
    let mut enroll = start("enroll", &work, &with(&sealing)).await;
    let mut verify = start("verify", &work, &with(&sealing)).await;
    let mut regenerate = start("regenerate", &work, &with(&sealing)).await;
    let mut admin = start(
        "admin-regenerate",
        &work,
        &with(&[
            ("ENCRYPTION_KEY_SECRET_ID", encryption.as_str()),
            ("SIGNING_KEY_SECRET_ID", signing.as_str()),
        ]),
    )
    .await;
    let mut download = start(
        "download",
        &work,
        &with(&[("SIGNING_KEY_SECRET_ID", signing.as_str())]),
    )
    .await;
    let mut audit = start("audit", &work, &with(&[])).await;

    // A user and an admin enroll through the enroll function.
    let mut enrolled = HashMap::new();
    for (user, call) in [
        ("ria", Call::new("POST", "/v1/totp/enrollment").user("ria")),
        (
            "boss",
            Call::new("POST", "/v1/totp/enrollment").admin("boss"),
        ),
    ] {
        let started = enroll.invoke(call).await;
        assert_eq!(started.status, 201, "{}", started.body);
        let secret = started.json()["secret"].as_str().unwrap().to_owned();
        let confirmed = enroll
            .invoke(
                Call::new("POST", "/v1/totp/enrollment/confirm")
                    .user(user)
                    .json(json!({ "code": totp_now(&secret, 0) })),
            )
            .await;
        assert_eq!(confirmed.status, 200, "{}", confirmed.body);
        assert_eq!(
            confirmed.json()["backup_codes"].as_array().unwrap().len(),
            10
        );
        enrolled.insert(user, (secret, confirmed.json()["backup_codes"].clone()));
    }
    let first_codes = &enrolled["ria"].1;

    // The auth server verifies a backup code once.
    let mailed_before = mail_in_moto("ria@example.com").await.len();
    let code = first_codes[0].as_str().unwrap();
    let verified = verify
        .invoke(Call::new("POST", "/v1/verify").json(json!({ "user_id": "ria", "code": code })))
        .await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.json()["remaining_backup_codes"], 9);
    let again = verify
        .invoke(Call::new("POST", "/v1/verify").json(json!({ "user_id": "ria", "code": code })))
        .await;
    assert_eq!(again.status, 401);
    assert_eq!(again.json()["error"], "invalid_code");
    let told = mail_in_moto("ria@example.com").await;
    assert_eq!(told.len(), mailed_before + 1, "one mail for the used code");
    assert_eq!(
        told[mailed_before]["subject"],
        "Runtime Co: a backup code was used"
    );

    let status = regenerate
        .invoke(Call::new("GET", "/v1/backup-codes").user("ria"))
        .await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.json()["remaining"], 9);
    assert_eq!(status.headers["cache-control"], "no-store");

    // The admin resets ria's codes with the admin's next TOTP code; the mail goes through SES.
    let reset = admin
        .invoke(
            Call::new("POST", "/v1/admin/users/ria/backup-codes")
                .admin("boss")
                .header("x-otp", totp_now(&enrolled["boss"].0, 1)),
        )
        .await;
    assert_eq!(reset.status, 202, "{}", reset.body);
    let mail = mail_in_moto("ria@example.com").await;
    let body = mail.last().expect("a mail in moto")["body"]
        .as_str()
        .unwrap()
        .to_owned();
    // No LINK_BASE_URL: the link points at the address API Gateway reports the call came to.
    let marker = "https://api.example.com/v1/backup-codes/download#token=";
    let start_at = body.find(marker).expect("the link in the mail") + marker.len();
    let token: String = body[start_at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    let old = verify
        .invoke(
            Call::new("POST", "/v1/verify")
                .json(json!({ "user_id": "ria", "code": first_codes[1].as_str().unwrap() })),
        )
        .await;
    assert_eq!(old.status, 401, "old codes died with the reset");

    // The download function serves the page, then redeems the token once.
    let page = download
        .invoke(Call::new("GET", "/v1/backup-codes/download"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.headers["content-type"].starts_with("text/html"));
    assert!(page.body.contains("Continue"), "{}", page.body);
    let redeemed = download
        .invoke(Call::new("POST", "/v1/backup-codes/download").json(json!({ "token": token })))
        .await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.body);
    let new_codes = redeemed.json()["backup_codes"].clone();
    assert_eq!(new_codes.as_array().unwrap().len(), 10);
    let reused = download
        .invoke(Call::new("POST", "/v1/backup-codes/download").json(json!({ "token": token })))
        .await;
    assert_eq!(reused.status, 410);

    let fresh = verify
        .invoke(
            Call::new("POST", "/v1/verify")
                .json(json!({ "user_id": "ria", "code": new_codes[3].as_str().unwrap() })),
        )
        .await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    assert_eq!(fresh.json()["method"], "backup_code");

    // Logs are JSON lines (AWS_LAMBDA_LOG_FORMAT=JSON) and carry no code, secret or token.
    // The audit function reads ria's trail for ria, and for the admin.
    let own = audit
        .invoke(Call::new("GET", "/v1/audit").user("ria"))
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    let kinds: Vec<String> = own.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds[..4],
        [
            "backup_code_used",
            "download_link_refused",
            "download_link_redeemed",
            "codes_reset_by_admin"
        ]
    );
    let by_admin = audit
        .invoke(Call::new("GET", "/v1/admin/users/ria/audit").admin("boss"))
        .await;
    assert_eq!(by_admin.status, 200);
    assert_eq!(by_admin.json()["events"], own.json()["events"]);

    drop((enroll, verify, regenerate, admin, download, audit));
    tokio::time::sleep(Duration::from_millis(200)).await;
    for name in [
        "enroll",
        "verify",
        "regenerate",
        "admin-regenerate",
        "download",
        "audit",
    ] {
        let log = std::fs::read_to_string(work.join(format!("{name}.log"))).unwrap();
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                serde_json::from_str::<Value>(line).is_ok(),
                "{name} logged a non-JSON line: {line}"
            );
        }
        assert!(!log.contains(&token), "{name} logged the link token");
        assert!(!log.contains(code), "{name} logged a backup code");
        assert!(
            !log.contains(&enrolled["ria"].0),
            "{name} logged a TOTP secret"
        );
    }
}

#[tokio::test]
async fn a_function_that_cannot_start_exits_naming_the_missing_setting() {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("runtime-{}", random_id()));
    std::fs::create_dir_all(&work).unwrap();
    // No TABLE_NAME: the cold start must fail loudly, not serve requests half-configured.
    let mut verify = start(
        "verify",
        &work,
        &[
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ],
    )
    .await;
    let status = tokio::time::timeout(Duration::from_secs(30), verify.process.wait())
        .await
        .expect("the process exits")
        .unwrap();
    assert!(!status.success(), "{status}");
    let log = std::fs::read_to_string(work.join("verify.log")).unwrap();
    assert!(log.contains("TABLE_NAME"), "{log}");
    assert!(
        verify.outcomes.try_recv().is_err(),
        "it never asked for an event"
    );
}
