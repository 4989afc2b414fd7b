//! The SES mailer against moto: what the user receives, and what happens when SES refuses.

use std::sync::Arc;

use backup_codes::adapters::ses::SesMailer;
use integration_tests::{
    mail_in_moto, ses_client_with_sender, Backend, Call, RecordingMailer, TestApp,
};
use lambda_http::http::StatusCode;
use serde_json::json;

async fn app_with_ses(from: &str, verify_sender: bool) -> TestApp {
    let client = if verify_sender {
        ses_client_with_sender(from).await
    } else {
        aws_sdk_ses::Client::new(
            &integration_tests::emulator_config_at(integration_tests::moto_url()).await,
        )
    };
    let mailer = Arc::new(SesMailer::new(client, from));
    TestApp::with_mailer(
        Backend::DynamoDb,
        mailer,
        Arc::new(RecordingMailer::default()),
    )
    .await
}

#[tokio::test]
async fn the_user_receives_a_link_by_ses() {
    let app = app_with_ses("security@acme.example", true).await;
    let (admin, _) = app.enrolled("root-ses").await;
    app.enrolled("ines").await;
    app.next_step();
    let reply = app.admin_reset("root-ses", "ines", &app.totp(&admin)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let mail = mail_in_moto("ines@example.com").await;
    let last = mail.last().expect("moto accepted a message for ines");
    assert_eq!(last["source"], "security@acme.example");
    assert_eq!(last["subject"], "Acme: your backup codes were reset");
    let body = last["body"].as_str().unwrap();
    assert!(
        body.contains("href=\"https://codes.example.com/v1/backup-codes/download#token="),
        "{body}"
    );
    assert!(body.contains("expires on"), "{body}");
}

#[tokio::test]
async fn a_refused_email_is_502_and_changes_nothing() {
    // moto, like SES, refuses mail from an unverified sender.
    let app = app_with_ses("unverified@acme.example", false).await;
    let (admin, _) = app.enrolled("root-refused").await;
    let (_, codes) = app.enrolled("jon").await;
    app.next_step();
    let reply = app
        .admin_reset("root-refused", "jon", &app.totp(&admin))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.text);
    assert_eq!(reply.json()["error"], "email_failed");
    assert_eq!(app.status("jon").await["pending_download"], false);
    assert_eq!(
        app.verify("jon", &codes[0]).await.status,
        StatusCode::OK,
        "old codes still work"
    );
}

#[tokio::test]
async fn a_used_backup_code_is_mailed_by_ses_with_where_it_was_used() {
    let app = app_with_ses("security@acme.example", true).await;
    let (_, codes) = app.enrolled("ivo").await;
    let before = mail_in_moto("ivo@example.com").await.len();
    let used = app
        .send(Call::new("POST", "/v1/verify").json(json!({
            "user_id": "ivo", "code": codes[0], "ip": "198.51.100.4", "user_agent": "Safari/18"
        })))
        .await;
    assert_eq!(used.status, StatusCode::OK, "{}", used.text);
    let mail = mail_in_moto("ivo@example.com").await;
    assert_eq!(mail.len(), before + 1, "exactly one mail");
    let last = mail.last().unwrap();
    assert_eq!(last["subject"], "Acme: a backup code was used");
    let body = last["body"].as_str().unwrap();
    for fact in [
        "198.51.100.4",
        "\u{201c}Safari\u{201d}",
        "9 backup codes left",
    ] {
        assert!(body.contains(fact), "{fact} in {body}");
    }
    assert!(!body.contains(&codes[0]));
}
