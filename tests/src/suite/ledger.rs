//! The attempt ledger in the behaviour suite: refusals lock, an accepted code clears, unknown
//! users are locked exactly as known ones are, and bursts on every route that checks a code evaluate at most the
//! threshold.

use super::*;

/// A backup-code-shaped guess that is not one of the user's codes.
pub(crate) const WRONG_CODE: &str = "zzzzz-zzzzz";

/// A 6-digit guess that is none of the codes `secret` accepts around now.
pub(crate) fn wrong_totp(app: &TestApp, secret: &str) -> String {
    let near: Vec<String> = (-1..=1).map(|s| app.totp_at_offset(secret, s)).collect();
    (0..4)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|guess| !near.contains(guess))
        .unwrap()
}

/// The 429 a full ledger answers, with the seconds until it opens again.
pub(crate) fn locked_for(reply: &crate::Reply) -> Option<u64> {
    if reply.status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let body = reply.json();
    assert_eq!(body["error"], "locked", "{}", reply.text);
    assert!(body["message"].as_str().unwrap().contains("too many codes"));
    let seconds = body["retry_after_seconds"]
        .as_u64()
        .expect("retry_after_seconds");
    assert_eq!(
        reply.headers["retry-after"].to_str().unwrap(),
        seconds.to_string()
    );
    Some(seconds)
}

pub async fn repeated_refusals_lock_verifies_for_a_while(app: TestApp) {
    let (secret, codes) = app.enrolled("lee").await;
    let policy = app.config.settings.lockout;
    assert_eq!(
        (policy.threshold, policy.duration.whole_seconds()),
        (10, 900)
    );
    for attempt in 1..=10 {
        assert!(
            is_invalid_code(&app.verify("lee", WRONG_CODE).await),
            "attempt {attempt}"
        );
    }
    // Locked: the right backup code and a fresh TOTP code get 429 and are not spent.
    let locked = app.verify("lee", &codes[0]).await;
    assert_eq!(locked_for(&locked), Some(900), "{}", locked.text);
    assert_eq!(
        locked.json()["valid"],
        false,
        "verify's refusals say valid: false"
    );
    app.next_step();
    let locked = app.verify("lee", &app.totp(&secret)).await;
    assert_eq!(
        locked_for(&locked),
        Some(870),
        "refusals do not extend the lock"
    );
    assert_eq!(app.status("lee").await["remaining"], 10, "nothing was used");

    app.clock.advance(870);
    let after = app.verify("lee", &codes[0]).await;
    assert_eq!(
        after.status,
        StatusCode::OK,
        "the lock ends: {}",
        after.text
    );
    assert_eq!(after.json()["remaining_backup_codes"], 9);
}

pub async fn an_accepted_code_resets_the_failure_count(app: TestApp) {
    let (_, codes) = app.enrolled("max").await;
    for _ in 0..9 {
        assert!(is_invalid_code(&app.verify("max", WRONG_CODE).await));
    }
    assert_eq!(app.verify("max", &codes[0]).await.status, StatusCode::OK);
    for _ in 0..9 {
        assert!(is_invalid_code(&app.verify("max", WRONG_CODE).await));
    }
    assert_eq!(
        app.verify("max", &codes[1]).await.status,
        StatusCode::OK,
        "9 + 9 refusals with a success between never reach 10 in a row"
    );
}

/// Verify's lock does not tell who is enrolled: an unknown user, a user who only started
/// enrollment and an enrolled one get the same answers, refusal by refusal, and are locked at
/// the same refusal for the same time.
pub async fn an_unknown_user_is_locked_as_an_enrolled_one_is(app: TestApp) {
    app.enrolled("known").await;
    let pending = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("pending"))
        .await;
    assert_eq!(pending.status, StatusCode::CREATED);
    let answers = |user: &'static str| {
        let app = &app;
        async move {
            let mut seen = vec![];
            for _ in 0..12 {
                let reply = app.verify(user, WRONG_CODE).await;
                let mut headers: Vec<String> = reply
                    .headers
                    .iter()
                    .filter(|(name, _)| *name != "date")
                    .map(|(name, value)| format!("{name}: {value:?}"))
                    .collect();
                headers.sort();
                seen.push((reply.status, reply.text, headers));
            }
            seen
        }
    };
    let known = answers("known").await;
    assert_eq!(known[9].0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        known[10].0,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        known[10].1
    );
    assert_eq!(answers("pending").await, known, "a pending user");
    assert_eq!(answers("ghost").await, known, "an unknown user");

    // Their locks end together too, and an unknown user's ledger starts afresh.
    app.clock.advance(900);
    assert!(is_invalid_code(&app.verify("ghost", WRONG_CODE).await));
    let ghost = backup_codes::domain::user::UserId::parse("ghost").unwrap();
    assert_eq!(
        app.store.get_user(&ghost).await.unwrap(),
        None,
        "counting an unknown user's checks makes no record"
    );
}

