//! The security events of the behaviour suite: the mail each one sends, the audit trail and
//! its paging, who may read it, the lockout notice under a burst, and sinks that fail.

use lambda_http::http::StatusCode;
use serde_json::{json, Value};

use super::{collect_codes, is_gone, redeem_json, BURST};
use crate::{Call, TestApp};

/// The browser the walk's settings requests come from.
const SETTINGS_BROWSER: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15";

/// Every event of one user's life, in order, each with its own mail count checked: returns
/// the codes redeemed last. `ana` is the user, `root` the administrator.
async fn walk_every_event(app: &TestApp) -> Vec<String> {
    let (secret, codes) = app.enrolled("ana").await;
    let (admin_secret, _) = app.enrolled("root").await;
    assert_eq!(app.mailer.count(), 0, "enrolling is not mailed");

    let used = app
        .send(Call::new("POST", "/v1/verify").json(json!({
            "user_id": "ana", "code": codes[0],
            "ip": "203.0.113.7", "user_agent": "Firefox/140.0 (test)"
        })))
        .await;
    assert_eq!(used.status, StatusCode::OK, "{}", used.text);
    assert_eq!(app.mailer.count(), 1, "a used backup code is mailed");

    app.next_step();
    let by_totp = app.verify("ana", &app.totp(&secret)).await;
    assert_eq!(by_totp.status, StatusCode::OK);
    assert_eq!(
        app.mailer.count(),
        1,
        "a TOTP sign-in is audited, never mailed"
    );

    app.next_step();
    let regenerated = app
        .send(
            Call::new("POST", "/v1/backup-codes")
                .user("ana")
                .header("user-agent", SETTINGS_BROWSER)
                .json(json!({ "totp": app.totp(&secret) })),
        )
        .await;
    assert_eq!(regenerated.status, StatusCode::CREATED);
    assert_eq!(app.mailer.count(), 1, "a pending set changes nothing yet");
    let activated = app
        .send(
            Call::new("POST", "/v1/backup-codes/activate")
                .user("ana")
                .header("user-agent", SETTINGS_BROWSER)
                .json(json!({ "set_id": regenerated.json()["set_id"] })),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    assert_eq!(app.mailer.count(), 2, "activating it is the regeneration");

    app.next_step();
    let removed = app
        .send(
            Call::new("DELETE", "/v1/backup-codes")
                .user("ana")
                .json(json!({ "totp": app.totp(&secret) })),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(app.mailer.count(), 3);

    let reset = app
        .admin_reset("root", "ana", &app.totp(&admin_secret))
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.text);
    assert_eq!(
        app.mailer.count(),
        4,
        "the reset is told by the link mail alone"
    );
    let token = crate::token_in(&app.mailer.last());
    let codes = collect_codes(app, &token).await;
    assert_eq!(app.mailer.count(), 5);
    assert!(is_gone(&redeem_json(app, &token).await));
    assert_eq!(
        app.mailer.count(),
        5,
        "a refused link is audited, not mailed"
    );
    codes
}

/// Every page of `path`'s trail, `limit` at a time, with the cursors' count.
pub(super) async fn whole_trail(
    app: &TestApp,
    path: &str,
    caller: Call<'static>,
    limit: usize,
) -> (Vec<Value>, usize) {
    let (mut events, mut pages, mut next): (Vec<Value>, usize, Option<String>) = (vec![], 0, None);
    loop {
        let url = match &next {
            Some(cursor) => format!("{path}?limit={limit}&next={cursor}"),
            None => format!("{path}?limit={limit}"),
        };
        let mut call = Call::new("GET", &url);
        call.user = caller.user;
        call.groups = caller.groups;
        let reply = app.send(call).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let body = reply.json();
        let page = body["events"].as_array().unwrap().clone();
        assert!(page.len() <= limit);
        pages += 1;
        events.extend(page);
        match body["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => return (events, pages),
        }
    }
}

pub async fn each_security_event_mails_the_user_once_with_its_facts(app: TestApp) {
    let redeemed = walk_every_event(&app).await;
    let mails = app.mailer.all();
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Acme: a backup code was used",
            "Acme: your backup codes were regenerated",
            "Acme: your backup codes were removed",
            "Acme: your backup codes were reset",
            "Acme: your new backup codes were collected",
        ]
    );
    assert!(mails.iter().all(|m| m.to.as_str() == "ana@example.com"));
    let used = &mails[0];
    // What the auth server reported is labelled so; the device is named, never quoted whole.
    for fact in [
        "IP address (reported by the sign-in client): 203.0.113.7",
        "Device (reported by the sign-in client): \u{201c}Firefox\u{201d}",
        "9 backup codes left",
        "generate new backup codes",
    ] {
        assert!(used.text.contains(fact), "{fact} in {}", used.text);
    }
    assert!(!used.text.contains("(test)"), "{}", used.text);
    assert!(
        used.html.contains("<code>203.0.113.7</code>")
            && used.html.contains("<code>\u{201c}Firefox\u{201d}</code>"),
        "{}",
        used.html
    );
    for fact in [
        "IP address: 192.0.2.1",
        "Device: \u{201c}Safari on macOS\u{201d}",
    ] {
        assert!(
            mails[1].text.contains(fact),
            "what API Gateway saw is not labelled as reported: {fact} in {}",
            mails[1].text
        );
    }
    for mail in &mails {
        for code in &redeemed {
            assert!(!mail.text.contains(code.as_str()) && !mail.html.contains(code.as_str()));
        }
    }
}

