//! The emailed link as the seed has it: redeeming shows a pending set, which counts once the
//! owner says they saved it; until then the link can be redeemed again, a bounded number of
//! times, so a dropped connection never loses the codes and a leaked link cannot be held.

use backup_codes::domain::{
    link_token::{DownloadGrant, GrantClaim},
    user::UserId,
};

use super::{
    admin_reset::{
        activate_json, collect_codes, hold_link, redeem_json, reset_by_admin, stored_grant,
    },
    *,
};

fn set_id(reply: &crate::Reply) -> String {
    reply.json()["set_id"].as_str().unwrap().to_owned()
}

pub async fn a_redeemed_link_shows_codes_that_count_once_saved(app: TestApp) {
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    let shown = redeem_json(&app, &token).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    assert_eq!(
        shown.json()["expires_at"],
        "2027-01-16T08:00:30Z",
        "the link's own expiry"
    );
    let codes = shown.codes();
    assert!(
        is_invalid_code(&app.verify("uma", &codes[0]).await),
        "a shown set is no proof until saved"
    );
    let status = app.status("uma").await;
    assert_eq!(
        (
            status["remaining"].clone(),
            status["pending_download"].clone()
        ),
        (json!(0), json!(true)),
        "the link still stands: {status}"
    );
    let saved = activate_json(&app, &token, &set_id(&shown)).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(saved.json()["remaining"], 10);
    assert_eq!(app.verify("uma", &codes[0]).await.status, StatusCode::OK);
    let mails = app.mailer.about("new backup codes");
    assert_eq!(mails.len(), 1, "saving the codes is told once: {mails:?}");
    assert_eq!(
        app.trail_kinds("uma")
            .await
            .iter()
            .filter(|kind| *kind == "download_link_redeemed")
            .count(),
        1,
        "one event, at the save"
    );
}

pub async fn a_dropped_connection_never_loses_the_codes(app: TestApp) {
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    // The first answer never reached the owner; they open the link again.
    let lost = redeem_json(&app, &token).await;
    assert_eq!(lost.status, StatusCode::OK, "{}", lost.text);
    let fresh = redeem_json(&app, &token).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    assert_ne!(set_id(&lost), set_id(&fresh), "a fresh set each time");
    let stale = activate_json(&app, &token, &set_id(&lost)).await;
    assert_eq!(
        (stale.status, stale.json()["error"].clone()),
        (StatusCode::CONFLICT, json!("set_not_pending")),
        "{}",
        stale.text
    );
    let saved = activate_json(&app, &token, &set_id(&fresh)).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert!(is_invalid_code(&app.verify("uma", &lost.codes()[0]).await));
    assert_eq!(
        app.verify("uma", &fresh.codes()[1]).await.status,
        StatusCode::OK
    );
    // The save's answer too can be lost: sending it again answers the same, and changes nothing.
    let resent = activate_json(&app, &token, &set_id(&fresh)).await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.text);
    assert_eq!(resent.json()["remaining"], 9);
    assert!(
        is_gone(&redeem_json(&app, &token).await),
        "the link is spent"
    );
    let stale = activate_json(&app, &token, &set_id(&lost)).await;
    assert!(is_gone(&stale), "{}", stale.text);
}

pub async fn concurrent_saves_of_one_set_all_answer_and_record_once(app: TestApp) {
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    let shown = redeem_json(&app, &token).await;
    let id = set_id(&shown);
    let app = std::sync::Arc::new(app);
    let clicks = 8;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clicks));
    let tasks: Vec<_> = (0..clicks)
        .map(|_| {
            let (app, barrier, token, id) =
                (app.clone(), barrier.clone(), token.clone(), id.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                activate_json(&app, &token, &id).await
            })
        })
        .collect();
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let kinds = app.trail_kinds("uma").await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "download_link_redeemed")
            .count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        app.verify("uma", &shown.codes()[0]).await.status,
        StatusCode::OK
    );
}

pub async fn a_link_is_redeemed_a_bounded_number_of_times(app: TestApp) {
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    let mut last = None;
    for _ in 0..DownloadGrant::MAX_REDEMPTIONS {
        let shown = redeem_json(&app, &token).await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
        last = Some(shown);
    }
    assert!(
        is_gone(&redeem_json(&app, &token).await),
        "no redemption past {}",
        DownloadGrant::MAX_REDEMPTIONS
    );
    // The last set shown can still be saved: the bound ends showing, not saving.
    let last = last.unwrap();
    let saved = activate_json(&app, &token, &set_id(&last)).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(
        app.verify("uma", &last.codes()[0]).await.status,
        StatusCode::OK
    );
}

