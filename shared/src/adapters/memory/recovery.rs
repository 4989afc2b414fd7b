//! Each user's latest recovery request, under one lock: a filing and a closing are each one
//! step, as DynamoDB's conditional writes are.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::MemoryStore;
use crate::{
    domain::{
        events::Recorded,
        recovery::{RecoveryRequest, RequestState},
        user::UserId,
    },
    ports::{RecoveryDecisions, RecoveryFiling, StoreError, Written},
};

impl MemoryStore {
    fn with_requests<T>(
        &self,
        f: impl FnOnce(&mut std::collections::HashMap<UserId, RecoveryRequest>) -> T,
    ) -> T {
        // Each closure decides first and mutates last, so a poisoned lock still holds
        // consistent data.
        let mut guard = self.recovery.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

#[async_trait]
impl RecoveryFiling for MemoryStore {
    async fn request_of(&self, user: &UserId) -> Result<Option<RecoveryRequest>, StoreError> {
        Ok(self.with_requests(|requests| requests.get(user).cloned()))
    }

    async fn file_request(
        &self,
        request: &RecoveryRequest,
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let written = self.with_requests(|requests| {
            if requests.get(&request.user).is_some_and(|r| r.is_open(now)) {
                return Written::ConditionFailed;
            }
            requests.insert(request.user.clone(), request.clone());
            Written::Applied
        });
        Ok(self.recording(records, written))
    }
}

#[async_trait]
impl RecoveryDecisions for MemoryStore {
    async fn close_request(
        &self,
        user: &UserId,
        id: &str,
        state: &RequestState,
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let written = self.with_requests(|requests| match requests.get_mut(user) {
            Some(request) if request.id == id && request.is_open(now) => {
                request.state = state.clone();
                Written::Applied
            }
            _ => Written::ConditionFailed,
        });
        Ok(self.recording(records, written))
    }
}
