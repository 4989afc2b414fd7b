//! Recovery requests in the store (issue 34's first step): one open per user, filed and closed
//! by conditional writes that race to exactly one winner, every field kept as filed.

use backup_codes::{
    domain::{
        account::AccountId,
        events::{Actor, EventKind, Recorded, SecurityEvent, Source, UserAgent},
        recovery::{DenyReason, RecoveryRequest, RequestState, REQUEST_LIFETIME},
        user::UserId,
    },
    ports::{Clock, RecoveryDecisions, RecoveryFiling, Written},
};

use super::*;

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn filed_by(app: &TestApp, who: &str) -> RecoveryRequest {
    let source = Source::reported(
        Some("203.0.113.7".parse().unwrap()),
        UserAgent::from_header("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"),
    );
    let accounts = vec![
        AccountId::parse("acme").unwrap(),
        AccountId::parse("g#x").unwrap(),
    ];
    RecoveryRequest::file(&user(who), accounts, &source, app.clock.now())
}

/// An event for the trail, to see it kept only with a write that applied.
fn noted(app: &TestApp, who: &str) -> Recorded {
    let now = app.clock.now();
    Recorded {
        event: SecurityEvent::new(
            EventKind::TwoFactorDisabled,
            &user(who),
            Actor::User,
            &Source::default(),
            now,
        ),
        to: None,
        expires_at: now + time::Duration::days(30),
    }
}

async fn trail_len(app: &TestApp, who: &str) -> usize {
    app.store
        .page(&user(who), 50, None)
        .await
        .unwrap()
        .events
        .len()
}

pub async fn a_recovery_request_is_kept_as_filed_and_one_is_open_at_a_time(app: TestApp) {
    let store = &app.store;
    assert_eq!(store.request_of(&user("ana")).await.unwrap(), None);
    let first = filed_by(&app, "ana");
    let now = app.clock.now();
    let filed = store.file_request(&first, now, &[noted(&app, "ana")]).await;
    assert_eq!(filed.unwrap(), Written::Applied);
    assert_eq!(
        store.request_of(&user("ana")).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(trail_len(&app, "ana").await, 1);

    let second = filed_by(&app, "ana");
    let again = store
        .file_request(&second, now, &[noted(&app, "ana")])
        .await;
    assert_eq!(
        again.unwrap(),
        Written::ConditionFailed,
        "one open at a time"
    );
    assert_eq!(
        store.request_of(&user("ana")).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        trail_len(&app, "ana").await,
        1,
        "a refused filing keeps no event"
    );

    // Expired, it no longer stands in the way.
    app.clock.advance(REQUEST_LIFETIME.whole_seconds());
    let later = filed_by(&app, "ana");
    let filed = store.file_request(&later, app.clock.now(), &[]).await;
    assert_eq!(filed.unwrap(), Written::Applied);
    assert_eq!(store.request_of(&user("ana")).await.unwrap(), Some(later));
}

pub async fn racing_filings_keep_one_request(app: TestApp) {
    let now = app.clock.now();
    let requests: Vec<RecoveryRequest> = (0..8).map(|_| filed_by(&app, "bo")).collect();
    let written =
        futures::future::join_all(requests.iter().map(|r| app.store.file_request(r, now, &[])))
            .await;
    let winners: Vec<&RecoveryRequest> = requests
        .iter()
        .zip(&written)
        .filter(|(_, w)| matches!(w, Ok(Written::Applied)))
        .map(|(r, _)| r)
        .collect();
    assert_eq!(winners.len(), 1, "{written:?}");
    let kept = app.store.request_of(&user("bo")).await.unwrap().unwrap();
    assert_eq!(&kept, winners[0]);
}

pub async fn a_request_is_closed_once_and_only_by_its_id(app: TestApp) {
    let store = &app.store;
    let request = filed_by(&app, "cy");
    let now = app.clock.now();
    store.file_request(&request, now, &[]).await.unwrap();
    let admin = user("ada");
    let approved = RequestState::Approved {
        by: admin.clone(),
        at: now,
    };
    let wrong_id = store
        .close_request(&user("cy"), "0".repeat(32).as_str(), &approved, now, &[])
        .await;
    assert_eq!(wrong_id.unwrap(), Written::ConditionFailed);

    let denied = RequestState::Denied {
        by: admin.clone(),
        at: now,
        reason: DenyReason::parse("Call the help desk first").unwrap(),
    };
    let closings = [approved.clone(), denied.clone()]
        .into_iter()
        .cycle()
        .take(8)
        .collect::<Vec<_>>();
    let (cy, note) = (user("cy"), [noted(&app, "cy")]);
    let written = futures::future::join_all(
        closings
            .iter()
            .map(|state| store.close_request(&cy, &request.id, state, now, &note)),
    )
    .await;
    let applied: Vec<&RequestState> = closings
        .iter()
        .zip(&written)
        .filter(|(_, w)| matches!(w, Ok(Written::Applied)))
        .map(|(s, _)| s)
        .collect();
    assert_eq!(applied.len(), 1, "{written:?}");
    assert_eq!(
        trail_len(&app, "cy").await,
        1,
        "only the winner's event is kept"
    );
    let kept = store.request_of(&user("cy")).await.unwrap().unwrap();
    assert_eq!(&kept.state, applied[0]);
    assert_eq!(kept.source, request.source);
    assert_eq!(kept.accounts, request.accounts);

    // An expired request is closed no more, even by its id.
    let dee = filed_by(&app, "dee");
    store.file_request(&dee, now, &[]).await.unwrap();
    let after = now + REQUEST_LIFETIME;
    let late = store
        .close_request(
            &user("dee"),
            &dee.id,
            &RequestState::Cancelled { at: after },
            after,
            &[],
        )
        .await;
    assert_eq!(late.unwrap(), Written::ConditionFailed);
    assert_eq!(
        store.request_of(&user("dee")).await.unwrap().unwrap().state,
        RequestState::Open
    );
}
