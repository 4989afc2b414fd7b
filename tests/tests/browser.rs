//! End to end in a real headless Chromium: an admin resets a user's codes, the link is taken
//! from the mail moto accepted, and a person opens it, clicks Continue, downloads and copies,
//! loses the page, opens the link again and saves the fresh codes by keyboard.

use std::{sync::Arc, time::Duration};

use backup_codes::adapters::ses::SesMailer;
use fantoccini::{Client, Locator};
use integration_tests::browser::main_text;
use integration_tests::{
    browser::{accessibility_violations, chromium, screenshot, tempdir, wait_for_file},
    mail_in_moto, ses_client_with_sender, Backend, RecordingMailer, TestApp,
};
use lambda_http::http::StatusCode;

/// The page swaps its content after the POST answers, so an `h1` found a moment earlier can go
/// stale: look it up afresh on every try.
async fn heading_once_it_contains(client: &Client, wanted: &str) -> String {
    let mut text = String::new();
    for _ in 0..50 {
        if let Ok(heading) = client.find(Locator::Css("h1")).await {
            if let Ok(now) = heading.text().await {
                text = now;
                if text.contains(wanted) {
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    text
}

/// What a reader sees in the page's main element.
/// The link opened afresh, as from the mail again (the same URL differing only in its fragment
/// would otherwise be a same-document navigation), and its page's Continue chosen.
async fn open_the_link_again(client: &Client, link: &str) {
    client.goto("about:blank").await.unwrap();
    client.goto(link).await.unwrap();
    let continue_button = client.find(Locator::Id("continue")).await.unwrap();
    continue_button.click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_redeems_the_emailed_link_in_chromium() {
    let from = "security@acme.example";
    let mailer = Arc::new(SesMailer::new(ses_client_with_sender(from).await, from));
    let mut app = TestApp::with_mailer(
        Backend::DynamoDb,
        mailer,
        Arc::new(RecordingMailer::default()),
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    app.reconfigure(|config| config.link_base_url = Some(base.clone()));
    tokio::spawn(local_server::serve(listener, app.functions.clone()));

    let (admin, _) = app.enrolled("root-browser").await;
    let (_, old) = app.enrolled("kim").await;
    app.next_step();
    let reset = app
        .admin_reset("root-browser", "kim", &app.totp(&admin))
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.text);
    assert_eq!(
        app.verify("kim", &old[0]).await.status,
        StatusCode::UNAUTHORIZED,
        "old codes died at once"
    );

    let mail = mail_in_moto("kim@example.com").await;
    let body = mail.last().expect("moto accepted the mail")["body"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = body.find("href=\"").expect("a link") + 6;
    let link = body[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(
        link.starts_with(&format!("{base}/v1/backup-codes/download#token=")),
        "{link}"
    );

    let work = tempdir("browser");
    let downloads = work.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let browser = chromium(&downloads, &work.join("profile")).await;
    let c = &browser.client;

    c.goto(&link).await.unwrap();
    let intro = main_text(c).await;
    assert!(
        intro.contains("An administrator reset the backup codes"),
        "{intro}"
    );
    screenshot(c, "download-landing").await;
    // Opening the link, even with scripts running, redeems nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.status("kim").await["pending_download"], true);

    c.find(Locator::Id("continue"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("codes")).await.unwrap();
    assert!(
        !c.current_url().await.unwrap().as_str().contains("token="),
        "the token left the address bar"
    );
    let items = c.find_all(Locator::Css("#codes code")).await.unwrap();
    let mut codes = vec![];
    for item in items {
        codes.push(item.text().await.unwrap());
    }
    assert_eq!(codes.len(), 10, "{codes:?}");
    let page = main_text(c).await;
    assert!(
        page.contains("Save them now") && page.contains("I have saved these codes"),
        "{page}"
    );
    screenshot(c, "download-codes").await;

    c.find(Locator::Id("download"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let file = wait_for_file(&downloads.join("backup-codes.txt")).await;
    assert!(file.starts_with("Acme backup codes"), "{file}");
    for code in &codes {
        assert!(
            file.lines().any(|l| l == code),
            "{code} missing from the file:\n{file}"
        );
    }

    c.find(Locator::Id("copy"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut copied = String::new();
    for _ in 0..50 {
        copied = c
            .find(Locator::Id("copied"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if !copied.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(copied, "Copied");
    assert_eq!(
        app.verify("kim", &codes[4]).await.status,
        StatusCode::UNAUTHORIZED,
        "shown codes count only once saved"
    );

    // The connection dropped before the owner saved them: the link still works, once more.
    open_the_link_again(c, &link).await;
    c.wait().for_element(Locator::Id("codes")).await.unwrap();
    let mut fresh = vec![];
    for item in c.find_all(Locator::Css("#codes code")).await.unwrap() {
        fresh.push(item.text().await.unwrap());
    }
    assert_eq!(fresh.len(), 10, "{fresh:?}");
    assert_ne!(fresh, codes, "a fresh set");
    assert_eq!(accessibility_violations(c).await, Vec::<String>::new());
    // Keyboard only, as a screen-reader user would: Tab to the button, Enter.
    let save = c
        .find(Locator::XPath(
            "//button[normalize-space()='I have saved these codes']",
        ))
        .await
        .unwrap();
    save.send_keys("\u{E007}").await.unwrap();
    let text = heading_once_it_contains(c, "now active").await;
    assert_eq!(text, "Your new backup codes are now active");
    screenshot(c, "download-active").await;
    assert_eq!(accessibility_violations(c).await, Vec::<String>::new());
    assert!(
        !c.current_url().await.unwrap().as_str().contains("token="),
        "the token never enters an address"
    );
    assert_eq!(
        app.verify("kim", &fresh[4]).await.status,
        StatusCode::OK,
        "a code from the saved page verifies"
    );
    assert_eq!(
        app.verify("kim", &codes[3]).await.status,
        StatusCode::UNAUTHORIZED,
        "the lost set never counts"
    );

    // A fresh load, as from the mail again, now that the codes are saved.
    open_the_link_again(c, &link).await;
    let text = heading_once_it_contains(c, "no longer valid").await;
    assert_eq!(text, "This link is no longer valid");
    screenshot(c, "download-invalid").await;
    browser.client.clone().close().await.unwrap();
}
