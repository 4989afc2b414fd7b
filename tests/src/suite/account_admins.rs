//! Account admins act on their own members only: the 403/404 matrix of issue 33 on every
//! route that acts on a member, what the events and mails say, and rights that end at once.

use std::collections::BTreeMap;

use super::{
    membership_routes::{member_path, put_role},
    *,
};

/// The backend's call that makes `user` a `role` of `account`.
pub(crate) async fn member(app: &TestApp, account: &str, user: &str, role: &str) {
    let reply = put_role(app, account, user, role).await;
    assert!(
        reply.status.is_success(),
        "{account}/{user}: {}",
        reply.text
    );
}

async fn leave(app: &TestApp, account: &str, user: &str) {
    let reply = app
        .send(Call::new("DELETE", &member_path(account, user)))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
}

/// Two accounts, as the home page's: acme (admin ada; members mo, mel, and rex, who is then
/// removed) and globex (admin gus; member gia). root is the platform's support. Everyone is
/// enrolled. Returns each one's TOTP secret and codes.
async fn two_accounts(app: &TestApp) -> BTreeMap<&'static str, (String, Vec<String>)> {
    let mut people = BTreeMap::new();
    for name in ["ada", "mo", "mel", "rex", "gus", "gia", "root"] {
        people.insert(name, app.enrolled(name).await);
    }
    for (account, user, role) in [
        ("acme", "ada", "admin"),
        ("acme", "mo", "member"),
        ("acme", "mel", "member"),
        ("acme", "rex", "member"),
        ("globex", "gus", "admin"),
        ("globex", "gia", "member"),
    ] {
        member(app, account, user, role).await;
    }
    leave(app, "acme", "rex").await;
    app.next_step();
    people
}

/// The three routes that act on one member: a name, the method and the path.
fn member_routes(account: &str, target: &str) -> [(&'static str, &'static str, String); 3] {
    let base = format!("/v1/accounts/{account}/members/{target}");
    [
        ("reset", "POST", format!("{base}/backup-codes")),
        ("turn off", "DELETE", format!("{base}/totp")),
        ("activity", "GET", format!("{base}/audit")),
    ]
}

/// Neither a plain member nor another account's admin gets past the door, whatever they send:
/// a body that would be refused as malformed is never read.
pub async fn only_an_accounts_admins_act_on_its_members(app: TestApp) {
    let _people = two_accounts(&app).await;
    for (caller, account, target) in [
        ("mo", "acme", "mel"),
        ("gus", "acme", "mo"),
        ("gia", "acme", "mo"),
        ("nobody", "acme", "mo"),
        ("mo", "globex", "gia"),
    ] {
        for (name, method, path) in member_routes(account, target) {
            let call = Call::new(method, &path).user(caller);
            let reply = app.send(call.raw("not json at all")).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{caller} {name} on {target} of {account}: {}",
                reply.text
            );
            assert_eq!(reply.json()["error"], "forbidden");
        }
    }
    for caller in ["mo", "gus", "gia", "nobody"] {
        let list = app
            .send(Call::new("GET", "/v1/accounts/acme/members").user(caller))
            .await;
        assert_eq!(list.status, StatusCode::FORBIDDEN, "{caller} lists acme");
    }
    // The members are untouched: mo still signs in with their codes.
    assert_eq!(
        app.verify("mo", &_people["mo"].1[0]).await.status,
        StatusCode::OK
    );
}

/// An admin of acme on anyone who is not acme's member now (globex's member, an unknown user,
/// a removed member, globex's admin) gets the same 404: status, body and headers. The admin's
/// proof is spent first every time, so a 404 costs what a success does.
pub async fn another_accounts_user_answers_as_an_unknown_one(app: TestApp) {
    let people = two_accounts(&app).await;
    let ada = &people["ada"];
    let mut answers = vec![];
    for (n, target) in ["gia", "nobody", "rex", "gus"].into_iter().enumerate() {
        for (i, (name, method, path)) in member_routes("acme", target).into_iter().enumerate() {
            let mut call = Call::new(method, &path).user("ada");
            if method != "GET" {
                call = call.json(json!({ "totp": ada.1[n * 2 + i] }));
            }
            let reply = app.send(call).await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{name} on {target}: {}",
                reply.text
            );
            answers.push((name, reply.text.clone(), reply.headers.clone()));
        }
    }
    for (name, text, headers) in &answers {
        let (_, first_text, first_headers) = answers.iter().find(|(n, ..)| n == name).unwrap();
        assert_eq!(text, first_text, "{name}");
        assert_eq!(headers, first_headers, "{name}");
    }
    // Each reset and turn-off above spent the backup code it was given, before the 404.
    for n in 0..4 {
        for spent in [&ada.1[n * 2], &ada.1[n * 2 + 1]] {
            assert!(is_invalid_code(&app.verify("ada", spent).await), "{spent}");
        }
    }
    // Nobody outside acme was touched, and none of them was mailed.
    for user in ["gia", "rex", "gus"] {
        assert_eq!(app.status(user).await["remaining"], 10, "{user}");
    }
    assert!(app
        .mailer
        .all()
        .iter()
        .all(|m| ["gia", "rex", "gus", "nobody"]
            .iter()
            .all(|u| m.to.as_str() != format!("{u}@example.com"))));
}

