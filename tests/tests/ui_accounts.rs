//! The account admin's Users page (`<backup-codes-account-members>`) on the local server's home
//! page in Chromium: the home page's accounts, a member opened and reset behind the admin's own
//! code, the account's rule switched, its effect on a member's settings card, and a refusal for
//! anyone else. axe-core on every state; screenshots into target/ui-screenshots/.

use integration_tests::browser::{open_account, sign_in_as};
use integration_tests::{
    browser::{
        check_state, chromium, eventually, home_page, js, tempdir, unexpected_console, Component,
    },
    Call,
};
use lambda_http::http::StatusCode;
use local_server::home::seed_accounts;

const MEMBERS: Component =
    Component("document.querySelector('backup-codes-account-members').shadowRoot");
const MEMBER: Component = Component(
    "document.querySelector('backup-codes-account-members').shadowRoot\
     .querySelector('backup-codes-admin-reset').shadowRoot",
);
const CARD: Component = Component("document.querySelector('backup-codes-settings').shadowRoot");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_admin_manages_their_users_and_the_accounts_rule() {
    let work = tempdir("ui-accounts");
    let (app, base) = home_page(&work).await;
    seed_accounts(&app.functions).await.unwrap();
    let (ada, _) = app.enrolled("ada").await;
    let (_, mo_codes) = app.enrolled("mo").await;
    assert_eq!(app.verify("mo", &mo_codes[0]).await.status, StatusCode::OK);

    let browser = chromium(&work.join("downloads"), &work.join("profile")).await;
    let c = &browser.client;
    c.goto(&format!("{base}/")).await.unwrap();
    sign_in_as(c, "ada").await;
    open_account(c, "acme").await;
    MEMBERS.says(c, "Users of acme").await;
    MEMBERS
        .says(c, "Two-factor authentication is optional")
        .await;
    let text = MEMBERS.says(c, "mel").await;
    for expected in ["Admin", "Member", "Backup codes: 9", "backup code"] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    check_state(c, "members-list").await;

    // mo, opened: the admin's own reset, then back to the list, which shows the link waiting.
    let opened = js(c, &format!("const b = {MEMBERS}.querySelector('button[aria-label=\"Manage mo\"]'); b.click(); return !!b;")).await;
    assert_eq!(opened, true);
    MEMBER.says(c, "Two-factor for mo").await;
    MEMBER.says(c, "A backup code was used").await;
    check_state(c, "member-open").await;
    MEMBER.press(c, "Reset backup codes").await;
    app.next_step();
    MEMBER.type_into_focus(c, &app.totp(&ada)).await;
    MEMBER
        .says(c, "we emailed mo a link to their new codes")
        .await;
    assert_eq!(
        app.verify("mo", &mo_codes[1]).await.status,
        StatusCode::UNAUTHORIZED,
        "the old codes died"
    );
    MEMBERS.press(c, "Back to the users").await;
    MEMBERS.says(c, "Reset link sent").await;

    // The rule: required, behind the admin's own code.
    MEMBERS.press(c, "Require two-factor").await;
    MEMBERS.says(c, "no member can turn it off").await;
    check_state(c, "rule-confirm").await;
    app.next_step();
    MEMBERS.type_into_focus(c, &app.totp(&ada)).await;
    MEMBERS
        .says(c, "Two-factor authentication is required")
        .await;
    check_state(c, "rule-required").await;
    let rule = app
        .send(Call::new("GET", "/v1/accounts/acme/policy").user("ada"))
        .await;
    assert_eq!(rule.json()["two_factor"], "required");

    // ada's own card, loaded again, now names acme and offers no turn-off.
    sign_in_as(c, "ada").await;
    CARD.says(c, "required by \u{201c}acme\u{201d}").await;
    check_state(c, "settings-required").await;
    let offers_off = js(
        c,
        &format!("return [...{CARD}.querySelectorAll('button')].some((b) => b.textContent === 'Turn two-factor off')"),
    )
    .await;
    assert_eq!(offers_off, false);

    // globex's member is refused acme's page.
    sign_in_as(c, "gia").await;
    open_account(c, "acme").await;
    let alert = MEMBERS.alert(c).await;
    assert_eq!(alert, "You are not allowed to do this.");
    eventually(
        c,
        "document.getElementById('account-slot').children.length === 1",
    )
    .await;

    let problems = unexpected_console(c, &[401, 403, 409]).await;
    assert!(problems.is_empty(), "console: {problems:#?}");
    browser.client.clone().close().await.unwrap();
}

