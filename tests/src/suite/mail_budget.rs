//! Mail within a budget: one user cannot make the service mail without bound. Per user and
//! hour one mail per kind and at most five; the rest comes in one digest after the hour; a
//! lock (and the other urgent kinds) is never held; other users' mail keeps going; the stack
//! stops ordinary mail below the SES quota and the admins' links always go.

use backup_codes::{
    domain::{
        mail_budget::{day_of, hour_of, MAILS_PER_USER_HOUR},
        user::UserId,
    },
    ports::Clock,
};

use super::*;

fn to(app: &TestApp, address: &str) -> Vec<backup_codes::ports::OutgoingMail> {
    app.mailer
        .all()
        .into_iter()
        .filter(|mail| mail.to.as_str() == address)
        .collect()
}

pub async fn a_flood_from_one_user_is_bounded_and_digested_while_others_get_their_mail(
    app: TestApp,
) {
    let (secret, codes) = app.enrolled("flo").await;
    let (_, others) = app.enrolled("oli").await;
    // Flo floods: every backup code at sign-in, and new codes made and activated again and
    // again (each proved by a fresh authenticator code).
    for code in &codes {
        assert_eq!(app.verify("flo", code).await.status, StatusCode::OK);
    }
    let cycles = 8;
    for _ in 0..cycles {
        app.next_step();
        app.regenerate_and_activate("flo", &app.totp(&secret)).await;
    }
    let flo = to(&app, "flo@example.com");
    assert!(
        flo.len() <= MAILS_PER_USER_HOUR as usize,
        "{} mails to flo in the hour: {:?}",
        flo.len(),
        flo.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert_eq!(
        flo.iter()
            .filter(|m| m.subject.contains("a backup code was used"))
            .count(),
        1,
        "a repeat of a kind waits for the digest"
    );
    // Another user's mail still goes out, at once.
    assert_eq!(app.verify("oli", &others[0]).await.status, StatusCode::OK);
    assert_eq!(to(&app, "oli@example.com").len(), 1);

    // A lock is never held, however spent the budget.
    for _ in 0..app.config.settings.lockout.threshold {
        app.verify("flo", "000000").await;
    }
    let locks: Vec<_> = to(&app, "flo@example.com")
        .into_iter()
        .filter(|m| m.subject.contains("too many wrong codes"))
        .collect();
    assert_eq!(locks.len(), 1, "the lock is mailed at once");

    // After the hour, one digest counts everything held, and mail flows again.
    let before = to(&app, "flo@example.com").len();
    app.clock.advance(3600);
    app.verify("oli", &others[1]).await;
    let flo = to(&app, "flo@example.com");
    assert_eq!(flo.len(), before + 1, "one digest");
    let digest = flo.last().unwrap();
    assert!(
        digest.subject.contains("more security events in one hour"),
        "{}",
        digest.subject
    );
    // Every use and every activation was mailable; the lock and the first of each kind went.
    let held = codes.len() + cycles - (before - 1);
    assert!(
        digest
            .text
            .contains(&format!("{held} more security events")),
        "{held} held: {}",
        digest.text
    );
    assert!(!codes.iter().any(|code| digest.text.contains(code.as_str())));
    // Sweeping again sends nothing more.
    app.verify("oli", &others[2]).await;
    assert_eq!(to(&app, "flo@example.com").len(), before + 1);
    app.next_step();
    app.regenerate_and_activate("flo", &app.totp(&secret)).await;
    assert_eq!(
        to(&app, "flo@example.com").len(),
        before + 2,
        "a new hour, a new mail"
    );
}

pub async fn the_stack_ceiling_holds_ordinary_mail_and_keeps_room_for_urgent_mail_and_links(
    mut app: TestApp,
) {
    app.reconfigure(|config| config.mail_ceiling.quota_per_day = 200);
    let (admin_secret, _) = app.enrolled("root").await;
    let (_, codes) = app.enrolled("ana").await;
    // The day's mail so far has reached the ordinary ceiling (80% of 200).
    let day = day_of(app.clock.now());
    let sent_today = app.mailer.count();
    for _ in sent_today..160 {
        assert!(app.store.take_stack(day, None).await.unwrap());
    }
    let before = app.mailer.count();
    assert_eq!(app.verify("ana", &codes[0]).await.status, StatusCode::OK);
    assert_eq!(
        app.mailer.count(),
        before,
        "an ordinary mail waits for the digest"
    );
    for _ in 0..app.config.settings.lockout.threshold {
        app.verify("ana", "000000").await;
    }
    assert_eq!(
        app.mailer.about("too many wrong codes").len(),
        1,
        "urgent mail has room up to 95%"
    );
    app.next_step();
    let reset = app
        .admin_reset("root", "ana", &app.totp(&admin_secret))
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.text);
    assert_eq!(
        app.mailer.last().to.as_str(),
        "ana@example.com",
        "the link went"
    );
    // The link was counted: 160 + the lock + the link.
    let mut counted = 0;
    while app.store.take_stack(day, Some(200)).await.unwrap() {
        counted += 1;
    }
    assert_eq!(
        counted,
        200 - 162,
        "the day's count includes the lock and the link"
    );
}

/// The counts are conditional writes: concurrent notifiers never pass a limit.
pub async fn concurrent_counts_never_pass_the_limit(app: TestApp) {
    let app = std::sync::Arc::new(app);
    let day = day_of(app.clock.now());
    let hour = hour_of(app.clock.now());
    let tries = 20;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(tries));
    let tasks: Vec<_> = (0..tries)
        .map(|n| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let stack = app.store.take_stack(day, Some(7)).await.unwrap();
                let kind = backup_codes::domain::events::EventKind::ALL[n % 3];
                let user = UserId::parse("cal").unwrap();
                let mine = app
                    .store
                    .take_user(&user, hour, kind, Some(MAILS_PER_USER_HOUR))
                    .await
                    .unwrap();
                (stack, mine)
            })
        })
        .collect();
    let (mut stack, mut mine) = (0, 0);
    for task in tasks {
        let (s, m) = task.await.unwrap();
        stack += usize::from(s);
        mine += usize::from(m);
    }
    assert_eq!(stack, 7, "exactly the ceiling");
    assert_eq!(mine, 3, "one per kind");
}
