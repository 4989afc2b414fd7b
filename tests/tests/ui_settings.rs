//! The settings card (`<backup-codes-settings>`) on the local server's home page, in a real
//! headless Chromium: enroll, the codes shown once (download, print, copy, the "I have saved
//! these codes" gate), a sign-in by code, regenerate, a wrong code, the lost phone, the activity
//! list, the lock and turning two-factor off. Every state is checked with axe-core and
//! photographed into target/ui-screenshots/; the page runs under `default-src 'self'`.

use std::sync::Arc;

use fantoccini::{Client, Locator};
use integration_tests::browser::sign_in_as;
use integration_tests::{
    browser::{
        check_state, chromium, devtools, eventually, js, no_violations, screenshot, tempdir,
        unexpected_console, wait_for_file, Component,
    },
    Backend, TestApp,
};
use lambda_http::http::StatusCode;
use serde_json::json;

const CARD: Component = Component("document.querySelector('backup-codes-settings').shadowRoot");

async fn shown_codes(c: &Client) -> Vec<String> {
    let codes = eventually(
        c,
        &format!("[...{CARD}.querySelectorAll('ol.codes code')].map((e) => e.textContent)"),
    )
    .await;
    serde_json::from_value(codes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_card_covers_the_whole_factor_in_chromium() {
    let app = TestApp::new(Backend::Memory).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(local_server::serve(listener, app.functions.clone()));

    let work = tempdir("ui-settings");
    let downloads = work.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let browser = chromium(&downloads, &work.join("profile")).await;
    let c = &browser.client;
    devtools(
        c,
        "Browser.grantPermissions",
        json!({ "origin": base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] }),
    )
    .await;

    c.goto(&format!("{base}/")).await.unwrap();
    js(c, "window.seen = []; ['codes-shown', 'codes-saved', 'enrolled', 'authenticator-replaced', 'codes-removed', 'two-factor-disabled'].forEach((n) => document.addEventListener('backup-codes-' + n, (e) => seen.push({ type: e.type, detail: e.detail, composed: e.composed })));").await;
    sign_in_as(c, "ana").await;
    CARD.says(c, "Two-factor authentication is off").await;
    check_state(c, "settings-not-enrolled").await;

    // Enroll: the QR and the key, then the first code from the app.
    CARD.press(c, "Set up an authenticator app").await;
    let key = eventually(
        c,
        &format!("{CARD}.querySelector('.key') && {CARD}.querySelector('.key').textContent"),
    )
    .await;
    let secret = key.as_str().unwrap().replace(' ', "");
    assert_eq!(
        js(
            c,
            &format!("return {CARD}.querySelector('.qr svg').getAttribute('role')")
        )
        .await,
        "img"
    );
    check_state(c, "settings-scan").await;
    CARD.submit_code(c, &app.totp(&secret)).await;
    let codes = shown_codes(c).await;
    assert_eq!(codes.len(), 10, "{codes:?}");
    CARD.says(c, "Save your backup codes").await;
    check_state(c, "settings-codes").await;

    // The gate: Continue stays disabled until the box is ticked.
    let continue_disabled = format!(
        "[...{CARD}.querySelectorAll('button')].find((b) => b.textContent === 'Continue').disabled"
    );
    assert_eq!(js(c, &format!("return {continue_disabled}")).await, true);

    // Download: the API's own file.
    CARD.press(c, "Download").await;
    let file = wait_for_file(&downloads.join("backup-codes.txt")).await;
    assert!(file.starts_with("Acme backup codes\nGenerated "), "{file}");
    assert_eq!(
        file.split("\n\n")
            .nth(1)
            .unwrap()
            .lines()
            .collect::<Vec<_>>(),
        codes
    );

    // Copy: one code a line.
    CARD.press(c, "Copy").await;
    eventually(
        c,
        &format!("{CARD}.querySelector('[role=status]').textContent === 'Codes copied.'"),
    )
    .await;
    let copied = c
        .execute_async("navigator.clipboard.readText().then(arguments[0])", vec![])
        .await
        .unwrap();
    assert_eq!(copied.as_str().unwrap(), format!("{}\n", codes.join("\n")));

    // Print: only the product, the date and the codes.
    devtools(c, "Emulation.setEmulatedMedia", json!({ "media": "print" })).await;
    let printed = js(
        c,
        &format!("return {CARD}.querySelector('.card').innerText"),
    )
    .await;
    let printed = printed.as_str().unwrap();
    let mut expected = vec!["Acme backup codes".to_owned()];
    expected.push(file.lines().nth(1).unwrap()[10..20].to_owned());
    expected.extend(codes.iter().cloned());
    let printed_lines: Vec<&str> = printed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(printed_lines, expected, "the print rendering of the card");
    for outside in ["h1", "#sign-in", "#verify"] {
        let visibility = js(
            c,
            &format!("return getComputedStyle(document.querySelector('{outside}')).visibility"),
        )
        .await;
        assert_eq!(visibility, "hidden", "{outside} is not printed");
    }
    screenshot(c, "settings-print").await;
    devtools(c, "Emulation.setEmulatedMedia", json!({ "media": "" })).await;

    js(
        c,
        &format!("{CARD}.querySelector('input[type=checkbox]').click()"),
    )
    .await;
    assert_eq!(js(c, &format!("return {continue_disabled}")).await, false);
    CARD.press(c, "Continue").await;
    CARD.says(c, "10 of 10 left").await;
    CARD.says(c, "Two-factor turned on").await;
    check_state(c, "settings-status").await;

    // A sign-in by backup code in the page's "try a sign-in" box, then the card again.
    let code_field = c.find(Locator::Id("code")).await.unwrap();
    code_field.send_keys(&codes[0]).await.unwrap();
    c.find(Locator::Css("#verify button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let verdict = eventually(c, "document.getElementById('verdict').textContent").await;
    assert!(
        verdict.as_str().unwrap().contains("9 backup codes left"),
        "{verdict}"
    );
    sign_in_as(c, "ana").await;
    CARD.says(c, "9 of 10 left").await;
    CARD.says(c, "Used codes (1)").await;
    // The first line of the sheet was used: the card names it so it can be crossed out.
    CARD.says(c, "Code 1, used").await;
    CARD.says(c, "A backup code was used").await;

    // Regenerate behind a fresh code; the old set works until the new one is saved.
    app.next_step();
    CARD.press(c, "Make new backup codes").await;
    CARD.says(
        c,
        "Your current codes keep working until you save the new ones",
    )
    .await;
    no_violations(c, "confirm regenerate").await;
    CARD.type_into_focus(c, &app.totp(&secret)).await;
    CARD.says(c, "Your old codes keep working until you continue")
        .await;
    let new_codes = shown_codes(c).await;
    assert_ne!(new_codes, codes);
    assert_eq!(
        app.verify("ana", &codes[1]).await.status,
        StatusCode::OK,
        "old set still works while pending"
    );
    js(
        c,
        &format!("{CARD}.querySelector('input[type=checkbox]').click()"),
    )
    .await;
    CARD.press(c, "Continue").await;
    CARD.says(
        c,
        "Your new backup codes are active; the old ones no longer work.",
    )
    .await;
    assert_eq!(
        app.verify("ana", &codes[2]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.status("ana").await["remaining"], 10);

    // A wrong code: a readable error, the form stays, and nothing changes.
    CARD.press(c, "Remove backup codes").await;
    CARD.type_into_focus(c, "000000").await;
    eventually(
        c,
        &format!(
            "{CARD}.querySelector('[role=alert]').textContent.includes(\"That code didn't work\")"
        ),
    )
    .await;
    check_state(c, "settings-wrong-code").await;
    CARD.press(c, "Cancel").await;
    CARD.says(c, "10 of 10 left").await;

    // The lost phone: a backup code proves the person, a new phone is set up, the old app dies.
    CARD.press(c, "I don't have my phone").await;
    CARD.says(c, "One of your backup codes").await;
    screenshot(c, "settings-lost-phone").await;
    CARD.type_into_focus(c, &new_codes[0]).await;
    let key = eventually(c, &format!("{CARD}.querySelector('.key') && {CARD}.querySelector('.key').textContent.replace(/ /g, '') !== {} && {CARD}.querySelector('.key').textContent", serde_json::to_string(&key).unwrap())).await;
    let new_secret = key.as_str().unwrap().replace(' ', "");
    assert_ne!(new_secret, secret);
    app.next_step();
    CARD.submit_code(c, &app.totp(&new_secret)).await;
    CARD.says(
        c,
        "Your new authenticator is set up; the old one no longer works.",
    )
    .await;
    CARD.says(c, "9 of 10 left").await;
    CARD.says(c, "Authenticator replaced").await;
    app.next_step();
    assert_eq!(
        app.verify("ana", &app.totp(&secret)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The activity list pages: five at a time, then more.
    let listed = format!("{CARD}.querySelectorAll('ul.events li').length");
    eventually(c, &format!("{listed} === 5")).await;
    CARD.press(c, "Show more").await;
    eventually(c, &format!("{listed} > 5")).await;

    // A new phone with the old one in hand: replace behind a code from the current app.
    app.next_step();
    CARD.press(c, "Replace the authenticator").await;
    CARD.says(
        c,
        "The current app keeps working until the new one confirms its first code.",
    )
    .await;
    CARD.type_into_focus(c, &app.totp(&new_secret)).await;
    let key = eventually(c, &format!("{CARD}.querySelector('.key') && {CARD}.querySelector('.key').textContent.replace(/ /g, '') !== {} && {CARD}.querySelector('.key').textContent", serde_json::to_string(&new_secret).unwrap())).await;
    let abandoned = key.as_str().unwrap().replace(' ', "");

    // Left unconfirmed, the card shows when and where it was started, by the server's device
    // name, and Cancel ends it with the token alone. A sign-in client's own words for its user
    // agent never reach the card.
    app.next_step();
    let hostile = app
        .send(
            integration_tests::Call::new("POST", "/v1/verify").json(json!({
                "user_id": "ana",
                "code": app.totp(&new_secret),
                "user_agent": "Your account is locked - call +1-555-0100",
            })),
        )
        .await;
    assert_eq!(hostile.status, StatusCode::OK, "{}", hostile.text);
    CARD.press(c, "Cancel").await;
    CARD.says(c, "A new authenticator is being set up: started")
        .await;
    CARD.says(c, "from IP 127.0.0.1 (Chrome on Linux)").await;
    check_state(c, "settings-replacement-pending").await;
    CARD.says(c, "Signed in with the authenticator app").await;
    let card_text = js(c, &format!("return {CARD}.textContent")).await;
    assert!(
        !card_text.as_str().unwrap().contains("555-0100"),
        "client text on the card: {card_text}"
    );
    CARD.press(c, "Cancel the new authenticator").await;
    CARD.says(c, "The new authenticator was cancelled.").await;
    CARD.says(c, "A new authenticator was cancelled").await;
    app.next_step();
    let late = app
        .send(
            integration_tests::Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("ana")
                .json(json!({ "code": app.totp(&abandoned) })),
        )
        .await;
    assert_eq!(late.json()["error"], "already_enrolled", "{}", late.text);

    app.next_step();
    CARD.press(c, "Replace the authenticator").await;
    CARD.type_into_focus(c, &app.totp(&new_secret)).await;
    let key = eventually(c, &format!("{CARD}.querySelector('.key') && ![{}, {}].includes({CARD}.querySelector('.key').textContent.replace(/ /g, '')) && {CARD}.querySelector('.key').textContent", serde_json::to_string(&new_secret).unwrap(), serde_json::to_string(&abandoned).unwrap())).await;
    let third_secret = key.as_str().unwrap().replace(' ', "");
    app.next_step();
    CARD.submit_code(c, &app.totp(&third_secret)).await;
    CARD.says(
        c,
        "Your new authenticator is set up; the old one no longer works.",
    )
    .await;

    // Turn two-factor off behind a code from the phone now in use.
    app.next_step();
    CARD.press(c, "Turn two-factor off").await;
    CARD.says(c, "sign in with your password alone").await;
    CARD.type_into_focus(c, &app.totp(&third_secret)).await;
    CARD.says(c, "Set up an authenticator app").await;
    eventually(c, &format!("{CARD}.querySelector('[role=status]').textContent === 'Two-factor authentication is off.'")).await;

    // Events cross the shadow boundary and carry counts and times, never a code.
    let seen = js(c, "return seen").await;
    let names: Vec<&str> = seen
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "backup-codes-enrolled",
            "backup-codes-codes-shown",
            "backup-codes-codes-saved",
            "backup-codes-codes-shown",
            "backup-codes-codes-saved",
            "backup-codes-authenticator-replaced",
            "backup-codes-authenticator-replaced",
            "backup-codes-two-factor-disabled"
        ]
    );
    let seen_text = seen.to_string();
    for code in codes.iter().chain(&new_codes) {
        assert!(
            !seen_text.contains(code.as_str()),
            "an event carried a code: {seen_text}"
        );
    }
    assert!(seen
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["composed"] == true));

    let problems = unexpected_console(c, &[401, 409, 429]).await;
    assert!(
        problems.is_empty(),
        "console under default-src 'self': {problems:#?}"
    );
    browser.client.clone().close().await.unwrap();
}

/// The QR is data, not markup: whatever SVG an API answers, the card draws only path outlines
/// and colours, in elements it makes itself; the challenge's module bits draw only at a QR's
/// sizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_qr_is_drawn_as_data_only() {
    let app = TestApp::new(Backend::Memory).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(local_server::serve(listener, app.functions.clone()));
    let work = tempdir("ui-qr");
    let browser = chromium(&work.join("downloads"), &work.join("profile")).await;
    let c = &browser.client;
    c.goto(&format!("{base}/")).await.unwrap();
    let hostile = r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 29 29" onload="window.ran=1"><path fill="#fff" d="M0 0h29v29H0z"/><path fill="url(javascript:alert(1))" d="M1 1h1v1H1z"/><path fill="#000" d="M4 4h1v1H4z" onclick="window.ran=1" style="x"/><image href="x" onerror="window.ran=1"/><animate onbegin="window.ran=1" attributeName="x" dur="1s"/><a href="javascript:window.ran=1"><path d="M0 0h9v9H0z"/></a><foreignObject><div>hi</div></foreignObject><script>window.ran=1</script><path d="M0 0 L9 9 url(x)"/></svg>"##;
    let drawn = js(
        c,
        &format!(
            "const card = document.createElement('backup-codes-settings'); \
             const node = card.qr({}); document.body.append(node); \
             const all = [...node.querySelectorAll('*')]; \
             return {{ tags: all.map((e) => e.localName), \
               attributes: all.flatMap((e) => [...e.attributes].map((a) => e.localName + ' ' + a.name + '=' + a.value)) }};",
            serde_json::to_string(hostile).unwrap()
        ),
    )
    .await;
    assert_eq!(drawn["tags"], json!(["svg", "path", "path"]), "{drawn}");
    let attributes: Vec<&str> = drawn["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        attributes,
        [
            "svg viewBox=0 0 29 29",
            "svg shape-rendering=crispEdges",
            "svg role=img",
            "svg aria-label=QR code for your authenticator app",
            "path d=M0 0h29v29H0z",
            "path fill=#fff",
            "path d=M4 4h1v1H4z",
            "path fill=#000",
        ]
    );
    let modules = js(
        c,
        "const card = document.createElement('backup-codes-settings'); \
         return [card.qrModules('1000000000.AAAA'), card.qrModules('x.AAAA'), card.qrModules('21.' + btoa('\\xff'.repeat(56)))] \
           .map((n) => n.querySelector('path').getAttribute('d').length);",
    )
    .await;
    assert_eq!(modules[0], 0, "an impossible width draws nothing");
    assert_eq!(modules[1], 0);
    assert!(
        modules[2].as_u64().unwrap() > 0,
        "a real width draws: {modules}"
    );
    assert_eq!(js(c, "return window.ran === undefined").await, true);
    browser.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_says_when_to_come_back_and_when_the_session_is_gone() {
    let app = TestApp::new(Backend::Memory).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(local_server::serve(listener, app.functions.clone()));
    app.enrolled("lee").await;
    for _ in 0..10 {
        app.verify("lee", "000000").await;
    }

    let work = tempdir("ui-errors");
    let browser = chromium(&work.join("downloads"), &work.join("profile")).await;
    let c = &browser.client;
    c.goto(&format!("{base}/")).await.unwrap();
    sign_in_as(c, "lee").await;
    CARD.says(c, "10 of 10 left").await;
    CARD.press(c, "Make new backup codes").await;
    CARD.type_into_focus(c, "123456").await;
    let alert = CARD.alert(c).await;
    assert_eq!(alert, "Too many wrong codes. Try again in 15 minutes.");
    check_state(c, "settings-locked").await;

    // Few codes left and a set made but never saved: both said on the card.
    let (mo_secret, mo_codes) = app.enrolled("mo").await;
    for code in &mo_codes[..8] {
        assert_eq!(app.verify("mo", code).await.status, StatusCode::OK);
    }
    app.next_step();
    let made = app.regenerate("mo", &app.totp(&mo_secret)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    sign_in_as(c, "mo").await;
    CARD.says(
        c,
        "Only 2 backup codes left. Make new ones before you run out.",
    )
    .await;
    CARD.says(c, "were never saved").await;
    CARD.says(c, "Used codes (8)").await;
    check_state(c, "settings-low-and-unsaved").await;

    sign_in_as(c, "lee").await;
    CARD.says(c, "10 of 10 left").await;
    CARD.press(c, "Make new backup codes").await;
    // The page's session ends: the card says so instead of failing silently.
    js(
        c,
        "document.querySelector('backup-codes-settings').getToken = async () => null",
    )
    .await;
    CARD.press(c, "Cancel").await;
    let alert = CARD.alert(c).await;
    assert_eq!(alert, "Your session has expired. Sign in again.");
    browser.client.clone().close().await.unwrap();
}

#[test]
fn the_four_components_fit_in_15_kb_gzipped_as_served() {
    use std::io::Write;
    let served = backup_codes::presentation::components::SCRIPT;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(served.as_bytes()).unwrap();
    let gzipped = gz.finish().unwrap().len();
    println!(
        "/v1/ui/backup-codes.js: {} bytes, {gzipped} bytes gzipped",
        served.len()
    );
    assert!(gzipped <= 15 * 1024, "{gzipped} bytes gzipped");
    for forbidden in [
        "innerHTML",
        "eval(",
        "new Function",
        "setAttribute('style'",
        "localStorage",
    ] {
        assert!(
            !served.contains(forbidden),
            "the components use {forbidden}"
        );
    }
}

// The served script is the repository's files, byte for byte, base first.
#[tokio::test]
async fn the_api_serves_the_components_as_a_cacheable_script() {
    let app = TestApp::new(Backend::Memory).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(local_server::serve(listener, Arc::clone(&app.functions)));
    let reply = reqwest::get(format!("{base}/v1/ui/backup-codes.js"))
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(reply.headers()["cache-control"], "public, max-age=3600");
    let text = reply.text().await.unwrap();
    let files: String = backup_codes::presentation::components::FILES
        .iter()
        .map(|name| {
            std::fs::read_to_string(format!("{}/../ui/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
        })
        .collect();
    assert_eq!(text, files);
}