/// A wrong proof is refused as one before the target is looked at: a 401 for a member and a
/// non-member alike, so the proof's answer says nothing about who belongs where.
pub async fn a_wrong_proof_is_refused_before_the_member_is_looked_at(app: TestApp) {
    let _people = two_accounts(&app).await;
    for target in ["mo", "gia", "nobody"] {
        for (name, method, path) in member_routes("acme", target) {
            if method == "GET" {
                continue;
            }
            let call = Call::new(method, &path).user("ada");
            let reply = app.send(call.json(json!({ "totp": "000000" }))).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name} on {target}");
            assert_eq!(reply.json()["error"], "invalid_code");
        }
    }
}

/// acme's admin resets mo, turns mel's two-factor off and reads mo's activity; the events name
/// the admin and the account, and so do the mails.
pub async fn an_accounts_admin_resets_turns_off_and_reads_their_members(app: TestApp) {
    let people = two_accounts(&app).await;
    let ada = &people["ada"].0;
    let reset = app
        .send(
            Call::new("POST", "/v1/accounts/acme/members/mo/backup-codes")
                .user("ada")
                .header("x-otp", app.totp(ada)),
        )
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.text);
    assert_eq!(reset.json()["status"], "email_sent");
    let link = app.mailer.last();
    assert_eq!(link.to.as_str(), "mo@example.com");
    assert!(
        link.text
            .contains("An administrator of the account \u{201c}acme\u{201d} reset"),
        "{}",
        link.text
    );
    assert!(is_invalid_code(&app.verify("mo", &people["mo"].1[0]).await));

    app.next_step();
    let off = app
        .send(
            Call::new("DELETE", "/v1/accounts/acme/members/mel/totp")
                .user("ada")
                .json(json!({ "totp": app.totp(ada) })),
        )
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.text);
    let after = app
        .send(Call::new("GET", "/v1/backup-codes").user("mel"))
        .await;
    assert_eq!(
        after.json()["error"],
        "not_enrolled",
        "mel is as before enrolling"
    );
    let told = app.mailer.last();
    assert_eq!(told.to.as_str(), "mel@example.com");
    assert!(
        told.text
            .contains("account \u{201c}acme\u{201d} turned off"),
        "{}",
        told.text
    );

    let activity = app
        .send(Call::new("GET", "/v1/accounts/acme/members/mo/audit?limit=5").user("ada"))
        .await;
    assert_eq!(activity.status, StatusCode::OK, "{}", activity.text);
    let events = activity.json()["events"].as_array().unwrap().clone();
    let by_ada = events
        .iter()
        .find(|e| e["type"] == "codes_reset_by_admin")
        .expect("the reset is in mo's trail");
    assert_eq!(by_ada["actor"], "admin:ada");
    assert_eq!(by_ada["account_id"], "acme");
    let mel = app
        .send(Call::new("GET", "/v1/accounts/acme/members/mel/audit").user("ada"))
        .await;
    let off_event = mel.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "two_factor_disabled")
        .cloned()
        .expect("the turn-off is in mel's trail");
    assert_eq!(off_event["account_id"], "acme");
}

/// The platform's support acts on any account's members through the account's routes, and on
/// them only there; an account's admin gets nothing from the platform's routes.
pub async fn support_acts_in_any_account_and_account_admins_not_on_the_platform(app: TestApp) {
    let people = two_accounts(&app).await;
    let root = &people["root"].0;
    let reads = app
        .send(Call::new("GET", "/v1/accounts/globex/members/gia/audit").admin("root"))
        .await;
    assert_eq!(reads.status, StatusCode::OK, "{}", reads.text);
    let outside = app
        .send(
            Call::new("POST", "/v1/accounts/globex/members/mo/backup-codes")
                .admin("root")
                .json(json!({ "totp": app.totp(root) })),
        )
        .await;
    assert_eq!(
        outside.status,
        StatusCode::NOT_FOUND,
        "mo is not globex's: {}",
        outside.text
    );

    let ada = &people["ada"].0;
    for call in [
        Call::new("POST", "/v1/admin/users/mo/backup-codes").json(json!({ "totp": app.totp(ada) })),
        Call::new("DELETE", "/v1/admin/users/mo/totp").json(json!({ "totp": app.totp(ada) })),
        Call::new("GET", "/v1/admin/users/mo/audit"),
    ] {
        let reply = app.send(call.user("ada")).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    }
    assert_eq!(app.status("mo").await["remaining"], 10);
}

