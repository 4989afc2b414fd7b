//! The packaged functions, as Lambda runs them: each `bootstrap` from its zip is started as a
//! process against a stand-in for the Lambda Runtime API, takes its keys from Secrets Manager
//! (moto), its data from DynamoDB (ministack's), mails through SES (moto), and answers API Gateway
//! HTTP API v2 events. Together they walk the whole product.
//!
//! The zips come from `bash infra/package.sh` (the test command runs it first).

use std::{collections::HashMap, path::Path, time::Duration};

use backup_codes::domain::{
    codes::random_id,
    totp::{step_at, TotpSecret},
};
use integration_tests::{
    fresh_table, mail_in_moto,
    runtime_api::{emulated_aws, start},
    secrets_client, ses_client_with_sender,
    stream::StreamFeed,
    Call,
};
use serde_json::{json, Value};
use time::OffsetDateTime;

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

    // The notifier mails the security notices and admin the link, as the
    // template's globals give every function the sender.
    let mut env = emulated_aws(&table, from);
    env.push(("PRODUCT_NAME", "Runtime Co".to_owned()));
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
    let mut code_sets = start("code-sets", &work, &with(&sealing)).await;
    // The notifier reads the table's stream, as its event source mapping hands it batches.
    let mut notify = start("notify", &work, &with(&[])).await;
    let stream = StreamFeed::new(&table);
    let mut admin = start(
        "admin",
        &work,
        &with(&[
            ("ENCRYPTION_KEY_SECRET_ID", encryption.as_str()),
            ("SIGNING_KEY_SECRET_ID", signing.as_str()),
        ]),
    )
    .await;
    let mut public = start(
        "public",
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
    assert_eq!(
        mail_in_moto("ria@example.com").await.len(),
        mailed_before,
        "nothing is mailed on the request path"
    );
    let batch = stream.read().await;
    let answer = notify.invoke_raw(batch.clone()).await;
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    stream.answered(&batch, Ok(&answer));
    let told = mail_in_moto("ria@example.com").await;
    assert_eq!(told.len(), mailed_before + 1, "one mail for the used code");
    assert_eq!(
        told[mailed_before]["subject"],
        "Runtime Co: a backup code was used"
    );

    let status = code_sets
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

    // The public function serves the page, redeems the token, and saves the set it showed.
    let page = public
        .invoke(Call::new("GET", "/v1/backup-codes/download"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.headers["content-type"].starts_with("text/html"));
    assert!(page.body.contains("Continue"), "{}", page.body);
    let redeemed = public
        .invoke(Call::new("POST", "/v1/backup-codes/download").json(json!({ "token": token })))
        .await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.body);
    let new_codes = redeemed.json()["backup_codes"].clone();
    assert_eq!(new_codes.as_array().unwrap().len(), 10);
    let saved = public
        .invoke(
            Call::new("POST", "/v1/backup-codes/download/activate")
                .json(json!({ "token": token, "set_id": redeemed.json()["set_id"] })),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let reused = public
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

    drop((enroll, verify, code_sets, admin, public, audit));
    tokio::time::sleep(Duration::from_millis(200)).await;
    for name in ["enroll", "verify", "code-sets", "admin", "public", "audit"] {
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
    assert_eq!(verify.cold_start(), None, "it never asked for an event");
}
