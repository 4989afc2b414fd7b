//! The token guard (the pool's Pre Token Generation trigger), from V1 events shaped as the
//! Cognito developer guide documents them: an enrolled user's sign-in gets tokens only by
//! consuming the pass a passed challenge left, once, whatever flow the client used. On the
//! DynamoDB store.

use std::sync::Arc;

use backup_codes::{cognito::TriggerError, domain::sign_in::Unenrolled};
use integration_tests::{
    cognito::{answer, token_event, tokens_issued},
    Backend, TestApp,
};
use serde_json::json;

const SIGN_IN_SOURCES: [&str; 4] = [
    "TokenGeneration_Authentication",
    "TokenGeneration_HostedAuth",
    "TokenGeneration_NewPasswordChallenge",
    "TokenGeneration_AuthenticateDevice",
];

async fn app() -> TestApp {
    TestApp::new(Backend::DynamoDb).await
}

async fn generate(
    app: &TestApp,
    user: &str,
    source: &str,
) -> Result<serde_json::Value, TriggerError> {
    app.cognito_trigger()
        .handle(token_event(user, source))
        .await
}

#[tokio::test]
async fn an_enrolled_user_gets_no_tokens_from_any_sign_in_without_a_passed_challenge() {
    let app = app().await;
    app.enrolled("kim").await;
    for source in SIGN_IN_SOURCES {
        let refused = generate(&app, "kim", source).await;
        assert!(
            matches!(refused, Err(TriggerError::NoSecondFactor)),
            "{source}: {refused:?}"
        );
    }
}

#[tokio::test]
async fn a_passed_challenge_lets_exactly_one_token_generation_through() {
    let app = app().await;
    let (secret, codes) = app.enrolled("kim").await;
    assert!(answer(&app, "kim", &codes[0]).await);
    let out = generate(&app, "kim", "TokenGeneration_Authentication")
        .await
        .expect("the passed sign-in gets its tokens");
    let mut unchanged = out.clone();
    unchanged["response"] =
        token_event("kim", "TokenGeneration_Authentication")["response"].clone();
    assert_eq!(
        unchanged,
        token_event("kim", "TokenGeneration_Authentication"),
        "only the response is written"
    );
    assert!(!tokens_issued(&app, "kim").await, "the pass was used up");

    app.next_step();
    assert!(answer(&app, "kim", &app.totp(&secret)).await);
    // Only the first generation gets it, whatever the source.
    let mut issued = vec![];
    for source in [
        "TokenGeneration_AuthenticateDevice",
        "TokenGeneration_Authentication",
    ] {
        issued.push(generate(&app, "kim", source).await.is_ok());
    }
    assert_eq!(issued, [true, false]);
}

#[tokio::test]
async fn a_wrong_answer_or_the_auth_servers_verify_leaves_no_pass() {
    let app = app().await;
    let (_, codes) = app.enrolled("kim").await;
    assert!(!answer(&app, "kim", "wrong-code").await);
    assert!(!tokens_issued(&app, "kim").await);
    // POST /v1/verify is the team's auth server, not a Cognito sign-in: it opens no door there.
    assert_eq!(app.verify("kim", &codes[1]).await.status, 200);
    assert!(!tokens_issued(&app, "kim").await);
}

#[tokio::test]
async fn a_refresh_passes_without_a_pass() {
    let app = app().await;
    app.enrolled("kim").await;
    assert!(generate(&app, "kim", "TokenGeneration_RefreshTokens")
        .await
        .is_ok());
}

#[tokio::test]
async fn an_unenrolled_user_follows_the_pools_setting() {
    let mut app = app().await;
    // One with nothing stored, one who started enrolling and never confirmed.
    let started = app
        .send(integration_tests::Call::new("POST", "/v1/totp/enrollment").user("pat"))
        .await;
    assert_eq!(started.status, 201);
    for user in ["lee", "pat"] {
        for source in SIGN_IN_SOURCES {
            assert!(
                generate(&app, user, source).await.is_ok(),
                "allow: {user} {source}"
            );
        }
    }
    app.reconfigure(|c| c.unenrolled_users = Unenrolled::Require);
    for user in ["lee", "pat"] {
        for source in SIGN_IN_SOURCES {
            let refused = generate(&app, user, source).await;
            assert!(
                matches!(refused, Err(TriggerError::NoSecondFactor)),
                "require: {user} {source}: {refused:?}"
            );
        }
        assert!(generate(&app, user, "TokenGeneration_RefreshTokens")
            .await
            .is_ok());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_token_generations_share_one_pass_and_one_wins() {
    let app = Arc::new(app().await);
    let (_, codes) = app.enrolled("kim").await;
    assert!(answer(&app, "kim", &codes[0]).await);
    let trigger = Arc::new(app.cognito_trigger());
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let trigger = trigger.clone();
            let event = token_event("kim", "TokenGeneration_Authentication");
            tokio::spawn(async move { trigger.handle(event).await.is_ok() })
        })
        .collect();
    let mut issued = 0;
    for task in tasks {
        issued += usize::from(task.await.unwrap());
    }
    assert_eq!(issued, 1);
}

