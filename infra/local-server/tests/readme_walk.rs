//! Starts the real `local-server` binary and walks the README: token, enroll, confirm,
//! verify a backup code twice, regenerate.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use backup_codes::domain::totp::{step_at, TotpSecret};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Value};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra_args: &[&str], env: &[(&str, String)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_local-server"))
        .args(["--addr", "127.0.0.1:0"])
        .args(extra_args)
        .env_remove("ENCRYPTION_KEY")
        .env_remove("SIGNING_KEY")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start local-server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server { child, base }
}

fn token(claims: Value) -> String {
    format!(
        "e30.{}.unsigned",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A code one step ahead: accepted thanks to the one-step skew, and fresh after confirm.
fn totp(secret: &str, steps_ahead: u64) -> String {
    let step = step_at(time::OffsetDateTime::now_utc()) + steps_ahead;
    TotpSecret::from_base32(secret).unwrap().code_at_step(step)
}

#[tokio::test]
async fn the_readme_walk_works_against_the_binary() {
    walk(&start(&[], &[])).await;
}

#[tokio::test]
async fn the_walk_works_on_dynamodb_and_the_table_is_created() {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .expect("this test needs dynalite: run `bash infra/test.sh`, which starts it");
    let table = format!("local-server-{}", backup_codes::domain::codes::random_id());
    let key = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=".to_owned();
    let server = start(
        &["--store", "dynamodb"],
        &[
            ("TABLE_NAME", table),
            ("ENCRYPTION_KEY", key.clone()),
            ("SIGNING_KEY", key),
        ],
    );
    walk(&server).await;
}

async fn walk(server: &Server) {
    let http = reqwest::Client::new();
    let bearer = format!(
        "Bearer {}",
        token(json!({ "sub": "ana", "email": "ana@example.com" }))
    );
    let url = |path: &str| format!("{}{path}", server.base);

    let started: Value = http
        .post(url("/v1/totp/enrollment"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = started["secret"].as_str().expect("secret").to_owned();

    let confirmed = http
        .post(url("/v1/totp/enrollment/confirm"))
        .header("authorization", &bearer)
        .json(&json!({ "code": totp(&secret, 0) }))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    let code = confirmed["backup_codes"][0].as_str().unwrap().to_owned();

    let verify = || {
        http.post(url("/v1/verify"))
            .json(&json!({ "user_id": "ana", "code": code }))
            .send()
    };
    assert_eq!(verify().await.unwrap().status(), 200);
    let second = verify().await.unwrap();
    assert_eq!(second.status(), 401);
    assert_eq!(
        second.json::<Value>().await.unwrap()["error"],
        "invalid_code"
    );

    let regenerated = http
        .post(url("/v1/backup-codes"))
        .header("authorization", &bearer)
        .header("x-otp", totp(&secret, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(regenerated.status(), 201);
    let body: Value = regenerated.json().await.unwrap();
    assert_eq!(body["backup_codes"].as_array().unwrap().len(), 10);

    let anonymous = http.get(url("/v1/backup-codes")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[test]
fn refuses_a_non_loopback_address() {
    let out = Command::new(env!("CARGO_BIN_EXE_local-server"))
        .args(["--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback only"));
}