/// A user who was refused while unknown, then enrolls, starts with the ledger they had: an
/// attacker cannot clear a lock by making the user enroll, nor is anything else carried over.
pub async fn an_unknown_users_refusals_do_not_stop_a_later_enrollment(app: TestApp) {
    for _ in 0..3 {
        assert!(is_invalid_code(&app.verify("newcomer", WRONG_CODE).await));
    }
    let (_, codes) = app.enrolled("newcomer").await;
    assert_eq!(
        app.verify("newcomer", &codes[0]).await.status,
        StatusCode::OK
    );
}

pub async fn concurrent_refusals_are_all_counted(app: TestApp) {
    let (_, codes) = app.enrolled("ned").await;
    let app = std::sync::Arc::new(app);
    let mut tasks = vec![];
    for _ in 0..10 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.verify("ned", WRONG_CODE).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    assert!(
        locked_for(&app.verify("ned", &codes[0]).await).is_some(),
        "10 concurrent refusals lock as 10 sequential ones do"
    );
}

/// Sends `BURST` wrong codes at once (`make(i)` builds the i-th) and, as soon as one of them
/// is answered 429, the right code (`right`) as well, while the rest are still in flight.
/// Asserts that at most the lockout threshold were evaluated (each refused with 401) and that
/// the right code was refused with 429.
pub(crate) async fn assert_burst_is_bounded(
    app: &std::sync::Arc<TestApp>,
    route: &str,
    make: impl Fn(usize) -> Call<'static>,
    right: Call<'static>,
) {
    let threshold = app.config.settings.lockout.threshold as usize;
    let (statuses, inside) = burst_then(app, BURST, make, right).await;
    assert!(evaluated(route, &statuses, StatusCode::UNAUTHORIZED) <= threshold);
    assert!(
        locked_for(&inside).is_some(),
        "{route}, right code inside the burst: {}",
        inside.text
    );
}

pub(crate) async fn burst_then(
    app: &std::sync::Arc<TestApp>,
    n: usize,
    make: impl Fn(usize) -> Call<'static>,
    then: Call<'static>,
) -> (Vec<StatusCode>, crate::Reply) {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let locked = std::sync::Arc::new(tokio::sync::Notify::new());
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (app, barrier, locked, call) =
                (app.clone(), barrier.clone(), locked.clone(), make(i));
            tokio::spawn(async move {
                barrier.wait().await;
                let status = app.send(call).await.status;
                if status == StatusCode::TOO_MANY_REQUESTS {
                    locked.notify_one();
                }
                status
            })
        })
        .collect();
    // Bounded: a burst that never locks (every answer a 503 from an overloaded emulator, say)
    // fails here with what it got, rather than waiting for a lock that will not come.
    if tokio::time::timeout(std::time::Duration::from_secs(60), locked.notified())
        .await
        .is_err()
    {
        let mut statuses = vec![];
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        panic!("the burst never answered 429: {statuses:?}");
    }
    let reply = app.send(then).await;
    let mut statuses = vec![];
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    (statuses, reply)
}

/// How many of a burst's answers came from evaluating a code (anything but 429).
pub(crate) fn evaluated(
    route: &str,
    statuses: &[StatusCode],
    expected_refusal: StatusCode,
) -> usize {
    for status in statuses {
        assert!(
            *status == expected_refusal || *status == StatusCode::TOO_MANY_REQUESTS,
            "{route}: unexpected {status}"
        );
    }
    let n = statuses
        .iter()
        .filter(|s| **s != StatusCode::TOO_MANY_REQUESTS)
        .count();
    // Read by the closing note: the most evaluated under the heaviest burst, per route.
    println!("ledger burst: {route}: {n} of {} evaluated", statuses.len());
    n
}

