//! The Cognito custom-authentication triggers from events shaped as the Cognito developer guide
//! documents them (tests/fixtures/cognito-*.json): every branch of Define, Create, and Verify
//! through the same verify as `POST /v1/verify`, on the DynamoDB store. The enrollment
//! challenge and the token guard have files of their own.

use std::sync::Arc;

use backup_codes::{cognito::TriggerError, domain::sign_in::Unenrolled};
use integration_tests::{
    cognito::{answer, define_event, entry, fixture, password_passed, verify_event},
    Backend, Call, TestApp,
};
use serde_json::{json, Value};

async fn app() -> TestApp {
    TestApp::new(Backend::DynamoDb).await
}

/// (challengeName, issueTokens, failAuthentication) as Define answers.
async fn define(app: &TestApp, user: &str, session: Vec<Value>) -> (Value, Value, Value) {
    let out = app
        .cognito_trigger()
        .handle(define_event(user, session))
        .await
        .expect("define answers");
    let r = &out["response"];
    (
        r["challengeName"].clone(),
        r["issueTokens"].clone(),
        r["failAuthentication"].clone(),
    )
}

const ASK: (&str, bool, bool) = ("CUSTOM_CHALLENGE", false, false);

fn is(got: (Value, Value, Value), want: (&str, bool, bool)) -> bool {
    let name = if want.0.is_empty() {
        Value::Null
    } else {
        json!(want.0)
    };
    got == (name, json!(want.1), json!(want.2))
}

const PASSWORD: (&str, bool, bool) = ("PASSWORD_VERIFIER", false, false);
const TOKENS: (&str, bool, bool) = ("", true, false);
const FAIL: (&str, bool, bool) = ("", false, true);

#[tokio::test]
async fn define_asks_for_the_password_after_srp_a_whoever_the_user_is() {
    let app = app().await;
    let got = define(&app, "kim", vec![entry("SRP_A", true)]).await;
    assert!(is(got.clone(), PASSWORD), "{got:?}");
    let mut unknown = define_event("nobody", vec![entry("SRP_A", true)]);
    unknown["request"]["userNotFound"] = json!(true);
    let out = app.cognito_trigger().handle(unknown).await.unwrap();
    assert_eq!(out["response"]["challengeName"], "PASSWORD_VERIFIER");
}

#[tokio::test]
async fn define_asks_an_enrolled_user_for_a_code_after_the_password() {
    let app = app().await;
    app.enrolled("kim").await;
    let got = define(&app, "kim", password_passed()).await;
    assert!(is(got.clone(), ASK), "{got:?}");
}

#[tokio::test]
async fn define_lets_an_unenrolled_user_through_or_asks_them_to_enroll_as_configured() {
    let mut app = app().await;
    let got = define(&app, "lee", password_passed()).await;
    assert!(is(got.clone(), TOKENS), "allow is the default: {got:?}");
    app.reconfigure(|c| c.unenrolled_users = Unenrolled::Require);
    let got = define(&app, "lee", password_passed()).await;
    assert!(
        is(got.clone(), ASK),
        "the enrollment is the challenge: {got:?}"
    );
}

#[tokio::test]
async fn define_refuses_a_user_cognito_did_not_find_even_past_the_password() {
    let app = app().await;
    let mut event = define_event("nobody", password_passed());
    event["request"]["userNotFound"] = json!(true);
    let out = app.cognito_trigger().handle(event).await.unwrap();
    assert_eq!(out["response"]["failAuthentication"], true);
    assert_eq!(out["response"]["issueTokens"], false);
}

#[tokio::test]
async fn define_issues_tokens_for_a_right_answer_and_fails_the_third_wrong_one() {
    let app = app().await;
    app.enrolled("kim").await;
    let mut session = password_passed();
    session.push(entry("CUSTOM_CHALLENGE", true));
    assert!(is(define(&app, "kim", session).await, TOKENS));

    let mut session = password_passed();
    for wrong in 1..=3 {
        session.push(entry("CUSTOM_CHALLENGE", false));
        let got = define(&app, "kim", session.clone()).await;
        let want = if wrong < 3 { ASK } else { FAIL };
        assert!(is(got.clone(), want), "after {wrong} wrong: {got:?}");
    }
}

#[tokio::test]
async fn define_fails_any_other_session_shape() {
    let app = app().await;
    app.enrolled("kim").await;
    for session in [
        vec![],
        vec![entry("PASSWORD_VERIFIER", true)],
        vec![entry("SRP_A", false)],
        vec![entry("SRP_A", true), entry("PASSWORD_VERIFIER", false)],
        vec![entry("CUSTOM_CHALLENGE", true)],
        vec![entry("SRP_A", true), entry("CUSTOM_CHALLENGE", true)],
        vec![
            entry("SRP_A", true),
            entry("PASSWORD_VERIFIER", true),
            entry("DEVICE_SRP_AUTH", true),
        ],
    ] {
        let got = define(&app, "kim", session.clone()).await;
        assert!(is(got.clone(), FAIL), "{session:?}: {got:?}");
    }
}

#[tokio::test]
async fn create_names_the_challenge_and_carries_no_secret() {
    let app = app().await;
    let out = app
        .cognito_trigger()
        .handle(fixture("create-auth-challenge"))
        .await
        .unwrap();
    let r = &out["response"];
    assert_eq!(
        r["publicChallengeParameters"],
        json!({"type": "TOTP_OR_BACKUP_CODE"})
    );
    assert_eq!(r["privateChallengeParameters"], json!({}));
    assert_eq!(r["challengeMetadata"], "TOTP_OR_BACKUP_CODE");
}