/// Rights follow the backend's writes at the very next request: a demoted admin is refused,
/// a removed member is no longer reached, and a member made admin acts at once.
pub async fn rights_follow_the_backends_writes_at_the_next_request(app: TestApp) {
    let _people = two_accounts(&app).await;
    let read = |caller: &'static str, target: &'static str| {
        let path = format!("/v1/accounts/acme/members/{target}/audit");
        let app = &app;
        async move { app.send(Call::new("GET", &path).user(caller)).await.status }
    };
    assert_eq!(read("ada", "mo").await, StatusCode::OK);
    leave(&app, "acme", "mo").await;
    assert_eq!(read("ada", "mo").await, StatusCode::NOT_FOUND);
    member(&app, "acme", "ada", "member").await;
    assert_eq!(read("ada", "mel").await, StatusCode::FORBIDDEN);
    member(&app, "acme", "mel", "admin").await;
    assert_eq!(read("mel", "ada").await, StatusCode::OK);
}

/// The Users page: every member with what their admin needs to help them, in user-id order;
/// nobody of another account, and nobody removed.
pub async fn the_users_page_shows_each_member_as_their_admin_needs(app: TestApp) {
    let people = two_accounts(&app).await;
    member(&app, "acme", "nia", "member").await; // never enrolled
    assert_eq!(
        app.verify("mo", &people["mo"].1[3]).await.status,
        StatusCode::OK
    );
    let reset = app
        .send(
            Call::new("POST", "/v1/accounts/acme/members/mel/backup-codes")
                .user("ada")
                .header("x-otp", app.totp(&people["ada"].0)),
        )
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.text);

    let page = app
        .send(Call::new("GET", "/v1/accounts/acme/members").user("ada"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let body = page.json();
    assert_eq!(body["next"], Value::Null);
    let members = body["members"].as_array().unwrap();
    let ids: Vec<&str> = members
        .iter()
        .map(|m| m["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ada", "mel", "mo", "nia"]);
    let of = |id: &str| members.iter().find(|m| m["user_id"] == id).unwrap().clone();
    let ada = of("ada");
    assert_eq!(
        (ada["role"].clone(), ada["enrolled"].clone()),
        (json!("admin"), json!(true))
    );
    assert_eq!(ada["last_code"]["method"], "totp", "the reset's proof");
    let mo = of("mo");
    assert_eq!(mo["role"], "member");
    assert_eq!(mo["remaining_codes"], 9);
    assert_eq!(mo["low"], false);
    assert_eq!(mo["last_code"]["method"], "backup_code");
    assert_eq!(mo["last_code"]["at"], "2027-01-15T08:00:30Z");
    assert_eq!(mo["pending_link"], Value::Null);
    let mel = of("mel");
    assert_eq!(mel["remaining_codes"], 0);
    assert_eq!(mel["low"], true);
    assert!(mel["pending_link"]["expires_at"].is_string(), "{mel}");
    let nia = of("nia");
    assert_eq!(
        (
            nia["enrolled"].clone(),
            nia["remaining_codes"].clone(),
            nia["low"].clone()
        ),
        (json!(false), json!(0), json!(false))
    );
    assert_eq!(nia["last_code"], Value::Null);
    // The platform's support sees the same page; globex's admin sees globex's.
    let by_support = app
        .send(Call::new("GET", "/v1/accounts/acme/members").admin("root"))
        .await;
    assert_eq!(by_support.json()["members"], body["members"]);
    let globex = app
        .send(Call::new("GET", "/v1/accounts/globex/members").user("gus"))
        .await;
    let globex_ids: Vec<Value> = globex.json()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].clone())
        .collect();
    assert_eq!(globex_ids, [json!("gia"), json!("gus")]);
}

