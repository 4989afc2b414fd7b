//! Recovery requests through their routes, the user's side (issue 34): filed after the password
//! by the team's auth server or a Cognito challenge, told to the user at once with a link that
//! cancels it, routed to their accounts' admins and to support, bounded per account and day,
//! expired when nobody answers. The admins' answers are in `recovery_answers`.

use backup_codes::ports::{Clock, OutgoingMail};

use crate::{token_in, Reply};

use super::{account_admins::member, *};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
pub(crate) const DAY: i64 = 86_400;

/// The auth server files for `user` after their password passed.
pub(crate) async fn file(app: &TestApp, user: &str) -> Reply {
    app.send(Call::new("POST", "/v1/recovery-requests").json(json!({
        "user_id": user,
        "ip": "203.0.113.9",
        "user_agent": FIREFOX,
    })))
    .await
}

/// acme (admins ada and al; members mo, mel) and globex (admin gus; member gia), everyone
/// enrolled. Returns each one's TOTP secret and codes.
pub(crate) async fn accounts(
    app: &TestApp,
) -> std::collections::BTreeMap<&'static str, (String, Vec<String>)> {
    let mut people = std::collections::BTreeMap::new();
    for name in ["ada", "al", "mo", "mel", "gus", "gia", "root"] {
        people.insert(name, app.enrolled(name).await);
    }
    for (account, user, role) in [
        ("acme", "ada", "admin"),
        ("acme", "al", "admin"),
        ("acme", "mo", "member"),
        ("acme", "mel", "member"),
        ("globex", "gus", "admin"),
        ("globex", "gia", "member"),
    ] {
        member(app, account, user, role).await;
    }
    app.next_step();
    people
}

