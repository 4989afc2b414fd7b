//! An in-process store with the same conditions as the DynamoDB one: each write checks and
//! applies under one lock, as DynamoDB serializes conditional writes per item.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{
    domain::{
        attempts::{AttemptLedger, LockoutPolicy, Reservation, ReservedAttempt},
        events::{Recorded, SecurityEvent},
        link_token::{DownloadGrant, GrantClaim},
        proof::Proof,
        record::{EnrollmentState, PendingSet, Replacement, TotpEnrollment, UserRecord},
        sealing::SealedSecret,
        sign_in::{AppClient, SignInPass},
        user::{Email, UserId},
    },
    ports::{Activation, IfPending, SpentCode, Store, StoreError, Written},
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
}

mod audit;
mod deliveries;
mod mail_budget;

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

#[async_trait]
impl Store for MemoryStore {
    async fn get_user(&self, user: &UserId) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.with_users(|users| users.get(user).cloned()))
    }

    async fn reserve_reading(
        &self,
        user: &UserId,
        policy: &LockoutPolicy,
        now: OffsetDateTime,
    ) -> Result<(Option<UserRecord>, Reservation), StoreError> {
        Ok(self.with_users(|users| {
            let Some(record) = users.get_mut(user) else {
                let mut unknown = self.unknown_ledgers();
                unknown.retain(|_, ledger| ledger.is_live(now));
                let ledger = unknown.entry(user.clone()).or_default();
                return (None, reserve(ledger, policy, now));
            };
            let reservation = reserve(&mut record.ledger, policy, now);
            (Some(record.clone()), reservation)
        }))
    }

    async fn put_pending_totp(
        &self,
        user: &UserId,
        secret: &SealedSecret,
        _abandoned_after: OffsetDateTime,
        if_pending: IfPending,
    ) -> Result<Written, StoreError> {
        Ok(self.with_users(|users| match users.get_mut(user) {
            Some(record) if record.is_enrolled() || if_pending == IfPending::Keep => {
                Written::ConditionFailed
            }
            Some(record) => {
                record.totp.secret = secret.clone();
                Written::Applied
            }
            None => {
                users.insert(
                    user.clone(),
                    UserRecord {
                        user_id: user.clone(),
                        totp: TotpEnrollment {
                            state: EnrollmentState::Pending,
                            secret: secret.clone(),
                            last_step: 0,
                            since: None,
                            replacement: None,
                        },
                        email: None,
                        codes: None,
                        pending_codes: None,
                        grant: None,
                        grant_claim: None,
                        grant_redemptions: 0,
                        // As on DynamoDB, where the ledger is on the same item.
                        ledger: self.unknown_ledgers().remove(user).unwrap_or_default(),
                        sign_in_pass: None,
                    },
                );
                Written::Applied
            }
        }))
    }

    async fn reserve_attempt(
        &self,
        user: &UserId,
        policy: &LockoutPolicy,
        now: OffsetDateTime,
        _seen: &AttemptLedger,
    ) -> Result<Reservation, StoreError> {
        Ok(self.with_users(|users| match users.get_mut(user) {
            Some(record) => reserve(&mut record.ledger, policy, now),
            None => Reservation::NoRecord,
        }))
    }

    async fn activate_totp(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        activation: &Activation<'_>,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let Activation {
            adopting,
            step,
            email,
            first_set,
            pass,
            at,
        } = *activation;
        Ok(self.recording(
            records,
            self.with_users(|users| match users.get_mut(user) {
                Some(record)
                    if record.totp.state == EnrollmentState::Pending
                        && adopting.fits(&record.totp.secret)
                        && record.totp.last_step < step
                        && holds(record, attempt) =>
                {
                    record.ledger = AttemptLedger::default();
                    record.totp.state = EnrollmentState::Active;
                    record.totp.secret = adopting.secret().clone();
                    record.totp.last_step = step;
                    record.totp.since = Some(at);
                    record.email = email.cloned();
                    record.codes = first_set.cloned();
                    leave(record, pass);
                    Written::Applied
                }
                _ => Written::ConditionFailed,
            }),
        ))
    }

    async fn start_replacement(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        replacement: &Replacement,
        at: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.behind_proof(user, attempt, proof, |record| {
                spend_keeping_the_set(record, proof, at);
                record.totp.replacement = Some(replacement.clone());
            }),
        ))
    }

    async fn confirm_replacement(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        checked_secret: &SealedSecret,
        step: u64,
        at: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_users(|users| match users.get_mut(user) {
                Some(record)
                    if record.is_enrolled()
                        && record.totp.last_step < step
                        && holds(record, attempt)
                        && record
                            .totp
                            .replacement
                            .as_ref()
                            .is_some_and(|r| r.secret == *checked_secret && r.is_live(at)) =>
                {
                    record.totp.secret = checked_secret.clone();
                    record.totp.last_step = step;
                    record.totp.since = Some(at);
                    record.totp.replacement = None;
                    record.ledger = AttemptLedger::default();
                    Written::Applied
                }
                _ => Written::ConditionFailed,
            }),
        ))
    }

    async fn cancel_replacement(
        &self,
        user: &UserId,
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_users(|users| match users.get_mut(user) {
                Some(record) if record.is_enrolled() && record.live_replacement(now).is_some() => {
                    record.totp.replacement = None;
                    Written::Applied
                }
                _ => Written::ConditionFailed,
            }),
        ))
    }

    async fn use_totp_step(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        step: u64,
        pass: Option<&SignInPass>,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(records, self.accept_step(user, attempt, step, pass, |_| {})))
    }

    async fn use_backup_code(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        code: &SpentCode<'_>,
        pass: Option<&SignInPass>,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let SpentCode { set_id, hash, at } = *code;
        let used = self.with_users(|users| {
            let record = users.get_mut(user).filter(|r| holds(r, attempt))?;
            let set = record.codes.as_mut()?;
            if set.id != set_id {
                return None;
            }
            let code = set
                .codes
                .iter_mut()
                .find(|c| c.hash == *hash && c.used_at.is_none())?;
            code.used_at = Some(at);
            record.ledger = AttemptLedger::default();
            leave(record, pass);
            Some(())
        });
        let written = match used {
            Some(()) => Written::Applied,
            None => Written::ConditionFailed,
        };
        Ok(self.recording(records, written))
    }

    async fn consume_sign_in_pass(
        &self,
        user: &UserId,
        client: &AppClient,
        now: OffsetDateTime,
    ) -> Result<Written, StoreError> {
        Ok(self.with_users(|users| match users.get_mut(user) {
            Some(record)
                if record.is_enrolled()
                    && record
                        .sign_in_pass
                        .as_ref()
                        .is_some_and(|p| p.admits(client, now)) =>
            {
                record.sign_in_pass = None;
                Written::Applied
            }
            _ => Written::ConditionFailed,
        }))
    }

    async fn put_pending_set(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        pending: &PendingSet,
        at: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.behind_proof(user, attempt, proof, |record| {
                spend_keeping_the_set(record, proof, at);
                record.pending_codes = Some(pending.clone());
            }),
        ))
    }

    async fn change_email(
        &self,
        user: &UserId,
        from: Option<&Email>,
        to: &Email,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_users(|users| match users.get_mut(user) {
                Some(record) if record.is_enrolled() && record.email.as_ref() == from => {
                    record.email = Some(to.clone());
                    Written::Applied
                }
                _ => Written::ConditionFailed,
            }),
        ))
    }

    async fn activate_pending_set(
        &self,
        user: &UserId,
        set_id: &str,
        through_grant: Option<&str>,
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_users(|users| match users.get_mut(user) {
                Some(record)
                    if record.is_enrolled()
                        && through_grant.is_none_or(|grant| has_live_grant(record, grant, now))
                        && record
                            .pending_codes
                            .as_ref()
                            .is_some_and(|p| p.set.id == set_id && p.is_live(now)) =>
                {
                    record.codes = record.pending_codes.take().map(|p| p.set);
                    drop_grant(record);
                    record.totp.replacement = None;
                    Written::Applied
                }
                _ => Written::ConditionFailed,
            }),
        ))
    }

    async fn remove_code_sets(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.behind_proof(user, attempt, proof, |record| {
                if let Proof::Totp { step } = proof {
                    record.totp.last_step = *step;
                }
                // A backup code as the proof goes with the set it belonged to.
                record.codes = None;
                record.pending_codes = None;
                drop_grant(record);
                record.totp.replacement = None;
            }),
        ))
    }

    async fn disable_two_factor(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_users(|users| match users.get(user) {
                Some(record)
                    if record.is_enrolled()
                        && holds(record, attempt)
                        && proof.is_unspent_in(record) =>
                {
                    users.remove(user);
                    Written::Applied
                }
                _ => Written::ConditionFailed,
            }),
        ))
    }

    async fn disable_two_factor_for(
        &self,
        user: &UserId,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_users(|users| match users.get(user) {
                Some(record) if record.is_enrolled() => {
                    users.remove(user);
                    Written::Applied
                }
                _ => Written::ConditionFailed,
            }),
        ))
    }

    async fn grant_download(
        &self,
        user: &UserId,
        grant: &DownloadGrant,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_users(|users| match users.get_mut(user) {
                Some(record) if record.is_enrolled() => {
                    record.codes = None;
                    record.pending_codes = None;
                    // A hold on an earlier grant holds nothing now, and counts nothing.
                    drop_grant(record);
                    record.grant = Some(grant.clone());
                    record.totp.replacement = None;
                    Written::Applied
                }
                _ => Written::ConditionFailed,
            }),
        ))
    }

    async fn claim_download(
        &self,
        user: &UserId,
        claim: &GrantClaim,
        now: OffsetDateTime,
    ) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.with_users(|users| match users.get_mut(user) {
            Some(record)
                if has_live_grant(record, &claim.grant_id, now)
                    && record.grant_redemptions < DownloadGrant::MAX_REDEMPTIONS
                    && !record
                        .grant_claim
                        .as_ref()
                        .is_some_and(|held| held.holds(&claim.grant_id, now)) =>
            {
                record.grant_claim = Some(claim.clone());
                record.grant_redemptions += 1;
                Some(record.clone())
            }
            _ => None,
        }))
    }

    async fn redeem_download(
        &self,
        user: &UserId,
        claim: &GrantClaim,
        now: OffsetDateTime,
        pending: &PendingSet,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_users(|users| match users.get_mut(user) {
                Some(record)
                    if has_live_grant(record, &claim.grant_id, now)
                        && record.grant_claim.as_ref() == Some(claim) =>
                {
                    record.grant_claim = None;
                    record.pending_codes = Some(pending.clone());
                    record.totp.replacement = None;
                    Written::Applied
                }
                _ => Written::ConditionFailed,
            }),
        ))
    }
}

/// The enrolled user's live grant is `grant_id`.
fn has_live_grant(record: &UserRecord, grant_id: &str, now: OffsetDateTime) -> bool {
    record.is_enrolled()
        && record
            .grant
            .as_ref()
            .is_some_and(|g| g.id == grant_id && g.is_live(now))
}
