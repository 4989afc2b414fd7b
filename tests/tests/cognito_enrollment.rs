//! Required two-factor (`UNENROLLED_USERS=require`) in a Cognito sign-in: a user without an
//! authenticator gets its setup as the challenge after the password, and the first code from
//! the app confirms it, checked like any confirm (the attempt ledger, replay), then lets one
//! token generation through. From fixture events, on the DynamoDB store.

use backup_codes::domain::sign_in::Unenrolled;
use integration_tests::{
    cognito::{answer_enrollment, create, password_passed, tokens_issued, verify_event},
    Backend, Call, TestApp,
};
use serde_json::{json, Value};

async fn app() -> TestApp {
    let mut app = TestApp::new(Backend::DynamoDb).await;
    app.reconfigure(|c| c.unenrolled_users = Unenrolled::Require);
    app
}

/// The session after the password and one wrong answer to the challenge Create described.
fn after_a_wrong_answer(metadata: &Value) -> Vec<Value> {
    let mut session = password_passed();
    session.push(json!({
        "challengeName": "CUSTOM_CHALLENGE", "challengeResult": false, "challengeMetadata": metadata
    }));
    session
}

#[tokio::test]
async fn a_new_user_sets_up_the_authenticator_as_the_challenge_and_gets_tokens() {
    let sessions = std::sync::Arc::new(integration_tests::RecordingSessions::default());
    let app = app().await.with_sessions(sessions.clone());
    let (public, private, metadata) = create(&app, "new", password_passed()).await;
    assert_eq!(public["type"], "TOTP_ENROLLMENT");
    let secret = public["secret"]
        .as_str()
        .expect("the secret, for typing in")
        .to_owned();
    let uri = public["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(
        uri.contains("kim%40example.com") || uri.contains("kim@example.com"),
        "labelled with the verified email: {uri}"
    );
    assert_eq!(private["type"], "TOTP_ENROLLMENT");
    let sealed = private["enrollment"].as_str().unwrap();
    assert!(
        !private.to_string().contains(&secret) && !metadata.to_string().contains(&secret),
        "what Cognito keeps holds the secret sealed only"
    );
    assert_eq!(metadata, json!(format!("TOTP_ENROLLMENT:{sealed}")));
    assert!(
        !tokens_issued(&app, "new").await,
        "not before the first code"
    );

    assert!(answer_enrollment(&app, "new", &private, &app.totp(&secret)).await);
    let tokens = app
        .cognito_trigger()
        .handle(integration_tests::cognito::token_event(
            "new",
            "TokenGeneration_Authentication",
        ))
        .await
        .expect("the passed challenge gets the tokens");
    assert_eq!(
        tokens["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"],
        json!({
            "backup_codes:method": "enrollment",
            "backup_codes:remaining": "0",
            "backup_codes:low": "true"
        }),
        "the ID token says the user just set up their app and has no backup codes yet"
    );
    assert!(!tokens_issued(&app, "new").await, "once");
    // Enrolled at sign-in: the sessions opened before it (on the password alone, when the
    // pool allowed that) end, from the notifier.
    app.deliver().await;
    assert_eq!(sessions.ended(), ["new"]);

    // Their tokens carry the address the pool has for them, as the sign-in's event did.
    let status = app
        .send(
            Call::new("GET", "/v1/backup-codes")
                .user("new")
                .claim("email", "kim@example.com"),
        )
        .await
        .json();
    assert_eq!(
        (status["total"].clone(), status["remaining"].clone()),
        (json!(0), json!(0)),
        "enrolled, no backup codes yet: they are made after sign-in"
    );
    let trail = app
        .send(Call::new("GET", "/v1/audit").user("new"))
        .await
        .json();
    let kinds: Vec<_> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(kinds, vec![json!("enrolled")]);
    assert_eq!(
        trail["events"][0]["ip"], "203.0.113.7",
        "the client's metadata is the source"
    );

    // The next sign-in asks for a code, and the enrollment's code is a replay.
    let (public, private, _) = create(&app, "new", password_passed()).await;
    assert_eq!(public, json!({"type": "TOTP_OR_BACKUP_CODE"}));
    assert_eq!(private, json!({}));
    let replay = verify_event("new", &app.totp(&secret));
    let out = app.cognito_trigger().handle(replay).await.unwrap();
    assert_eq!(out["response"]["answerCorrect"], false);
    app.next_step();
    let fresh = verify_event("new", &app.totp(&secret));
    let out = app.cognito_trigger().handle(fresh).await.unwrap();
    assert_eq!(out["response"]["answerCorrect"], true);
}

#[tokio::test]
async fn a_wrong_first_code_asks_again_with_the_same_secret() {
    let app = app().await;
    let (public, private, metadata) = create(&app, "new", password_passed()).await;
    let secret = public["secret"].as_str().unwrap().to_owned();
    assert!(!answer_enrollment(&app, "new", &private, "000000").await);
    assert!(!tokens_issued(&app, "new").await);
    let (again, again_private, _) = create(&app, "new", after_a_wrong_answer(&metadata)).await;
    assert_eq!(again["secret"], json!(secret), "the app already holds it");
    assert_eq!(again_private, private);
    assert!(answer_enrollment(&app, "new", &again_private, &app.totp(&secret)).await);
}

#[tokio::test]
async fn enrollment_answers_count_in_the_attempt_ledger() {
    let app = app().await;
    let (public, private, _) = create(&app, "new", password_passed()).await;
    for _ in 0..app.config.settings.lockout.threshold {
        assert!(!answer_enrollment(&app, "new", &private, "000000").await);
    }
    let right = app.totp(public["secret"].as_str().unwrap());
    assert!(
        !answer_enrollment(&app, "new", &private, &right).await,
        "locked"
    );
    assert!(!tokens_issued(&app, "new").await);
}

#[tokio::test]
async fn an_enrollment_answer_without_its_enrollment_or_of_an_unknown_type_is_wrong() {
    let app = app().await;
    let (public, _, _) = create(&app, "new", password_passed()).await;
    let code = app.totp(public["secret"].as_str().unwrap());
    // Another user's sealed secret, in this user's sign-in: it does not open for them.
    let (other, other_private, _) = create(&app, "other", password_passed()).await;
    let other_code = app.totp(other["secret"].as_str().unwrap());
    assert!(!answer_enrollment(&app, "new", &other_private, &other_code).await);
    for private in [
        json!({"type": "TOTP_ENROLLMENT"}),
        json!({"type": "TOTP_ENROLLMENT", "enrollment": "0000000000000000"}),
        json!({"type": "TOTP_ENROLLMENT", "enrollment": "not base64 at all!"}),
        json!({"type": "SOMETHING_ELSE"}),
    ] {
        assert!(
            !answer_enrollment(&app, "new", &private, &code).await,
            "{private}"
        );
    }
    let status = app
        .send(Call::new("GET", "/v1/backup-codes").user("new"))
        .await;
    assert_eq!(status.status, 409, "still not enrolled: {}", status.text);
}

#[tokio::test]
async fn an_enrolled_user_is_asked_for_a_code_and_an_open_pool_never_poses_the_setup() {
    let mut app = app().await;
    app.enrolled("kim").await;
    let (public, _, _) = create(&app, "kim", password_passed()).await;
    assert_eq!(public, json!({"type": "TOTP_OR_BACKUP_CODE"}));
    app.reconfigure(|c| c.unenrolled_users = Unenrolled::Allow);
    let (public, _, _) = create(&app, "lee", password_passed()).await;
    assert_eq!(public, json!({"type": "TOTP_OR_BACKUP_CODE"}));
}
