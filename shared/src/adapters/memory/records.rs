//! What every check reads and writes first: the record, its attempt ledger, a checked code spent,
//! and the sign-in pass.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{holds, leave, reserve, MemoryStore};
use crate::{
    domain::{
        attempts::{AttemptLedger, LockoutPolicy, Reservation, ReservedAttempt},
        events::Recorded,
        record::UserRecord,
        sign_in::{AppClient, SignInPass},
        user::UserId,
    },
    ports::{
        Attempts, CodeUse, MemberRecords, SignInPasses, SpentCode, StoreError, UserRecords, Written,
    },
};

#[async_trait]
impl UserRecords for MemoryStore {
    async fn get_user(&self, user: &UserId) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.with_users(|users| users.get(user).cloned()))
    }
}

#[async_trait]
impl MemberRecords for MemoryStore {
    async fn get_users(&self, wanted: &[UserId]) -> Result<Vec<UserRecord>, StoreError> {
        Ok(self.with_users(|users| {
            wanted
                .iter()
                .filter_map(|user| users.get(user))
                .cloned()
                .collect()
        }))
    }
}

#[async_trait]
impl Attempts for MemoryStore {
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
}

#[async_trait]
impl CodeUse for MemoryStore {
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
}

#[async_trait]
impl SignInPasses for MemoryStore {
    async fn consume_sign_in_pass(
        &self,
        user: &UserId,
        client: &AppClient,
        now: OffsetDateTime,
    ) -> Result<Option<SignInPass>, StoreError> {
        Ok(self.with_users(|users| match users.get_mut(user) {
            Some(record)
                if record.is_enrolled()
                    && record
                        .sign_in_pass
                        .as_ref()
                        .is_some_and(|p| p.admits(client, now)) =>
            {
                record.sign_in_pass.take()
            }
            _ => None,
        }))
    }
}
