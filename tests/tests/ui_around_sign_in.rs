//! The screens around a sign-in, in a real headless Chromium on the local server's home page.
//! `<backup-codes-challenge>` once the sign-in is done: it reads what the token guard put in
//! the ID token (how the challenge was passed, the codes left), fires its signed-in event with
//! it, and after a backup-code sign-in offers "N codes left: make new ones", which opens the
//! settings card's regenerate. Cognito itself is walked in tests/deployed
//! (test_components.py); here `answer` says "signed in" and `getToken` gives an ID token with
//! the guard's claims. And the settings card after a change that ends the user's sessions.

use std::sync::Arc;

use integration_tests::{
    browser::{check_state, chromium, eventually, js, sign_in_as, tempdir, Component},
    Backend, RecordingSessions, TestApp,
};
use serde_json::json;

const CHALLENGE: Component =
    Component("document.querySelector('backup-codes-challenge').shadowRoot");
const CARD: Component = Component("document.querySelector('backup-codes-settings').shadowRoot");

/// Puts a challenge on the page whose sign-in ends with an ID token carrying `claims`, signs
/// in with some answer, and answers the signed-in event's detail.
async fn sign_in_with_claims(
    c: &fantoccini::Client,
    claims: serde_json::Value,
) -> serde_json::Value {
    js(
        c,
        &format!(
            "document.querySelector('backup-codes-challenge')?.remove();
             window.signedIn = null; window.wanted = null;
             const b64 = (o) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\\+/g, '-').replace(/\\//g, '_');
             const token = b64({{ alg: 'RS256' }}) + '.' + b64(Object.assign({{ sub: 'ana', token_use: 'id' }}, {claims})) + '.c2ln';
             const challenge = document.createElement('backup-codes-challenge');
             challenge.parameters = {{ type: 'TOTP_OR_BACKUP_CODE' }};
             challenge.answer = async () => ({{ isSignedIn: true, nextStep: {{ signInStep: 'DONE' }} }});
             challenge.getToken = async () => token;
             challenge.addEventListener('backup-codes-signed-in', (e) => {{ window.signedIn = e.detail; }});
             challenge.addEventListener('backup-codes-new-codes-wanted', (e) => {{
               window.wanted = e.detail;
               document.querySelector('backup-codes-settings').makeNewCodes();
             }});
             document.querySelector('main').prepend(challenge);"
        ),
    )
    .await;
    CHALLENGE.submit_code(c, "abcde-fghjk").await;
    eventually(c, "window.signedIn").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_backup_code_the_challenge_leads_to_new_codes() {
    let app = TestApp::new(Backend::Memory).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(local_server::serve(listener, app.functions.clone()));
    app.enrolled("ana").await;

    let work = tempdir("ui-challenge-claims");
    let browser = chromium(&work.join("downloads"), &work.join("profile")).await;
    let c = &browser.client;
    c.goto(&format!("{base}/")).await.unwrap();
    sign_in_as(c, "ana").await;
    CARD.says(c, "10 of 10 left").await;

    let detail = sign_in_with_claims(
        c,
        json!({ "backup_codes:method": "backup_code", "backup_codes:remaining": "3", "backup_codes:low": "false" }),
    )
    .await;
    assert_eq!(
        detail,
        json!({ "method": "backup_code", "remaining_codes": 3, "low": false })
    );
    CHALLENGE
        .says(
            c,
            "You signed in with a backup code. That code is used up now.",
        )
        .await;
    CHALLENGE.says(c, "3 codes left: make new ones").await;
    check_state(c, "challenge-codes-left").await;
    CHALLENGE.press(c, "3 codes left: make new ones").await;
    assert_eq!(eventually(c, "window.wanted").await["remaining_codes"], 3);
    CARD.says(
        c,
        "Your current codes keep working until you save the new ones",
    )
    .await;
    assert_eq!(
        js(
            c,
            &format!("return !!{CARD}.querySelector('input[name=code]')")
        )
        .await,
        true,
        "the card asks for the code that proves it is them, as its own button does"
    );

    // The last code: said in the singular. A TOTP sign-in with few codes left says so too.
    sign_in_with_claims(
        c,
        json!({ "backup_codes:method": "totp", "backup_codes:remaining": "1", "backup_codes:low": "true" }),
    )
    .await;
    CHALLENGE.says(c, "1 code left: make new ones").await;
    // A TOTP sign-in with plenty left: only "Signed in."
    let detail = sign_in_with_claims(
        c,
        json!({ "backup_codes:method": "totp", "backup_codes:remaining": "8", "backup_codes:low": "false" }),
    )
    .await;
    assert_eq!(detail["method"], "totp");
    CHALLENGE.says(c, "Signed in.").await;
    assert_eq!(
        js(
            c,
            &format!("return {CHALLENGE}.querySelectorAll('button').length")
        )
        .await,
        0
    );
    // Enrolled at this sign-in: no codes yet, and the prompt to make them.
    sign_in_with_claims(
        c,
        json!({ "backup_codes:method": "enrollment", "backup_codes:remaining": "0", "backup_codes:low": "true" }),
    )
    .await;
    CHALLENGE
        .says(c, "Two-factor is on: make your backup codes now")
        .await;
    // A token without our claims (a pool whose guard predates them): signed in, nothing more.
    let detail = sign_in_with_claims(c, json!({ "backup_codes:method": "<img src=x>" })).await;
    assert_eq!(detail, json!({}));
    assert_eq!(
        js(
            c,
            &format!("return {CHALLENGE}.querySelectorAll('button').length")
        )
        .await,
        0
    );
    browser.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_change_that_ends_the_sessions_the_card_says_to_sign_in_again() {
    let sessions = Arc::new(RecordingSessions::default());
    let mut app = TestApp::new(Backend::Memory)
        .await
        .with_sessions(sessions.clone());
    app.reconfigure(|c| c.settings.sessions_end_on_change = true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(local_server::serve(listener, app.functions.clone()));
    let (_, codes) = app.enrolled("ana").await;
    assert_eq!(sessions.ended(), ["ana"]);

    let work = tempdir("ui-sessions-end");
    let browser = chromium(&work.join("downloads"), &work.join("profile")).await;
    let c = &browser.client;
    c.goto(&format!("{base}/")).await.unwrap();
    sign_in_as(c, "ana").await;
    CARD.says(c, "10 of 10 left").await;
    CARD.press(c, "Make new backup codes").await;
    CARD.submit_code(c, &codes[0]).await;
    eventually(
        c,
        &format!("{CARD}.querySelectorAll('ol.codes code').length === 10"),
    )
    .await;
    js(
        c,
        &format!("{CARD}.querySelector('input[type=checkbox]').click()"),
    )
    .await;
    CARD.press(c, "Continue").await;
    let said = CARD
        .says(
            c,
            "signed out everywhere: sign in again on your other devices, and here when asked",
        )
        .await;
    assert!(said.contains("10 of 10 left"), "{said}");
    app.deliver().await;
    assert_eq!(
        sessions.ended(),
        ["ana", "ana"],
        "the new set ended the sessions"
    );
    check_state(c, "settings-sign-in-again").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_tells_a_federated_identity_there_is_nothing_to_set_up() {
    let app = TestApp::new(Backend::Memory).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(local_server::serve(listener, app.functions.clone()));
    let work = tempdir("ui-federated");
    let browser = chromium(&work.join("downloads"), &work.join("profile")).await;
    let c = &browser.client;
    c.goto(&format!("{base}/")).await.unwrap();
    // A card whose token is a federated-only identity's, as the token guard marks it.
    js(
        c,
        "const b64 = (o) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\\+/g, '-').replace(/\\//g, '_');
         const token = 'e30.' + b64({ sub: 'sso', 'backup_codes:federated': 'true' }) + '.local';
         const card = document.createElement('backup-codes-settings');
         card.getToken = async () => token;
         document.querySelector('main').prepend(card);",
    )
    .await;
    CARD.says(
        c,
        "which takes care of your second factor. There is nothing to set up here.",
    )
    .await;
    assert_eq!(
        js(
            c,
            &format!("return {CARD}.querySelectorAll('button').length")
        )
        .await,
        0,
        "no set-up button"
    );
    check_state(c, "settings-federated").await;
    browser.client.clone().close().await.unwrap();
}
