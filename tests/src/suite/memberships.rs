//! Memberships in the store, as the team's backend will write them (issue 33's first step):
//! read back consistently, written only over the role the writer saw, listed page by page,
//! bounded per user, and never confused across accounts whatever the ids hold.

use std::collections::BTreeSet;

use futures::StreamExt;

use backup_codes::{
    app::{errors::MembershipError, memberships},
    domain::{
        account::{AccountId, MembershipChange, Role, MAX_ACCOUNTS_PER_USER},
        events::{Actor, EventKind, Recorded, SecurityEvent, Source},
        user::UserId,
    },
    ports::{Clock, MemberLists, MembershipWrites, Memberships, Written},
};

use super::*;

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

/// The event a membership write keeps, as the backend's route will record it.
fn membership_event(
    app: &TestApp,
    kind: EventKind,
    (account, user): (&AccountId, &UserId),
    role: Role,
    previous: Option<Role>,
) -> Recorded {
    let now = app.clock.now();
    let event = SecurityEvent::new(kind, user, Actor::Backend, &Source::default(), now)
        .with_membership(account, role, previous);
    Recorded {
        event,
        to: None,
        expires_at: now + time::Duration::days(30),
    }
}

pub async fn a_membership_is_written_over_the_role_seen_and_read_back_at_once(app: TestApp) {
    let (acme, ana) = (account("acme"), user("ana"));
    let store = &app.store;
    assert_eq!(store.role_in(&acme, &ana).await.unwrap(), None);
    let joined = store.put_membership(&acme, &ana, Role::Member, None, &[]);
    assert_eq!(joined.await.unwrap(), Written::Applied);
    assert_eq!(
        store.role_in(&acme, &ana).await.unwrap(),
        Some(Role::Member)
    );
    assert_eq!(
        store.accounts_of(&ana).await.unwrap(),
        vec![(acme.clone(), Role::Member)]
    );

    // A writer who saw no membership, or another role, changes nothing.
    for stale in [None, Some(Role::Admin)] {
        let written = store.put_membership(&acme, &ana, Role::Admin, stale, &[]);
        assert_eq!(
            written.await.unwrap(),
            Written::ConditionFailed,
            "{stale:?}"
        );
    }
    let stale_removal = store.remove_membership(&acme, &ana, Role::Admin, &[]);
    assert_eq!(stale_removal.await.unwrap(), Written::ConditionFailed);
    assert_eq!(
        store.role_in(&acme, &ana).await.unwrap(),
        Some(Role::Member)
    );

    let change = membership_event(
        &app,
        EventKind::MembershipChanged,
        (&acme, &ana),
        Role::Admin,
        Some(Role::Member),
    );
    let promoted = store.put_membership(
        &acme,
        &ana,
        Role::Admin,
        Some(Role::Member),
        std::slice::from_ref(&change),
    );
    assert_eq!(promoted.await.unwrap(), Written::Applied);
    assert_eq!(store.role_in(&acme, &ana).await.unwrap(), Some(Role::Admin));
    // The event was kept by the same write, with the account and both roles.
    let trail = store.page(&ana, 10, None).await.unwrap().events;
    assert_eq!(trail.len(), 1, "{trail:?}");
    let kept = trail[0].to_json();
    assert_eq!(kept["type"], "membership_changed");
    assert_eq!(kept["actor"], "backend");
    assert_eq!(kept["account_id"], "acme");
    assert_eq!(kept["role"], "admin");
    assert_eq!(kept["previous_role"], "member");
    // A write that loses its condition keeps no event.
    let lost = membership_event(
        &app,
        EventKind::MembershipRemoved,
        (&acme, &ana),
        Role::Member,
        None,
    );
    let refused = store.remove_membership(&acme, &ana, Role::Member, std::slice::from_ref(&lost));
    assert_eq!(refused.await.unwrap(), Written::ConditionFailed);
    assert_eq!(store.page(&ana, 10, None).await.unwrap().events.len(), 1);
    assert_eq!(
        store.accounts_of(&ana).await.unwrap(),
        vec![(acme.clone(), Role::Admin)]
    );

    // Removed: the very next read says so.
    let removed = store.remove_membership(&acme, &ana, Role::Admin, &[]);
    assert_eq!(removed.await.unwrap(), Written::Applied);
    assert_eq!(store.role_in(&acme, &ana).await.unwrap(), None);
    assert!(store.accounts_of(&ana).await.unwrap().is_empty());
    let again = store.remove_membership(&acme, &ana, Role::Admin, &[]);
    assert_eq!(again.await.unwrap(), Written::ConditionFailed);
}