#[tokio::test]
async fn verify_accepts_a_totp_code_once() {
    let app = app().await;
    let (secret, _) = app.enrolled("kim").await;
    app.next_step();
    let code = app.totp(&secret);
    assert!(answer(&app, "kim", &code).await);
    assert!(!answer(&app, "kim", &code).await, "a replayed TOTP code");
}

#[tokio::test]
async fn verify_accepts_a_backup_code_once_and_audits_it_with_the_client_metadata() {
    let app = app().await;
    let (_, codes) = app.enrolled("kim").await;
    assert!(answer(&app, "kim", &codes[0]).await);
    assert!(!answer(&app, "kim", &codes[0]).await);
    assert_eq!(app.status("kim").await["remaining"], 9);

    let trail = app.send(Call::new("GET", "/v1/audit").user("kim")).await;
    let events: Value = serde_json::from_str(&trail.text).unwrap();
    let used = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "backup_code_used")
        .expect("the use is audited")
        .clone();
    assert_eq!(used["ip"], "203.0.113.7");
    assert_eq!(used["user_agent"], "Mozilla/5.0 (X11; Linux x86_64)");
    assert_eq!(
        used["reported_by_sign_in_client"], true,
        "clientMetadata is whatever the signing-in client chose"
    );
    assert_eq!(used["remaining_codes"], 9);
    let mails = app.mailer.about("backup code was used");
    let mail = mails
        .iter()
        .find(|m| m.to.as_str() == "kim@example.com")
        .expect("the user is told");
    assert!(
        mail.text
            .contains("IP address (reported by the sign-in client): 203.0.113.7"),
        "{}",
        mail.text
    );
}

#[tokio::test]
async fn verify_leaves_out_client_metadata_that_does_not_parse() {
    let app = app().await;
    let (_, codes) = app.enrolled("kim").await;
    let mut event = verify_event("kim", &codes[0]);
    event["request"]["clientMetadata"] = json!({
        "ip": "not an ip",
        "user_agent": "ok\u{7}\u{202E}\u{2028}\u{200B}agent confirm at https://evil.example"
    });
    let out = app.cognito_trigger().handle(event).await.unwrap();
    assert_eq!(out["response"]["answerCorrect"], true);
    let trail = app.send(Call::new("GET", "/v1/audit").user("kim")).await;
    let events: Value = serde_json::from_str(&trail.text).unwrap();
    let used = &events["events"][0];
    assert_eq!(
        (used["type"].as_str(), &used["ip"]),
        (Some("backup_code_used"), &Value::Null)
    );
    assert_eq!(
        used["user_agent"],
        "okagent confirm at https://evil.example"
    );
    let mail = app.mailer.last();
    assert!(
        !mail.text.contains("evil.example") && !mail.html.contains("evil.example"),
        "a mail never repeats the client's text: {}",
        mail.text
    );
}

#[tokio::test]
async fn verify_refuses_the_right_code_once_the_ledger_is_full() {
    let app = app().await;
    let (_, codes) = app.enrolled("kim").await;
    let threshold = app.config.settings.lockout.threshold;
    for _ in 0..threshold {
        assert!(!answer(&app, "kim", "wrong-code-1").await);
    }
    assert!(
        !answer(&app, "kim", &codes[0]).await,
        "locked: the right code is refused"
    );
    assert_eq!(app.status("kim").await["remaining"], 10, "and not used up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_answers_with_one_backup_code_are_accepted_once() {
    let app = Arc::new(app().await);
    let (_, codes) = app.enrolled("kim").await;
    let trigger = Arc::new(app.cognito_trigger());
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let trigger = trigger.clone();
            let event = verify_event("kim", &codes[0]);
            tokio::spawn(async move { trigger.handle(event).await.unwrap() })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        if task.await.unwrap()["response"]["answerCorrect"] == true {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1);
}

#[tokio::test]
async fn verify_is_wrong_for_an_unknown_user_a_missing_answer_or_a_not_found_user() {
    let app = app().await;
    let (_, codes) = app.enrolled("kim").await;
    assert!(!answer(&app, "nobody", &codes[0]).await);
    let mut missing = verify_event("kim", &codes[0]);
    missing["request"]["challengeAnswer"] = Value::Null;
    let out = app.cognito_trigger().handle(missing).await.unwrap();
    assert_eq!(out["response"]["answerCorrect"], false);
    let mut not_found = verify_event("kim", &codes[0]);
    not_found["request"]["userNotFound"] = json!(true);
    let out = app.cognito_trigger().handle(not_found).await.unwrap();
    assert_eq!(out["response"]["answerCorrect"], false);
    assert_eq!(app.status("kim").await["remaining"], 10);
}

#[tokio::test]
async fn other_triggers_and_malformed_events_are_errors() {
    let app = app().await;
    let mut other = fixture("define-auth-challenge");
    other["triggerSource"] = json!("PreSignUp_SignUp");
    assert!(matches!(
        app.cognito_trigger().handle(other).await,
        Err(TriggerError::UnknownTrigger(_))
    ));
    let mut malformed = fixture("define-auth-challenge");
    malformed["request"]["session"] = json!("not a list");
    assert!(matches!(
        app.cognito_trigger().handle(malformed).await,
        Err(TriggerError::Malformed { .. })
    ));
}
