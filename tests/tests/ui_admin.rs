//! The administrator's component (`<backup-codes-admin-reset>`) on the local server's home
//! page in Chromium: a reset behind the admin's own code, the mail it sends listed in the
//! page's outbox, the emailed link opened and redeemed, and the admin turn-off. axe-core on
//! every state; screenshots into target/ui-screenshots/.

use std::sync::Arc;

use backup_codes::adapters::outbox::OutboxMailer;
use fantoccini::{Client, Locator};
use integration_tests::{
    browser::{
        accessibility_violations, chromium, click, console, eventually, screenshot, tempdir,
    },
    store, Backend, RecordingMailer, TestApp,
};
use lambda_http::http::StatusCode;
use local_server::home::Home;
use serde_json::Value;

const ADMIN: &str = "document.querySelector('backup-codes-admin-reset').shadowRoot";

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

async fn says(c: &Client, wanted: &str) -> String {
    let wanted_js = serde_json::to_string(wanted).unwrap();
    eventually(
        c,
        &format!("{ADMIN}.textContent.includes({wanted_js}) && {ADMIN}.textContent"),
    )
    .await
    .as_str()
    .unwrap()
    .to_owned()
}

async fn press(c: &Client, label: &str) {
    let label_js = serde_json::to_string(label).unwrap();
    let found = js(
        c,
        &format!("const b = [...{ADMIN}.querySelectorAll('button')].find((b) => b.textContent === {label_js}); if (b) b.click(); return !!b;"),
    )
    .await;
    assert_eq!(found, true, "no button {label}");
}

async fn type_into_focus(c: &Client, code: &str) {
    let focused = js(
        c,
        &format!("return {ADMIN}.activeElement && {ADMIN}.activeElement.name"),
    )
    .await;
    assert_eq!(focused, "code", "focus moved to the code field");
    c.active_element()
        .await
        .unwrap()
        .send_keys(&format!("{code}\u{E007}"))
        .await
        .unwrap();
}

async fn fill(c: &Client, id: &str, text: &str) {
    let field = c.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn no_violations(c: &Client, state: &str) {
    let violations = accessibility_violations(c).await;
    assert!(violations.is_empty(), "axe-core, {state}: {violations:#?}");
    println!("axe-core {state}: no serious or critical violation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_resets_a_user_and_the_user_collects_the_mailed_codes() {
    let work = tempdir("ui-admin");
    let outbox = work.join("outbox");
    let mailer = Arc::new(OutboxMailer::new(&outbox, "security@acme.example").unwrap());
    let mut app = TestApp::with_store_and_mailer(
        store(Backend::Memory).await,
        mailer,
        Arc::new(RecordingMailer::default()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    app.reconfigure(|config| config.link_base_url = Some(base.clone()));
    let home = Home {
        outbox: Some(outbox.clone()),
    };
    tokio::spawn(local_server::serve_with_home(
        listener,
        app.functions.clone(),
        home,
    ));
    let (root, _) = app.enrolled("root").await;
    let (_, old) = app.enrolled("kim").await;

    let browser = chromium(&work.join("downloads"), &work.join("profile")).await;
    let c = &browser.client;
    c.goto(&format!("{base}/")).await.unwrap();
    fill(c, "user", "root").await;
    click(c, "#admin").await;
    click(c, "#sign-in button").await;
    fill(c, "target-user", "kim").await;
    click(c, "#target button").await;
    says(c, "Two-factor for kim").await;
    no_violations(c, "admin start").await;
    screenshot(c, "admin-start").await;

    // The confirm says what will happen; a wrong own code changes nothing.
    press(c, "Reset backup codes").await;
    says(
        c,
        "kim's current codes stop working at once, and we email kim a link",
    )
    .await;
    no_violations(c, "admin confirm").await;
    screenshot(c, "admin-confirm").await;
    type_into_focus(c, "000000").await;
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
    type_into_focus(c, &app.totp(&root)).await;
    says(
        c,
        "The old codes no longer work; we emailed kim a link to their new codes",
    )
    .await;
    no_violations(c, "admin done").await;
    screenshot(c, "admin-done").await;
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
    assert_eq!(
        app.verify("kim", &first).await.status,
        StatusCode::OK,
        "a mailed code signs in"
    );

    // The admin turns kim's two-factor off: its own confirm, the admin's own code again.
    c.goto(&format!("{base}/")).await.unwrap();
    fill(c, "user", "root").await;
    click(c, "#admin").await;
    click(c, "#sign-in button").await;
    fill(c, "target-user", "kim").await;
    click(c, "#target button").await;
    press(c, "Turn two-factor off").await;
    says(c, "kim will sign in with the password alone").await;
    app.next_step();
    type_into_focus(c, &app.totp(&root)).await;
    says(c, "Two-factor is off for kim.").await;
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
    press(c, "Reset backup codes").await;
    type_into_focus(c, "123456").await;
    let alert = eventually(
        c,
        &format!("{ADMIN}.querySelector('[role=alert]').textContent"),
    )
    .await;
    assert_eq!(alert, "You are not allowed to do this.");

    let problems: Vec<String> = console(c)
        .await
        .into_iter()
        .filter(|m| m.starts_with("SEVERE") || m.starts_with("WARNING"))
        .filter(|m| {
            !(m.contains("Failed to load resource")
                && ["401", "403", "409"]
                    .iter()
                    .any(|s| m.contains(&format!("status of {s}"))))
        })
        .collect();
    assert!(problems.is_empty(), "console: {problems:#?}");
    browser.client.clone().close().await.unwrap();
}
