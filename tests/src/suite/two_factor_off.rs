//! Turning two-factor off in the behaviour suite: by the owner behind a step-up proof (the
//! lost phone's backup code included), and by an administrator behind the administrator's own
//! proof, for a user who lost both. Afterwards the user is as if never enrolled.

use lambda_http::http::StatusCode;
use serde_json::{json, Value};

use super::{assert_burst_is_bounded, is_invalid_code, locked_for, wrong_totp};
use crate::{Call, TestApp};

pub(crate) fn turn_off(user: &'static str, proof: &str) -> Call<'static> {
    Call::new("DELETE", "/v1/totp/enrollment")
        .user(user)
        .json(json!({ "totp": proof }))
}

fn admin_turn_off(admin: &'static str, user: &str, proof: &str) -> Call<'static> {
    let path = match user {
        "quy" => "/v1/admin/users/quy/totp",
        "ray" => "/v1/admin/users/ray/totp",
        "nobody" => "/v1/admin/users/nobody/totp",
        other => panic!("add a path for {other}"),
    };
    Call::new("DELETE", path)
        .admin(admin)
        .json(json!({ "totp": proof }))
}

async fn newest_event(app: &TestApp, user: &str) -> Value {
    let path = format!("/v1/admin/users/{user}/audit");
    let reply = app.send(Call::new("GET", &path).admin("auditor")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()["events"][0].clone()
}

/// Every way `user` could still prove a second factor is refused, as for a user never enrolled.
async fn assert_as_never_enrolled(app: &TestApp, user: &str, secret: &str, codes: &[String]) {
    app.next_step();
    for code in [app.totp(secret), codes[1].clone(), codes[2].clone()] {
        let refused = app.verify(user, &code).await;
        assert!(is_invalid_code(&refused), "{code}: {}", refused.text);
    }
    let status = app
        .send(Call::new("GET", "/v1/backup-codes").user(user))
        .await;
    assert_eq!(status.json()["error"], "not_enrolled", "{}", status.text);
    let id = backup_codes::domain::user::UserId::parse(user).unwrap();
    assert!(app.store.get_user(&id).await.unwrap().is_none());
}

pub async fn turning_two_factor_off_leaves_the_user_as_never_enrolled(app: TestApp) {
    let (secret, codes) = app.enrolled("ola").await;
    let missing = app
        .send(Call::new("DELETE", "/v1/totp/enrollment").user("ola"))
        .await;
    assert_eq!(missing.json()["error"], "totp_required", "{}", missing.text);
    assert!(is_invalid_code(&app.send(turn_off("ola", "000000")).await));
    app.next_step();
    let off = app.send(turn_off("ola", &app.totp(&secret))).await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.text);
    assert_as_never_enrolled(&app, "ola", &secret, &codes).await;

    let event = newest_event(&app, "ola").await;
    assert_eq!(
        (&event["type"], &event["actor"]),
        (&json!("two_factor_disabled"), &json!("self"))
    );
    let mail = app.mailer.about("two-factor authentication was turned off");
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to.as_str(), "ola@example.com");

    // Enrolling again needs no proof, and the old codes stay dead.
    let (new_secret, new_codes) = app.enrolled("ola").await;
    assert_ne!(new_secret, secret);
    assert!(is_invalid_code(&app.verify("ola", &codes[3]).await));
    assert_eq!(
        app.verify("ola", &new_codes[0]).await.status,
        StatusCode::OK
    );
}

pub async fn a_lost_phones_backup_code_turns_two_factor_off(app: TestApp) {
    let (secret, codes) = app.enrolled("pim").await;
    let off = app.send(turn_off("pim", &codes[0])).await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.text);
    assert_as_never_enrolled(&app, "pim", &secret, &codes).await;
    let trail = app
        .send(Call::new("GET", "/v1/admin/users/pim/audit").admin("auditor"))
        .await
        .json();
    let kinds: Vec<_> = trail["events"].as_array().unwrap()[..2]
        .iter()
        .map(|e| (e["type"].clone(), e["authorised"].clone()))
        .collect();
    assert_eq!(trail["events"][1]["remaining_codes"], 0, "nothing is left");
    assert_eq!(
        kinds,
        [
            (json!("two_factor_disabled"), Value::Null),
            (json!("backup_code_used"), json!("disable_two_factor"))
        ]
    );
}

pub async fn an_admin_turns_two_factor_off_behind_their_own_proof(app: TestApp) {
    let (admin_secret, admin_codes) = app.enrolled("root").await;
    let (secret, codes) = app.enrolled("quy").await;
    app.next_step();
    // Not an admin: refused before any proof is looked at, however good.
    let by_user = app
        .send(
            Call::new("DELETE", "/v1/admin/users/root/totp")
                .user("quy")
                .json(json!({ "totp": app.totp(&secret) })),
        )
        .await;
    assert_eq!(
        (by_user.status, by_user.json()["error"].clone()),
        (StatusCode::FORBIDDEN, json!("forbidden"))
    );
    // A wrong admin proof says nothing about the target, known or not.
    for target in ["quy", "nobody"] {
        let wrong = app.send(admin_turn_off("root", target, "000000")).await;
        assert!(is_invalid_code(&wrong), "{target}: {}", wrong.text);
    }
    assert_eq!(app.verify("quy", &codes[0]).await.status, StatusCode::OK);

    let off = app
        .send(admin_turn_off("root", "quy", &app.totp(&admin_secret)))
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.text);
    assert_as_never_enrolled(&app, "quy", &secret, &codes).await;
    let event = newest_event(&app, "quy").await;
    assert_eq!(
        (&event["type"], &event["actor"]),
        (&json!("two_factor_disabled"), &json!("admin:root"))
    );
    let mail = app.mailer.about("two-factor authentication was turned off");
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to.as_str(), "quy@example.com");
    assert!(
        mail[0].text.contains("An administrator"),
        "{}",
        mail[0].text
    );

    // A user not enrolled (any more): 409 once the admin's proof (a backup code here) passed.
    let again = app
        .send(admin_turn_off("root", "quy", &admin_codes[0]))
        .await;
    assert_eq!(
        (again.status, again.json()["error"].clone()),
        (StatusCode::CONFLICT, json!("user_not_enrolled"))
    );
    assert!(
        is_invalid_code(&app.verify("root", &admin_codes[0]).await),
        "the proof was spent all the same"
    );
}

pub async fn a_burst_of_wrong_proofs_to_turn_off_evaluates_at_most_the_threshold(app: TestApp) {
    let (secret, codes) = app.enrolled("ray").await;
    let (admin_secret, _) = app.enrolled("root").await;
    let guess = wrong_totp(&app, &secret);
    let admin_guess = wrong_totp(&app, &admin_secret);
    let app = std::sync::Arc::new(app);
    app.next_step();
    let right = turn_off("ray", &app.totp(&secret));
    assert_burst_is_bounded(
        &app,
        "DELETE /v1/totp/enrollment",
        |_| turn_off("ray", &guess),
        right,
    )
    .await;
    let right = admin_turn_off("root", "ray", &app.totp(&admin_secret));
    let wrong = |_| admin_turn_off("root", "ray", &admin_guess);
    assert_burst_is_bounded(&app, "DELETE /v1/admin/users/{user_id}/totp", wrong, right).await;
    assert!(locked_for(&app.verify("ray", &codes[0]).await).is_some());
    assert_eq!(
        app.status("ray").await["remaining"],
        10,
        "still enrolled, nothing spent"
    );
}
