//! What a token's claims may do in the behaviour suite: the admin's own code checked first,
//! the email claim, group names, and the admin path's user id.

use super::*;

pub async fn the_admin_totp_is_checked_before_anything_about_the_target(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    app.send(Call::new("POST", "/v1/totp/enrollment").user("pending"))
        .await;
    let guess = wrong_totp(&app, &admin_secret);
    let mut answers = vec![];
    for target in ["pending", "nobody", "root"] {
        let reply = app
            .send(
                Call::new("POST", &admin_path(target))
                    .admin("root")
                    .json(json!({ "totp": guess.clone() })),
            )
            .await;
        assert!(is_invalid_code(&reply), "{target}: {}", reply.text);
        answers.push(reply.json());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
}

/// `user` enrolls with tokens whose `email` is not verified: nothing is stored as their address.
pub(super) async fn enroll_with_an_unverified_email(app: &TestApp, user: &str) {
    let started = app
        .send(
            Call::new("POST", "/v1/totp/enrollment")
                .user(user)
                .claim("email_verified", "false"),
        )
        .await;
    let secret = started.json()["secret"].as_str().unwrap().to_owned();
    let confirmed = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user(user)
                .claim("email_verified", "false")
                .json(json!({ "code": app.totp(&secret) })),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
}

pub async fn the_email_claim_must_be_one_address_and_is_dropped_when_unverified(app: TestApp) {
    for (claim, value) in [
        ("email", "ana@example.com,eve@attacker.example"),
        ("email", "Ana <ana@example.com>"),
        ("email_verified", "maybe"),
    ] {
        let reply = app
            .send(
                Call::new("POST", "/v1/totp/enrollment")
                    .user("ana")
                    .claim(claim, value),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{claim}={value}");
        assert_eq!(reply.json()["error"], "invalid_claim");
        assert!(reply.json()["message"].as_str().unwrap().contains(claim));
    }
    let ana = backup_codes::domain::user::UserId::parse("ana").unwrap();
    assert_eq!(
        app.store.get_user(&ana).await.unwrap(),
        None,
        "nothing stored"
    );

    // An unverified address is never stored, so a reset has nowhere to send the link.
    enroll_with_an_unverified_email(&app, "ana").await;
    let (admin_secret, _) = app.enrolled("root").await;
    app.next_step();
    let reset = app
        .send(
            Call::new("POST", &admin_path("ana"))
                .admin("root")
                .json(json!({ "totp": app.totp(&admin_secret) })),
        )
        .await;
    assert_eq!(reset.json()["error"], "user_has_no_email", "{}", reset.text);
    assert_eq!(app.mailer.count(), 0);
}

pub async fn a_comma_in_a_group_name_never_makes_an_admin(app: TestApp) {
    app.enrolled("uma").await;
    let (secret, _) = app.enrolled("eve").await;
    app.next_step();
    let path = admin_path("uma");
    let mut call = Call::new("POST", &path)
        .user("eve")
        .json(json!({ "totp": app.totp(&secret) }));
    call.groups = "[ops,backup-codes-admins]";
    let reply = app.send(call).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(app.mailer.count(), 0);
}

/// A group name with white space in it, as a JSON array or as API Gateway flattens one, never
/// makes its holder an admin: nothing is mailed and nothing changes.
pub async fn white_space_in_a_group_name_never_makes_an_admin(app: TestApp) {
    app.enrolled("uma").await;
    let (secret, _) = app.enrolled("eve").await;
    let path = admin_path("uma");
    for groups in [
        r#"["ops backup-codes-admins"]"#,
        r#"["backup-codes-admins "]"#,
        "[backup-codes-admins ]",
        "[ops  backup-codes-admins]",
        "[ backup-codes-admins]",
    ] {
        app.next_step();
        let mut call = Call::new("POST", &path)
            .user("eve")
            .json(json!({ "totp": app.totp(&secret) }));
        call.groups = groups;
        let reply = app.send(call).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{groups}: {}",
            reply.text
        );
    }
    assert_eq!(app.mailer.count(), 0);
    assert_eq!(
        app.status("uma").await["remaining"],
        10,
        "uma's codes are untouched"
    );
}

pub async fn the_admin_path_user_is_decoded_once(app: TestApp) {
    // A `sub` with a literal percent sign: API Gateway decodes `%2541` to `%41`, once.
    app.enrolled("a%41").await;
    let (admin_secret, _) = app.enrolled("root").await;
    app.next_step();
    let reply = app
        .admin_reset("root", "a%2541", &app.totp(&admin_secret))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(app.mailer.last().to.as_str(), "a-41@example.com");
}
