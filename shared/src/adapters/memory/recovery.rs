//! Each user's latest recovery request and each account's queue, under one lock: a filing and
//! a closing are each one step, as DynamoDB's transactions are.

use std::collections::HashMap;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::MemoryStore;
use crate::{
    domain::{
        account::AccountId,
        events::Recorded,
        recovery::{RecoveryRequest, RequestState},
        recovery_queue::{AccountQueue, QueuedRequest},
        user::UserId,
    },
    ports::{
        RecoveryDecisions, RecoveryFiling, RecoveryLists, RequestPage, RequestPosition, StoreError,
        Written,
    },
};

#[derive(Default)]
pub(super) struct Requests {
    by_user: HashMap<UserId, RecoveryRequest>,
    /// Until when a filing holds each user's right to file.
    filing: HashMap<UserId, OffsetDateTime>,
    queues: HashMap<AccountId, AccountQueue>,
}

impl Requests {
    fn queue(&self, account: &AccountId) -> AccountQueue {
        self.queues
            .get(account)
            .cloned()
            .unwrap_or_else(|| AccountQueue::empty(account))
    }

    /// Requests not yet closed, by position.
    fn unclosed(&self) -> Vec<&RecoveryRequest> {
        let mut open: Vec<_> = self
            .by_user
            .values()
            .filter(|r| r.state == RequestState::Open)
            .collect();
        open.sort_by_key(|r| RequestPosition::of(r).sort_key());
        open
    }
}

impl MemoryStore {
    fn with_requests<T>(&self, f: impl FnOnce(&mut Requests) -> T) -> T {
        // Each closure decides first and mutates last, so a poisoned lock still holds
        // consistent data.
        let mut guard = self.recovery.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

#[async_trait]
impl RecoveryFiling for MemoryStore {
    async fn request_of(&self, user: &UserId) -> Result<Option<RecoveryRequest>, StoreError> {
        Ok(self.with_requests(|requests| requests.by_user.get(user).cloned()))
    }

    async fn queues_of(&self, accounts: &[AccountId]) -> Result<Vec<AccountQueue>, StoreError> {
        Ok(self.with_requests(|requests| accounts.iter().map(|a| requests.queue(a)).collect()))
    }

    async fn hold_filing(
        &self,
        user: &UserId,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Written, StoreError> {
        Ok(self.with_requests(|requests| {
            let open = requests.by_user.get(user).is_some_and(|r| r.is_open(now));
            let held = requests.filing.get(user).is_some_and(|held| now < *held);
            if open || held {
                return Written::ConditionFailed;
            }
            requests.filing.insert(user.clone(), until);
            Written::Applied
        }))
    }

    async fn file_request(
        &self,
        request: &RecoveryRequest,
        queues: &[AccountQueue],
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let written = self.with_requests(|requests| {
            let open = requests
                .by_user
                .get(&request.user)
                .is_some_and(|r| r.is_open(now));
            let moved = queues
                .iter()
                .any(|q| requests.queue(&q.account).version + 1 != q.version);
            if open || moved {
                return Written::ConditionFailed;
            }
            requests
                .by_user
                .insert(request.user.clone(), request.clone());
            requests.filing.remove(&request.user);
            for queue in queues {
                requests.queues.insert(queue.account.clone(), queue.clone());
            }
            Written::Applied
        });
        Ok(self.recording(records, written))
    }
}

#[async_trait]
impl RecoveryLists for MemoryStore {
    async fn queue_of(&self, account: &AccountId) -> Result<AccountQueue, StoreError> {
        Ok(self.with_requests(|requests| requests.queue(account)))
    }

    async fn request_by_id(&self, id: &str) -> Result<Option<RecoveryRequest>, StoreError> {
        Ok(self.with_requests(|requests| requests.by_user.values().find(|r| r.id == id).cloned()))
    }

    async fn open_requests(
        &self,
        limit: usize,
        after: Option<&RequestPosition>,
    ) -> Result<RequestPage, StoreError> {
        Ok(self.with_requests(|requests| {
            let after = after.map(RequestPosition::sort_key);
            let mut newer_first: Vec<RecoveryRequest> = requests
                .unclosed()
                .into_iter()
                .rev()
                .filter(|r| {
                    after
                        .as_ref()
                        .is_none_or(|a| RequestPosition::of(r).sort_key() < *a)
                })
                .take(limit + 1)
                .cloned()
                .collect();
            let more = newer_first.len() > limit;
            newer_first.truncate(limit);
            let next = more
                .then(|| newer_first.last().map(RequestPosition::of))
                .flatten();
            RequestPage {
                requests: newer_first,
                next,
            }
        }))
    }

    async fn filed_before(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<RecoveryRequest>, StoreError> {
        Ok(self.with_requests(|requests| {
            requests
                .unclosed()
                .into_iter()
                .filter(|r| r.filed_at < before)
                .take(limit)
                .cloned()
                .collect()
        }))
    }
}

#[async_trait]
impl RecoveryDecisions for MemoryStore {
    async fn close_request(
        &self,
        request: &RecoveryRequest,
        state: &RequestState,
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let expiring = matches!(state, RequestState::Expired { .. });
        let written = self.with_requests(|requests| {
            let Some(kept) = requests.by_user.get_mut(&request.user) else {
                return Written::ConditionFailed;
            };
            let closable = kept.id == request.id
                && kept.state == RequestState::Open
                && (expiring || kept.is_open(now));
            if !closable {
                return Written::ConditionFailed;
            }
            kept.state = state.clone();
            for account in &request.accounts {
                if let Some(queue) = requests.queues.get_mut(account) {
                    queue.open.retain(|q| q.id != request.id);
                    queue.version += 1;
                }
            }
            Written::Applied
        });
        Ok(self.recording(records, written))
    }

    async fn reopen_request(
        &self,
        request: &RecoveryRequest,
        closed: &RequestState,
    ) -> Result<Written, StoreError> {
        Ok(self.with_requests(|requests| {
            let Some(kept) = requests.by_user.get_mut(&request.user) else {
                return Written::ConditionFailed;
            };
            if kept.id != request.id || kept.state != *closed {
                return Written::ConditionFailed;
            }
            kept.state = RequestState::Open;
            for account in &request.accounts {
                if let Some(queue) = requests.queues.get_mut(account) {
                    queue.open.push(QueuedRequest::of(request));
                    queue.version += 1;
                }
            }
            Written::Applied
        }))
    }
}