/// 1,000 members listed 100 at a time through the route: each once, in order, and the last
/// page says so. Odd paging parameters are refused with the field named.
pub async fn a_thousand_members_are_listed_through_the_users_page(app: TestApp) {
    use futures::StreamExt;
    member(&app, "big", "boss", "admin").await;
    futures::stream::iter(0..999)
        .map(|n| {
            let app = &app;
            async move { member(app, "big", &format!("user-{n:04}"), "member").await }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let mut seen = vec![];
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &next {
            None => "/v1/accounts/big/members?limit=100".to_owned(),
            // The ids here need no escaping in a query string.
            Some(cursor) => format!("/v1/accounts/big/members?limit=100&next={cursor}"),
        };
        let page = app.send(Call::new("GET", &path).user("boss")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        pages += 1;
        let body = page.json();
        for m in body["members"].as_array().unwrap() {
            seen.push(m["user_id"].as_str().unwrap().to_owned());
        }
        match body["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => break,
        }
        assert!(pages <= 11, "the pages never end");
    }
    let mut expected: Vec<String> = (0..999).map(|n| format!("user-{n:04}")).collect();
    expected.insert(0, "boss".to_owned());
    assert_eq!(seen, expected);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("next=", "next"),
        ("next=a%0Ab", "next"),
    ] {
        let path = format!("/v1/accounts/big/members?{query}");
        let reply = app.send(Call::new("GET", &path).user("boss")).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            reply.text
        );
        assert_eq!(reply.json()["error"], "invalid_field");
        assert!(
            reply.json()["message"].as_str().unwrap().contains(field),
            "{query}"
        );
    }
}

/// An admin demoted while their requests are in flight: each request is answered as the
/// role it found (done, or 403), none half-done, and every request after the demotion is
/// refused. Meanwhile the backend's writes of the member's role and the admin's reset of the
/// member both stand: neither loses the other's update.
pub async fn a_demotion_racing_admin_actions_loses_nothing(app: TestApp) {
    let people = two_accounts(&app).await;
    let reads = (0..12).map(|_| {
        let app = &app;
        async move {
            app.send(Call::new("GET", "/v1/accounts/acme/members/mo/audit").user("ada"))
                .await
                .status
        }
    });
    let reset = app.send(
        Call::new("POST", "/v1/accounts/acme/members/mel/backup-codes")
            .user("ada")
            .header("x-otp", app.totp(&people["ada"].0)),
    );
    // Racing writers of one membership: each applies, or finds it changed under it at every
    // try and says so (409 try_again), writing nothing.
    let roles = ["admin", "member", "admin", "member"].map(|role| {
        let app = &app;
        async move {
            let reply = put_role(app, "acme", "mo", role).await;
            assert!(
                reply.status.is_success() || reply.json()["error"] == "try_again",
                "{}",
                reply.text
            );
        }
    });
    let demotion = member(&app, "acme", "ada", "member");
    let (statuses, reset, _, _) = tokio::join!(
        futures::future::join_all(reads),
        reset,
        futures::future::join_all(roles),
        demotion
    );
    for status in &statuses {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::FORBIDDEN,
            "{status}"
        );
    }
    // The reset either happened whole (link mailed, old codes dead) or not at all.
    match reset.status {
        StatusCode::ACCEPTED => {
            assert!(is_invalid_code(
                &app.verify("mel", &people["mel"].1[0]).await
            ));
            assert_eq!(app.mailer.last().to.as_str(), "mel@example.com");
        }
        StatusCode::FORBIDDEN => {
            assert_eq!(
                app.verify("mel", &people["mel"].1[0]).await.status,
                StatusCode::OK
            );
        }
        other => panic!("the reset answered {other}: {}", reset.text),
    }
    for _ in 0..3 {
        let after = app
            .send(Call::new("GET", "/v1/accounts/acme/members/mo/audit").user("ada"))
            .await;
        assert_eq!(after.status, StatusCode::FORBIDDEN, "demoted is demoted");
    }
    // mo's role is what the last recorded change of it says.
    let trail = app
        .send(Call::new("GET", "/v1/accounts/acme/members/mo/audit?limit=100").admin("root"))
        .await;
    let changes: Vec<Value> = trail.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "membership_changed")
        .cloned()
        .collect();
    let role_now = app
        .send(Call::new("GET", "/v1/accounts/acme/members").admin("root"))
        .await
        .json()["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == "mo")
        .unwrap()["role"]
        .clone();
    // Each change is recorded from the role it replaced, so they alternate; the count of
    // changes from "member" decides where mo stands.
    let promotions = changes.iter().filter(|e| e["role"] == "admin").count();
    let demotions = changes.len() - promotions;
    assert!(
        promotions == demotions || promotions == demotions + 1,
        "{changes:?}"
    );
    let expected = if promotions > demotions {
        "admin"
    } else {
        "member"
    };
    assert_eq!(role_now, expected);
}
