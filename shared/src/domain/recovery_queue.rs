//! What each account's admins are asked: the open recovery requests filed by its members, and
//! how many were filed on the latest day, which `MAX_REQUESTS_PER_ACCOUNT_PER_DAY` bounds. One
//! per account, read and written whole, conditional on its version, so racing filings neither
//! lose an entry nor go past the day's limit.

use time::OffsetDateTime;

use super::{
    account::AccountId,
    mail_budget::day_of,
    recovery::{RecoveryRequest, MAX_REQUESTS_PER_ACCOUNT_PER_DAY, REQUEST_LIFETIME},
    source::Source,
    user::UserId,
};

/// The most accounts one request asks: their queues and the request are written in one
/// transaction. A member of more is asked for in the first ones (by account id); the
/// platform's support sees every request.
pub const MAX_ACCOUNTS_ASKED: usize = 10;

/// The most admins one request mails, over all the accounts it asks (each admin once): their
/// events are written in the filing's transaction too. Every admin of an asked account sees the
/// request in the account's list, mailed or not.
pub const MAX_ADMINS_MAILED: usize = 60;

/// One open request as its accounts' admins see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedRequest {
    pub id: String,
    pub user: UserId,
    pub filed_at: OffsetDateTime,
    pub source: Source,
}

impl QueuedRequest {
    pub fn of(request: &RecoveryRequest) -> Self {
        Self {
            id: request.id.clone(),
            user: request.user.clone(),
            filed_at: request.filed_at,
            source: request.source.clone(),
        }
    }

    pub fn expires_at(&self) -> OffsetDateTime {
        self.filed_at + REQUEST_LIFETIME
    }
}

/// An account's queue as read: `version` 0 when it was never written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountQueue {
    pub account: AccountId,
    pub version: u64,
    /// The UTC day (since the epoch) of the latest filing, and how many were filed that day.
    pub day: i64,
    pub filed_that_day: u32,
    pub open: Vec<QueuedRequest>,
}

impl AccountQueue {
    pub fn empty(account: &AccountId) -> Self {
        Self {
            account: account.clone(),
            version: 0,
            day: 0,
            filed_that_day: 0,
            open: vec![],
        }
    }

    /// Whether one more request may ask this account's admins at `now`.
    pub fn has_room(&self, now: OffsetDateTime) -> bool {
        self.day != day_of(now) || self.filed_that_day < MAX_REQUESTS_PER_ACCOUNT_PER_DAY
    }

    /// The queue once `request` is filed at `now`: expired entries pruned, the day counted,
    /// the version moved on.
    pub fn with(&self, request: &RecoveryRequest, now: OffsetDateTime) -> Self {
        let today = day_of(now);
        let mut open: Vec<QueuedRequest> = self
            .open
            .iter()
            .filter(|queued| now < queued.expires_at() && queued.user != request.user)
            .cloned()
            .collect();
        open.push(QueuedRequest::of(request));
        Self {
            account: self.account.clone(),
            version: self.version + 1,
            day: today,
            filed_that_day: if self.day == today {
                self.filed_that_day + 1
            } else {
                1
            },
            open,
        }
    }

    /// The requests still open at `now`, newest first.
    pub fn open_at(&self, now: OffsetDateTime) -> Vec<QueuedRequest> {
        let mut open: Vec<_> = self
            .open
            .iter()
            .filter(|queued| now < queued.expires_at())
            .cloned()
            .collect();
        open.sort_by(|a, b| b.filed_at.cmp(&a.filed_at).then(a.user.cmp(&b.user)));
        open
    }

    pub fn find(&self, id: &str) -> Option<&QueuedRequest> {
        self.open.iter().find(|queued| queued.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
    }

    fn request(user: &str, now: OffsetDateTime) -> RecoveryRequest {
        let user = UserId::parse(user).unwrap();
        RecoveryRequest::file(&user, vec![], &Source::default(), now)
    }

    #[test]
    fn a_day_holds_the_limit_and_the_next_day_starts_again() {
        let account = AccountId::parse("acme").unwrap();
        let mut queue = AccountQueue::empty(&account);
        let start = at(0) - time::Duration::seconds(at(0).unix_timestamp() % 86_400);
        for n in 0..MAX_REQUESTS_PER_ACCOUNT_PER_DAY {
            assert!(queue.has_room(start), "filing {n}");
            queue = queue.with(&request(&format!("u{n}"), start), start);
        }
        assert!(!queue.has_room(start + time::Duration::hours(23)));
        assert!(queue.has_room(start + time::Duration::days(1)));
        assert_eq!(queue.version, u64::from(MAX_REQUESTS_PER_ACCOUNT_PER_DAY));
        assert_eq!(queue.open_at(start).len(), 20);
    }

    #[test]
    fn expired_entries_leave_and_a_user_has_one_entry() {
        let account = AccountId::parse("acme").unwrap();
        let first = request("ana", at(0));
        let queue = AccountQueue::empty(&account).with(&first, at(0));
        let later = at(REQUEST_LIFETIME.whole_seconds());
        assert!(queue.open_at(later).is_empty(), "expired");
        let again = request("ana", at(10));
        let queue = queue.with(&again, at(10));
        assert_eq!(
            queue.open.len(),
            1,
            "the user's newer request replaces theirs"
        );
        assert_eq!(queue.find(&again.id).map(|q| &q.user), Some(&again.user));
        assert!(queue.find(&first.id).is_none());
    }
}
