//! The authenticator's life: enrollment, a replacement, the address, and two-factor turned off.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{holds, leave, spend_keeping_the_set, MemoryStore};
use crate::{
    domain::{
        attempts::{AttemptLedger, ReservedAttempt},
        events::Recorded,
        proof::Proof,
        record::{EnrollmentState, Replacement, TotpEnrollment, UserRecord},
        sealing::SealedSecret,
        user::{Email, UserId},
    },
    ports::{
        Activation, Addresses, Enrollment, IfPending, Replacements, StoreError, TwoFactorOff,
        Written,
    },
};

#[async_trait]
impl Enrollment for MemoryStore {
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
}

#[async_trait]
impl Replacements for MemoryStore {
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
}

#[async_trait]
impl Addresses for MemoryStore {
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
}

#[async_trait]
impl TwoFactorOff for MemoryStore {
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
}
