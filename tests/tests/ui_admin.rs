//! The administrator's component (`<backup-codes-admin-reset>`) on the local server's home
//! page in Chromium: a reset behind the admin's own code, the mail it sends listed in the
//! page's outbox, the emailed link opened and redeemed, and the admin turn-off. axe-core on
//! every state; screenshots into target/ui-screenshots/.

use fantoccini::{Client, Locator};
use integration_tests::browser::{
    check_state, chromium, click, eventually, home_page, js, screenshot, tempdir,
    unexpected_console, Component,
};
use lambda_http::http::StatusCode;

const ADMIN: Component = Component("document.querySelector('backup-codes-admin-reset').shadowRoot");

/// The home page, signed in as the administrator `admin`, with the component open for `user`.
async fn open_admin_component(c: &Client, base: &str, admin: &str, user: &str) {
    c.goto(&format!("{base}/")).await.unwrap();
    fill(c, "user", admin).await;
    click(c, "#admin").await;
    click(c, "#sign-in button").await;
    fill(c, "target-user", user).await;
    click(c, "#target button").await;
}

async fn fill(c: &Client, id: &str, text: &str) {
    let field = c.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_resets_a_user_and_the_user_collects_the_mailed_codes() {
    let work = tempdir("ui-admin");
    let (app, base) = home_page(&work).await;
    let (root, _) = app.enrolled("root").await;
    let (_, old) = app.enrolled("kim").await;

    let browser = chromium(&work.join("downloads"), &work.join("profile")).await;
    let c = &browser.client;
    open_admin_component(c, &base, "root", "kim").await;
    ADMIN.says(c, "Two-factor for kim").await;
    check_state(c, "admin-start").await;

    // The confirm says what will happen; a wrong own code changes nothing.
    ADMIN.press(c, "Reset backup codes").await;
    ADMIN
        .says(
            c,
            "kim's current codes stop working at once, and we email kim a link",
        )
        .await;
    check_state(c, "admin-confirm").await;
    ADMIN.type_into_focus(c, "000000").await;
    eventually(
        c,
        &format!("{ADMIN}.querySelector('[role=alert]').textContent.includes(\"didn't work\")"),
    )
    .await;
    assert_eq!(
        app.verify("kim", &old[0]).await.status,
        StatusCode::OK,
        "nothing changed"
    );
    app.next_step();
    ADMIN.type_into_focus(c, &app.totp(&root)).await;
    ADMIN
        .says(
            c,
            "The old codes no longer work; we emailed kim a link to their new codes",
        )
        .await;
    check_state(c, "admin-done").await;
    assert_eq!(
        app.verify("kim", &old[1]).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The outbox on the page lists the mail with its link; the user opens it and collects.
    let link = eventually(c, "[...document.querySelectorAll('#mails a')].map((a) => a.href).find((h) => h.includes('#token='))").await;
    let link = link.as_str().unwrap().to_owned();
    assert!(
        link.starts_with(&format!("{base}/v1/backup-codes/download#token=")),
        "{link}"
    );
    js(
        c,
        "document.getElementById('outbox-title').scrollIntoView()",
    )
    .await;
    screenshot(c, "home-outbox").await;
    c.goto(&link).await.unwrap();
    click(c, "#continue").await;
    c.wait().for_element(Locator::Id("codes")).await.unwrap();
    let first = c
        .find(Locator::Css("#codes code"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    click(c, "#activate button").await;
    c.wait()
        .for_element(Locator::XPath("//h1[contains(., 'now active')]"))
        .await
        .unwrap();
    assert_eq!(
        app.verify("kim", &first).await.status,
        StatusCode::OK,
        "a mailed code signs in once saved"
    );

    // The admin turns kim's two-factor off: its own confirm, the admin's own code again.
    open_admin_component(c, &base, "root", "kim").await;
    ADMIN.press(c, "Turn two-factor off").await;
    ADMIN
        .says(c, "kim will sign in with the password alone")
        .await;
    app.next_step();
    ADMIN.type_into_focus(c, &app.totp(&root)).await;
    ADMIN.says(c, "Two-factor is off for kim.").await;
    let status = app
        .send(integration_tests::Call::new("GET", "/v1/backup-codes").user("kim"))
        .await;
    assert_eq!(status.status, StatusCode::CONFLICT, "{}", status.text);

    // Someone outside the admin group gets a plain refusal.
    fill(c, "user", "bob").await;
    click(c, "#admin").await;
    click(c, "#sign-in button").await;
    assert_eq!(
        js(c, "return document.getElementById('admin-tools').hidden").await,
        true
    );
    js(c, "const r = document.createElement('backup-codes-admin-reset'); r.setAttribute('user-id', 'kim'); r.getToken = async () => 'e30.' + btoa(JSON.stringify({ sub: 'bob' })).replace(/=+$/, '') + '.local'; document.getElementById('admin-slot').replaceChildren(r); document.getElementById('admin-tools').hidden = false;").await;
    ADMIN.press(c, "Reset backup codes").await;
    ADMIN.type_into_focus(c, "123456").await;
    let alert = ADMIN.alert(c).await;
    assert_eq!(alert, "You are not allowed to do this.");

    let problems = unexpected_console(c, &[401, 403, 409]).await;
    assert!(problems.is_empty(), "console: {problems:#?}");
    browser.client.clone().close().await.unwrap();
}
