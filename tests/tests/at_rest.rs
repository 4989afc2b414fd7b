//! After a full walk on DynamoDB (enroll, verify, regenerate, admin reset, redeem), no backup
//! code, TOTP secret, link token or key is anywhere in the table or in the logs, in any of the
//! encodings a leak would take: plain, hex, base32 or base64.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use backup_codes::adapters::dynamodb::DynamoStore;
use base64::{
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
    Engine,
};
use integration_tests::{fresh_table, token_in, Call, CapturedLog, TestApp};
use lambda_http::http::StatusCode;
use serde_json::json;

/// A secret and the forms a leak of it could take.
struct Secret {
    what: String,
    texts: Vec<String>,
    bytes: Vec<u8>,
}

impl Secret {
    fn of_bytes(what: impl Into<String>, bytes: &[u8]) -> Self {
        let mut texts = vec![
            hex(bytes),
            hex(bytes).to_uppercase(),
            totp_rs::Secret::Raw(bytes.to_vec())
                .to_encoded()
                .to_string(),
        ];
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            texts.push(engine.encode(bytes));
        }
        Self {
            what: what.into(),
            texts,
            bytes: bytes.to_vec(),
        }
    }

    /// A code in every spelling it is accepted in, and its bytes in every encoding.
    fn of_code(what: &str, code: &str) -> Self {
        let bare = code.replace('-', "");
        let mut secret = Self::of_bytes(what, bare.to_uppercase().as_bytes());
        secret
            .texts
            .extend([code.to_owned(), bare.clone(), bare.to_uppercase()]);
        secret
    }

    fn of_text(what: &str, text: &str) -> Self {
        let mut secret = Self::of_bytes(what, text.as_bytes());
        secret.texts.push(text.to_owned());
        secret
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every place one of `secrets` appears in `text` or, raw, in `blobs`.
fn leaks(secrets: &[Secret], text: &str, blobs: &[Vec<u8>]) -> Vec<String> {
    let mut found = vec![];
    for secret in secrets {
        for form in &secret.texts {
            if text.contains(form.as_str()) {
                found.push(format!("{} as {form:?}", secret.what));
            }
        }
        let raw = &secret.bytes;
        if blobs.iter().any(|b| b.windows(raw.len()).any(|w| w == raw)) {
            found.push(format!("{} as raw bytes", secret.what));
        }
    }
    found
}

/// The table as text (strings, numbers, map keys; binary as hex and base64) and its blobs.
fn render(value: &AttributeValue, text: &mut String, blobs: &mut Vec<Vec<u8>>) {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => text.push_str(s),
        AttributeValue::B(b) => {
            let bytes = b.as_ref();
            text.push_str(&hex(bytes));
            text.push(' ');
            text.push_str(&STANDARD.encode(bytes));
            text.push(' ');
            text.push_str(&String::from_utf8_lossy(bytes));
            blobs.push(bytes.to_vec());
        }
        AttributeValue::M(map) => {
            for (key, value) in map {
                text.push_str(key);
                text.push(' ');
                render(value, text, blobs);
            }
        }
        AttributeValue::L(list) => list.iter().for_each(|v| render(v, text, blobs)),
        AttributeValue::Ss(list) | AttributeValue::Ns(list) => text.push_str(&list.join(" ")),
        other => text.push_str(&format!("{other:?}")),
    }
    text.push('\n');
}

