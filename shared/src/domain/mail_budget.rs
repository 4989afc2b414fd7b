//! How much mail the notifier may send: per user and hour, and per customer account and for
//! the whole stack per day, below the SES sending quota. What does not fit waits for the user's hourly digest; the
//! kinds a user must hear of at once are never held.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{account::AccountId, events::EventKind, user::UserId};

/// One mail per kind per hour, and at most this many mails per user per hour; the rest of the
/// hour's events wait for one digest after it.
pub const MAILS_PER_USER_HOUR: u32 = 5;
/// The most events a digest lists one by one; it counts the rest.
pub const DIGEST_LISTS_AT_MOST: usize = 50;
/// The digest index is spread over this many items per hour, so one hour's index holds the
/// ids of about 12,000 flooded users (each item under DynamoDB's 400 KB).
pub const DIGEST_SHARDS: u8 = 4;
/// A digest not sent within this many hours (the mail service down all day) is given up.
pub const DIGEST_LOOKBACK_HOURS: i64 = 24;
/// How long budget items are kept, well past any digest's sending.
pub const KEPT_FOR: time::Duration = time::Duration::days(2);

/// The kinds that are never held for a digest nor refused by a user's budget: the user must
/// act on them now (a lock, a new authenticator being set up, two-factor turned off, and the
/// last mail to an address that is no longer theirs).
pub fn is_urgent(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::LockedOut
            | EventKind::ReplacementStarted
            | EventKind::TwoFactorDisabled
            | EventKind::EmailChanged
    )
}

/// The hour (since the epoch) `at` falls in: a user's budget and digest cover one.
pub fn hour_of(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(3600)
}

/// The UTC day (since the epoch) `at` falls in: the stack's ceiling covers one.
pub fn day_of(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(86_400)
}

/// When `hour` starts.
pub fn hour_start(hour: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(hour * 3600).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Which of the hour's index items names `user`'s digest.
pub fn digest_shard(user: &UserId) -> u8 {
    Sha256::digest(user.as_str().as_bytes())[0] % DIGEST_SHARDS
}

/// The daily ceilings, from the SES quota (mails per 24 hours). For the whole stack,
/// ordinary mails stop at 80% of it (the rest of the day's events wait for digests); urgent
/// mails and digests may use up to 95%; the last 5% is kept for the administrators' reset
/// links, which are never refused here. The members of one customer account together get at
/// most `account_share_percent` of the quota for their ordinary mail, so one account's flood
/// never holds another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailCeilings {
    pub quota_per_day: u32,
    pub account_share_percent: u32,
}

impl MailCeilings {
    pub fn ordinary(self) -> u32 {
        percent(self.quota_per_day, 80)
    }

    pub fn urgent(self) -> u32 {
        percent(self.quota_per_day, 95)
    }

    /// One account's ordinary mail a day, never past the stack's ordinary ceiling.
    pub fn account(self) -> u32 {
        percent(self.quota_per_day, u64::from(self.account_share_percent)).min(self.ordinary())
    }
}

/// What a day's count of mails is kept for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DayCount {
    /// Every mail the stack sends.
    Stack,
    /// The mails to one customer account's members.
    Account(AccountId),
}

fn percent(of: u32, pct: u64) -> u32 {
    u32::try_from(u64::from(of) * pct / 100).unwrap_or(u32::MAX)
}

/// An event held for a digest: what it was and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldMail {
    pub kind: EventKind,
    pub at: OffsetDateTime,
}

/// One user's digest of one hour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HourDigest {
    pub to: super::user::Email,
    /// The first `DIGEST_LISTS_AT_MOST` held, in order.
    pub listed: Vec<HeldMail>,
    /// How many were held in all.
    pub held: u64,
    /// Sent, or being sent.
    pub claimed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceilings_leave_the_links_their_share() {
        let ceiling = MailCeilings {
            quota_per_day: 50_000,
            account_share_percent: 20,
        };
        assert_eq!(
            (ceiling.ordinary(), ceiling.urgent(), ceiling.account()),
            (40_000, 47_500, 10_000)
        );
        let tiny = MailCeilings {
            quota_per_day: 200,
            account_share_percent: 80,
        };
        assert_eq!(
            (tiny.ordinary(), tiny.urgent(), tiny.account()),
            (160, 190, 160)
        );
    }

    #[test]
    fn hours_and_days_are_utc_windows() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_001_234).unwrap();
        assert_eq!(hour_start(hour_of(at)).unix_timestamp(), 1_800_000_000);
        assert_eq!(day_of(at), 1_800_001_234 / 86_400);
    }

    #[test]
    fn shards_spread_users_and_stay_put() {
        let shards: std::collections::BTreeSet<u8> = (0..64)
            .map(|n| digest_shard(&UserId::parse(&format!("user-{n}")).unwrap()))
            .collect();
        assert_eq!(shards.len(), usize::from(DIGEST_SHARDS));
        let ana = UserId::parse("ana").unwrap();
        assert_eq!(digest_shard(&ana), digest_shard(&ana));
    }

    #[test]
    fn urgent_kinds_are_the_ones_to_act_on() {
        let urgent: Vec<_> = EventKind::ALL
            .into_iter()
            .filter(|k| is_urgent(*k))
            .collect();
        assert_eq!(
            urgent,
            [
                EventKind::LockedOut,
                EventKind::TwoFactorDisabled,
                EventKind::ReplacementStarted,
                EventKind::EmailChanged
            ]
        );
    }
}
