//! A stand-in for the Lambda Runtime API, and the packaged functions run against it as Lambda
//! runs them: each `bootstrap` from its zip started as a process with only the environment
//! Lambda gives it. The walk through the whole product and the cold-start benchmark use it.

use std::{
    collections::HashMap,
    convert::Infallible,
    io::{Read, Write},
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use backup_codes::domain::codes::random_id;
use http_body_util::{BodyExt, Full};
use hyper::{body::Bytes, server::conn::http1, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::{
    net::TcpListener,
    process::{Child, Command},
    sync::{mpsc, Mutex},
};

use crate::{dynamodb_endpoint, moto_url, Call};

/// What every packaged function is started with here, besides what Lambda sets: the emulated
/// AWS (DynamoDB on ministack; SES and Secrets Manager on moto), `table` and the sender `from`.
pub fn emulated_aws(table: &str, from: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint()),
        ("AWS_ENDPOINT_URL_SES", moto_url()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_url()),
        ("TABLE_NAME", table.to_owned()),
        ("FROM_ADDRESS", from.to_owned()),
    ]
}

const RUNTIME: &str = "/2018-06-01/runtime";

/// What the function posted back for an invocation, or for its initialisation.
pub enum Outcome {
    Response(Value),
    Error(Value),
    InitError(Value),
}

/// The documented Runtime API endpoints: `next` hands out one queued event at a time;
/// `response`, `error` and `init/error` report back.
struct RuntimeApi {
    events: Mutex<mpsc::Receiver<(String, Value)>>,
    outcomes: mpsc::Sender<Outcome>,
    /// When the function first asked for an event: the end of its cold start.
    first_next: std::sync::Mutex<Option<Instant>>,
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
            self.first_next
                .lock()
                .unwrap()
                .get_or_insert_with(Instant::now);
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
pub struct Lambda {
    pub name: &'static str,
    api: Arc<RuntimeApi>,
    started: Instant,
    events: mpsc::Sender<(String, Value)>,
    outcomes: mpsc::Receiver<Outcome>,
    pub process: Child,
}

/// The HTTP response a function gave for an API Gateway event.
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Lambda {
    /// From the process's start to its first `next`: its configuration read, its keys
    /// fetched and its clients built. `None` until it has asked.
    pub fn cold_start(&self) -> Option<Duration> {
        let first = *self.api.first_next.lock().unwrap();
        first.map(|at| at - self.started)
    }

    /// Waits for the cold start to end (the first `next`), for up to 30 s.
    pub async fn ready(&self) -> Duration {
        for _ in 0..3000 {
            if let Some(took) = self.cold_start() {
                return took;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} did not ask for an event within 30 s", self.name)
    }

    /// The most memory the process has held (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.process.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("Linux /proc");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    /// Sends a raw event, as a trigger or a stream hands it, and waits for the answer.
    pub async fn invoke_raw(&mut self, event: Value) -> Value {
        let request_id = random_id();
        self.events
            .send((request_id, event))
            .await
            .expect("the stand-in is running");
        match tokio::time::timeout(Duration::from_secs(30), self.outcomes.recv())
            .await
            .unwrap_or_else(|_| panic!("{} did not answer within 30 s", self.name))
            .expect("an outcome")
        {
            Outcome::Response(response) => response,
            Outcome::Error(error) => error,
            Outcome::InitError(error) => panic!("{} could not start: {error}", self.name),
        }
    }

    pub async fn invoke(&mut self, call: Call<'_>) -> Answer {
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

pub fn packages_dir() -> PathBuf {
    std::env::var_os("LAMBDA_PACKAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/lambda"))
}

/// Takes `bootstrap` out of `name`'s zip, checking Lambda could execute it, into `into` once:
/// later starts run the same file.
/// Written whole and flushed before anything runs it, as Lambda's code is on read-only storage:
/// a binary still being written back to disk starts more slowly the larger it is.
pub fn unpack(name: &str, into: &Path) -> PathBuf {
    let dir = into.join(name);
    let path = dir.join("bootstrap");
    if path.exists() {
        return path;
    }
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
    std::fs::create_dir_all(&dir).unwrap();
    // Named apart: two starts of one function may unpack it at once.
    let partial = dir.join(format!("bootstrap.{}", random_id()));
    let mut out = std::fs::File::create(&partial).unwrap();
    out.write_all(&bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    out.set_permissions(std::fs::Permissions::from_mode(0o755))
        .unwrap();
    out.sync_all().unwrap();
    drop(out);
    std::fs::rename(&partial, &path).unwrap();
    path
}

/// Starts `name`'s packaged bootstrap under its own stand-in, with `env` added to what Lambda sets.
pub async fn start(name: &'static str, work: &Path, env: &[(&str, String)]) -> Lambda {
    let bootstrap = unpack(name, work);
    let (event_tx, event_rx) = mpsc::channel(1);
    let (outcome_tx, outcome_rx) = mpsc::channel(4);
    let api = Arc::new(RuntimeApi {
        events: Mutex::new(event_rx),
        outcomes: outcome_tx,
        first_next: std::sync::Mutex::new(None),
    });
    let server = api.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let api = server.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| api.clone().handle(req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let log = std::fs::File::create(work.join(format!("{name}.log"))).unwrap();
    let started = Instant::now();
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
        api,
        started,
        events: event_tx,
        outcomes: outcome_rx,
        process,
    }
}
