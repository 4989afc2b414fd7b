//! New codes count only once saved, and the lost-phone path end to end, in the behaviour suite.
//! A regenerated set is pending: the current set works until the owner activates the new one
//! (within 15 minutes); activating anything else is refused, and the first set at enrollment is
//! active at once.

use lambda_http::http::StatusCode;
use serde_json::{json, Value};

use super::{
    is_invalid_code,
    new_phone::{confirm, start_replacement},
};
use crate::{Call, TestApp};

async fn activate_id(app: &TestApp, user: &str, set_id: &Value) -> crate::Reply {
    app.send(
        Call::new("POST", "/v1/backup-codes/activate")
            .user(user)
            .json(json!({ "set_id": set_id })),
    )
    .await
}

fn is_not_pending(reply: &crate::Reply) -> bool {
    reply.status == StatusCode::CONFLICT && reply.json()["error"] == "set_not_pending"
}

pub async fn only_the_owners_live_pending_set_can_be_activated(app: TestApp) {
    let (secret, codes) = app.enrolled("sam").await;
    app.enrolled("tia").await;
    assert_eq!(app.status("sam").await["pending_set"], Value::Null);
    app.next_step();
    let first = app.regenerate("sam", &app.totp(&secret)).await;
    let status = app.status("sam").await;
    assert_eq!(
        status["pending_set"]["generated_at"],
        first.json()["generated_at"]
    );
    assert_eq!(
        status["pending_set"]["expires_at"],
        first.json()["expires_at"]
    );
    assert!(
        !status.to_string().contains(&first.codes()[0]),
        "never its codes"
    );

    assert!(
        is_not_pending(&activate_id(&app, "tia", &first.json()["set_id"]).await),
        "another user's"
    );
    app.next_step();
    let second = app.regenerate("sam", &app.totp(&secret)).await;
    assert!(
        is_not_pending(&app.activate("sam", &first).await),
        "replaced by a newer one"
    );
    for bad in [
        json!(""),
        json!("not hex!"),
        json!("a".repeat(65)),
        json!(7),
    ] {
        let refused = activate_id(&app, "sam", &bad).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            refused.text
        );
    }
    let extra = app
        .send(
            Call::new("POST", "/v1/backup-codes/activate")
                .user("sam")
                .json(json!({ "set_id": second.json()["set_id"], "codes": [] })),
        )
        .await;
    assert_eq!(extra.json()["error"], "unknown_field", "{}", extra.text);
    assert_eq!(
        app.verify("sam", &codes[0]).await.status,
        StatusCode::OK,
        "refusals changed nothing"
    );

    app.clock.advance(15 * 60);
    assert!(
        is_not_pending(&app.activate("sam", &second).await),
        "expired"
    );
    assert_eq!(
        app.status("sam").await["pending_set"],
        Value::Null,
        "dropped"
    );
    assert_eq!(app.verify("sam", &codes[1]).await.status, StatusCode::OK);
    assert!(is_invalid_code(
        &app.verify("sam", &second.codes()[0]).await
    ));
}

pub async fn concurrent_activations_of_one_set_apply_once(app: TestApp) {
    let (secret, _) = app.enrolled("uli").await;
    app.next_step();
    let regenerated = app.regenerate("uli", &app.totp(&secret)).await;
    let set_id = regenerated.json()["set_id"].clone();
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, set_id) = (app.clone(), set_id.clone());
            tokio::spawn(async move { activate_id(&app, "uli", &set_id).await })
        })
        .collect();
    let mut activated = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        if reply.status == StatusCode::OK {
            activated += 1;
        } else {
            assert!(is_not_pending(&reply), "{}", reply.text);
        }
    }
    assert_eq!(activated, 1);
    assert_eq!(
        app.mailer.about("regenerated").len(),
        1,
        "one regeneration, one mail"
    );
}

pub async fn removing_codes_removes_the_pending_set_too(app: TestApp) {
    let (secret, _) = app.enrolled("val").await;
    app.next_step();
    let regenerated = app.regenerate("val", &app.totp(&secret)).await;
    app.next_step();
    let removed = app
        .send(
            Call::new("DELETE", "/v1/backup-codes")
                .user("val")
                .json(json!({ "totp": app.totp(&secret) })),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let status = app.status("val").await;
    assert_eq!(
        (status["total"].clone(), status["pending_set"].clone()),
        (json!(0), Value::Null)
    );
    assert!(is_not_pending(&app.activate("val", &regenerated).await));
    assert!(is_invalid_code(
        &app.verify("val", &regenerated.codes()[0]).await
    ));
}

/// The lost phone, as a support desk walks it: sign in with a backup code; replace the
/// authenticator with another backup code as the proof; the old app still works until the new
/// one confirms, then is refused; regenerate with the new app; the old set works until the new
/// one is activated, then is dead.
pub async fn the_lost_phone_path_end_to_end(app: TestApp) {
    let (old_app, codes) = app.enrolled("wim").await;
    assert_eq!(
        app.verify("wim", &codes[0]).await.status,
        StatusCode::OK,
        "signed in"
    );

    let new_app = start_replacement(&app, "wim", &codes[1]).await;
    let status = app.status("wim").await;
    assert_eq!(status["totp"]["replacement_pending"], true);
    assert_eq!(status["remaining"], 8, "the proof was spent");

    app.next_step();
    assert_eq!(
        app.verify("wim", &app.totp(&old_app)).await.status,
        StatusCode::OK,
        "the old app (found again, or in the thief's hands) still works until the new one confirms"
    );
    app.next_step();
    let confirmed = confirm(&app, "wim", &app.totp(&new_app)).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    app.next_step();
    assert!(is_invalid_code(
        &app.verify("wim", &app.totp(&old_app)).await
    ));

    let regenerated = app.regenerate("wim", &app.totp(&new_app)).await;
    assert_eq!(
        regenerated.status,
        StatusCode::CREATED,
        "{}",
        regenerated.text
    );
    assert_eq!(
        app.verify("wim", &codes[2]).await.status,
        StatusCode::OK,
        "old set until activation"
    );
    assert_eq!(
        app.activate("wim", &regenerated).await.status,
        StatusCode::OK
    );
    assert!(
        is_invalid_code(&app.verify("wim", &codes[3]).await),
        "then dead"
    );
    assert_eq!(
        app.verify("wim", &regenerated.codes()[0]).await.status,
        StatusCode::OK
    );

    let kinds = app.trail_kinds("wim").await;
    for kind in [
        "backup_code_used",
        "authenticator_replaced",
        "codes_regenerated",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}
