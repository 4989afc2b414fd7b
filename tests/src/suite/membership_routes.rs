//! The backend's membership routes, as its IAM-signed calls reach them: what each answers,
//! what it records, and that odd input is refused with nothing written.

use backup_codes::{
    domain::{
        account::{AccountId, Role},
        user::UserId,
    },
    ports::Memberships,
};

use super::*;

pub(crate) fn member_path(account: &str, user: &str) -> String {
    format!("/v1/accounts/{account}/members/{user}")
}

/// The backend's call that makes `user` a `role` of `account`, as it answers.
pub(crate) async fn put_role(app: &TestApp, account: &str, user: &str, role: &str) -> crate::Reply {
    app.send(Call::new("PUT", &member_path(account, user)).json(json!({ "role": role })))
        .await
}

async fn role_of(app: &TestApp, account: &str, user: &str) -> Option<Role> {
    let (account, user) = (
        AccountId::parse(account).unwrap(),
        UserId::parse(user).unwrap(),
    );
    app.store.role_in(&account, &user).await.unwrap()
}

async fn trail_kinds(app: &TestApp, user: &str) -> Vec<String> {
    let user = UserId::parse(user).unwrap();
    let page = app.store.page(&user, 20, None).await.unwrap();
    let mut kinds: Vec<String> = page
        .events
        .iter()
        .map(|e| e.kind.name().to_owned())
        .collect();
    // Events of one instant (the tests' clock stands still) have no order between them.
    kinds.sort();
    kinds
}

/// Join, write the same role again, promote, remove, remove again: each answer says what
/// happened, and the trail holds one event per change and none for a write that changed nothing.
pub async fn the_backend_writes_memberships_through_its_routes(app: TestApp) {
    let joined = put_role(&app, "acme", "ana", "member").await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.text);
    assert_eq!(
        joined.json(),
        json!({ "account_id": "acme", "user_id": "ana", "role": "member", "previous_role": null })
    );
    let again = put_role(&app, "acme", "ana", "member").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["previous_role"], "member");
    let promoted = put_role(&app, "acme", "ana", "admin").await;
    assert_eq!(promoted.status, StatusCode::OK);
    assert_eq!(promoted.json()["role"], "admin");
    assert_eq!(promoted.json()["previous_role"], "member");
    assert_eq!(role_of(&app, "acme", "ana").await, Some(Role::Admin));

    let removed = app
        .send(Call::new("DELETE", &member_path("acme", "ana")))
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    assert_eq!(role_of(&app, "acme", "ana").await, None);
    let removed_again = app
        .send(Call::new("DELETE", &member_path("acme", "ana")))
        .await;
    assert_eq!(removed_again.status, StatusCode::NO_CONTENT);
    assert_eq!(
        trail_kinds(&app, "ana").await,
        [
            "membership_added",
            "membership_changed",
            "membership_removed"
        ]
    );
    // Membership changes are the team's own bookkeeping: the user is not mailed.
    assert_eq!(app.mailer.count(), 0);
}