/// Ids may hold any character but controls: `a#b` with `c` and `a` with `b#c` are two
/// memberships, and neither account sees the other's member.
pub async fn memberships_are_never_confused_across_accounts(app: TestApp) {
    let store = &app.store;
    let pairs = [("a#b", "c"), ("a", "b#c"), ("a/b%2F", "é"), ("a", "b")];
    for (account_id, user_id) in pairs {
        let (acct, member) = (account(account_id), user(user_id));
        let written = store.put_membership(&acct, &member, Role::Member, None, &[]);
        assert_eq!(
            written.await.unwrap(),
            Written::Applied,
            "{account_id} {user_id}"
        );
    }
    let (a, b_c) = (account("a"), user("b#c"));
    let promoted = store.put_membership(&a, &b_c, Role::Admin, Some(Role::Member), &[]);
    assert_eq!(promoted.await.unwrap(), Written::Applied);
    assert_eq!(
        store.role_in(&account("a#b"), &user("c")).await.unwrap(),
        Some(Role::Member)
    );
    assert_eq!(
        store.role_in(&account("a#b"), &user("b#c")).await.unwrap(),
        None
    );
    assert_eq!(
        store.role_in(&account("a"), &user("c")).await.unwrap(),
        None
    );
    let listed: Vec<_> = store
        .members(&account("a"), 10, None)
        .await
        .unwrap()
        .members;
    assert_eq!(
        listed,
        vec![(user("b"), Role::Member), (user("b#c"), Role::Admin)]
    );
    let listed = store.members(&account("a#b"), 10, None).await.unwrap();
    assert_eq!(listed.members, vec![(user("c"), Role::Member)]);
    assert_eq!(listed.next, None);
}

/// 1,000 members of one account, read 100 at a time: every member once, in order, and the
/// last page says there is no next one.
pub async fn a_thousand_members_are_listed_page_by_page(app: TestApp) {
    let acme = account("acme");
    let writes = (0..1000).map(|n| {
        let store = app.store.clone();
        let acme = acme.clone();
        let role = if n % 100 == 0 {
            Role::Admin
        } else {
            Role::Member
        };
        async move {
            let member = user(&format!("user-{n:04}"));
            store.put_membership(&acme, &member, role, None, &[]).await
        }
    });
    // 16 at a time: the emulator serves the rest of the suite meanwhile.
    let written: Vec<_> = futures::stream::iter(writes)
        .buffer_unordered(16)
        .collect()
        .await;
    for written in written {
        assert_eq!(written.unwrap(), Written::Applied);
    }
    let mut seen = vec![];
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = app.store.members(&acme, 100, after.as_ref()).await.unwrap();
        pages += 1;
        assert!(page.members.len() <= 100);
        seen.extend(page.members);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(pages <= 11, "the pages never end");
    }
    assert_eq!(seen.len(), 1000);
    let expected: Vec<_> = (0..1000)
        .map(|n| {
            let role = if n % 100 == 0 {
                Role::Admin
            } else {
                Role::Member
            };
            (user(&format!("user-{n:04}")), role)
        })
        .collect();
    assert_eq!(seen, expected);
}

