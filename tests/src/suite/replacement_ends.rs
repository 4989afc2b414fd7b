//! A replacement a thief started never outlives the owner's response: the owner cancelling it,
//! activating new codes, removing the codes, an administrator's reset or turn-off, or a redeemed
//! download link each end it, and the thief's new app can no longer be confirmed.

use lambda_http::http::StatusCode;
use serde_json::json;

use super::{
    admin_reset::{admin_path, redeem_json},
    new_phone::{confirm, start_replacement},
};
use crate::{token_in, Call, TestApp};

const THIEFS_BROWSER: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";

/// `user` is enrolled, and a thief with their session and one seen backup code starts a
/// replacement: the owner's secret, their codes (the first one spent by the thief) and the
/// thief's new secret.
async fn a_thief_starts_replacing(
    app: &TestApp,
    user: &'static str,
) -> (String, Vec<String>, String) {
    let (owner, codes) = app.enrolled(user).await;
    let started = app
        .send(
            Call::new("POST", "/v1/totp/enrollment")
                .user(user)
                .header("x-otp", codes[0].clone())
                .header("user-agent", THIEFS_BROWSER),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let thief = started.json()["secret"].as_str().unwrap().to_owned();
    assert_eq!(app.status(user).await["totp"]["replacement_pending"], true);
    (owner, codes, thief)
}

/// After the response: nothing pending, the thief's app refused, the owner's app working, and
/// the trail saying the replacement ended.
async fn the_replacement_is_over(app: &TestApp, user: &'static str, owner: &str, thief: &str) {
    let status = app.status(user).await;
    assert_eq!(status["totp"]["replacement_pending"], false, "{status}");
    assert_eq!(status["totp"]["replacement"], json!(null), "{status}");
    app.next_step();
    let confirmed = confirm(app, user, &app.totp(thief)).await;
    assert_eq!(confirmed.status, StatusCode::CONFLICT, "{}", confirmed.text);
    assert_eq!(confirmed.json()["error"], "already_enrolled");
    app.next_step();
    assert_eq!(
        app.verify(user, &app.totp(owner)).await.status,
        StatusCode::OK,
        "the owner's app still works"
    );
    let kinds = app.trail_kinds(user).await;
    for kind in ["replacement_started", "replacement_cancelled"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

pub async fn the_owner_cancels_a_replacement_with_their_token_alone(app: TestApp) {
    let (owner, _, thief) = a_thief_starts_replacing(&app, "rho").await;
    let status = app.status("rho").await;
    let replacement = &status["totp"]["replacement"];
    assert_eq!(
        replacement["started_at"], "2027-01-15T08:00:00Z",
        "when it was started, for the owner to recognise: {status}"
    );
    assert_eq!(replacement["ip"], "192.0.2.1", "{status}");
    assert_eq!(replacement["device"], "Firefox on Linux", "{status}");
    assert!(replacement["expires_at"].is_string(), "{status}");

    let mail = app.mailer.about("a new authenticator app is being set up");
    assert_eq!(mail.len(), 1, "the owner is told at once");
    assert!(
        mail[0].text.contains("Cancel the new authenticator"),
        "the mail says how to cancel: {}",
        mail[0].text
    );

    let cancel = || Call::new("DELETE", "/v1/totp/enrollment/replacement").user("rho");
    let cancelled = app.send(cancel()).await;
    assert_eq!(
        cancelled.status,
        StatusCode::NO_CONTENT,
        "{}",
        cancelled.text
    );
    the_replacement_is_over(&app, "rho", &owner, &thief).await;
    let again = app.send(cancel()).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(again.json()["error"], "no_pending_replacement");

    let (_, _) = app.enrolled("sol").await;
    let nothing = app
        .send(Call::new("DELETE", "/v1/totp/enrollment/replacement").user("sol"))
        .await;
    assert_eq!(
        nothing.json()["error"],
        "no_pending_replacement",
        "{}",
        nothing.text
    );
    let unenrolled = app
        .send(Call::new("DELETE", "/v1/totp/enrollment/replacement").user("nobody"))
        .await;
    assert_eq!(
        unenrolled.status,
        StatusCode::CONFLICT,
        "{}",
        unenrolled.text
    );
}

pub async fn the_owners_new_codes_or_their_removal_end_a_replacement(app: TestApp) {
    let (owner, _, thief) = a_thief_starts_replacing(&app, "tau").await;
    app.next_step();
    let regenerated = app.regenerate("tau", &app.totp(&owner)).await;
    assert_eq!(
        regenerated.status,
        StatusCode::CREATED,
        "{}",
        regenerated.text
    );
    assert_eq!(
        app.status("tau").await["totp"]["replacement_pending"],
        true,
        "a pending set is no response yet: the owner has not saved it"
    );
    assert_eq!(
        app.activate("tau", &regenerated).await.status,
        StatusCode::OK
    );
    the_replacement_is_over(&app, "tau", &owner, &thief).await;

    let (owner, _, thief) = a_thief_starts_replacing(&app, "ula").await;
    app.next_step();
    let removed = app
        .send(
            Call::new("DELETE", "/v1/backup-codes")
                .user("ula")
                .header("x-otp", app.totp(&owner)),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    the_replacement_is_over(&app, "ula", &owner, &thief).await;
}

pub async fn an_admins_reset_turn_off_or_a_redeemed_link_ends_a_replacement(app: TestApp) {
    let (admin, _) = app.enrolled("root").await;
    let (owner, _, thief) = a_thief_starts_replacing(&app, "vic").await;
    app.next_step();
    let reset = app.admin_reset("root", "vic", &app.totp(&admin)).await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.text);
    the_replacement_is_over(&app, "vic", &owner, &thief).await;

    // Someone holding the old phone starts another after the reset; the link's redemption ends
    // it: the owner has answered the admin's mail.
    app.next_step();
    let thief = start_replacement(&app, "vic", &app.totp(&owner)).await;
    let link = app.mailer.about("your backup codes were reset");
    let redeemed = redeem_json(&app, &token_in(&link[0])).await;
    assert!(redeemed.status.is_success(), "{}", redeemed.text);
    the_replacement_is_over(&app, "vic", &owner, &thief).await;

    let (_, _, thief) = a_thief_starts_replacing(&app, "wes").await;
    app.next_step();
    let path = admin_path("wes").replace("backup-codes", "totp");
    let off = app
        .send(
            Call::new("DELETE", &path)
                .admin("root")
                .header("x-otp", app.totp(&admin)),
        )
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.text);
    app.next_step();
    let confirmed = confirm(&app, "wes", &app.totp(&thief)).await;
    assert_ne!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    assert_eq!(
        app.verify("wes", &app.totp(&thief)).await.status,
        StatusCode::UNAUTHORIZED
    );
}
