//! The address security mails go to follows the verified `email` in the user's own tokens: a
//! change is recorded and told to the old address, and the admin reset mails the current one.

use super::*;

const CHANGED: &str = "security mails now go to another address";

fn status_as(user: &'static str, email: &'static str) -> Call<'static> {
    Call::new("GET", "/v1/backup-codes")
        .user(user)
        .claim("email", email)
}

pub async fn the_stored_address_follows_the_verified_email_in_the_token(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    let (_, codes) = app.enrolled("ana").await;
    let reply = app.send(status_as("ana", "ana.new@example.com")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let told = app.mailer.about(CHANGED);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(
        told[0].to.as_str(),
        "ana@example.com",
        "the old address is told"
    );
    assert!(
        !told[0].text.contains("ana.new@example.com"),
        "the old address is not handed the new one"
    );
    assert!(app
        .trail_kinds("ana")
        .await
        .contains(&"email_changed".to_owned()));

    // From now on the user's mails go to the new address, including an admin's reset link.
    assert_eq!(app.verify("ana", &codes[0]).await.status, StatusCode::OK);
    let used = app.mailer.about("backup code was used");
    assert_eq!(used.last().unwrap().to.as_str(), "ana.new@example.com");
    app.next_step();
    let reset = app
        .admin_reset("root", "ana", &app.totp(&admin_secret))
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.text);
    assert_eq!(app.mailer.last().to.as_str(), "ana.new@example.com");

    // The same address again changes nothing and tells no one.
    let before = app.mailer.count();
    app.send(status_as("ana", "ana.new@example.com")).await;
    assert_eq!(app.mailer.count(), before);
    assert_eq!(app.mailer.about(CHANGED).len(), 1);
}

pub async fn an_unverified_email_changes_nothing(app: TestApp) {
    app.enrolled("ana").await;
    let unverified = app
        .send(status_as("ana", "thief@example.com").claim("email_verified", "false"))
        .await;
    assert_eq!(unverified.status, StatusCode::OK, "{}", unverified.text);
    // A claim the handler refuses changes nothing either.
    let malformed = app
        .send(status_as("ana", "thief@example.com").claim("email_verified", "maybe"))
        .await;
    assert_eq!(
        malformed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        malformed.text
    );
    assert!(app.mailer.about(CHANGED).is_empty());
    assert!(!app
        .trail_kinds("ana")
        .await
        .contains(&"email_changed".to_owned()));
}

pub async fn a_user_confirmed_without_a_verified_address_gets_one_from_a_later_token(app: TestApp) {
    super::claims::enroll_with_an_unverified_email(&app, "ana").await;
    let (admin_secret, _) = app.enrolled("root").await;
    app.next_step();
    let refused = app
        .admin_reset("root", "ana", &app.totp(&admin_secret))
        .await;
    assert_eq!(
        refused.json()["error"],
        "user_has_no_email",
        "{}",
        refused.text
    );

    // Their identity provider has verified the address since.
    let now_verified = app
        .send(Call::new("GET", "/v1/backup-codes").user("ana"))
        .await;
    assert_eq!(now_verified.status, StatusCode::OK);
    assert!(
        app.mailer.about(CHANGED).is_empty(),
        "there was no old address to tell"
    );
    assert!(app
        .trail_kinds("ana")
        .await
        .contains(&"email_changed".to_owned()));
    app.next_step();
    let sent = app
        .admin_reset("root", "ana", &app.totp(&admin_secret))
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
    assert_eq!(app.mailer.last().to.as_str(), "ana@example.com");
}

/// A settings page fires several requests at once after a sign-in; a new address in all of
/// them is one change, one event and one mail to the old address.
pub async fn concurrent_requests_with_a_new_address_change_it_once(app: TestApp) {
    app.enrolled("ana").await;
    let app = std::sync::Arc::new(app);
    let requests = 8;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(requests));
    let tasks: Vec<_> = (0..requests)
        .map(|_| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.send(status_as("ana", "ana.new@example.com")).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().status, StatusCode::OK);
    }
    let changes = app
        .trail_kinds("ana")
        .await
        .into_iter()
        .filter(|kind| kind == "email_changed")
        .count();
    assert_eq!(changes, 1, "one change for {requests} requests");
    let told = app.mailer.about(CHANGED);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].to.as_str(), "ana@example.com");
    let ana = backup_codes::domain::user::UserId::parse("ana").unwrap();
    let stored = app
        .store
        .get_user(&ana)
        .await
        .unwrap()
        .unwrap()
        .email
        .unwrap();
    assert_eq!(stored.as_str(), "ana.new@example.com");
}
