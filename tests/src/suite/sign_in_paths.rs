//! The Cognito sign-in's paths a security review found untried, on both stores: an enrollment
//! posed at sign-in never breaks one in progress elsewhere, and a pass that a failed trigger
//! left behind serves no other sign-in.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use serde_json::json;
use tokio::sync::Barrier;

use crate::{
    cognito::{
        answer, answer_enrollment, create, password_passed, token_event, token_event_through,
        tokens_issued, FIXTURE_CLIENT,
    },
    Call, TestApp,
};
use backup_codes::{cognito::TriggerError, domain::sign_in::Unenrolled};

fn requiring_two_factor(mut app: TestApp) -> TestApp {
    app.reconfigure(|c| c.unenrolled_users = Unenrolled::Require);
    app
}

/// What the user's settings show while they set up an authenticator there.
async fn settings_enrollment(app: &TestApp, user: &str) -> String {
    let started = app
        .send(Call::new("POST", "/v1/totp/enrollment").user(user))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    started.json()["secret"].as_str().unwrap().to_owned()
}

pub async fn each_sign_in_shows_its_own_secret_and_the_first_confirmed_wins(app: TestApp) {
    let app = requiring_two_factor(app);
    let (first, first_private, _) = create(&app, "new", password_passed()).await;
    let (second, second_private, _) = create(&app, "new", password_passed()).await;
    assert_ne!(
        first["secret"], second["secret"],
        "never a secret another sign-in saw"
    );
    let first_code = app.totp(first["secret"].as_str().unwrap());
    let second_code = app.totp(second["secret"].as_str().unwrap());
    assert!(
        !answer_enrollment(&app, "new", &second_private, &first_code).await,
        "a sign-in adopts only the secret it showed"
    );
    assert!(
        answer_enrollment(&app, "new", &first_private, &first_code).await,
        "the later sign-in's Create did not take the earlier one's enrollment away"
    );
    assert!(tokens_issued(&app, "new").await);
    assert!(
        !answer_enrollment(&app, "new", &second_private, &second_code).await,
        "enrolled now: the other sign-in's secret can no longer be adopted"
    );
    assert!(!tokens_issued(&app, "new").await);
}

pub async fn sign_ins_never_break_an_enrollment_in_progress_in_the_settings(app: TestApp) {
    let app = requiring_two_factor(app);
    let secret = settings_enrollment(&app, "new").await;
    // Someone with the password signs in again and again while the user scans the QR.
    let mut theirs = Vec::new();
    for _ in 0..3 {
        let (public, private, _) = create(&app, "new", password_passed()).await;
        assert_ne!(
            public["secret"],
            json!(secret),
            "never the settings' secret"
        );
        theirs.push((public, private));
    }
    let confirmed = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("new")
                .json(json!({ "code": app.totp(&secret) })),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    let (public, private) = &theirs[0];
    let code = app.totp(public["secret"].as_str().unwrap());
    assert!(
        !answer_enrollment(&app, "new", private, &code).await,
        "the user's own enrollment came first"
    );
    assert_eq!(app.trail_kinds("new").await, ["codes_issued", "enrolled"]);
}

pub async fn a_sign_in_in_progress_survives_a_new_start_in_the_settings(app: TestApp) {
    let app = requiring_two_factor(app);
    let (public, private, _) = create(&app, "new", password_passed()).await;
    settings_enrollment(&app, "new").await;
    let code = app.totp(public["secret"].as_str().unwrap());
    assert!(answer_enrollment(&app, "new", &private, &code).await);
    assert!(tokens_issued(&app, "new").await);
    assert_eq!(
        app.status("new").await["total"],
        0,
        "enrolled with the sign-in's app; codes come after sign-in"
    );
}

pub async fn a_pass_a_failure_left_behind_serves_no_other_sign_in(app: TestApp) {
    // Verify passed, then Define or Pre Token Generation failed: the pass is still there.
    let (_, codes) = app.enrolled("kim").await;
    assert!(answer(&app, "kim", &codes[0]).await);
    let trigger = app.cognito_trigger();
    // Someone with the password signs in on another app client, or on the managed login, or
    // sets a temporary password: none of these ran the challenge, so none gets the pass.
    for (source, client) in [
        ("TokenGeneration_Authentication", "another0client1id"),
        ("TokenGeneration_AuthenticateDevice", "another0client1id"),
        ("TokenGeneration_HostedAuth", FIXTURE_CLIENT),
        ("TokenGeneration_NewPasswordChallenge", FIXTURE_CLIENT),
    ] {
        let refused = trigger
            .handle(token_event_through("kim", source, client))
            .await;
        assert!(
            matches!(refused, Err(TriggerError::NoSecondFactor)),
            "{source} via {client}: {refused:?}"
        );
    }
    let mut no_client = token_event("kim", "TokenGeneration_Authentication");
    no_client["callerContext"]["clientId"] = json!("bad client/id");
    assert!(trigger.handle(no_client).await.is_err());
    // On the sign-in's own client it lasts 15 s, Cognito's three trigger timeouts.
    app.clock.advance(15);
    assert!(!tokens_issued(&app, "kim").await, "expired");

    // The next sign-in's pass, taken in time on its own client.
    app.next_step();
    assert!(answer(&app, "kim", &codes[1]).await);
    app.clock.advance(14);
    assert!(
        tokens_issued(&app, "kim").await,
        "the sign-in that passed, on its client, within 15 s"
    );
}

pub async fn a_sign_in_and_the_settings_confirming_at_once_enroll_one_authenticator(app: TestApp) {
    let app = Arc::new(requiring_two_factor(app));
    for (round, user) in ["racer0", "racer1", "racer2", "racer3", "racer4", "racer5"]
        .into_iter()
        .enumerate()
    {
        let settings_secret = settings_enrollment(&app, user).await;
        let (public, private, _) = create(&app, user, password_passed()).await;
        let sign_in_code = app.totp(public["secret"].as_str().unwrap());
        let barrier = Arc::new(Barrier::new(2));
        let settings = {
            let (app, barrier) = (app.clone(), barrier.clone());
            let code = app.totp(&settings_secret);
            tokio::spawn(async move {
                barrier.wait().await;
                let call = Call::new("POST", "/v1/totp/enrollment/confirm")
                    .user(user)
                    .json(json!({ "code": code }));
                app.send(call).await.status == StatusCode::OK
            })
        };
        let sign_in = {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                answer_enrollment(&app, user, &private, &sign_in_code).await
            })
        };
        let (settings, sign_in) = (settings.await.unwrap(), sign_in.await.unwrap());
        assert!(
            settings ^ sign_in,
            "round {round}: exactly one wins (settings {settings}, sign-in {sign_in})"
        );
        // The winner's app is the one that works from now on.
        app.next_step();
        let winner = if settings {
            settings_secret
        } else {
            public["secret"].as_str().unwrap().to_owned()
        };
        assert_eq!(app.verify(user, &app.totp(&winner)).await.status, 200);
    }
}