/// Odd account ids, user ids and bodies: each a 400 (or 413/415) naming the problem, and no
/// membership or event written.
pub async fn odd_membership_writes_are_refused_and_change_nothing(app: TestApp) {
    let long = "a".repeat(257);
    let refused_paths = [
        (member_path(&long, "ana"), "account_id"),
        (member_path("ac%0Ame", "ana"), "account_id"),
        (member_path("ac%7Fme", "ana"), "account_id"),
        (member_path("acme", &long), "user_id"),
        (member_path("acme", "an%09a"), "user_id"),
    ];
    for (path, field) in &refused_paths {
        for method in ["PUT", "DELETE"] {
            let reply = app
                .send(Call::new(method, path).json(json!({ "role": "member" })))
                .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {path}");
            assert_eq!(reply.json()["error"], "invalid_field", "{method} {path}");
            let message = reply.json()["message"].as_str().unwrap().to_owned();
            assert!(message.contains(field), "{method} {path}: {message}");
        }
    }
    let bodies: [(Option<&str>, &str, StatusCode); 9] = [
        (
            Some(r#"{"role":"owner"}"#),
            "invalid_field",
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(r#"{"role":"Admin"}"#),
            "invalid_field",
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(r#"{"role":" admin"}"#),
            "invalid_field",
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(r#"{"role":null}"#),
            "invalid_field",
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(r#"{"role":1}"#),
            "invalid_field",
            StatusCode::BAD_REQUEST,
        ),
        (Some("{}"), "missing_field", StatusCode::BAD_REQUEST),
        (
            Some(r#"{"role":"admin","account_id":"globex"}"#),
            "unknown_field",
            StatusCode::BAD_REQUEST,
        ),
        (Some("role=admin"), "invalid_json", StatusCode::BAD_REQUEST),
        (None, "missing_body", StatusCode::BAD_REQUEST),
    ];
    for (body, error, status) in bodies {
        let mut call = Call::new("PUT", "/v1/accounts/acme/members/ana");
        if let Some(body) = body {
            call = call.raw(body);
        }
        let reply = app.send(call).await;
        assert_eq!(reply.status, status, "{body:?}: {}", reply.text);
        assert_eq!(reply.json()["error"], error, "{body:?}: {}", reply.text);
    }
    let as_text = app
        .send(
            Call::new("PUT", "/v1/accounts/acme/members/ana")
                .header("content-type", "text/plain")
                .raw(r#"{"role":"admin"}"#),
        )
        .await;
    assert_eq!(as_text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(role_of(&app, "acme", "ana").await, None);
    assert!(trail_kinds(&app, "ana").await.is_empty());
}

/// Account ids are taken as API Gateway decodes them, once: `%2F` is a slash inside one id,
/// `%252F` the three characters `%2F`, and unicode is itself. None is another's account.
pub async fn account_ids_are_decoded_once_and_kept_apart(app: TestApp) {
    let ids = [
        ("a%2Fb", "a/b"),
        ("a%252Fb", "a%2Fb"),
        ("%C3%A9cole", "école"),
        ("e%CC%81cole", "e\u{301}cole"),
    ];
    for (n, (in_path, _)) in ids.iter().enumerate() {
        let role = if n % 2 == 0 { "admin" } else { "member" };
        let reply = put_role(&app, in_path, "ana", role).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{in_path}: {}",
            reply.text
        );
    }
    for (n, (in_path, decoded)) in ids.iter().enumerate() {
        let role = if n % 2 == 0 {
            Role::Admin
        } else {
            Role::Member
        };
        assert_eq!(role_of(&app, decoded, "ana").await, Some(role), "{in_path}");
    }
    // The path's slash is a segment break, never part of an id.
    assert_eq!(role_of(&app, "a", "ana").await, None);
    let user = UserId::parse("ana").unwrap();
    assert_eq!(app.store.accounts_of(&user).await.unwrap().len(), ids.len());
}

/// The limit answered over HTTP as what it is, with nothing written.
pub async fn a_join_past_the_limit_is_answered_too_many_accounts(app: TestApp) {
    use futures::StreamExt;
    let joins = futures::stream::iter(0..backup_codes::domain::account::MAX_ACCOUNTS_PER_USER)
        .map(|n| {
            let app = &app;
            async move {
                put_role(app, &format!("acct-{n:03}"), "bo", "member")
                    .await
                    .status
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    assert!(joins.iter().all(|s| *s == StatusCode::CREATED), "{joins:?}");
    let refused = put_role(&app, "one-more", "bo", "admin").await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.json()["error"], "too_many_accounts");
    assert!(refused.json()["message"]
        .as_str()
        .unwrap()
        .contains("100 accounts"));
    assert_eq!(role_of(&app, "one-more", "bo").await, None);
    // A role change in an account already held is no join: it still works at the limit.
    let promoted = put_role(&app, "acct-007", "bo", "admin").await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.text);
}

/// An account has at most `MAX_ADMINS_PER_ACCOUNT` admins (each is mailed a rule change in
/// its transaction): the next promotion is refused as such, a demotion makes room.
pub async fn an_accounts_admins_are_bounded(app: TestApp) {
    use backup_codes::domain::account::MAX_ADMINS_PER_ACCOUNT;
    for n in 0..MAX_ADMINS_PER_ACCOUNT {
        let reply = put_role(&app, "acme", &format!("admin-{n:02}"), "admin").await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    let refused = put_role(&app, "acme", "one-more", "admin").await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.json()["error"], "too_many_admins");
    assert_eq!(role_of(&app, "acme", "one-more").await, None);
    assert_eq!(
        put_role(&app, "acme", "one-more", "member").await.status,
        StatusCode::CREATED,
        "members are not bounded by it"
    );
    assert_eq!(
        put_role(&app, "acme", "admin-07", "member").await.status,
        StatusCode::OK
    );
    assert_eq!(
        put_role(&app, "acme", "one-more", "admin").await.status,
        StatusCode::OK
    );
    let removed = app
        .send(Call::new("DELETE", &member_path("acme", "admin-08")))
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        put_role(&app, "acme", "admin-07", "admin").await.status,
        StatusCode::OK
    );
}
