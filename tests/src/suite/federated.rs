//! Single sign-on: an identity the token guard marked federated-only (the ID token's
//! `backup_codes:federated`) is never enrolled; its identity provider owns its second factor.

use super::*;

const FEDERATED: &str = "backup_codes:federated";

fn federated(call: Call<'_>) -> Call<'_> {
    call.claim(FEDERATED, "true")
}

pub async fn a_federated_identity_is_not_enrolled_and_nothing_changes(app: TestApp) {
    let started = app
        .send(federated(
            Call::new("POST", "/v1/totp/enrollment").user("sso"),
        ))
        .await;
    assert_eq!(started.status, StatusCode::CONFLICT, "{}", started.text);
    let body = started.json();
    assert_eq!(body["error"], "federated_user");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("identity provider"),
        "{body}"
    );
    let status = app
        .send(federated(Call::new("GET", "/v1/backup-codes").user("sso")))
        .await;
    assert_eq!(
        (status.status, status.json()["error"].clone()),
        (StatusCode::CONFLICT, json!("federated_user")),
        "the settings card says the same, with nothing to set up"
    );
    // Nothing was stored: no enrollment to confirm, and no code works.
    let confirm = app
        .send(
            federated(Call::new("POST", "/v1/totp/enrollment/confirm").user("sso"))
                .json(json!({ "code": "123456" })),
        )
        .await;
    assert_eq!(
        confirm.json()["error"],
        "no_pending_enrollment",
        "{}",
        confirm.text
    );
    assert!(is_invalid_code(&app.verify("sso", "123456").await));
    assert!(app.trail_kinds("sso").await.is_empty());

    // The claim is the guard's word, strictly read: any other value is refused outright.
    let odd = app
        .send(
            Call::new("POST", "/v1/totp/enrollment")
                .user("sso")
                .claim(FEDERATED, "yes"),
        )
        .await;
    assert_eq!(
        (odd.status, odd.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_claim"))
    );
}

pub async fn a_federated_identity_enrolled_before_keeps_its_factor(app: TestApp) {
    // Enrolled before the guard marked it (through the API, as a native token): its factor is
    // its own to see and to turn off, and the guard lets its managed-login sign-ins through.
    let (secret, _) = app.enrolled("old-sso").await;
    let status = app
        .send(federated(
            Call::new("GET", "/v1/backup-codes").user("old-sso"),
        ))
        .await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.text);
    app.next_step();
    let off = app
        .send(
            federated(Call::new("DELETE", "/v1/totp/enrollment").user("old-sso"))
                .json(json!({ "totp": app.totp(&secret) })),
        )
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.text);
    // Off now, and not to be set up again here.
    let again = app
        .send(federated(
            Call::new("POST", "/v1/totp/enrollment").user("old-sso"),
        ))
        .await;
    assert_eq!(again.json()["error"], "federated_user");
}
