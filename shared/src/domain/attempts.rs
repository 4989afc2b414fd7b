//! The attempt ledger: how many code checks a user may have evaluated before they are locked.
//!
//! Every path that checks a code (verify, the step-up TOTP, an admin's own TOTP, enrollment
//! confirm) first *reserves* an attempt in the user's ledger with one conditional write, and
//! only a reserved attempt is evaluated. So no concurrency lets more than `threshold` checks
//! through in a window, however many requests arrive at once. An accepted code clears the ledger.

use time::{Duration, OffsetDateTime};

/// After `threshold` reserved attempts without an accepted code, each no more than `duration`
/// after the one before, the user is locked until `duration` after the last of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub threshold: u32,
    pub duration: Duration,
}

impl LockoutPolicy {
    /// The longest a window can stay open: each of `threshold` reservations, the last one
    /// included, moves its end to `duration` later. An unknown user's ledger, kept only for
    /// its window, may be forgotten after this.
    pub fn longest_window(&self) -> Duration {
        self.duration * self.threshold
    }
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            threshold: 10,
            duration: Duration::minutes(15),
        }
    }
}

/// Attempts reserved since the last accepted code, and when the window they belong to closes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttemptLedger {
    pub attempts: u32,
    /// `duration` after the latest reservation; `None` when nothing is reserved.
    pub window_ends: Option<OffsetDateTime>,
}

/// Proof that one attempt was counted in the ledger. Every store write that accepts a code
/// takes one, and is conditional on the ledger still holding it (at least one attempt, at most
/// `threshold`), so no path can accept a code it did not reserve for, or while over the limit.
#[derive(Debug, PartialEq, Eq)]
pub struct ReservedAttempt {
    threshold: u32,
    /// The ledger's count with this attempt in it.
    number: u32,
}

impl ReservedAttempt {
    /// Only a store, after its conditional write applied, hands these out.
    pub(crate) fn counted(policy: &LockoutPolicy, number: u32) -> Self {
        Self {
            threshold: policy.threshold,
            number,
        }
    }

    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// The attempt that filled the ledger: if it fails, the user is locked out from now on.
    /// Exactly one reservation per window is the last, however many race for it.
    pub fn is_last(&self) -> bool {
        self.number >= self.threshold
    }
}

/// What a reservation found.
#[derive(Debug, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt is counted and may be evaluated.
    Reserved(ReservedAttempt),
    /// The ledger is full: nothing may be evaluated until `until`.
    Locked { until: OffsetDateTime },
    /// The record read before reserving is gone (two-factor turned off meanwhile); nothing
    /// was counted, and the check is refused as for an unknown user.
    NoRecord,
}

impl AttemptLedger {
    /// A window that has closed no longer counts: its attempts are forgotten.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.window_ends.is_some_and(|end| now < end)
    }

    pub fn is_locked(&self, policy: &LockoutPolicy, now: OffsetDateTime) -> bool {
        self.is_live(now) && self.attempts >= policy.threshold
    }

    /// The ledger after one more reservation at `now`, or `None` when it is locked.
    pub fn reserve(&self, policy: &LockoutPolicy, now: OffsetDateTime) -> Option<Self> {
        if self.is_locked(policy, now) {
            return None;
        }
        let before = if self.is_live(now) { self.attempts } else { 0 };
        Some(Self {
            attempts: before + 1,
            window_ends: Some(now + policy.duration),
        })
    }

    /// Whole seconds until a locked ledger opens again, at least 1.
    pub fn retry_after(until: OffsetDateTime, now: OffsetDateTime) -> u64 {
        let seconds = (until - now).whole_seconds().max(1);
        u64::try_from(seconds).unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_000_000 + seconds).unwrap()
    }

    const POLICY: LockoutPolicy = LockoutPolicy {
        threshold: 3,
        duration: Duration::seconds(60),
    };

    #[test]
    fn the_threshold_th_reservation_is_the_last_one_allowed() {
        let mut ledger = AttemptLedger::default();
        for expected in 1..=3 {
            ledger = ledger.reserve(&POLICY, at(expected)).expect("reserved");
            assert_eq!(ledger.attempts, expected as u32);
        }
        assert!(ledger.is_locked(&POLICY, at(4)));
        assert_eq!(ledger.reserve(&POLICY, at(4)), None);
        assert_eq!(
            ledger.window_ends,
            Some(at(63)),
            "a minute after the last attempt"
        );
    }

    #[test]
    fn a_closed_window_starts_afresh() {
        let full = AttemptLedger {
            attempts: 3,
            window_ends: Some(at(60)),
        };
        assert_eq!(full.reserve(&POLICY, at(59)), None);
        let fresh = full.reserve(&POLICY, at(60)).unwrap();
        assert_eq!(fresh.attempts, 1);
        assert_eq!(fresh.window_ends, Some(at(120)));
    }

    #[test]
    fn retry_after_is_whole_seconds_and_never_zero() {
        assert_eq!(AttemptLedger::retry_after(at(90), at(0)), 90);
        assert_eq!(AttemptLedger::retry_after(at(0), at(0)), 1);
    }
}
