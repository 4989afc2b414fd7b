//! The admin reset in the behaviour suite: the reset, its mailed link and the pages that
//! redeem it, under refusals, races, forged tokens and a failing mailer. What the link does
//! until its codes are saved is in `link_codes`.

use super::*;

pub(crate) const ADMIN_PATH: &str = "/v1/admin/users/{user_id}/backup-codes";

pub(crate) fn admin_path(user: &str) -> String {
    ADMIN_PATH.replace("{user_id}", user)
}

/// Enrolls an admin "root" and a user "uma", and has the admin reset uma's codes.
/// Returns the admin's and uma's TOTP secrets.
pub(crate) async fn reset_by_admin(app: &TestApp) -> (String, String) {
    let (admin_secret, _) = app.enrolled("root").await;
    let (user_secret, _) = app.enrolled("uma").await;
    app.next_step();
    let path = admin_path("uma");
    let reply = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .json(json!({ "totp": app.totp(&admin_secret) })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    (admin_secret, user_secret)
}

pub(crate) async fn redeem_json(app: &TestApp, token: &str) -> crate::Reply {
    app.send(Call::new("POST", "/v1/backup-codes/download").json(json!({ "token": token })))
        .await
}

pub(crate) async fn activate_json(app: &TestApp, token: &str, set_id: &str) -> crate::Reply {
    app.send(
        Call::new("POST", "/v1/backup-codes/download/activate")
            .json(json!({ "token": token, "set_id": set_id })),
    )
    .await
}

/// What the owner does with the mailed link: redeem it, save the codes, say so. The codes.
pub(crate) async fn collect_codes(app: &TestApp, token: &str) -> Vec<String> {
    let redeemed = redeem_json(app, token).await;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.text);
    let saved = activate_json(app, token, redeemed.json()["set_id"].as_str().unwrap()).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    redeemed.codes()
}

pub(crate) fn is_gone(reply: &crate::Reply) -> bool {
    reply.status == StatusCode::GONE && reply.json()["error"] == "link_invalid"
}

pub async fn admin_reset_kills_old_codes_and_mails_a_single_use_link(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    let (_, old) = app.enrolled("uma").await;
    app.next_step();
    let path = admin_path("uma");
    let reply = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .header("x-otp", app.totp(&admin_secret)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.json()["status"], "email_sent");
    assert_eq!(reply.json()["expires_at"], "2027-01-16T08:00:30Z");
    assert!(
        is_invalid_code(&app.verify("uma", &old[0]).await),
        "old codes die at once"
    );

    let status = app.status("uma").await;
    assert_eq!(
        (
            status["remaining"].clone(),
            status["pending_download"].clone()
        ),
        (json!(0), json!(true))
    );

    let mail = app.mailer.last();
    assert_eq!(
        mail.to.as_str(),
        "uma@example.com",
        "the address on file, never one the admin gives"
    );
    assert!(mail.subject.contains("Acme"));
    assert!(
        mail.text
            .contains("An administrator reset the backup codes"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains("expires on Sat, 16 Jan 2027 08:00:30"),
        "{}",
        mail.text
    );
    assert!(mail
        .text
        .contains("https://codes.example.com/v1/backup-codes/download#token="));
    assert!(mail
        .html
        .contains("href=\"https://codes.example.com/v1/backup-codes/download#token="));

    let token = crate::token_in(&mail);
    let codes = collect_codes(&app, &token).await;
    assert_eq!(codes.len(), 10);
    assert!(
        is_gone(&redeem_json(&app, &token).await),
        "a link whose codes were saved is spent"
    );
    assert_eq!(app.verify("uma", &codes[2]).await.status, StatusCode::OK);
    let status = app.status("uma").await;
    assert_eq!(
        (
            status["remaining"].clone(),
            status["pending_download"].clone()
        ),
        (json!(9), json!(false))
    );
}

pub async fn admin_reset_refusals(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    let (user_secret, codes) = app.enrolled("uma").await;
    app.next_step();
    let path = admin_path("uma");
    let not_admin = app
        .send(
            Call::new("POST", &path)
                .user("uma")
                .json(json!({ "totp": app.totp(&user_secret) })),
        )
        .await;
    assert_eq!(not_admin.status, StatusCode::FORBIDDEN);
    assert_eq!(not_admin.json()["error"], "forbidden");

    let wrong = if app.totp(&admin_secret) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let bad_totp = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .json(json!({ "totp": wrong })),
        )
        .await;
    assert!(is_invalid_code(&bad_totp), "{}", bad_totp.text);
    let no_totp = app.send(Call::new("POST", &path).admin("root")).await;
    assert_eq!(no_totp.json()["error"], "totp_required");

    app.send(Call::new("POST", "/v1/totp/enrollment").user("pending"))
        .await;
    for target in ["pending", "nobody"] {
        // The admin's code is proven and spent before the target is looked at.
        app.next_step();
        let path = admin_path(target);
        let reply = app
            .send(
                Call::new("POST", &path)
                    .admin("root")
                    .json(json!({ "totp": app.totp(&admin_secret) })),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CONFLICT,
            "{target}: {}",
            reply.text
        );
        assert_eq!(reply.json()["error"], "user_not_enrolled");
    }
    assert_eq!(app.mailer.count(), 0, "no refusal sends mail");
    assert_eq!(
        app.verify("uma", &codes[0]).await.status,
        StatusCode::OK,
        "refusals changed nothing"
    );
    assert_eq!(app.status("uma").await["pending_download"], false);
}

