//! A recovery request walked on the local server's home page in Chromium, as a newcomer would:
//! one member asks and cancels it from the mailed link, another asks and their account's admin
//! approves it on the Users page, then they collect the mailed codes and sign in with one.
//! axe-core on every new page; screenshots into target/ui-screenshots/.

use fantoccini::{Client, Locator};
use integration_tests::browser::{
    check_state, chromium, click, eventually, home_page, js, tempdir, unexpected_console, Component,
};
use integration_tests::browser::{main_text, sign_in_as};
use local_server::home::seed_accounts;

const MEMBERS: Component =
    Component("document.querySelector('backup-codes-account-members').shadowRoot");

/// The newest outbox mail to `user` whose subject holds `subject`: its link.
async fn mailed_link(c: &Client, user: &str, subject: &str) -> String {
    let found = eventually(
        c,
        &format!(
            "(() => {{ const m = [...document.querySelectorAll('#mails li')].find((li) => \
             li.textContent.includes('To {user}@example.com') && li.textContent.includes({subject:?})); \
             return m && m.querySelector('a') && m.querySelector('a').href; }})()"
        ),
    )
    .await;
    found.as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_walks_a_recovery_request_on_the_home_page() {
    let work = tempdir("ui-recovery-walk");
    let (app, base) = home_page(&work).await;
    seed_accounts(&app.functions).await.unwrap();
    let (ada, _) = app.enrolled("ada").await;
    app.enrolled("mo").await;
    app.enrolled("mel").await;

    let browser = chromium(&work.join("downloads"), &work.join("profile")).await;
    let c = &browser.client;
    c.goto(&format!("{base}/")).await.unwrap();

    // mel asks, then says it was not them, from the mailed link.
    sign_in_as(c, "mel").await;
    click(c, "#ask").await;
    eventually(
        c,
        "document.getElementById('asked').textContent.startsWith('Asked.')",
    )
    .await;
    check_state(c, "home-recovery-asked").await;
    let cancel = mailed_link(c, "mel", "someone asked to reset your two-factor").await;
    assert!(
        cancel.contains("/v1/recovery-requests/cancel#token="),
        "{cancel}"
    );
    c.goto(&cancel).await.unwrap();
    assert!(main_text(c).await.contains("Was this not you?"));
    check_state(c, "recovery-cancel-page").await;
    c.find(Locator::Id("continue"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually(
        c,
        "document.querySelector('h1').textContent === 'The request is cancelled'",
    )
    .await;
    check_state(c, "recovery-cancelled").await;

    // mo asks; acme's admin approves it once the wait is over.
    c.goto(&format!("{base}/")).await.unwrap();
    sign_in_as(c, "mo").await;
    click(c, "#ask").await;
    eventually(
        c,
        "document.getElementById('asked').textContent.startsWith('Asked.')",
    )
    .await;
    app.clock.advance(86_400);
    app.next_step();
    sign_in_as(c, "ada").await;
    click(c, "#account button").await;
    MEMBERS.says(c, "Requests to reset two-factor").await;
    eventually(
        c,
        &format!("{MEMBERS}.querySelector('button[aria-label=\"Approve mo\"]') && !{MEMBERS}.querySelector('button[aria-label=\"Approve mo\"]').disabled"),
    )
    .await;
    let mel_listed = js(
        c,
        &format!("return !!{MEMBERS}.querySelector('button[aria-label=\"Deny mel\"]')"),
    )
    .await;
    assert_eq!(mel_listed, false, "a cancelled request is listed no more");
    js(
        c,
        &format!(
            "{MEMBERS}.querySelector('button[aria-label=\"Approve mo\"]').click(); return true;"
        ),
    )
    .await;
    MEMBERS.says(c, "through a channel you already trust").await;
    MEMBERS.type_into_focus(c, &app.totp(&ada)).await;
    MEMBERS.says(c, "Approved: mo was emailed a link").await;

    // mo collects the new codes from the mailed link and signs in with one.
    let download = mailed_link(c, "mo", "your backup codes were reset").await;
    c.goto(&download).await.unwrap();
    c.find(Locator::Id("continue"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("codes")).await.unwrap();
    let code = c
        .find(Locator::Css("#codes code"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    click(c, "#activate button").await;
    eventually(
        c,
        "document.querySelector('h1').textContent.includes('now active')",
    )
    .await;
    c.goto(&format!("{base}/")).await.unwrap();
    sign_in_as(c, "mo").await;
    let field = c.find(Locator::Id("code")).await.unwrap();
    field.send_keys(&code).await.unwrap();
    click(c, "#verify button").await;
    eventually(
        c,
        "document.getElementById('verdict').textContent.startsWith('Accepted: a backup code')",
    )
    .await;
    check_state(c, "home-recovered").await;

    let problems = unexpected_console(c, &[]).await;
    assert!(problems.is_empty(), "console: {problems:#?}");
    browser.client.clone().close().await.unwrap();
}