#[test]
fn the_leak_finder_finds_what_it_looks_for() {
    // Without this, a finder that never matched would pass the walk below.
    let key = [7u8; 32];
    let secrets = [
        Secret::of_bytes("a key", &key),
        Secret::of_code("a code", "k3m9q-2x7tv"),
    ];
    assert_eq!(leaks(&secrets, "nothing here", &[]), Vec::<String>::new());
    for planted in [
        STANDARD.encode(key),
        hex(&key),
        totp_rs::Secret::Raw(key.to_vec()).to_encoded().to_string(),
        "K3M9Q2X7TV".to_owned(),
    ] {
        assert!(
            !leaks(&secrets, &format!("x{planted}x"), &[]).is_empty(),
            "{planted}"
        );
    }
    assert!(!leaks(
        &secrets,
        "",
        &[[vec![1u8], key.to_vec(), vec![2u8]].concat()]
    )
    .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_stored_or_logged_after_a_full_walk() {
    let log = CapturedLog::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let (client, table) = fresh_table().await;
    let app = TestApp::with_store(Arc::new(DynamoStore::new(client.clone(), table.clone())));
    let mut secrets = vec![
        Secret::of_bytes("the signing key", app.signing_key.material()),
        Secret::of_bytes("the sealing key", app.sealing_key.material()),
    ];
    let mut remember_codes = |what: &str, codes: &[String]| {
        for code in codes {
            secrets.push(Secret::of_code(what, code));
        }
    };

    let (secret, first) = app.enrolled("ana").await;
    remember_codes("a first-set code", &first);
    assert_eq!(app.verify("ana", &first[0]).await.status, StatusCode::OK);
    app.next_step();
    assert_eq!(
        app.verify("ana", &app.totp(&secret)).await.status,
        StatusCode::OK
    );
    app.next_step();
    let regenerated = app.regenerate("ana", &app.totp(&secret)).await;
    assert_eq!(
        regenerated.status,
        StatusCode::CREATED,
        "{}",
        regenerated.text
    );
    remember_codes("a regenerated code", &regenerated.codes());

    let (admin_secret, admin_codes) = app.enrolled("root").await;
    remember_codes("an admin's code", &admin_codes);
    app.next_step();
    let reset = app
        .admin_reset("root", "ana", &app.totp(&admin_secret))
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.text);
    let token = token_in(&app.mailer.last());
    let redeemed = app
        .send(Call::new("POST", "/v1/backup-codes/download").json(json!({ "token": token })))
        .await;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.text);
    remember_codes("a redeemed code", &redeemed.codes());

    // Left pending at the scan: a replacement authenticator and a regenerated set, each behind
    // a backup code as the proof.
    let replacing = app
        .send(
            Call::new("POST", "/v1/totp/enrollment")
                .user("root")
                .header("x-otp", admin_codes[1].clone()),
        )
        .await;
    assert_eq!(replacing.status, StatusCode::CREATED, "{}", replacing.text);
    let new_app = replacing.json()["secret"].as_str().unwrap().to_owned();
    let pending = app.regenerate("root", &admin_codes[2]).await;
    assert_eq!(pending.status, StatusCode::CREATED, "{}", pending.text);
    remember_codes("a pending set's code", &pending.codes());

    for (who, base32) in [
        ("ana", &secret),
        ("root", &admin_secret),
        ("root's new app", &new_app),
    ] {
        let raw = totp_rs::Secret::Encoded(base32.clone()).to_bytes().unwrap();
        let mut totp = Secret::of_bytes(format!("{who}'s TOTP secret"), &raw);
        totp.texts.push(base32.clone());
        secrets.push(totp);
    }
    secrets.push(Secret::of_text("the download token", &token));
    let (payload, tag) = token.split_once('.').unwrap();
    secrets.push(Secret::of_bytes(
        "the download token's signature",
        &URL_SAFE_NO_PAD.decode(tag).unwrap(),
    ));
    secrets.push(Secret::of_text("the download token's payload", payload));

    let items = client
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let is_user = |item: &&std::collections::HashMap<String, AttributeValue>| {
        item["pk"].as_s().is_ok_and(|pk| pk.starts_with("user#"))
    };
    assert_eq!(items.iter().filter(is_user).count(), 2, "ana and root");
    assert!(
        items.iter().filter(|i| !is_user(i)).count() >= 8,
        "the audit trail is searched too"
    );
    let (mut text, mut blobs) = (String::new(), vec![]);
    for item in &items {
        for (name, value) in item {
            text.push_str(name);
            text.push(' ');
            render(value, &mut text, &mut blobs);
        }
    }
    assert!(text.contains("user#ana"), "the dump is read: {text}");
    let stored = leaks(&secrets, &text, &blobs);
    assert!(stored.is_empty(), "stored in the table: {stored:?}");

    let logged = log.text();
    assert!(logged.contains("verified"), "the log is captured");
    let logged_leaks = leaks(&secrets, &logged, &[]);
    assert!(logged_leaks.is_empty(), "in the log: {logged_leaks:?}");
    println!(
        "at rest: {} items and {} bytes of log searched for {} secrets in {} forms: none found",
        items.len(),
        logged.len(),
        secrets.len(),
        secrets.iter().map(|s| s.texts.len() + 1).sum::<usize>()
    );
}