pub async fn admin_totp_is_replay_protected(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    app.enrolled("uma").await;
    app.next_step();
    let code = app.totp(&admin_secret);
    let path = admin_path("uma");
    let first = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .json(json!({ "totp": code })),
        )
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let replay = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .json(json!({ "totp": code })),
        )
        .await;
    assert!(is_invalid_code(&replay));
    assert!(
        is_invalid_code(&app.verify("root", &code).await),
        "the admin's code is spent everywhere"
    );
}

pub async fn a_new_admin_reset_replaces_the_link(app: TestApp) {
    let (admin_secret, _) = reset_by_admin(&app).await;
    let first = crate::token_in(&app.mailer.last());
    app.next_step();
    let path = admin_path("uma");
    app.send(
        Call::new("POST", &path)
            .admin("root")
            .json(json!({ "totp": app.totp(&admin_secret) })),
    )
    .await;
    let second = crate::token_in(&app.mailer.last());
    assert_ne!(first, second);
    assert!(
        is_gone(&redeem_json(&app, &first).await),
        "only the newest link works"
    );
    assert_eq!(redeem_json(&app, &second).await.status, StatusCode::OK);
}

pub async fn without_a_link_base_url_the_link_points_at_the_address_called(mut app: TestApp) {
    app.reconfigure(|config| config.link_base_url = None);
    reset_by_admin(&app).await;
    let mail = app.mailer.last();
    // `Call::event` reports API Gateway's domain as api.example.com, stage `$default`.
    assert!(
        mail.text
            .contains("https://api.example.com/v1/backup-codes/download#token="),
        "{}",
        mail.text
    );
    let token = crate::token_in(&mail);
    assert_eq!(redeem_json(&app, &token).await.status, StatusCode::OK);
}

pub async fn forged_expired_truncated_and_foreign_tokens_are_gone(app: TestApp) {
    use backup_codes::domain::{
        codes::random_id,
        link_token::{DownloadGrant, LinkSigner},
        sealing::{Keyring, SecretKey},
        user::UserId,
    };
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    let mine = LinkSigner::new(Keyring::new(app.signing_key.clone(), vec![]));
    let grant = |offset: i64| DownloadGrant {
        id: random_id(),
        expires_at: backup_codes::ports::Clock::now(&*app.clock) + time::Duration::seconds(offset),
    };
    let uma = UserId::parse("uma").unwrap();
    let root = UserId::parse("root").unwrap();
    let foreign_key = LinkSigner::new(Keyring::new(SecretKey::generate(), vec![]));
    let mut flipped = token.clone().into_bytes();
    let middle = flipped.len() / 3;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let cases = [
        ("truncated", token[..token.len() - 4].to_owned()),
        ("tampered", String::from_utf8(flipped).unwrap()),
        (
            "signed by another key",
            foreign_key.sign(&uma, &grant(3600)),
        ),
        ("unknown grant for this user", mine.sign(&uma, &grant(3600))),
        ("another user's grant", mine.sign(&root, &grant(3600))),
        ("garbage", "not-a-token".to_owned()),
        ("blank", "   ".to_owned()),
        ("a next-line character", "\u{85}".to_owned()),
    ];
    for (label, bad) in cases {
        let reply = redeem_json(&app, &bad).await;
        assert!(is_gone(&reply), "{label}: {} {}", reply.status, reply.text);
    }
    // No token at all is not a link: bad input, named, as the spec's `minLength` says.
    for empty in [""] {
        let reply = redeem_json(&app, empty).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{empty:?}: {}",
            reply.text
        );
        assert_eq!(reply.json()["error"], "invalid_field");
        assert!(reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("`token`"));
    }
    // Expiry: the real link stops working after its lifetime, without being used.
    app.clock.advance(86_400);
    assert!(is_gone(&redeem_json(&app, &token).await), "expired");
    let status = app.status("uma").await;
    assert_eq!(
        status["pending_download"], false,
        "an expired grant is not pending"
    );
}