pub(crate) async fn listed(app: &TestApp, admin: &str, account: &str) -> Vec<Value> {
    let path = format!("/v1/accounts/{account}/recovery-requests");
    let reply = app.send(Call::new("GET", &path).user(admin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()["requests"].as_array().unwrap().clone()
}

pub(crate) async fn support_list(app: &TestApp) -> Vec<Value> {
    let reply = app
        .send(Call::new("GET", "/v1/admin/recovery-requests").admin("root"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()["requests"].as_array().unwrap().clone()
}

/// The id of `user`'s open request, as support sees it.
pub(crate) async fn request_id(app: &TestApp, user: &str) -> String {
    support_list(app)
        .await
        .iter()
        .find(|r| r["user_id"] == user)
        .unwrap_or_else(|| panic!("no open request of {user}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) fn answer_path(account: Option<&str>, id: &str, verb: &str) -> String {
    match account {
        Some(account) => format!("/v1/accounts/{account}/recovery-requests/{id}/{verb}"),
        None => format!("/v1/admin/recovery-requests/{id}/{verb}"),
    }
}

pub(crate) async fn approve(
    app: &TestApp,
    admin: &str,
    account: &str,
    id: &str,
    proof: &str,
) -> Reply {
    let path = answer_path(Some(account), id, "approve");
    let call = Call::new("POST", &path)
        .user(admin)
        .json(json!({ "totp": proof }));
    app.send(call).await
}

pub(crate) async fn deny(
    app: &TestApp,
    admin: &str,
    account: &str,
    id: &str,
    reason: Option<&str>,
) -> Reply {
    let body = match reason {
        Some(reason) => json!({ "reason": reason }),
        None => json!({}),
    };
    let path = answer_path(Some(account), id, "deny");
    let call = Call::new("POST", &path).user(admin).json(body);
    app.send(call).await
}

async fn cancel(app: &TestApp, token: &str) -> Reply {
    app.send(Call::new("POST", "/v1/recovery-requests/cancel").json(json!({ "token": token })))
        .await
}

/// The mails sent to `who` since `from`.
pub(crate) fn mails_to(app: &TestApp, who: &str, from: usize) -> Vec<OutgoingMail> {
    app.mailer.all()[from..]
        .iter()
        .filter(|m| m.to.as_str() == format!("{who}@example.com"))
        .cloned()
        .collect()
}

/// Filed once: the user is mailed at once (when, from where, when it may be approved, the
/// cancel link), their accounts' admins are mailed, and see it; another account's admins do
/// not. Filing again, one after another or eight at once, files and mails nothing more.
pub async fn a_filed_request_tells_the_user_and_asks_their_accounts_admins(app: TestApp) {
    accounts(&app).await;
    let before = app.mailer.count();
    let filed = file(&app, "mo").await;
    assert_eq!(filed.status, StatusCode::ACCEPTED, "{}", filed.text);
    assert_eq!(filed.json()["status"], "requested");

    let told = mails_to(&app, "mo", before);
    assert_eq!(told.len(), 1, "{told:?}");
    let text = &told[0].text;
    assert!(told[0]
        .subject
        .contains("someone asked to reset your two-factor"));
    for expected in [
        "Someone who knew your password",
        "IP address (reported by the sign-in client): 203.0.113.9",
        "\u{201c}Firefox on Linux\u{201d}",
        "change your",
        "https://codes.example.com/v1/recovery-requests/cancel#token=",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    assert!(
        !text.contains(FIREFOX),
        "the user agent itself is never mailed"
    );

    let mine = listed(&app, "ada", "acme").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["user_id"], "mo");
    assert_eq!(mine[0]["ip"], "203.0.113.9");
    assert_eq!(mine[0]["device"], "Firefox on Linux");
    assert_eq!(mine[0]["waiting"], true);
    assert!(
        mine[0].get("accounts").is_none(),
        "an account's admin sees no other account"
    );
    assert!(listed(&app, "gus", "globex").await.is_empty());
    let foreign = app
        .send(Call::new("GET", "/v1/accounts/acme/recovery-requests").user("gus"))
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let all = support_list(&app).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["accounts"], json!(["acme"]));

    // Each request's events are delivered after it, as the stream does: the admins' copies
    // were mailed with the filing.
    for admin in ["ada", "al"] {
        let asked = mails_to(&app, admin, before);
        assert_eq!(asked.len(), 1, "{admin}: {asked:?}");
        assert!(
            asked[0].text.contains("\u{201c}mo\u{201d}"),
            "{}",
            asked[0].text
        );
        assert!(asked[0].text.contains("channel you already trust"));
    }
    assert!(mails_to(&app, "gus", before).is_empty());
    assert!(app
        .trail_kinds("mo")
        .await
        .contains(&"recovery_requested".to_owned()));

    let quiet = app.mailer.count();
    assert_eq!(file(&app, "mo").await.text, filed.text, "the same answer");
    let racing = futures::future::join_all((0..8).map(|_| file(&app, "mo"))).await;
    assert!(racing.iter().all(|r| r.status == StatusCode::ACCEPTED));
    app.deliver().await;
    assert_eq!(app.mailer.count(), quiet, "nobody mailed again");
    assert_eq!(support_list(&app).await.len(), 1);
    assert_eq!(
        support_list(&app).await[0]["id"],
        all[0]["id"],
        "the same request"
    );
}

/// Racing filings of one user who has none open: one request, one mail.
pub async fn racing_first_filings_mail_the_user_once(app: TestApp) {
    accounts(&app).await;
    let before = app.mailer.count();
    let racing = futures::future::join_all((0..8).map(|_| file(&app, "mel"))).await;
    assert!(racing.iter().all(|r| r.status == StatusCode::ACCEPTED));
    assert_eq!(mails_to(&app, "mel", before).len(), 1);
    assert_eq!(support_list(&app).await.len(), 1);
}

/// An unknown user and one without a factor are answered as a real one is, and nothing is
/// filed or mailed.
pub async fn an_unknown_or_unenrolled_user_filed_for_gets_the_same_answer(app: TestApp) {
    accounts(&app).await;
    member(&app, "acme", "newbie", "member").await;
    let before = app.mailer.count();
    let real = file(&app, "mo").await;
    let after_real = app.mailer.count();
    for nobody in ["nobody", "newbie"] {
        let reply = file(&app, nobody).await;
        assert_eq!(reply.status, real.status, "{nobody}");
        assert_eq!(reply.text, real.text, "{nobody}");
    }
    assert_eq!(mails_to(&app, "mo", before).len(), 1);
    assert_eq!(
        app.mailer.count(),
        after_real,
        "nothing mailed for them, nor about them"
    );
    let users: Vec<Value> = support_list(&app)
        .await
        .iter()
        .map(|r| r["user_id"].clone())
        .collect();
    assert_eq!(users, [json!("mo")]);
    for (body, error) in [
        (json!({}), "missing_field"),
        (json!({ "user_id": "" }), "invalid_field"),
        (
            json!({ "user_id": "mo", "ip": "not an ip" }),
            "invalid_field",
        ),
        (
            json!({ "user_id": "mo", "code": "123456" }),
            "unknown_field",
        ),
    ] {
        let reply = app
            .send(Call::new("POST", "/v1/recovery-requests").json(body.clone()))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert_eq!(reply.json()["error"], error, "{body}");
    }
}

/// "This was not me": the mailed link's page does nothing by itself; posting its token cancels
/// the request once, the user is mailed, and nobody can approve it after.
pub async fn the_user_cancels_by_the_mailed_link_once(app: TestApp) {
    let people = accounts(&app).await;
    let before = app.mailer.count();
    file(&app, "mo").await;
    let token = token_in(&mails_to(&app, "mo", before)[0]);
    let id = request_id(&app, "mo").await;

    let page = app
        .send(Call::new("GET", "/v1/recovery-requests/cancel"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Cancel the request"));
    assert_eq!(
        listed(&app, "ada", "acme").await.len(),
        1,
        "opening the page cancels nothing"
    );

    let mut forged = token.clone();
    forged.pop();
    assert_eq!(cancel(&app, &forged).await.status, StatusCode::GONE);
    let download_shaped = app
        .admin_reset("root", "gia", &app.totp(&people["root"].0))
        .await;
    assert_eq!(download_shaped.status, StatusCode::ACCEPTED);
    let download_token = token_in(&app.mailer.last());
    assert_eq!(
        cancel(&app, &download_token).await.status,
        StatusCode::GONE,
        "a download link cancels nothing"
    );

    let cancelled = cancel(&app, &token).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    assert_eq!(cancelled.json()["status"], "cancelled");
    assert!(listed(&app, "ada", "acme").await.is_empty());
    assert!(support_list(&app).await.is_empty());
    let again = cancel(&app, &token).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert_eq!(again.json()["error"], "link_invalid");
    let form = app
        .send(
            Call::new("POST", "/v1/recovery-requests/cancel")
                .header("content-type", "application/x-www-form-urlencoded")
                .raw(format!("token={token}")),
        )
        .await;
    assert_eq!(form.status, StatusCode::GONE);
    assert!(form.text.contains("This link is no longer valid"));

    app.clock.advance(DAY);
    app.next_step();
    let late = approve(&app, "ada", "acme", &id, &app.totp(&people["ada"].0)).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
    assert_eq!(late.json()["error"], "recovery_closed");

    let told = mails_to(&app, "mo", before);
    assert!(
        told.iter().any(|m| m.subject.contains("you cancelled")),
        "{told:?}"
    );
    assert!(app
        .trail_kinds("mo")
        .await
        .contains(&"recovery_cancelled".to_owned()));
}

/// Nobody answers: after 7 days the schedule's sweep closes it, the user is told, and the
/// user may ask again.
pub async fn a_request_nobody_answers_expires_and_its_user_is_told(app: TestApp) {
    let people = accounts(&app).await;
    let before = app.mailer.count();
    file(&app, "mo").await;
    let id = request_id(&app, "mo").await;
    app.clock.advance(7 * DAY);
    app.next_step();
    assert!(
        listed(&app, "ada", "acme").await.is_empty(),
        "expired: listed no more"
    );
    let late = approve(&app, "ada", "acme", &id, &app.totp(&people["ada"].0)).await;
    assert_eq!(late.json()["error"], "recovery_closed", "{}", late.text);

    // The schedule's sweep (run with each delivery here) recorded the expiry; the stream
    // mails it.
    app.deliver().await;
    let told = mails_to(&app, "mo", before);
    assert!(
        told.iter().any(|m| m.subject.contains("expired")),
        "{told:?}"
    );
    let trail = app
        .send(Call::new("GET", "/v1/audit").user("mo"))
        .await
        .json();
    let expired = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "recovery_expired")
        .cloned()
        .unwrap_or_else(|| panic!("{trail}"));
    assert_eq!(expired["actor"], "service");
    assert_eq!(expired["request_id"], id.as_str());

    let again = app.mailer.count();
    file(&app, "mo").await;
    assert_eq!(
        mails_to(&app, "mo", again).len(),
        1,
        "a new request, a new mail"
    );
    assert_ne!(request_id(&app, "mo").await, id);
}

/// At most 20 requests a day ask one account's admins: the 21st is filed for support alone,
/// and the next day the account is asked again.
pub async fn an_accounts_admins_are_asked_at_most_twenty_times_a_day(app: TestApp) {
    app.enrolled("ada").await;
    member(&app, "acme", "ada", "admin").await;
    for n in 0..22 {
        let user = format!("m{n:02}");
        app.enrolled(&user).await;
        member(&app, "acme", &user, "member").await;
    }
    // The day starts now, so all 21 fall in it.
    let into_day = app.clock.now().unix_timestamp().rem_euclid(DAY);
    app.clock.advance(DAY - into_day);
    for n in 0..21 {
        let filed = file(&app, &format!("m{n:02}")).await;
        assert_eq!(filed.status, StatusCode::ACCEPTED);
    }
    assert_eq!(listed(&app, "ada", "acme").await.len(), 20);
    let all = support_list(&app).await;
    let extra = all.iter().find(|r| r["user_id"] == "m20").unwrap();
    assert_eq!(extra["accounts"], json!([]), "filed for support alone");
    app.clock.advance(DAY);
    file(&app, "m21").await;
    assert_eq!(listed(&app, "ada", "acme").await.len(), 21, "a new day");
}

/// On Cognito, the code challenge's answer `REQUEST_ANSWER` files the request (never checked
/// as a code, so no ledger entry and no code spent), is a wrong answer (no tokens), and the
/// next challenge says the request is open. A user with no open request is told nothing, and
/// nothing is read for a first challenge.
pub async fn a_cognito_sign_in_files_a_request_in_place_of_a_code(app: TestApp) {
    use crate::cognito::{answer, create, entry, password_passed, tokens_issued};
    use backup_codes::domain::recovery::REQUEST_ANSWER;

    let people = accounts(&app).await;
    let (first, _, _) = create(&app, "mo", password_passed()).await;
    assert_eq!(first["recovery_request"], Value::Null);

    let before = app.mailer.count();
    assert!(
        !answer(&app, "mo", REQUEST_ANSWER).await,
        "a request is no right answer"
    );
    assert!(!tokens_issued(&app, "mo").await, "no tokens for a request");
    let told = mails_to(&app, "mo", before);
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].text.contains("/v1/recovery-requests/cancel#token="));
    assert_eq!(listed(&app, "ada", "acme").await.len(), 1);
    assert!(mails_to(&app, "ada", before)
        .iter()
        .any(|m| m.subject.contains("asks for their two-factor")));

    let mut session = password_passed();
    session.push(entry("CUSTOM_CHALLENGE", false));
    let (next, _, _) = create(&app, "mo", session).await;
    assert_eq!(next["recovery_request"], "open", "{next}");
    // Nothing of a request reaches the attempt ledger: more of them than the lockout allows,
    // and a code the user finds still signs them in.
    for _ in 0..8 {
        assert!(!answer(&app, "mo", REQUEST_ANSWER).await);
    }
    assert!(
        answer(&app, "mo", &people["mo"].1[0]).await,
        "a found code still signs in"
    );
    assert_eq!(
        mails_to(&app, "mo", before).len(),
        2,
        "the request's and the code's"
    );

    assert!(!answer(&app, "mel", "recovery_request_lost_phone_and_codes").await);
    assert!(support_list(&app)
        .await
        .iter()
        .all(|r| r["user_id"] != "mel"));
}