/// A hold is short, let go by its redemption, and counts against the bound, so holding a link
/// again and again ends; a new grant clears a stale hold at once.
pub async fn a_hold_is_short_bounded_and_cleared_by_a_new_grant(app: TestApp) {
    let (admin_secret, _) = reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    let uma = UserId::parse("uma").unwrap();
    let grant = stored_grant(&app, &uma).await;
    assert!(GrantClaim::LIFETIME <= time::Duration::seconds(15));
    // Someone with the link holds it and lets each hold lapse, over and over.
    for round in 0..DownloadGrant::MAX_REDEMPTIONS {
        assert!(
            hold_link(&app, &uma, &grant).await.is_some(),
            "hold {round}"
        );
        app.clock.advance(GrantClaim::LIFETIME.whole_seconds());
    }
    assert!(
        hold_link(&app, &uma, &grant).await.is_none(),
        "holds count against the bound: no one keeps a link held"
    );
    assert!(is_gone(&redeem_json(&app, &token).await));

    // The admin sends a new link: no hold or count of the old one stands in its way.
    app.next_step();
    let reply = app
        .admin_reset("root", "uma", &app.totp(&admin_secret))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let second = crate::token_in(&app.mailer.last());
    let grant = stored_grant(&app, &uma).await;
    assert!(
        hold_link(&app, &uma, &grant).await.is_some(),
        "a hold on the new grant"
    );
    app.next_step();
    let reply = app
        .admin_reset("root", "uma", &app.totp(&admin_secret))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let third = crate::token_in(&app.mailer.last());
    assert!(
        is_gone(&redeem_json(&app, &second).await),
        "the old link is dead"
    );
    assert_eq!(
        collect_codes(&app, &third).await.len(),
        10,
        "a hold on the old grant does not block the new link, even within its 15 seconds"
    );
}

pub async fn shown_codes_expire_with_the_link_and_another_links_token_saves_nothing(app: TestApp) {
    let (admin_secret, _) = reset_by_admin(&app).await;
    let first = crate::token_in(&app.mailer.last());
    let shown = redeem_json(&app, &first).await;
    // A newer link replaces this one: its token cannot save what the old link showed.
    app.next_step();
    let reply = app
        .admin_reset("root", "uma", &app.totp(&admin_secret))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let second = crate::token_in(&app.mailer.last());
    assert!(is_gone(&activate_json(&app, &first, &set_id(&shown)).await));
    let newer = redeem_json(&app, &second).await;
    assert!(
        is_gone(&activate_json(&app, &first, &set_id(&newer)).await),
        "the old link's token cannot save the new link's set"
    );
    // Past the link's expiry its shown set can no longer be saved.
    app.clock.advance(24 * 60 * 60 + 60);
    assert!(is_gone(
        &activate_json(&app, &second, &set_id(&newer)).await
    ));
    assert!(is_invalid_code(&app.verify("uma", &newer.codes()[0]).await));
    assert_eq!(app.status("uma").await["remaining"], 0);
}

pub async fn a_malformed_save_is_refused_and_changes_nothing(app: TestApp) {
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    let shown = redeem_json(&app, &token).await;
    let id = set_id(&shown);
    for (body, field) in [
        (json!({ "token": token }), "set_id"),
        (json!({ "set_id": id }), "token"),
        (json!({ "token": "", "set_id": id }), "token"),
        (json!({ "token": token, "set_id": "not-an-id!" }), "set_id"),
        (json!({ "token": token, "set_id": id, "extra": 1 }), "extra"),
    ] {
        let reply = app
            .send(Call::new("POST", "/v1/backup-codes/download/activate").json(body.clone()))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert!(
            reply.json()["message"].as_str().unwrap().contains(field),
            "{body}: {}",
            reply.text
        );
    }
    assert!(is_invalid_code(&app.verify("uma", &shown.codes()[0]).await));
    assert_eq!(
        activate_json(&app, &token, &id).await.status,
        StatusCode::OK
    );
}