pub async fn the_page_never_redeems_on_get_or_head(app: TestApp) {
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    for method in ["GET", "HEAD", "GET"] {
        let reply = app
            .send(Call::new(method, "/v1/backup-codes/download"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{method}");
        assert_eq!(reply.headers["content-type"], "text/html; charset=utf-8");
        if method == "HEAD" {
            assert!(reply.text.is_empty());
        } else {
            assert!(reply.text.contains("Continue"), "{}", reply.text);
            assert!(!reply.text.contains("submit()</script>") && reply.text.contains("isTrusted"));
        }
        let csp = reply.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'sha256-"),
            "{csp}"
        );
    }
    assert_eq!(
        app.status("uma").await["pending_download"],
        true,
        "viewing did not redeem"
    );
    assert_eq!(redeem_json(&app, &token).await.status, StatusCode::OK);
}

pub async fn the_page_form_post_shows_codes_with_download_and_copy(app: TestApp) {
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    fn form(path: &str, body: String) -> Call<'_> {
        Call::new("POST", path)
            .header("content-type", "application/x-www-form-urlencoded")
            .raw(body)
    }
    let redeem = |token: &str| form("/v1/backup-codes/download", format!("token={token}"));
    let page = app.send(redeem(&token)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Save them now"));
    assert!(page.text.contains("download=\"backup-codes.txt\""));
    assert!(page.text.contains(">Copy</button>"));
    assert!(page.text.contains(">I have saved these codes</button>"));
    assert!(page.text.contains("action=\"download/activate\""));
    let codes: Vec<&str> = page
        .text
        .split("<code>")
        .skip(1)
        .map(|c| c.split("</code>").next().unwrap())
        .collect();
    assert_eq!(codes.len(), 10);
    assert!(
        is_invalid_code(&app.verify("uma", codes[0]).await),
        "shown codes count only once saved"
    );
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = page.text.find(&marker).expect(name) + marker.len();
        page.text[start..].split('"').next().unwrap().to_owned()
    };
    assert_eq!(
        field("token"),
        token,
        "the form carries the link's token back"
    );
    let saved = app
        .send(form(
            "/v1/backup-codes/download/activate",
            format!("token={token}&set_id={}", field("set_id")),
        ))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert!(saved.text.contains("Your new backup codes are now active"));
    assert_eq!(app.verify("uma", codes[0]).await.status, StatusCode::OK);
    let again = app.send(redeem(&token)).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.text.contains("This link is no longer valid"));
    // No token at all is malformed, as the spec says (1 to 1024 characters): 400, same page.
    for (path, body) in [
        ("/v1/backup-codes/download", "token=".to_owned()),
        (
            "/v1/backup-codes/download/activate",
            format!("token={token}&set_id="),
        ),
        (
            "/v1/backup-codes/download/activate",
            "set_id=abc".to_owned(),
        ),
    ] {
        let empty = app.send(form(path, body)).await;
        assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(empty.text.contains("This link is no longer valid"));
    }
}

pub async fn mail_failure_changes_nothing(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    let (_, codes) = app.enrolled("uma").await;
    app.next_step();
    app.mailer
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let path = admin_path("uma");
    let reply = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .json(json!({ "totp": app.totp(&admin_secret) })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.text);
    assert_eq!(reply.json()["error"], "email_failed");
    assert_eq!(app.status("uma").await["pending_download"], false);
    assert_eq!(
        app.verify("uma", &codes[0]).await.status,
        StatusCode::OK,
        "old codes still work"
    );

    app.mailer
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    app.next_step();
    let retry = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .json(json!({ "totp": app.totp(&admin_secret) })),
        )
        .await;
    assert_eq!(
        retry.status,
        StatusCode::ACCEPTED,
        "calling again sends a new link"
    );
    // The notice of the code used while mail was down is delivered late, not lost.
    let late_notices = app.mailer.about("backup code was used");
    assert_eq!(late_notices.len(), 1, "the use is told once the mail works");
    let link = app
        .mailer
        .all()
        .into_iter()
        .rfind(|mail| mail.text.contains("#token="))
        .expect("the link mail");
    let token = crate::token_in(&link);
    assert_eq!(collect_codes(&app, &token).await.len(), 10);
}

pub async fn owner_regenerate_cancels_a_pending_link(app: TestApp) {
    let (_, user_secret) = reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    // The owner still has their authenticator, so may choose new codes themselves; the link then dies.
    app.next_step();
    let own = app.regenerate("uma", &app.totp(&user_secret)).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.text);
    assert_eq!(
        app.status("uma").await["pending_download"],
        true,
        "until the owner's set is saved, the link still stands"
    );
    assert_eq!(app.activate("uma", &own).await.status, StatusCode::OK);
    assert_eq!(app.status("uma").await["pending_download"], false);
    assert!(is_gone(&redeem_json(&app, &token).await));
    assert_eq!(
        app.verify("uma", &own.codes()[0]).await.status,
        StatusCode::OK,
        "the owner's set stands"
    );
}

