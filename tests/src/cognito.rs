//! Cognito trigger events shaped as the Cognito developer guide documents them
//! (tests/fixtures/cognito-*.json), for the trigger tests to fill in and send.

use serde_json::{json, Value};

use crate::TestApp;

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/fixtures/cognito-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// One entry of a sign-in's session as Cognito reports it to the triggers.
pub fn entry(name: &str, result: bool) -> Value {
    json!({ "challengeName": name, "challengeResult": result, "challengeMetadata": null })
}

/// SRP_A and PASSWORD_VERIFIER, both passed: the session right after the password.
pub fn password_passed() -> Vec<Value> {
    vec![entry("SRP_A", true), entry("PASSWORD_VERIFIER", true)]
}

pub fn define_event(user: &str, session: Vec<Value>) -> Value {
    let mut event = fixture("define-auth-challenge");
    event["request"]["userAttributes"]["sub"] = json!(user);
    event["request"]["session"] = json!(session);
    event
}

pub fn create_event(user: &str, session: Vec<Value>) -> Value {
    let mut event = fixture("create-auth-challenge");
    event["request"]["userAttributes"]["sub"] = json!(user);
    event["request"]["session"] = json!(session);
    event
}

pub fn verify_event(user: &str, answer: &str) -> Value {
    let mut event = fixture("verify-auth-challenge");
    event["request"]["userAttributes"]["sub"] = json!(user);
    event["request"]["challengeAnswer"] = json!(answer);
    event
}

/// A V1 Pre Token Generation event for `user`, from `trigger_source`.
pub fn token_event(user: &str, trigger_source: &str) -> Value {
    let mut event = fixture("pre-token-generation");
    event["request"]["userAttributes"]["sub"] = json!(user);
    event["triggerSource"] = json!(trigger_source);
    event
}

/// The Verify trigger's verdict on `code` as the answer to a code challenge.
pub async fn answer(app: &TestApp, user: &str, code: &str) -> bool {
    let out = app
        .cognito_trigger()
        .handle(verify_event(user, code))
        .await
        .expect("verify answers");
    app.deliver().await;
    out["response"]["answerCorrect"]
        .as_bool()
        .expect("a boolean")
}

/// Whether the token guard lets Cognito generate tokens for `user` now, at a sign-in.
pub async fn tokens_issued(app: &TestApp, user: &str) -> bool {
    app.cognito_trigger()
        .handle(token_event(user, "TokenGeneration_Authentication"))
        .await
        .is_ok()
}

/// The challenge Create poses after `session`: (public parameters, private ones, metadata).
pub async fn create(app: &TestApp, user: &str, session: Vec<Value>) -> (Value, Value, Value) {
    let out = app
        .cognito_trigger()
        .handle(create_event(user, session))
        .await
        .expect("create answers");
    let r = &out["response"];
    (
        r["publicChallengeParameters"].clone(),
        r["privateChallengeParameters"].clone(),
        r["challengeMetadata"].clone(),
    )
}

/// The enrollment challenge's answer, as Cognito sends it with Create's private parameters.
pub async fn answer_enrollment(app: &TestApp, user: &str, private: &Value, code: &str) -> bool {
    let mut event = verify_event(user, code);
    event["request"]["privateChallengeParameters"] = private.clone();
    let out = app
        .cognito_trigger()
        .handle(event)
        .await
        .expect("verify answers");
    out["response"]["answerCorrect"]
        .as_bool()
        .expect("a boolean")
}

/// A Pre Token Generation event for `user` from `trigger_source`, through the app client
/// `client` (the fixtures' client is `FIXTURE_CLIENT`).
pub fn token_event_through(user: &str, trigger_source: &str, client: &str) -> Value {
    let mut event = token_event(user, trigger_source);
    event["callerContext"]["clientId"] = json!(client);
    event
}

/// The app client every fixture event names.
pub const FIXTURE_CLIENT: &str = "1example23456789";
