//! Recovery requests in the store (issue 34's first step): one open per user, filed and closed
//! by conditional writes that race to exactly one winner, every field kept as filed.

use backup_codes::{
    domain::{
        account::AccountId,
        events::{Actor, EventKind, Recorded, SecurityEvent, Source, UserAgent},
        recovery::{DenyReason, RecoveryRequest, RequestState, REQUEST_LIFETIME},
        recovery_queue::AccountQueue,
        user::UserId,
    },
    ports::{
        Clock, RecoveryDecisions, RecoveryFiling, RecoveryLists, RequestPosition, StoreError,
        Written,
    },
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

/// Files `request` with its accounts' queues as read now, as the use case does.
async fn file(
    app: &TestApp,
    request: &RecoveryRequest,
    records: &[Recorded],
) -> Result<Written, StoreError> {
    let now = app.clock.now();
    let queues: Vec<AccountQueue> = app
        .store
        .queues_of(&request.accounts)
        .await?
        .iter()
        .map(|queue| queue.with(request, now))
        .collect();
    app.store.file_request(request, &queues, now, records).await
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
    let filed = file(&app, &first, &[noted(&app, "ana")]).await;
    assert_eq!(filed.unwrap(), Written::Applied);
    assert_eq!(
        store.request_of(&user("ana")).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(trail_len(&app, "ana").await, 1);

    let second = filed_by(&app, "ana");
    let again = file(&app, &second, &[noted(&app, "ana")]).await;
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
    let filed = file(&app, &later, &[]).await;
    assert_eq!(filed.unwrap(), Written::Applied);
    assert_eq!(store.request_of(&user("ana")).await.unwrap(), Some(later));
}

pub async fn racing_filings_keep_one_request(app: TestApp) {
    let requests: Vec<RecoveryRequest> = (0..8).map(|_| filed_by(&app, "bo")).collect();
    let written = futures::future::join_all(requests.iter().map(|r| file(&app, r, &[]))).await;
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
    file(&app, &request, &[]).await.unwrap();
    let admin = user("ada");
    let approved = RequestState::Approved {
        by: admin.clone(),
        at: now,
    };
    let wrong_id = RecoveryRequest {
        id: "0".repeat(32),
        ..request.clone()
    };
    let wrong_id = store.close_request(&wrong_id, &approved, now, &[]).await;
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
    let note = [noted(&app, "cy")];
    let written = futures::future::join_all(
        closings
            .iter()
            .map(|state| store.close_request(&request, state, now, &note)),
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
    file(&app, &dee, &[]).await.unwrap();
    let after = now + REQUEST_LIFETIME;
    let cancelled = RequestState::Cancelled { at: after };
    let late = store.close_request(&dee, &cancelled, after, &[]).await;
    assert_eq!(late.unwrap(), Written::ConditionFailed);
    assert_eq!(
        store.request_of(&user("dee")).await.unwrap().unwrap().state,
        RequestState::Open
    );
    // The sweep's expiry is what closes it.
    let expired = RequestState::Expired { at: after };
    let swept = store.close_request(&dee, &expired, after, &[]).await;
    assert_eq!(swept.unwrap(), Written::Applied);
    let again = store.close_request(&dee, &expired, after, &[]).await;
    assert_eq!(again.unwrap(), Written::ConditionFailed);
}

/// Several members of one account filing at once: every request is in the account's queue,
/// none is lost to another's write, and each closing takes its own out.
pub async fn racing_filings_in_one_account_all_reach_its_queue(app: TestApp) {
    let users: Vec<String> = (0..6).map(|i| format!("member-{i}")).collect();
    let requests: Vec<RecoveryRequest> = users.iter().map(|u| filed_by(&app, u)).collect();
    let filings = requests.iter().map(|request| async {
        // A filing that read a queue another moved reads again, as the use case does.
        for _ in 0..20 {
            if file(&app, request, &[]).await.unwrap() == Written::Applied {
                return true;
            }
        }
        false
    });
    let filed = futures::future::join_all(filings).await;
    assert!(filed.iter().all(|f| *f), "{filed:?}");
    let acme = AccountId::parse("acme").unwrap();
    let now = app.clock.now();
    let queue = app.store.queue_of(&acme).await.unwrap();
    let mut queued: Vec<String> = queue
        .open_at(now)
        .iter()
        .map(|q| q.user.to_string())
        .collect();
    queued.sort();
    assert_eq!(queued, users);
    assert_eq!(queue.filed_that_day, 6);
    assert_eq!(
        queue.find(&requests[2].id).unwrap().source,
        requests[2].source
    );

    let denied = RequestState::Denied {
        by: user("ada"),
        at: now,
        reason: None,
    };
    let closed = app
        .store
        .close_request(&requests[2], &denied, now, &[])
        .await;
    assert_eq!(closed.unwrap(), Written::Applied);
    for account in ["acme", "g#x"] {
        let queue = app
            .store
            .queue_of(&AccountId::parse(account).unwrap())
            .await
            .unwrap();
        assert_eq!(queue.open_at(now).len(), 5, "{account}");
        assert!(queue.find(&requests[2].id).is_none(), "{account}");
    }
    let found = app.store.request_by_id(&requests[2].id).await.unwrap();
    assert_eq!(found.map(|r| r.state), Some(denied));
    assert_eq!(
        app.store.request_by_id(&"f".repeat(32)).await.unwrap(),
        None
    );
}

/// Support's list: requests not yet closed, newest first, page by page; the sweep's: those
/// filed before a time, oldest first.
pub async fn open_requests_are_listed_newest_first_and_swept_oldest_first(app: TestApp) {
    let mut filed = vec![];
    for i in 0..5 {
        let request = filed_by(&app, &format!("asker-{i}"));
        file(&app, &request, &[]).await.unwrap();
        filed.push(request);
        app.clock.advance(60);
    }
    let now = app.clock.now();
    let cancelled = RequestState::Cancelled { at: now };
    let closed = app
        .store
        .close_request(&filed[1], &cancelled, now, &[])
        .await;
    assert_eq!(closed.unwrap(), Written::Applied);

    let mut seen = vec![];
    let mut after: Option<RequestPosition> = None;
    loop {
        let page = app.store.open_requests(2, after.as_ref()).await.unwrap();
        assert!(page.requests.len() <= 2);
        seen.extend(page.requests.iter().map(|r| r.user.to_string()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["asker-4", "asker-3", "asker-2", "asker-0"]);

    let before = filed[3].filed_at;
    let due = app.store.filed_before(before, 10).await.unwrap();
    let due: Vec<String> = due.iter().map(|r| r.user.to_string()).collect();
    assert_eq!(due, ["asker-0", "asker-2"]);
}
