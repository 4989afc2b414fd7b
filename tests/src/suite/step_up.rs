//! Step-up proofs in the behaviour suite: any second factor proves a change. A user who lost
//! the phone regenerates or removes codes with an unused backup code, an administrator proves
//! themselves with one, and a backup code spent as a proof works once, across routes and under
//! concurrency, and is recorded as `backup_code_used` naming what it authorised.

use lambda_http::http::StatusCode;
use serde_json::{json, Value};

use super::is_invalid_code;
use crate::{Call, TestApp};

/// `user`'s own trail, newest first.
async fn trail(app: &TestApp, user: &str) -> Vec<Value> {
    let reply = app.send(Call::new("GET", "/v1/audit").user(user)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()["events"].as_array().unwrap().clone()
}

pub async fn a_backup_code_proves_regenerate_and_remove_and_is_spent(app: TestApp) {
    let (_, codes) = app.enrolled("lu").await;
    let regenerated = app.regenerate("lu", &codes[0]).await;
    assert_eq!(
        regenerated.status,
        StatusCode::CREATED,
        "{}",
        regenerated.text
    );
    assert_eq!(
        app.activate("lu", &regenerated).await.status,
        StatusCode::OK
    );
    let new_codes = regenerated.codes();
    let used = &trail(&app, "lu").await[1];
    assert_eq!(
        (&used["type"], &used["authorised"], &used["actor"]),
        (
            &json!("backup_code_used"),
            &json!("regenerate_codes"),
            &json!("self")
        ),
        "{used}"
    );
    let mail = app.mailer.about("backup code was used");
    assert_eq!(mail.len(), 1);
    assert!(
        mail[0].text.contains("to make a new set of backup codes"),
        "{}",
        mail[0].text
    );

    // The same code again is no proof (its set is gone), and a used code of the new set neither.
    let again = app.regenerate("lu", &codes[0]).await;
    assert!(is_invalid_code(&again), "{}", again.text);
    assert_eq!(app.verify("lu", &new_codes[0]).await.status, StatusCode::OK);
    let spent = app
        .send(
            Call::new("DELETE", "/v1/backup-codes")
                .user("lu")
                .json(json!({ "totp": new_codes[0] })),
        )
        .await;
    assert!(is_invalid_code(&spent), "{}", spent.text);

    let removed = app
        .send(
            Call::new("DELETE", "/v1/backup-codes")
                .user("lu")
                .json(json!({ "totp": new_codes[1] })),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    let used = &trail(&app, "lu").await[1];
    assert_eq!(
        (&used["authorised"], &used["remaining_codes"]),
        (&json!("remove_codes"), &json!(0))
    );
    assert_eq!(app.status("lu").await["total"], 0);
}

pub async fn an_admin_proves_themselves_with_a_backup_code(app: TestApp) {
    let (_, admin_codes) = app.enrolled("root").await;
    app.enrolled("vi").await;
    let reset = app.admin_reset("root", "vi", &admin_codes[0]).await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.text);
    let used = &trail(&app, "root").await[0];
    assert_eq!(
        (&used["type"], &used["authorised"], &used["remaining_codes"]),
        (&json!("backup_code_used"), &json!("admin_reset"), &json!(9)),
        "{used}"
    );
    assert_eq!(
        app.verify("root", &admin_codes[0]).await.status,
        StatusCode::UNAUTHORIZED,
        "the admin's code is spent"
    );
    let again = app.admin_reset("root", "vi", &admin_codes[0]).await;
    assert!(is_invalid_code(&again), "{}", again.text);
}

/// One backup code presented at once to verify, regenerate, remove and an admin's reset (it
/// is the admin's own): exactly one request gets it.
pub async fn one_backup_code_is_one_proof_across_routes_at_once(app: TestApp) {
    let (_, codes) = app.enrolled("root").await;
    app.enrolled("wu").await;
    let code = codes[0].clone();
    let app = std::sync::Arc::new(app);
    let mut tasks = vec![];
    for round in 0..3 {
        for route in 0..4 {
            let (app, code) = (app.clone(), code.clone());
            tasks.push(tokio::spawn(async move {
                let reply = match route {
                    0 => app.verify("root", &code).await,
                    1 => app.regenerate("root", &code).await,
                    2 => {
                        app.send(
                            Call::new("DELETE", "/v1/backup-codes")
                                .user("root")
                                .json(json!({ "totp": code })),
                        )
                        .await
                    }
                    _ => app.admin_reset("root", "wu", &code).await,
                };
                (round, route, reply.status)
            }));
        }
    }
    let mut accepted = vec![];
    for task in tasks {
        let (round, route, status) = task.await.unwrap();
        if status.is_success() {
            accepted.push((round, route, status));
        } else {
            // Past the ledger's threshold, the rest are refused unchecked.
            assert!(
                [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].contains(&status),
                "round {round} route {route}: {status}"
            );
        }
    }
    assert_eq!(accepted.len(), 1, "{accepted:?}");
}

pub async fn wrong_backup_code_proofs_fill_the_ledger(app: TestApp) {
    let (_, codes) = app.enrolled("xo").await;
    let threshold = app.config.settings.lockout.threshold;
    for _ in 0..threshold {
        let wrong = app.regenerate("xo", "aaaaa-aaaaa").await;
        assert!(is_invalid_code(&wrong), "{}", wrong.text);
    }
    let locked = app.regenerate("xo", &codes[0]).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.text
    );
    assert_eq!(app.status("xo").await["remaining"], 10, "nothing was spent");
}
