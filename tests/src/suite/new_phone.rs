//! A new phone in the behaviour suite: an enrolled user replaces the authenticator behind a
//! step-up proof; the current app keeps working until a code from the new one confirms it, and
//! is refused from then on. A replacement left unconfirmed is dropped.

use lambda_http::http::StatusCode;
use serde_json::json;

use super::{assert_burst_is_bounded, is_invalid_code, wrong_totp};
use crate::{Call, TestApp};

/// Starts replacing `user`'s authenticator with `proof`: the new secret.
pub(crate) async fn start_replacement(app: &TestApp, user: &'static str, proof: &str) -> String {
    let started = app
        .send(
            Call::new("POST", "/v1/totp/enrollment")
                .user(user)
                .header("x-otp", proof),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let body = started.json();
    assert!(body["qr_svg"].as_str().unwrap().contains("<svg"), "{body}");
    body["secret"].as_str().unwrap().to_owned()
}

pub(crate) async fn confirm(app: &TestApp, user: &'static str, code: &str) -> crate::Reply {
    app.send(
        Call::new("POST", "/v1/totp/enrollment/confirm")
            .user(user)
            .json(json!({ "code": code })),
    )
    .await
}

pub async fn a_new_phone_replaces_the_authenticator_once_confirmed(app: TestApp) {
    let (old, codes) = app.enrolled("nia").await;
    app.next_step();
    let new = start_replacement(&app, "nia", &app.totp(&old)).await;
    assert_ne!(new, old);
    assert_eq!(app.status("nia").await["totp"]["replacement_pending"], true);

    app.next_step();
    assert_eq!(
        app.verify("nia", &app.totp(&old)).await.status,
        StatusCode::OK,
        "the current app works until the new one is confirmed"
    );
    app.next_step();
    let with_old = confirm(&app, "nia", &app.totp(&old)).await;
    assert!(
        is_invalid_code(&with_old),
        "only the new app's code confirms it"
    );
    let confirmed = confirm(&app, "nia", &app.totp(&new)).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    assert_eq!(confirmed.json(), json!({ "authenticator_replaced": true }));

    app.next_step();
    assert!(
        is_invalid_code(&app.verify("nia", &app.totp(&old)).await),
        "the old app is refused"
    );
    assert_eq!(
        app.verify("nia", &app.totp(&new)).await.status,
        StatusCode::OK
    );
    let status = app.status("nia").await;
    assert_eq!(status["remaining"], 10, "the backup codes stay as they are");
    assert_eq!(status["totp"]["replacement_pending"], false);
    assert_eq!(app.verify("nia", &codes[0]).await.status, StatusCode::OK);
    let mail = app.mailer.about("a new authenticator app was set up");
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to.as_str(), "nia@example.com");
    let again = confirm(&app, "nia", &app.totp(&new)).await;
    assert_eq!(again.json()["error"], "already_enrolled", "{}", again.text);
}

pub async fn a_replacement_needs_a_proof_and_an_unconfirmed_one_is_dropped(app: TestApp) {
    let (old, _) = app.enrolled("oto").await;
    let missing = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("oto"))
        .await;
    assert_eq!(missing.json()["error"], "totp_required", "{}", missing.text);
    let wrong = app
        .send(
            Call::new("POST", "/v1/totp/enrollment")
                .user("oto")
                .header("x-otp", wrong_totp(&app, &old)),
        )
        .await;
    assert!(is_invalid_code(&wrong), "{}", wrong.text);

    app.next_step();
    let new = start_replacement(&app, "oto", &app.totp(&old)).await;
    app.clock.advance(7 * 24 * 3600 + 1);
    assert_eq!(
        app.status("oto").await["totp"]["replacement_pending"],
        false
    );
    let late = confirm(&app, "oto", &app.totp(&new)).await;
    assert_eq!(late.json()["error"], "already_enrolled", "{}", late.text);
    assert_eq!(
        app.verify("oto", &app.totp(&old)).await.status,
        StatusCode::OK
    );
}

pub async fn a_burst_of_wrong_proofs_to_replace_evaluates_at_most_the_threshold(app: TestApp) {
    let (old, _) = app.enrolled("pax").await;
    let guess = wrong_totp(&app, &old);
    let app = std::sync::Arc::new(app);
    app.next_step();
    let wrong = |_| {
        Call::new("POST", "/v1/totp/enrollment")
            .user("pax")
            .header("x-otp", guess.clone())
    };
    let right = Call::new("POST", "/v1/totp/enrollment")
        .user("pax")
        .header("x-otp", app.totp(&old));
    assert_burst_is_bounded(&app, "POST /v1/totp/enrollment (replace)", wrong, right).await;
    assert_eq!(
        app.status("pax").await["totp"]["replacement_pending"],
        false
    );
}