/// A user belongs to at most `MAX_ACCOUNTS_PER_USER` accounts: the next join is refused and
/// changes nothing, a role change within them still applies, and leaving one makes room.
pub async fn a_user_belongs_to_a_bounded_number_of_accounts(app: TestApp) {
    let store = &app.store;
    let bo = user("bo");
    let joins = (0..MAX_ACCOUNTS_PER_USER).map(|n| {
        let store = store.clone();
        let (acct, bo) = (account(&format!("acct-{n:03}")), bo.clone());
        async move {
            store
                .put_membership(&acct, &bo, Role::Member, None, &[])
                .await
        }
    });
    let joined: Vec<_> = futures::stream::iter(joins)
        .buffer_unordered(16)
        .collect()
        .await;
    for written in joined {
        assert_eq!(written.unwrap(), Written::Applied);
    }
    let (first, second, one_more) = (
        account("acct-000"),
        account("acct-001"),
        account("one-more"),
    );
    let refused = store.put_membership(&one_more, &bo, Role::Member, None, &[]);
    assert_eq!(refused.await.unwrap(), Written::ConditionFailed);
    assert_eq!(store.role_in(&one_more, &bo).await.unwrap(), None);
    assert_eq!(
        store.accounts_of(&bo).await.unwrap().len(),
        MAX_ACCOUNTS_PER_USER
    );
    let promoted = store.put_membership(&first, &bo, Role::Admin, Some(Role::Member), &[]);
    assert_eq!(promoted.await.unwrap(), Written::Applied);
    let left = store.remove_membership(&second, &bo, Role::Member, &[]);
    assert_eq!(left.await.unwrap(), Written::Applied);
    let joined = store.put_membership(&one_more, &bo, Role::Member, None, &[]);
    assert_eq!(joined.await.unwrap(), Written::Applied);
    let accounts: BTreeSet<_> = store
        .accounts_of(&bo)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, role)| (a, role.as_str()))
        .collect();
    assert_eq!(accounts.len(), MAX_ACCOUNTS_PER_USER);
    assert!(accounts.contains(&(first, "admin")));
    assert!(accounts.contains(&(one_more, "member")));
    assert!(!accounts.iter().any(|(a, _)| *a == second));
}

/// Writers racing on one membership over the same seen role: exactly one applies each time,
/// and the list of the user's accounts agrees with the membership afterwards.
pub async fn racing_membership_writes_apply_once(app: TestApp) {
    let (acme, cy) = (account("acme"), user("cy"));
    let race = |role: Role, seen: Option<Role>| {
        let writes = (0..8).map(|_| {
            let (store, acme, cy) = (app.store.clone(), acme.clone(), cy.clone());
            async move { store.put_membership(&acme, &cy, role, seen, &[]).await }
        });
        futures::future::join_all(writes)
    };
    let applied = |results: Vec<Result<Written, _>>| {
        results
            .into_iter()
            .map(|r| r.unwrap())
            .filter(|w| *w == Written::Applied)
            .count()
    };
    assert_eq!(applied(race(Role::Member, None).await), 1);
    assert_eq!(applied(race(Role::Admin, Some(Role::Member)).await), 1);
    let removals = (0..8).map(|_| {
        let (store, acme, cy) = (app.store.clone(), acme.clone(), cy.clone());
        async move { store.remove_membership(&acme, &cy, Role::Admin, &[]).await }
    });
    assert_eq!(applied(futures::future::join_all(removals).await), 1);
    assert_eq!(app.store.role_in(&acme, &cy).await.unwrap(), None);
    assert!(app.store.accounts_of(&cy).await.unwrap().is_empty());
    // Joining again after the race counts once toward the limit, not eight times.
    assert_eq!(applied(race(Role::Member, None).await), 1);
    assert_eq!(app.store.accounts_of(&cy).await.unwrap().len(), 1);
}

