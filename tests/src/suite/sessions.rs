//! A change of the factor itself ends the user's sessions at the identity provider, from the
//! notifier, before the mail and the bus hear of it; signing in with a code does not.

use std::sync::{atomic::Ordering, Arc};

use super::{
    admin_reset::{collect_codes, reset_by_admin},
    new_phone::{confirm, start_replacement},
    two_factor_off::turn_off,
    *,
};
use crate::{RecordingBus, RecordingSessions};

fn bus_says(bus: &RecordingBus) -> Vec<(String, Option<bool>)> {
    bus.0
        .lock()
        .unwrap()
        .iter()
        .map(|e| (e.kind.name().to_owned(), e.sessions_ended))
        .collect()
}

pub async fn every_factor_change_ends_the_users_sessions(app: TestApp) {
    let sessions = Arc::new(RecordingSessions::default());
    let bus = Arc::new(RecordingBus::default());
    let app = app.with_sessions(sessions.clone()).with_bus(bus.clone());

    // Enrolled in the settings: the password-only session from before ends.
    let (secret, codes) = app.enrolled("ses").await;
    assert_eq!(sessions.ended(), ["ses"]);
    // Signing in with a code, or starting a replacement, changes no factor.
    assert_eq!(app.verify("ses", &codes[0]).await.status, StatusCode::OK);
    app.next_step();
    assert_eq!(
        app.verify("ses", &app.totp(&secret)).await.status,
        StatusCode::OK
    );
    assert_eq!(sessions.ended().len(), 1);

    // A new set, once activated (not when merely made).
    app.clock.advance(3600);
    let regenerated = app.regenerate("ses", &codes[1]).await;
    assert_eq!(
        regenerated.status,
        StatusCode::CREATED,
        "{}",
        regenerated.text
    );
    assert_eq!(
        sessions.ended().len(),
        1,
        "a pending set changes nothing yet"
    );
    assert_eq!(
        app.activate("ses", &regenerated).await.status,
        StatusCode::OK
    );
    assert_eq!(sessions.ended().len(), 2);

    // A new phone: started, nothing; confirmed, the sessions end.
    app.next_step();
    let new_secret = start_replacement(&app, "ses", &app.totp(&secret)).await;
    assert_eq!(sessions.ended().len(), 2);
    app.next_step();
    let confirmed = confirm(&app, "ses", &app.totp(&new_secret)).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    assert_eq!(sessions.ended().len(), 3);

    // The codes removed, then two-factor turned off.
    app.next_step();
    let removed = app
        .send(
            Call::new("DELETE", "/v1/backup-codes")
                .user("ses")
                .json(json!({ "totp": app.totp(&new_secret) })),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    assert_eq!(sessions.ended().len(), 4);
    app.next_step();
    let off = app.send(turn_off("ses", &app.totp(&new_secret))).await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.text);
    assert_eq!(sessions.ended(), ["ses"; 5]);

    // The bus hears each change with sessions_ended: true; a sign-in says nothing of sessions.
    let said: Vec<_> = bus_says(&bus)
        .into_iter()
        .filter(|(kind, _)| kind != "codes_issued" && kind != "replacement_started")
        .collect();
    let expect = |kind: &str, ended: Option<bool>| (kind.to_owned(), ended);
    assert_eq!(
        said,
        [
            expect("enrolled", Some(true)),
            expect("backup_code_used", None),
            expect("totp_used", None),
            expect("backup_code_used", None),
            expect("codes_regenerated", Some(true)),
            expect("authenticator_replaced", Some(true)),
            expect("codes_removed", Some(true)),
            expect("two_factor_disabled", Some(true)),
        ]
    );
    // The user is told, in the mail of the change.
    let mail = app.mailer.about("two-factor authentication was turned off");
    assert!(
        mail.last().unwrap().text.contains("signed out everywhere"),
        "{}",
        mail.last().unwrap().text
    );
}

pub async fn an_admin_reset_and_its_link_end_the_users_sessions(app: TestApp) {
    let sessions = Arc::new(RecordingSessions::default());
    let app = app.with_sessions(sessions.clone());
    reset_by_admin(&app).await;
    // root and uma enrolled, then uma reset: the thief's session with uma's codes ends now.
    assert_eq!(sessions.ended(), ["root", "uma", "uma"]);
    let token = crate::token_in(&app.mailer.last());
    collect_codes(&app, &token).await;
    assert_eq!(sessions.ended(), ["root", "uma", "uma", "uma"]);
}

pub async fn the_mail_and_the_bus_wait_until_the_sessions_have_ended(app: TestApp) {
    let sessions = Arc::new(RecordingSessions::default());
    let bus = Arc::new(RecordingBus::default());
    let app = app.with_sessions(sessions.clone()).with_bus(bus.clone());
    let (secret, _) = app.enrolled("sue").await;
    let mails = app.mailer.count();
    sessions.failing.store(true, Ordering::SeqCst);
    app.next_step();
    let off = app.send(turn_off("sue", &app.totp(&secret))).await;
    assert_eq!(
        off.status,
        StatusCode::NO_CONTENT,
        "the change is made: {}",
        off.text
    );
    assert_eq!(
        app.mailer.count(),
        mails,
        "no mail says sessions ended before they have"
    );
    assert!(!bus_says(&bus)
        .iter()
        .any(|(kind, _)| kind == "two_factor_disabled"));

    // The provider is back: the retry ends them, then mails and puts the event, once each.
    sessions.failing.store(false, Ordering::SeqCst);
    app.deliver().await;
    app.deliver().await;
    assert_eq!(sessions.ended(), ["sue", "sue"]);
    assert_eq!(app.mailer.about("turned off").len(), 1);
    assert_eq!(
        bus_says(&bus)
            .into_iter()
            .filter(|(kind, _)| kind == "two_factor_disabled")
            .collect::<Vec<_>>(),
        [("two_factor_disabled".to_owned(), Some(true))]
    );
}

pub async fn without_a_pool_the_bus_says_no_session_was_ended(app: TestApp) {
    let bus = Arc::new(RecordingBus::default());
    let app = app.with_bus(bus.clone());
    app.enrolled("sam").await;
    assert_eq!(
        bus_says(&bus).first(),
        Some(&("enrolled".to_owned(), Some(false))),
        "teams on other identity providers end the sessions themselves"
    );
    let sent = &bus.0.lock().unwrap()[0];
    assert_eq!(sent.to_json()["sessions_ended"], false);
}