pub async fn the_audit_trail_says_who_did_what_from_where(app: TestApp) {
    walk_every_event(&app).await;
    let (events, _) = whole_trail(&app, "/v1/audit", Call::new("GET", "").user("ana"), 100).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "download_link_refused",
            "download_link_redeemed",
            "codes_reset_by_admin",
            "codes_removed",
            "codes_regenerated",
            "totp_used",
            "backup_code_used",
            "codes_issued",
            "enrolled",
        ],
        "newest first"
    );
    let of = |kind: &str| events.iter().find(|e| e["type"] == kind).unwrap();
    assert_eq!(of("backup_code_used")["actor"], "auth_server");
    assert_eq!(of("backup_code_used")["ip"], "203.0.113.7");
    assert_eq!(of("backup_code_used")["user_agent"], "Firefox/140.0 (test)");
    assert_eq!(of("backup_code_used")["remaining_codes"], 9);
    assert_eq!(of("codes_reset_by_admin")["actor"], "admin:root");
    assert_eq!(of("codes_regenerated")["actor"], "self");
    assert_eq!(
        of("codes_regenerated")["ip"],
        "192.0.2.1",
        "API Gateway's sourceIp"
    );
    assert_eq!(of("codes_regenerated")["user_agent"], SETTINGS_BROWSER);
    assert_eq!(of("backup_code_used")["reported_by_sign_in_client"], true);
    assert_eq!(of("codes_regenerated")["reported_by_sign_in_client"], false);
    assert!(events.iter().all(|e| e["user_id"] == "ana"));
    let root = whole_trail(&app, "/v1/audit", Call::new("GET", "").user("root"), 100)
        .await
        .0;
    assert_eq!(root.len(), 2, "root's own trail: enrolled and codes_issued");
}

pub async fn the_audit_trail_pages_newest_first(app: TestApp) {
    let (secret, _) = app.enrolled("pia").await;
    for _ in 0..11 {
        app.next_step();
        assert_eq!(
            app.verify("pia", &app.totp(&secret)).await.status,
            StatusCode::OK
        );
    }
    let me = || Call::new("GET", "").user("pia");
    let (all, one_page) = whole_trail(&app, "/v1/audit", me(), 100).await;
    assert_eq!((all.len(), one_page), (13, 1));
    let (paged, pages) = whole_trail(&app, "/v1/audit", me(), 5).await;
    assert_eq!(pages, 3, "13 events, 5 a page");
    assert_eq!(
        paged, all,
        "the pages are the trail, in order, nothing twice"
    );
    let times: Vec<&str> = all.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let (exact, pages) = whole_trail(&app, "/v1/audit", me(), 13).await;
    assert_eq!(
        (exact.len(), pages),
        (13, 1),
        "a full last page has no next"
    );

    for (query, field) in [
        ("limit=0", "`limit`"),
        ("limit=101", "`limit`"),
        ("limit=ten", "`limit`"),
        ("next=not-a-cursor", "`next`"),
        ("next=MDAwMDAwMDAwMDAwI3g", "`next`"),
    ] {
        let path = format!("/v1/audit?{query}");
        let reply = app.send(Call::new("GET", &path).user("pia")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.json()["error"], "invalid_field");
        assert!(
            reply.json()["message"].as_str().unwrap().contains(field),
            "{query}"
        );
    }
}

pub async fn admins_read_any_trail_and_nobody_else_does(app: TestApp) {
    let (_, codes) = app.enrolled("ana").await;
    app.enrolled("root").await;
    assert_eq!(app.verify("ana", &codes[0]).await.status, StatusCode::OK);
    let path = "/v1/admin/users/ana/audit";
    let (events, _) = whole_trail(&app, path, Call::new("GET", "").admin("root"), 100).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["backup_code_used", "codes_issued", "enrolled"]);

    let refused = app.send(Call::new("GET", path).user("bob")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(refused.json()["error"], "forbidden");
    let anonymous = app.send(Call::new("GET", path)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let nobody = app
        .send(Call::new("GET", "/v1/admin/users/nobody/audit").admin("root"))
        .await;
    assert_eq!(nobody.status, StatusCode::OK);
    assert_eq!(nobody.json(), json!({ "events": [], "next": null }));
}

pub async fn the_lockout_mail_is_sent_once_per_window_under_a_burst(app: TestApp) {
    let (_, codes) = app.enrolled("lee").await;
    let app = std::sync::Arc::new(app);
    let lockouts = |app: std::sync::Arc<TestApp>| async move {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(BURST));
        let tasks: Vec<_> = (0..BURST)
            .map(|i| {
                let (app, barrier) = (app.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    app.verify("lee", &format!("zzzzz-{i:05}")).await.status
                })
            })
            .collect();
        for task in tasks {
            let status = task.await.unwrap();
            assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS);
        }
        app.mailer.about("too many wrong codes").len()
    };
    assert_eq!(lockouts(app.clone()).await, 1, "one mail for the window");
    let mail = &app.mailer.about("too many wrong codes")[0];
    assert_eq!(mail.to.as_str(), "lee@example.com");
    assert!(mail.text.contains("refused until"));
    assert!(!mail.text.contains(&codes[0]));

    app.clock
        .advance(app.config.settings.lockout.duration.whole_seconds());
    assert_eq!(
        lockouts(app.clone()).await,
        2,
        "the next window, the next mail"
    );
    let (events, _) = whole_trail(&app, "/v1/audit", Call::new("GET", "").user("lee"), 100).await;
    let locked = events.iter().filter(|e| e["type"] == "locked_out").count();
    assert_eq!(locked, 2);
}