#[tokio::test]
async fn other_sources_and_untrusted_shapes_get_no_tokens() {
    let app = app().await;
    let (_, codes) = app.enrolled("kim").await;
    assert!(answer(&app, "kim", &codes[0]).await);
    let client_credentials = generate(&app, "kim", "TokenGeneration_ClientCredentials").await;
    assert!(
        matches!(client_credentials, Err(TriggerError::UnknownTrigger(_))),
        "{client_credentials:?}"
    );
    let mut no_sub = token_event("kim", "TokenGeneration_Authentication");
    no_sub["request"]["userAttributes"]
        .as_object_mut()
        .unwrap()
        .remove("sub");
    assert!(matches!(
        app.cognito_trigger().handle(no_sub).await,
        Err(TriggerError::NoSecondFactor)
    ));
    let mut bad_sub = token_event("kim", "TokenGeneration_Authentication");
    bad_sub["request"]["userAttributes"]["sub"] = json!("kim\u{0}");
    assert!(app.cognito_trigger().handle(bad_sub).await.is_err());
    let mut malformed = token_event("kim", "TokenGeneration_Authentication");
    malformed["request"]["userAttributes"] = json!(["sub", "kim"]);
    assert!(matches!(
        app.cognito_trigger().handle(malformed).await,
        Err(TriggerError::Malformed { .. })
    ));
    assert!(
        tokens_issued(&app, "kim").await,
        "none of those spent the pass"
    );
}

#[tokio::test]
async fn a_user_who_turned_two_factor_off_is_unenrolled_again() {
    let mut app = app().await;
    let (_, codes) = app.enrolled("kim").await;
    assert!(!tokens_issued(&app, "kim").await);
    let off = app
        .send(
            integration_tests::Call::new("DELETE", "/v1/totp/enrollment")
                .user("kim")
                .json(json!({ "totp": codes[0] })),
        )
        .await;
    assert_eq!(off.status, 204, "{}", off.text);
    assert!(
        tokens_issued(&app, "kim").await,
        "allow: the password is enough again"
    );
    app.reconfigure(|c| c.unenrolled_users = Unenrolled::Require);
    assert!(
        !tokens_issued(&app, "kim").await,
        "require: set up an app first"
    );
}

/// The ID token's claims the guard adds: how the sign-in passed, and the codes left.
fn added_claims(out: &serde_json::Value) -> serde_json::Value {
    out["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"].clone()
}