/// A burst of one link's redemptions: one holds the link at a time, so at most
/// `MAX_REDEMPTIONS` of them hash a set, each a different one, and only the last stored can
/// be saved.
pub async fn concurrent_redemptions_issue_one_set(app: TestApp) {
    use backup_codes::domain::link_token::DownloadGrant;
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    let app = std::sync::Arc::new(app);
    let attempts = 16;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(attempts));
    let tasks: Vec<_> = (0..attempts)
        .map(|_| {
            let (app, barrier, token) = (app.clone(), barrier.clone(), token.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                redeem_json(&app, &token).await
            })
        })
        .collect();
    let mut issued = vec![];
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::OK => issued.push(reply),
            StatusCode::GONE => {}
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    let most = DownloadGrant::MAX_REDEMPTIONS as usize;
    assert!(
        (1..=most).contains(&issued.len()),
        "{} of {attempts} concurrent redemptions issued codes; at most {most} may",
        issued.len()
    );
    let ids: std::collections::HashSet<_> = issued
        .iter()
        .map(|reply| reply.json()["set_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), issued.len(), "each a different set");
    let mut saved = vec![];
    for reply in &issued {
        let id = reply.json()["set_id"].as_str().unwrap().to_owned();
        let answer = activate_json(&app, &token, &id).await;
        match answer.status {
            StatusCode::OK => saved.push(reply.codes()),
            StatusCode::CONFLICT | StatusCode::GONE => {}
            other => panic!("unexpected {other}: {}", answer.text),
        }
    }
    assert_eq!(saved.len(), 1, "only the set stored last can be saved");
    assert_eq!(app.verify("uma", &saved[0][0]).await.status, StatusCode::OK);
}

/// The download grant stored for `user` now.
pub(super) async fn stored_grant(
    app: &TestApp,
    user: &backup_codes::domain::user::UserId,
) -> backup_codes::domain::link_token::DownloadGrant {
    let record = app.store.get_user(user).await.unwrap();
    record.expect("a record").grant.expect("a grant")
}

/// A redemption starting now takes hold of `grant`'s link (the store's claim): the hold, or
/// `None` when the store refuses it.
pub(super) async fn hold_link(
    app: &TestApp,
    user: &backup_codes::domain::user::UserId,
    grant: &backup_codes::domain::link_token::DownloadGrant,
) -> Option<backup_codes::domain::link_token::GrantClaim> {
    use backup_codes::{domain::link_token::GrantClaim, ports::Clock};
    let claim = GrantClaim::new(&grant.id, app.clock.now());
    let held = app.store.claim_download(user, &claim, app.clock.now());
    held.await.unwrap().map(|_| claim)
}

/// A redemption holds the link with one write before it hashes anything: while it is held,
/// every other redemption of that link is refused at that write (no set is generated for
/// it), and a holder that never finishes frees the link once its hold lapses.
pub async fn a_held_link_refuses_other_redemptions_until_the_hold_lapses(app: TestApp) {
    use backup_codes::{
        domain::{link_token::GrantClaim, user::UserId},
        ports::Clock,
    };
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    let uma = UserId::parse("uma").unwrap();
    let grant = stored_grant(&app, &uma).await;
    // A redemption that took the link and then died before storing its set.
    let dead = hold_link(&app, &uma, &grant).await.expect("held");

    let refused = redeem_json(&app, &token).await;
    assert!(is_gone(&refused), "{}", refused.text);
    assert_eq!(
        app.status("uma").await["remaining"],
        0,
        "no set was stored while the link was held"
    );

    app.clock.advance(GrantClaim::LIFETIME.whole_seconds() + 1);
    let codes = collect_codes(&app, &token).await;
    let hasher = backup_codes::domain::codes::CodeHasher::new(crate::TEST_HASH_COST).unwrap();
    let late = backup_codes::domain::record::PendingSet {
        set: backup_codes::domain::codes::IssuedCodes::generate(&hasher, 1, app.clock.now())
            .unwrap()
            .set,
        expires_at: grant.expires_at,
    };
    assert_eq!(
        app.store
            .redeem_download(&uma, &dead, app.clock.now(), &late, &[])
            .await
            .unwrap(),
        backup_codes::ports::Written::ConditionFailed,
        "the lapsed holder can no longer store a set"
    );
    assert_eq!(app.verify("uma", &codes[0]).await.status, StatusCode::OK);
}
