//! An in-process store with the same conditions as the DynamoDB one: each write checks and
//! applies under one lock, as DynamoDB serializes conditional writes per item.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
};

use time::OffsetDateTime;

use crate::{
    domain::{
        attempts::{AttemptLedger, LockoutPolicy, Reservation, ReservedAttempt},
        events::{Recorded, SecurityEvent},
        proof::Proof,
        record::UserRecord,
        sign_in::SignInPass,
        user::UserId,
    },
    ports::Written,
};

#[derive(Default)]
pub struct MemoryStore {
    users: Mutex<HashMap<UserId, UserRecord>>,
    /// The attempt ledgers of users with no record; a closed window is dropped at the next
    /// write, so it holds at most the users checked in the last lock window.
    unknown: Mutex<HashMap<UserId, AttemptLedger>>,
    /// Each user's trail by sort key; nothing here expires, as the process does not live long.
    audit: Mutex<HashMap<UserId, BTreeMap<String, SecurityEvent>>>,
    /// Events kept since the notifier last took them: what DynamoDB's stream is to the table.
    new_events: Mutex<Vec<Recorded>>,
    /// Per event id: the sinks that have it, whether all do, and how long a try holds it.
    deliveries: Mutex<HashMap<String, DeliveryMarks>>,
    /// The notifier's mail budget (see `mail_budget`).
    mail_budget: Mutex<mail_budget::Budgets>,
    /// Who belongs to which account.
    members: Mutex<memberships::Members>,
    /// Each user's latest recovery request, and each account's queue.
    recovery: Mutex<recovery::Requests>,
}

mod audit;
mod code_sets;
mod deliveries;
mod factor;
mod mail_budget;
mod memberships;
mod records;
mod recovery;

use deliveries::DeliveryMarks;

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with_users<T>(&self, f: impl FnOnce(&mut HashMap<UserId, UserRecord>) -> T) -> T {
        // A panic while holding the lock cannot leave a half-applied write: each closure
        // decides first and mutates last, so the data is still consistent if poisoned.
        let mut guard = self.users.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Taken only inside `with_users`, so the two maps change together.
    fn unknown_ledgers(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, AttemptLedger>> {
        self.unknown.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An accepting write: TOTP active, `step` later than the last one, and the ledger holding
    /// the reservation; it records the step and clears the ledger.
    fn accept_step(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        step: u64,
        pass: Option<&SignInPass>,
        apply: impl FnOnce(&mut UserRecord),
    ) -> Written {
        self.with_users(|users| match users.get_mut(user) {
            Some(record)
                if record.is_enrolled()
                    && record.totp.last_step < step
                    && holds(record, attempt) =>
            {
                record.totp.last_step = step;
                record.ledger = AttemptLedger::default();
                leave(record, pass);
                apply(record);
                Written::Applied
            }
            _ => Written::ConditionFailed,
        })
    }
}

/// Spends a proof on a write that keeps the active set: the TOTP step, or the backup code
/// marked used.
fn spend_keeping_the_set(record: &mut UserRecord, proof: &Proof, at: OffsetDateTime) {
    match proof {
        Proof::Totp { step } => record.totp.last_step = *step,
        Proof::BackupCode { hash, .. } => {
            if let Some(code) = record
                .codes
                .as_mut()
                .and_then(|set| set.codes.iter_mut().find(|c| c.hash == *hash))
            {
                code.used_at = Some(at);
            }
        }
    }
}

/// The download grant goes with its hold and its count of redemptions, as DynamoDB's
/// `GRANT_ATTRIBUTES` are removed together.
fn drop_grant(record: &mut UserRecord) {
    record.grant = None;
    record.grant_claim = None;
    record.grant_redemptions = 0;
}

/// A passed sign-in challenge's mark, left by the write that accepted the code.
fn leave(record: &mut UserRecord, pass: Option<&SignInPass>) {
    if let Some(pass) = pass {
        record.sign_in_pass = Some(pass.clone());
    }
}

impl MemoryStore {
    /// A write behind a step-up proof: it applies only while the user is enrolled, the ledger
    /// holds the reservation and the proof is unspent; it clears the ledger, and `apply` makes
    /// the change and spends the proof as that change needs.
    fn behind_proof(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        apply: impl FnOnce(&mut UserRecord),
    ) -> Written {
        self.with_users(|users| match users.get_mut(user) {
            Some(record)
                if record.is_enrolled()
                    && holds(record, attempt)
                    && proof.is_unspent_in(record) =>
            {
                record.ledger = AttemptLedger::default();
                apply(record);
                Written::Applied
            }
            _ => Written::ConditionFailed,
        })
    }
}

/// One more attempt in `ledger`, unless it is full.
fn reserve(ledger: &mut AttemptLedger, policy: &LockoutPolicy, now: OffsetDateTime) -> Reservation {
    match ledger.reserve(policy, now) {
        Some(next) => {
            *ledger = next;
            Reservation::Reserved(ReservedAttempt::counted(policy, next.attempts))
        }
        None => Reservation::Locked {
            until: ledger.window_ends.unwrap_or(now + policy.duration),
        },
    }
}

/// The ledger still counts the reserved attempt and is not past the threshold.
fn holds(record: &UserRecord, attempt: &ReservedAttempt) -> bool {
    (1..=attempt.threshold()).contains(&record.ledger.attempts)
}

/// The enrolled user's live grant is `grant_id`.
fn has_live_grant(record: &UserRecord, grant_id: &str, now: OffsetDateTime) -> bool {
    record.is_enrolled()
        && record
            .grant
            .as_ref()
            .is_some_and(|g| g.id == grant_id && g.is_live(now))
}