#[tokio::test]
async fn the_id_token_says_how_the_sign_in_passed_and_how_many_codes_are_left() {
    let app = app().await;
    let (secret, codes) = app.enrolled("kim").await;
    assert!(answer(&app, "kim", &codes[0]).await);
    let out = generate(&app, "kim", "TokenGeneration_Authentication")
        .await
        .unwrap();
    assert_eq!(
        added_claims(&out),
        json!({
            "backup_codes:method": "backup_code",
            "backup_codes:remaining": "9",
            "backup_codes:low": "false"
        })
    );
    assert_eq!(
        out["response"]["claimsOverrideDetails"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["claimsToAddOrOverride"],
        "no group override, so the user keeps their groups; nothing suppressed"
    );

    // Down to the low threshold (2 by default): the claim says so.
    for code in &codes[1..8] {
        assert!(answer(&app, "kim", code).await);
        generate(&app, "kim", "TokenGeneration_Authentication")
            .await
            .unwrap();
    }
    app.next_step();
    assert!(answer(&app, "kim", &app.totp(&secret)).await);
    let out = generate(&app, "kim", "TokenGeneration_AuthenticateDevice")
        .await
        .unwrap();
    assert_eq!(
        added_claims(&out),
        json!({
            "backup_codes:method": "totp",
            "backup_codes:remaining": "2",
            "backup_codes:low": "true"
        })
    );
}

#[tokio::test]
async fn tokens_let_through_without_a_challenge_carry_none_of_our_claims() {
    let app = app().await;
    app.enrolled("kim").await;
    // A refresh, and an unenrolled user the pool lets in on the password: no challenge, no claim.
    for (user, source) in [
        ("kim", "TokenGeneration_RefreshTokens"),
        ("lee", "TokenGeneration_Authentication"),
    ] {
        let out = generate(&app, user, source).await.unwrap();
        assert_eq!(out, token_event(user, source), "{user} {source}");
    }
}

/// Cognito's `identities` attribute for a user of the identity provider "Okta".
const OKTA: &str = r#"[{"userId":"00u1","providerName":"Okta","providerType":"OIDC","issuer":null,"primary":true,"dateCreated":1700000000000}]"#;

/// A token event for `user` from `source` with Cognito's status and identities for them.
fn shaped(
    user: &str,
    source: &str,
    status: Option<&str>,
    identities: Option<&str>,
) -> serde_json::Value {
    let mut event = token_event(user, source);
    let attributes = event["request"]["userAttributes"].as_object_mut().unwrap();
    attributes.remove("cognito:user_status");
    if let Some(status) = status {
        attributes.insert("cognito:user_status".into(), json!(status));
    }
    if let Some(identities) = identities {
        attributes.insert("identities".into(), json!(identities));
    }
    event
}

#[tokio::test]
async fn a_federated_only_identitys_managed_login_passes_whatever_the_rule() {
    let mut app = app().await;
    app.reconfigure(|c| c.unenrolled_users = Unenrolled::Require);
    // One never enrolled (the pool requires two-factor), one enrolled before the API refused it.
    app.enrolled("fed-enrolled").await;
    for user in ["fed-new", "fed-enrolled"] {
        let event = shaped(
            user,
            "TokenGeneration_HostedAuth",
            Some("EXTERNAL_PROVIDER"),
            Some(OKTA),
        );
        let out = app
            .cognito_trigger()
            .handle(event)
            .await
            .expect("its identity provider owns its second factor");
        assert_eq!(
            added_claims(&out),
            json!({ "backup_codes:federated": "true" }),
            "{user}: the API reads this, and refuses to enroll it"
        );
        // Its refreshed tokens still say so.
        let refreshed = app
            .cognito_trigger()
            .handle(shaped(
                user,
                "TokenGeneration_RefreshTokens",
                Some("EXTERNAL_PROVIDER"),
                Some(OKTA),
            ))
            .await
            .unwrap();
        assert_eq!(
            added_claims(&refreshed),
            json!({ "backup_codes:federated": "true" })
        );
    }
}

#[tokio::test]
async fn no_sign_in_the_guard_cannot_tell_from_a_password_is_exempt() {
    let mut app = app().await;
    app.enrolled("kim").await;
    let refused = |out: Result<serde_json::Value, TriggerError>| {
        matches!(out, Err(TriggerError::NoSecondFactor))
    };
    for (why, source, status, identities) in [
        // A native user with a linked identity: on the managed login they may have typed the
        // password, and the event is the same.
        (
            "linked native user",
            "TokenGeneration_HostedAuth",
            Some("CONFIRMED"),
            Some(OKTA),
        ),
        (
            "linked, no status",
            "TokenGeneration_HostedAuth",
            None,
            Some(OKTA),
        ),
        (
            "no identities",
            "TokenGeneration_HostedAuth",
            Some("EXTERNAL_PROVIDER"),
            None,
        ),
        (
            "empty identities",
            "TokenGeneration_HostedAuth",
            Some("EXTERNAL_PROVIDER"),
            Some("[]"),
        ),
        (
            "identities not a list",
            "TokenGeneration_HostedAuth",
            Some("EXTERNAL_PROVIDER"),
            Some("Okta"),
        ),
        (
            "identities naming no provider",
            "TokenGeneration_HostedAuth",
            Some("EXTERNAL_PROVIDER"),
            Some(r#"[{"userId":"00u1"}]"#),
        ),
        // Federated attributes outside the managed login: the custom flow (no pass) and a new
        // password (a federated user has none) are judged as any sign-in.
        (
            "custom flow",
            "TokenGeneration_Authentication",
            Some("EXTERNAL_PROVIDER"),
            Some(OKTA),
        ),
        (
            "new password",
            "TokenGeneration_NewPasswordChallenge",
            Some("EXTERNAL_PROVIDER"),
            Some(OKTA),
        ),
    ] {
        let out = app
            .cognito_trigger()
            .handle(shaped("kim", source, status, identities))
            .await;
        assert!(
            refused(out),
            "{why}: an enrolled user without a passed challenge gets no tokens"
        );
    }
    // And under a pool that requires two-factor, an unenrolled linked user is refused too.
    app.reconfigure(|c| c.unenrolled_users = Unenrolled::Require);
    let out = app
        .cognito_trigger()
        .handle(shaped(
            "lin",
            "TokenGeneration_HostedAuth",
            Some("CONFIRMED"),
            Some(OKTA),
        ))
        .await;
    assert!(refused(out));
    // A native user's refresh carries no federated claim.
    let out = app
        .cognito_trigger()
        .handle(shaped(
            "kim",
            "TokenGeneration_RefreshTokens",
            Some("CONFIRMED"),
            Some(OKTA),
        ))
        .await
        .unwrap();
    assert_eq!(added_claims(&out), serde_json::Value::Null);
}
