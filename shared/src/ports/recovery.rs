//! Recovery requests (see `domain::recovery`): each user's latest, each account's queue of the
//! open ones its admins are asked, and every open one for the platform's support.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{StoreError, Written};
use crate::domain::{
    account::AccountId,
    events::Recorded,
    recovery::{RecoveryRequest, RequestState},
    recovery_queue::AccountQueue,
    user::UserId,
};

capability! {
    /// Filing a request: at most one open per user, at most the day's limit per account asked.
    pub trait RecoveryFiling {
        /// The user's latest request, open or closed; `None` if they never filed one (or the
        /// table's TTL swept it, weeks after it closed).
        async fn request_of(&self, user: &UserId) -> Result<Option<RecoveryRequest>, StoreError>;

        /// Holds the right to file for `user` until `until`, unless a request of theirs is open
        /// at `now` or another filing holds it (`ConditionFailed`). Of filings racing, one
        /// mails the user and files; the others are answered as if it were theirs.
        async fn hold_filing(
            &self,
            user: &UserId,
            now: OffsetDateTime,
            until: OffsetDateTime,
        ) -> Result<Written, StoreError>;

        /// The queues of `accounts` (at most `MAX_ACCOUNTS_ASKED`), read consistently, in the
        /// order given; one never written is `AccountQueue::empty`.
        async fn queues_of(&self, accounts: &[AccountId]) -> Result<Vec<AccountQueue>, StoreError>;

        /// Keeps `request`, open, with `records`, and writes each of `queues` (its accounts'
        /// queues with it in them: `AccountQueue::with`, one version on from the one read),
        /// unless its user has a request open at `now` or a queue moved on since it was read
        /// (`ConditionFailed`: read again).
        async fn file_request(
            &self,
            request: &RecoveryRequest,
            queues: &[AccountQueue],
            now: OffsetDateTime,
            records: &[Recorded],
        ) -> Result<Written, StoreError>;
    }
}

capability! {
    /// What admins and support read of requests.
    pub trait RecoveryLists {
        /// `account`'s queue; `AccountQueue::empty` when none was ever filed there.
        async fn queue_of(&self, account: &AccountId) -> Result<AccountQueue, StoreError>;

        /// The request whose id is `id`, open or closed; `None` for an id never filed.
        async fn request_by_id(&self, id: &str) -> Result<Option<RecoveryRequest>, StoreError>;

        /// Up to `limit` requests not yet closed (some may have expired since), newest first,
        /// after `after`: what the platform's support sees.
        async fn open_requests(
            &self,
            limit: usize,
            after: Option<&RequestPosition>,
        ) -> Result<RequestPage, StoreError>;

        /// Up to `limit` requests not yet closed and filed before `before`, oldest first: those
        /// the sweep records as expired.
        async fn filed_before(
            &self,
            before: OffsetDateTime,
            limit: usize,
        ) -> Result<Vec<RecoveryRequest>, StoreError>;
    }
}

capability! {
    /// Closing a request: cancelled by its user, approved or denied by an admin, or expired.
    pub trait RecoveryDecisions {
        /// Moves `request` to `state` with `records`, and takes it out of its accounts'
        /// queues, when it is still open (and, but for `Expired`, not expired) at `now`. Of two
        /// closings racing, one applies.
        async fn close_request(
            &self,
            request: &RecoveryRequest,
            state: &RequestState,
            now: OffsetDateTime,
            records: &[Recorded],
        ) -> Result<Written, StoreError>;

        /// Opens `request` again, in its queues too, when it is still closed as `closed` (an
        /// approval whose reset could not be made); a newer request of its user is left alone.
        async fn reopen_request(
            &self,
            request: &RecoveryRequest,
            closed: &RequestState,
        ) -> Result<Written, StoreError>;
    }
}

/// Where a page of open requests ends: the last one's filing time (Unix seconds: any 12 digits
/// are a place in the list, whether or not a date can be that late) and user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestPosition {
    pub filed_at: i64,
    pub user: UserId,
}

impl RequestPosition {
    pub fn of(request: &RecoveryRequest) -> Self {
        Self {
            filed_at: request.filed_at.unix_timestamp(),
            user: request.user.clone(),
        }
    }

    /// The sort key the store and the cursor share: the filing time, then the user.
    pub fn sort_key(&self) -> String {
        format!("{:012}#{}", self.filed_at, self.user)
    }

    pub fn parse(key: &str) -> Option<Self> {
        let (seconds, user) = key.split_once('#')?;
        if seconds.len() != 12 || !seconds.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            filed_at: seconds.parse().ok()?,
            user: UserId::parse(user).ok()?,
        })
    }
}

/// A page of open requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestPage {
    pub requests: Vec<RecoveryRequest>,
    /// The last request of this page, when another page may follow.
    pub next: Option<RequestPosition>,
}