pub(crate) const BURST: usize = 60;

pub async fn a_verify_burst_evaluates_at_most_the_threshold(app: TestApp) {
    let (secret, codes) = app.enrolled("vic").await;
    let app = std::sync::Arc::new(app);
    let wrong =
        |_| Call::new("POST", "/v1/verify").json(json!({ "user_id": "vic", "code": WRONG_CODE }));
    let right =
        Call::new("POST", "/v1/verify").json(json!({ "user_id": "vic", "code": codes[0].clone() }));
    assert_burst_is_bounded(&app, "verify", wrong, right).await;
    app.next_step();
    let after = app.verify("vic", &app.totp(&secret)).await;
    assert!(
        locked_for(&after).is_some(),
        "right TOTP after the burst: {}",
        after.text
    );
    assert_eq!(
        app.status("vic").await["remaining"],
        10,
        "nothing was spent"
    );
}

pub async fn a_step_up_burst_evaluates_at_most_the_threshold(app: TestApp) {
    let (secret, codes) = app.enrolled("sid").await;
    let guess = wrong_totp(&app, &secret);
    let app = std::sync::Arc::new(app);
    app.next_step();
    for method in ["POST", "DELETE"] {
        let guess = guess.clone();
        let wrong = move |_| {
            Call::new(method, "/v1/backup-codes")
                .user("sid")
                .header("x-otp", guess.clone())
        };
        let right = Call::new(method, "/v1/backup-codes")
            .user("sid")
            .header("x-otp", app.totp(&secret));
        assert_burst_is_bounded(&app, &format!("{method} /v1/backup-codes"), wrong, right).await;
        // One ledger for every check: the user's verifies are locked too.
        assert!(locked_for(&app.verify("sid", &codes[0]).await).is_some());
        app.clock.advance(900);
        app.next_step();
    }
    assert_eq!(app.status("sid").await["remaining"], 10, "the set survived");
}

pub async fn an_admin_totp_burst_evaluates_at_most_the_threshold(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    let (_, codes) = app.enrolled("uma").await;
    let guess = wrong_totp(&app, &admin_secret);
    let app = std::sync::Arc::new(app);
    app.next_step();
    let wrong = |_| {
        Call::new("POST", "/v1/admin/users/uma/backup-codes")
            .admin("root")
            .json(json!({ "totp": guess.clone() }))
    };
    let right = Call::new("POST", "/v1/admin/users/uma/backup-codes")
        .admin("root")
        .json(json!({ "totp": app.totp(&admin_secret) }));
    assert_burst_is_bounded(&app, "admin reset", wrong, right).await;
    let mails = app.mailer.all();
    assert!(
        mails.iter().all(|m| m.to.as_str() != "uma@example.com"),
        "no reset happened"
    );
    assert_eq!(
        mails.len(),
        1,
        "the admin is told once of the lockout: {:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert!(mails[0].subject.contains("too many wrong codes"));
    assert_eq!(app.verify("uma", &codes[0]).await.status, StatusCode::OK);
    // The admin's guesses lock the admin, not the user they targeted.
    assert!(locked_for(&app.verify("root", WRONG_CODE).await).is_some());
}

pub async fn a_confirm_burst_evaluates_at_most_the_threshold(app: TestApp) {
    let started = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("cat"))
        .await;
    let secret = started.json()["secret"].as_str().unwrap().to_owned();
    let guess = wrong_totp(&app, &secret);
    let app = std::sync::Arc::new(app);
    let wrong = |_| {
        Call::new("POST", "/v1/totp/enrollment/confirm")
            .user("cat")
            .json(json!({ "code": guess.clone() }))
    };
    let right = Call::new("POST", "/v1/totp/enrollment/confirm")
        .user("cat")
        .json(json!({ "code": app.totp(&secret) }));
    assert_burst_is_bounded(&app, "confirm", wrong, right).await;
    // Restarting enrollment does not clear the ledger.
    let restarted = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("cat"))
        .await;
    let secret = restarted.json()["secret"].as_str().unwrap().to_owned();
    let again = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("cat")
                .json(json!({ "code": app.totp(&secret) })),
        )
        .await;
    assert!(locked_for(&again).is_some(), "{}", again.text);
}