/// The backend's use case: each write is recorded as what it changed, a write of the role
/// already held changes and records nothing, and removing a non-member is done already.
pub async fn the_backends_membership_writes_record_what_they_changed(app: TestApp) {
    let svc = app.wiring().services(app.store.clone()).unwrap();
    let (acme, ana, source) = (account("acme"), user("ana"), Source::default());
    let put = |role| memberships::put(&svc, &acme, &ana, role, &source);
    assert_eq!(
        put(Role::Member).await.unwrap(),
        MembershipChange::Added(Role::Member)
    );
    assert_eq!(
        put(Role::Member).await.unwrap(),
        MembershipChange::Unchanged(Role::Member)
    );
    assert_eq!(
        put(Role::Admin).await.unwrap(),
        MembershipChange::RoleChanged {
            from: Role::Member,
            to: Role::Admin
        }
    );
    let removed = memberships::remove(&svc, &acme, &ana, &source)
        .await
        .unwrap();
    assert_eq!(removed, Some(MembershipChange::Removed(Role::Admin)));
    let again = memberships::remove(&svc, &acme, &ana, &source).await;
    assert!(matches!(again, Ok(None)), "{again:?}");

    let mut trail: Vec<Value> = app
        .store
        .page(&ana, 10, None)
        .await
        .unwrap()
        .events
        .iter()
        .map(|e| e.to_json())
        .collect();
    trail.sort_by_key(|e| e["type"].as_str().unwrap().to_owned());
    let summary: Vec<_> = trail
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], "backend");
            assert_eq!(e["account_id"], "acme");
            (
                e["type"].as_str().unwrap(),
                e["role"].as_str().unwrap(),
                e["previous_role"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("membership_added", "member", None),
            ("membership_changed", "admin", Some("member")),
            ("membership_removed", "admin", None),
        ]
    );
}

/// A join past the limit is refused as such, and nothing is written or recorded.
pub async fn joining_past_the_limit_is_refused_as_such(app: TestApp) {
    let svc = app.wiring().services(app.store.clone()).unwrap();
    let bo = user("bo");
    for n in 0..MAX_ACCOUNTS_PER_USER {
        let acct = account(&format!("acct-{n:03}"));
        let written = app
            .store
            .put_membership(&acct, &bo, Role::Member, None, &[]);
        assert_eq!(written.await.unwrap(), Written::Applied);
    }
    let one_more = account("one-more");
    let refused = memberships::put(&svc, &one_more, &bo, Role::Admin, &Source::default()).await;
    assert!(
        matches!(refused, Err(MembershipError::TooManyAccounts { most }) if most == MAX_ACCOUNTS_PER_USER),
        "{refused:?}"
    );
    assert_eq!(app.store.role_in(&one_more, &bo).await.unwrap(), None);
    assert!(app
        .store
        .page(&bo, 10, None)
        .await
        .unwrap()
        .events
        .is_empty());
}

/// Role changes racing on one member: every change that applied is recorded from the role it
/// really replaced, so the changes alternate and the last one is the role that stays.
pub async fn racing_role_changes_lose_no_update(app: TestApp) {
    let svc = app.wiring().services(app.store.clone()).unwrap();
    let (acme, cy, source) = (account("acme"), user("cy"), Source::default());
    memberships::put(&svc, &acme, &cy, Role::Member, &source)
        .await
        .unwrap();
    let writes = (0..8).map(|n| {
        let role = if n % 2 == 0 {
            Role::Admin
        } else {
            Role::Member
        };
        let (svc, acme, cy, source) = (&svc, &acme, &cy, &source);
        async move { memberships::put(svc, acme, cy, role, source).await }
    });
    let mut promotions = 0i32;
    let mut demotions = 0i32;
    for result in futures::future::join_all(writes).await {
        match result {
            Ok(MembershipChange::RoleChanged { from, to }) => {
                assert_ne!(from, to);
                if to == Role::Admin {
                    promotions += 1;
                } else {
                    demotions += 1;
                }
            }
            Ok(MembershipChange::Unchanged(_)) | Err(MembershipError::Contended) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let last = app.store.role_in(&acme, &cy).await.unwrap();
    assert!(
        (0..=1).contains(&(promotions - demotions)),
        "{promotions} {demotions}"
    );
    let expected = if promotions > demotions {
        Role::Admin
    } else {
        Role::Member
    };
    assert_eq!(last, Some(expected));
    let changes = app
        .store
        .page(&cy, 50, None)
        .await
        .unwrap()
        .events
        .iter()
        .filter(|e| e.kind == EventKind::MembershipChanged)
        .count();
    assert_eq!(changes as i32, promotions + demotions);
}
