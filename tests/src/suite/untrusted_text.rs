//! Text somebody else chose, on its way to a user's mail and audit trail: layout-changing and
//! invisible characters are dropped (a control character in an explicit field is refused), and no
//! free text (a URL, "confirm your identity at ...") is ever repeated in a mail from us.

use lambda_http::http::StatusCode;
use serde_json::json;

use crate::{Call, TestApp};

/// What a security review put in `user_agent`: bidi overrides and isolates, line and
/// paragraph separators, zero-width characters.
const HIDDEN: [&str; 8] = [
    "\u{202E}", "\u{2066}", "\u{2069}", "\u{2028}", "\u{2029}", "\u{200B}", "\u{200D}", "\u{FEFF}",
];

const PHISHING: &str = "Firefox/140.0 confirm your identity at https://evil.example/verify";

/// In verify's `user_agent` field, hidden characters are dropped rather than refused (a
/// sign-in never fails on a browser's odd header); a control character is still a malformed
/// request.
pub async fn hidden_characters_in_a_reported_user_agent_are_dropped(app: TestApp) {
    let (_, codes) = app.enrolled("ria").await;
    for (hidden, code) in HIDDEN.iter().zip(&codes) {
        let agent = format!("Firefox{hidden}/140.0");
        let reply = app
            .send(Call::new("POST", "/v1/verify").json(json!({
                "user_id": "ria", "code": code, "user_agent": agent
            })))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{hidden:?}: {}", reply.text);
        let mail = app.mailer.last();
        assert!(
            !mail.text.contains(*hidden) && !mail.html.contains(*hidden),
            "{hidden:?}"
        );
    }
    let (events, _) =
        super::events::whole_trail(&app, "/v1/audit", Call::new("GET", "").user("ria"), 20).await;
    let used: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "backup_code_used")
        .map(|e| e["user_agent"].as_str().unwrap())
        .collect();
    assert_eq!(used, vec!["Firefox/140.0"; HIDDEN.len()]);

    let reply = app
        .send(Call::new("POST", "/v1/verify").json(json!({
            "user_id": "ria", "code": codes[9], "user_agent": "Firefox\u{85}/140.0"
        })))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.json()["error"], "invalid_field");
    assert_eq!(
        app.status("ria").await["remaining"],
        2,
        "the malformed request used nothing"
    );
}

pub async fn hidden_characters_in_a_user_agent_header_are_dropped(app: TestApp) {
    let (secret, _) = app.enrolled("sol").await;
    app.next_step();
    let forged = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0\u{2028}IP address: 198.51.100.1\
                  \u{2029}Device: your usual laptop\u{202E}";
    let reply = app
        .send(
            Call::new("DELETE", "/v1/backup-codes")
                .user("sol")
                .header("user-agent", forged)
                .header("x-otp", app.totp(&secret)),
        )
        .await;
    assert!(reply.status.is_success(), "{}", reply.text);
    let (events, _) =
        super::events::whole_trail(&app, "/v1/audit", Call::new("GET", "").user("sol"), 10).await;
    assert_eq!(events[0]["type"], "codes_removed");
    let agent = events[0]["user_agent"].as_str().unwrap();
    assert!(
        !agent.contains(['\u{2028}', '\u{2029}', '\u{202E}']),
        "the trail keeps the text without its hidden characters: {agent:?}"
    );
    assert!(
        agent.starts_with("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0IP address"),
        "{agent:?}"
    );
}

/// A user agent of free text is never printed in the mail: the mail names a browser and a
/// system from fixed lists, and says the sign-in client reported them.
pub async fn free_text_in_a_user_agent_never_reaches_the_mail(app: TestApp) {
    let (_, codes) = app.enrolled("tao").await;
    let reply = app
        .send(Call::new("POST", "/v1/verify").json(json!({
            "user_id": "tao", "code": codes[0], "ip": "198.51.100.1", "user_agent": PHISHING
        })))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let mail = app.mailer.last();
    for text in [&mail.text, &mail.html] {
        assert!(!text.contains("evil.example"), "{text}");
        assert!(!text.contains("confirm your identity"), "{text}");
    }
    assert!(
        mail.text
            .contains("Device (reported by the sign-in client): \u{201c}Firefox\u{201d}"),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .contains("IP address (reported by the sign-in client): 198.51.100.1"),
        "{}",
        mail.text
    );
    // The trail keeps what was reported, as it was reported.
    let (events, _) =
        super::events::whole_trail(&app, "/v1/audit", Call::new("GET", "").user("tao"), 10).await;
    assert_eq!(events[0]["user_agent"], PHISHING);
    assert_eq!(events[0]["reported_by_sign_in_client"], true);
}
