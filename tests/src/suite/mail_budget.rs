//! Mail within a budget: one user cannot make the service mail without bound. Per user and
//! hour one mail per kind and at most five; the rest comes in one digest after the hour; a
//! lock (and the other urgent kinds) is never held; other users' mail keeps going; the stack
//! stops ordinary mail below the SES quota and the admins' links always go; one customer
//! account's members together stop at the account's share, and other accounts' mail goes on.

use backup_codes::{
    domain::{
        mail_budget::{day_of, hour_of, DayCount, MAILS_PER_USER_HOUR},
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
    app.reconfigure(|config| config.mail_ceilings.quota_per_day = 200);
    let (admin_secret, _) = app.enrolled("root").await;
    let (_, codes) = app.enrolled("ana").await;
    // The day's mail so far has reached the ordinary ceiling (80% of 200).
    let day = day_of(app.clock.now());
    let sent_today = app.mailer.count();
    for _ in sent_today..160 {
        assert!(app
            .store
            .take_day(&DayCount::Stack, day, None)
            .await
            .unwrap());
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
    while app
        .store
        .take_day(&DayCount::Stack, day, Some(200))
        .await
        .unwrap()
    {
        counted += 1;
    }
    assert_eq!(
        counted,
        200 - 162,
        "the day's count includes the lock and the link"
    );
}

pub async fn one_accounts_flood_holds_its_own_ordinary_mail_and_no_one_elses(mut app: TestApp) {
    // 1% of a quota of 200: each account's members get 2 ordinary mails a day between them.
    app.reconfigure(|config| {
        config.mail_ceilings.quota_per_day = 200;
        config.mail_ceilings.account_share_percent = 1;
    });
    let mut codes = std::collections::HashMap::new();
    for user in ["ana", "amy", "ada", "bob", "cal"] {
        codes.insert(user, app.enrolled(user).await.1);
    }
    for (account, user) in [
        ("acme", "ana"),
        ("acme", "amy"),
        ("acme", "ada"),
        ("globex", "bob"),
    ] {
        let joined = membership_routes::put_role(&app, account, user, "member").await;
        assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.text);
    }
    let used = |app: &TestApp, user: &str| {
        to(app, &format!("{user}@example.com"))
            .into_iter()
            .filter(|m| m.subject.contains("a backup code was used"))
            .count()
    };
    // Acme's members sign in with a backup code each: the first two are mailed, the third
    // waits, although it is that user's first mail of the hour.
    for user in ["ana", "amy", "ada"] {
        assert_eq!(
            app.verify(user, &codes[user][0]).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        (used(&app, "ana"), used(&app, "amy"), used(&app, "ada")),
        (1, 1, 0),
        "acme's share is used up"
    );
    // Another account's member, and a user in no account, get theirs at once.
    for user in ["bob", "cal"] {
        assert_eq!(
            app.verify(user, &codes[user][0]).await.status,
            StatusCode::OK
        );
        assert_eq!(used(&app, user), 1, "{user}'s mail went");
    }
    // A lock is never held by the account's ceiling.
    for _ in 0..app.config.settings.lockout.threshold {
        app.verify("ada", "000000").await;
    }
    let ada = to(&app, "ada@example.com");
    assert_eq!(
        ada.iter()
            .filter(|m| m.subject.contains("too many wrong codes"))
            .count(),
        1,
        "the lock went at once"
    );
    // The lock was counted in acme's day: no room is left, nothing was given back.
    let day = day_of(app.clock.now());
    let acme = DayCount::Account(backup_codes::domain::account::AccountId::parse("acme").unwrap());
    assert!(!app.store.take_day(&acme, day, Some(3)).await.unwrap());
    // After the hour, ada's digest names the held use.
    app.clock.advance(3600);
    app.verify("cal", &codes["cal"][1]).await;
    let digest = to(&app, "ada@example.com").pop().unwrap();
    assert!(
        digest.subject.contains("1 more security event in one hour"),
        "{}",
        digest.subject
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
                let stack = app
                    .store
                    .take_day(&DayCount::Stack, day, Some(7))
                    .await
                    .unwrap();
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
