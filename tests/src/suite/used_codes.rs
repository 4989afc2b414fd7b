//! Used codes are named by their line on the sheet the user saved (1 to 10, as shown,
//! downloaded and printed), in the status, the trail and the mail.

use lambda_http::http::StatusCode;
use serde_json::{json, Value};

use crate::{Call, TestApp};

fn numbers(status: &Value) -> Vec<(u64, String)> {
    status["used"]
        .as_array()
        .unwrap_or_else(|| panic!("no used list in {status}"))
        .iter()
        .map(|u| {
            (
                u["number"].as_u64().expect("a number"),
                u["used_at"].as_str().expect("a time").to_owned(),
            )
        })
        .collect()
}

pub async fn used_codes_are_named_by_their_line_on_the_sheet(app: TestApp) {
    let (secret, codes) = app.enrolled("nu").await;
    // An hour apart: a second mail of a kind within the hour waits for the hourly digest.
    app.clock.advance(3600);
    assert_eq!(app.verify("nu", &codes[4]).await.status, StatusCode::OK);
    app.clock.advance(3600);
    assert_eq!(app.verify("nu", &codes[1]).await.status, StatusCode::OK);
    assert_eq!(
        numbers(&app.status("nu").await),
        vec![
            (5, "2027-01-15T09:00:00Z".to_owned()),
            (2, "2027-01-15T10:00:00Z".to_owned())
        ],
        "by the time each was used, each named by its line"
    );
    let used = app.mailer.about("a backup code was used");
    assert!(
        used[0].text.contains("Backup code 5 was used to sign in"),
        "{}",
        used[0].text
    );
    assert!(
        used[1].text.contains("Backup code 2 was used to sign in"),
        "{}",
        used[1].text
    );
    assert!(
        used[1].html.contains("Backup code 2 was used"),
        "{}",
        used[1].html
    );

    // A code spent as a step-up proof is named too, on the trail and in the mail.
    app.clock.advance(3600);
    let fresh = app.regenerate_and_activate("nu", &codes[7]).await;
    let proof_mail = app.mailer.about("a backup code was used");
    let proof_mail = proof_mail.last().expect("the proof's mail");
    assert!(
        proof_mail.text.contains("Backup code 8 was used on your"),
        "{}",
        proof_mail.text
    );
    let trail = app
        .send(Call::new("GET", "/v1/audit?limit=50").user("nu"))
        .await
        .json();
    let named: Vec<_> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "backup_code_used")
        .map(|e| e["code_number"].clone())
        .collect();
    assert_eq!(named, vec![json!(8), json!(2), json!(5)], "newest first");

    // The new sheet is numbered afresh: its tenth line is code 10.
    assert_eq!(app.status("nu").await["used"], json!([]));
    app.clock.advance(90);
    assert_eq!(app.verify("nu", &fresh[9]).await.status, StatusCode::OK);
    assert_eq!(numbers(&app.status("nu").await)[0].0, 10);
    // A TOTP sign-in names no code.
    app.next_step();
    assert_eq!(
        app.verify("nu", &app.totp(&secret)).await.status,
        StatusCode::OK
    );
    assert_eq!(numbers(&app.status("nu").await).len(), 1);
}
