//! Starts the real `local-server` binary and walks the README: token, enroll, confirm,
//! verify a backup code twice, regenerate; and the admin walk, whose mail lands in the outbox.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc::{self, Receiver},
    time::Duration,
};

use backup_codes::domain::totp::{step_at, TotpSecret};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Value};

struct Server {
    child: Child,
    base: String,
    /// What the server prints after its first line; read all along, so its stdout never closes.
    stdout: Receiver<String>,
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
    let (lines, stdout) = mpsc::channel();
    let out = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let line = stdout
        .recv_timeout(Duration::from_secs(60))
        .expect("the server says where it listens");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server {
        child,
        base,
        stdout,
    }
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

#[cfg(feature = "dynamodb")]
#[tokio::test]
async fn the_walk_works_on_dynamodb_and_the_table_is_created() {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .expect("this test needs DynamoDB: run `bash infra/test.sh`, which starts ministack's");
    let table = format!("local-server-{}", backup_codes::domain::codes::random_id());
    let key = "Q8K4vT0SjfkDbOB7sXchy1T4OK8wARqdW7iiC3LLRQc=".to_owned();
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

/// The default build leaves the AWS SDK out; asking it for DynamoDB says how to get it.
#[cfg(not(feature = "dynamodb"))]
#[test]
fn the_default_build_names_the_feature_for_dynamodb() {
    let out = Command::new(env!("CARGO_BIN_EXE_local-server"))
        .args(["--addr", "127.0.0.1:0", "--store", "dynamodb"])
        .output()
        .expect("run local-server");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--features dynamodb"), "{stderr}");
}

/// Enrolls the user the claims name, as README steps 2 and 3 do: (bearer, secret, codes).
async fn enroll(server: &Server, claims: Value) -> (String, String, Vec<String>) {
    let http = reqwest::Client::new();
    let bearer = format!("Bearer {}", token(claims));
    let started: Value = http
        .post(format!("{}/v1/totp/enrollment", server.base))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = started["secret"].as_str().expect("secret").to_owned();

    let confirmed = http
        .post(format!("{}/v1/totp/enrollment/confirm", server.base))
        .header("authorization", &bearer)
        .json(&json!({ "code": totp(&secret, 0) }))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    let codes = confirmed["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (bearer, secret, codes)
}

/// README step 4: the auth server verifies a code for ana; (status, body).
async fn verify_ana(server: &Server, code: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/verify", server.base))
        .json(&json!({ "user_id": "ana", "code": code }))
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

async fn walk(server: &Server) {
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let (bearer, secret, codes) =
        enroll(server, json!({ "sub": "ana", "email": "ana@example.com" })).await;
    assert_eq!(verify_ana(server, &codes[0]).await.0, 200);
    let (status, second) = verify_ana(server, &codes[0]).await;
    assert_eq!(status, 401);
    assert_eq!(second["error"], "invalid_code");

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

#[tokio::test]
async fn the_admin_walk_mails_a_link_to_the_outbox() {
    let outbox = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "outbox-{}",
        backup_codes::domain::codes::random_id()
    ));
    let server = start(&["--outbox", outbox.to_str().unwrap()], &[]);
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let (ana, _, old_codes) =
        enroll(&server, json!({ "sub": "ana", "email": "ana@example.com" })).await;
    let (admin, admin_secret, _) = enroll(
        &server,
        json!({ "sub": "root", "email": "root@example.com",
                "cognito:groups": ["backup-codes-admins"] }),
    )
    .await;

    let reset = http
        .post(url("/v1/admin/users/ana/backup-codes"))
        .header("authorization", &admin)
        .header("x-otp", totp(&admin_secret, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 202);
    assert_eq!(reset.json::<Value>().await.unwrap()["status"], "email_sent");

    let mails: Vec<PathBuf> = std::fs::read_dir(&outbox)
        .expect("the outbox folder was made")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].extension().is_some_and(|e| e == "eml"));
    let mail = Mail::read(&mails[0]);
    assert_eq!(mail.to, "ana@example.com");

    let printed = loop {
        let line = server
            .stdout
            .recv_timeout(Duration::from_secs(10))
            .expect("the server prints the link");
        if let Some(link) = line.trim().strip_prefix("link: ") {
            break link.to_owned();
        }
    };
    assert!(
        printed.starts_with(&url("/v1/backup-codes/download#token=")),
        "{printed}"
    );
    assert!(
        mail.text.contains(&printed) && mail.html.contains(&printed),
        "the printed link is the mailed one"
    );

    let page = http.get(&printed).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Continue"));

    let token = printed.split_once("#token=").unwrap().1;
    let redeem = || {
        http.post(url("/v1/backup-codes/download"))
            .json(&json!({ "token": token }))
            .send()
    };
    let redeemed = redeem().await.unwrap();
    assert_eq!(redeemed.status(), 200);
    let codes: Value = redeemed.json().await.unwrap();
    let new_code = codes["backup_codes"][0].as_str().unwrap();
    let saved = http
        .post(url("/v1/backup-codes/download/activate"))
        .json(&json!({ "token": token, "set_id": codes["set_id"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200, "saving the codes the link showed");
    assert_eq!(
        redeem().await.unwrap().status(),
        410,
        "a saved link is used"
    );
    assert_eq!(verify_ana(&server, &old_codes[0]).await.0, 401);
    let used = http
        .post(url("/v1/verify"))
        .json(&json!({ "user_id": "ana", "code": new_code,
                       "ip": "203.0.113.7", "user_agent": "Firefox/140.0" }))
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);

    // The README's last steps: the use mail in the outbox, and ana's audit trail.
    let mails: Vec<Mail> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| Mail::read(&e.unwrap().path()))
        .collect();
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    for subject in [
        "Backup Codes: your backup codes were reset",
        "Backup Codes: your new backup codes were collected",
        "Backup Codes: a backup code was used",
    ] {
        assert!(subjects.contains(&subject), "{subject} in {subjects:?}");
    }
    let use_mail = mails
        .iter()
        .find(|m| m.subject.contains("a backup code was used"))
        .unwrap();
    for fact in [
        "IP address (reported by the sign-in client): 203.0.113.7",
        "Device (reported by the sign-in client): \u{201c}Firefox\u{201d}",
        "9 backup codes left",
    ] {
        assert!(use_mail.text.contains(fact), "{fact} in {}", use_mail.text);
    }
    let trail: Value = http
        .get(url("/v1/audit?limit=3"))
        .header("authorization", &ana)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "backup_code_used",
            "download_link_refused",
            "download_link_redeemed"
        ]
    );
    assert_eq!(trail["events"][0]["ip"], "203.0.113.7");
    assert!(trail["next"].is_string(), "older events are a page away");
}

#[tokio::test]
async fn a_hostile_host_header_gets_400_and_the_server_keeps_serving() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start(&[], &[]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    for host in ["a b", "[::1", "x:99999", "%%"] {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let request = format!(
            "POST /v1/verify HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "Host {host:?}: {answer}"
        );
        assert!(answer.contains(r#""error":"invalid_header""#), "{answer}");
    }
    let (status, _) = verify_ana(&server, "k3m9q-2x7tv").await;
    assert_eq!(status, 401, "still serving after hostile requests");
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

/// A mail from the outbox, read by a MIME parser as a mail client would read it.
struct Mail {
    to: String,
    subject: String,
    text: String,
    html: String,
}

impl Mail {
    fn read(path: &std::path::Path) -> Self {
        let raw = std::fs::read(path).unwrap();
        let message = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("the outbox holds MIME messages");
        Self {
            to: message
                .to()
                .and_then(|to| to.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_owned(),
            subject: message.subject().unwrap_or_default().to_owned(),
            text: message.body_text(0).unwrap_or_default().into_owned(),
            html: message.body_html(0).unwrap_or_default().into_owned(),
        }
    }
}