pub async fn running_low_is_signalled_by_verify_and_the_status(app: TestApp) {
    let (_, codes) = app.enrolled("low").await;
    let threshold = app.config.settings.low_codes_threshold;
    assert_eq!(threshold, 2, "the default");
    for (used, code) in codes.iter().enumerate() {
        if used + 1 == codes.len() {
            // An hour on: the mail budget coalesced the hour's repeats; this use is mailed.
            app.clock.advance(3600);
        }
        let reply = app.verify("low", code).await;
        let left = codes.len() - used - 1;
        assert_eq!(reply.json()["remaining_backup_codes"], left);
        assert_eq!(reply.json()["low"], left <= threshold, "{left} left");
        assert_eq!(app.status("low").await["low"], left <= threshold);
    }
    let uses = app.mailer.about("a backup code was used");
    let last_use = uses.last().unwrap();
    assert!(
        last_use.text.contains("You have 0 backup codes left"),
        "{}",
        last_use.text
    );
    // The first hour's other 8 uses came in one digest once the hour was over.
    let digests = app.mailer.about("more security events in one hour");
    assert_eq!(digests.len(), 1, "{digests:?}");
    assert!(
        digests[0].text.contains("8 more security events"),
        "{}",
        digests[0].text
    );
}

pub async fn a_verify_source_must_be_an_address_and_a_short_agent(app: TestApp) {
    let (_, codes) = app.enrolled("src").await;
    let long = "x".repeat(513);
    for (extra, field) in [
        (json!({ "ip": "not-an-ip" }), "`ip`"),
        (json!({ "ip": "300.1.1.1" }), "`ip`"),
        (json!({ "ip": 7 }), "ip"),
        (json!({ "user_agent": long }), "`user_agent`"),
        (json!({ "user_agent": "a\nb" }), "`user_agent`"),
    ] {
        let mut body = json!({ "user_id": "src", "code": codes[0] });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let reply = app.send(Call::new("POST", "/v1/verify").json(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert!(
            reply.json()["message"].as_str().unwrap().contains(field),
            "{}",
            reply.text
        );
    }
    assert_eq!(app.mailer.count(), 0);
    let ipv6 = app
        .send(Call::new("POST", "/v1/verify").json(json!({
            "user_id": "src", "code": codes[0], "ip": "2001:db8::1", "user_agent": &long[..512]
        })))
        .await;
    assert_eq!(
        ipv6.status,
        StatusCode::OK,
        "the refusals used nothing: {}",
        ipv6.text
    );
    assert!(app.mailer.last().text.contains("2001:db8::1"));
}

pub async fn notify_switches_each_mail_off(mut app: TestApp) {
    app.reconfigure(|config| {
        config.notify = [backup_codes::domain::events::EventKind::CodesRegenerated].into();
    });
    let (secret, codes) = app.enrolled("quiet").await;
    assert_eq!(app.verify("quiet", &codes[0]).await.status, StatusCode::OK);
    assert_eq!(app.mailer.count(), 0, "backup_code_used is off");
    app.next_step();
    app.regenerate_and_activate("quiet", &app.totp(&secret))
        .await;
    assert_eq!(
        app.mailer.about("regenerated").len(),
        1,
        "codes_regenerated is on"
    );
    let (events, _) = whole_trail(&app, "/v1/audit", Call::new("GET", "").user("quiet"), 100).await;
    assert_eq!(
        events.len(),
        4,
        "the trail keeps every event whatever is mailed"
    );
}

pub async fn a_failing_mailer_never_fails_the_request(app: TestApp) {
    let (secret, codes) = app.enrolled("ria").await;
    app.mailer
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let used = app.verify("ria", &codes[0]).await;
    assert_eq!(used.status, StatusCode::OK, "{}", used.text);
    assert_eq!(used.json()["remaining_backup_codes"], 9);
    app.next_step();
    app.regenerate_and_activate("ria", &app.totp(&secret)).await;
    assert_eq!(app.mailer.count(), 0);
    let (events, _) = whole_trail(&app, "/v1/audit", Call::new("GET", "").user("ria"), 100).await;
    assert_eq!(
        events[0]["type"], "codes_regenerated",
        "the other sinks still got it"
    );
    assert_eq!(events[1]["type"], "backup_code_used");
}