/// The account's open recovery requests on the Users page: who asked, from where, the wait left
/// (approve unavailable until then); a denial with its reason, then, once the wait is over, an
/// approval behind the admin's own code after the reminder to check who is asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_admin_answers_their_members_recovery_requests() {
    let work = tempdir("ui-recovery");
    let (app, base) = home_page(&work).await;
    seed_accounts(&app.functions).await.unwrap();
    let (ada, _) = app.enrolled("ada").await;
    let (_, mo_codes) = app.enrolled("mo").await;
    app.enrolled("mel").await;
    for user in ["mo", "mel"] {
        let filed = app
            .send(Call::new("POST", "/v1/recovery-requests").json(serde_json::json!({
                "user_id": user,
                "ip": "203.0.113.9",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
            })))
            .await;
        assert_eq!(filed.status, StatusCode::ACCEPTED, "{}", filed.text);
    }

    let browser = chromium(&work.join("downloads"), &work.join("profile")).await;
    let c = &browser.client;
    c.goto(&format!("{base}/")).await.unwrap();
    sign_in_as(c, "ada").await;
    open_account(c, "acme").await;
    MEMBERS.says(c, "Requests to reset two-factor").await;
    let text = MEMBERS.says(c, "Can be approved from").await;
    for expected in [
        "mo",
        "mel",
        "203.0.113.9",
        "Firefox on Linux",
        "as the sign-in reported",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let approvable = js(
        c,
        &format!("return {MEMBERS}.querySelector('button[aria-label=\"Approve mo\"]').disabled"),
    )
    .await;
    assert_eq!(approvable, true, "not before the wait is over");
    check_state(c, "recovery-requests-waiting").await;

    // mel's is denied at once, with a reason.
    let denied = js(c, &format!("const b = {MEMBERS}.querySelector('button[aria-label=\"Deny mel\"]'); b.click(); return !!b;")).await;
    assert_eq!(denied, true);
    MEMBERS.says(c, "Reason, emailed to mel").await;
    check_state(c, "recovery-deny").await;
    js(
        c,
        &format!("const i = {MEMBERS}.activeElement; i.value = 'Call the help desk first'; i.form.requestSubmit(); return true;"),
    )
    .await;
    MEMBERS.says(c, "Denied: mel was emailed.").await;

    // A day later mo's may be approved: the reminder, then the admin's own code.
    app.clock.advance(86_400);
    app.next_step();
    open_account(c, "acme").await;
    MEMBERS.says(c, "Requests to reset two-factor").await;
    eventually(
        c,
        &format!("{MEMBERS}.querySelector('button[aria-label=\"Approve mo\"]') && !{MEMBERS}.querySelector('button[aria-label=\"Approve mo\"]').disabled"),
    )
    .await;
    js(
        c,
        &format!(
            "{MEMBERS}.querySelector('button[aria-label=\"Approve mo\"]').click(); return true;"
        ),
    )
    .await;
    MEMBERS.says(c, "through a channel you already trust").await;
    check_state(c, "recovery-approve").await;
    MEMBERS.type_into_focus(c, &app.totp(&ada)).await;
    MEMBERS.says(c, "Approved: mo was emailed a link").await;
    MEMBERS.says(c, "No open requests.").await;
    check_state(c, "recovery-approved").await;
    assert_eq!(
        app.verify("mo", &mo_codes[0]).await.status,
        StatusCode::UNAUTHORIZED,
        "the approval reset mo's codes"
    );

    let problems = unexpected_console(c, &[]).await;
    assert!(problems.is_empty(), "console: {problems:#?}");
    browser.client.clone().close().await.unwrap();
}
