//! An in-process store with the same conditions as the DynamoDB one: each write checks and
//! applies under one lock, as DynamoDB serializes conditional writes per item.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{
    domain::{
        codes::{BackupCodeSet, CodeHash},
        link_token::DownloadGrant,
        sealing::SealedSecret,
        user::{Email, UserId},
    },
    ports::{
        EnrollmentState, FailedVerifies, Store, StoreError, TotpEnrollment, UserRecord, Written,
    },
};

#[derive(Default)]
pub struct MemoryStore {
    users: Mutex<HashMap<UserId, UserRecord>>,
}

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

    fn update_active(
        &self,
        user: &UserId,
        step: u64,
        apply: impl FnOnce(&mut UserRecord),
    ) -> Written {
        self.with_users(|users| match users.get_mut(user) {
            Some(record) if record.is_enrolled() && record.totp.last_step < step => {
                record.totp.last_step = step;
                apply(record);
                Written::Applied
            }
            _ => Written::ConditionFailed,
        })
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get_user(&self, user: &UserId) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.with_users(|users| users.get(user).cloned()))
    }

    async fn put_pending_totp(
        &self,
        user: &UserId,
        secret: &SealedSecret,
        _abandoned_after: OffsetDateTime,
    ) -> Result<Written, StoreError> {
        Ok(self.with_users(|users| match users.get_mut(user) {
            Some(record) if record.is_enrolled() => Written::ConditionFailed,
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
                        },
                        email: None,
                        codes: None,
                        grant: None,
                        failures: FailedVerifies::default(),
                    },
                );
                Written::Applied
            }
        }))
    }

    async fn activate_totp(
        &self,
        user: &UserId,
        checked_secret: &SealedSecret,
        step: u64,
        email: Option<&Email>,
        set: &BackupCodeSet,
    ) -> Result<Written, StoreError> {
        Ok(self.with_users(|users| match users.get_mut(user) {
            Some(record)
                if record.totp.state == EnrollmentState::Pending
                    && record.totp.secret == *checked_secret
                    && record.totp.last_step < step =>
            {
                record.totp.state = EnrollmentState::Active;
                record.totp.last_step = step;
                record.email = email.cloned();
                record.codes = Some(set.clone());
                Written::Applied
            }
            _ => Written::ConditionFailed,
        }))
    }

    async fn count_failed_verify(&self, user: &UserId) -> Result<Option<u32>, StoreError> {
        Ok(self.with_users(|users| {
            let record = users.get_mut(user).filter(|r| r.is_enrolled())?;
            record.failures.count = record.failures.count.saturating_add(1);
            Some(record.failures.count)
        }))
    }

    async fn lock_verifies(&self, user: &UserId, until: OffsetDateTime) -> Result<(), StoreError> {
        self.with_users(|users| {
            if let Some(record) = users.get_mut(user).filter(|r| r.is_enrolled()) {
                record.failures = FailedVerifies {
                    count: 0,
                    locked_until: Some(until),
                };
            }
        });
        Ok(())
    }

    async fn use_totp_step(&self, user: &UserId, step: u64) -> Result<Written, StoreError> {
        Ok(self.update_active(user, step, |record| record.failures.count = 0))
    }

    async fn use_backup_code(
        &self,
        user: &UserId,
        set_id: &str,
        hash: &CodeHash,
        at: OffsetDateTime,
    ) -> Result<Option<usize>, StoreError> {
        Ok(self.with_users(|users| {
            let record = users.get_mut(user)?;
            let set = record.codes.as_mut()?;
            if set.id != set_id {
                return None;
            }
            let code = set
                .codes
                .iter_mut()
                .find(|c| c.hash == *hash && c.used_at.is_none())?;
            code.used_at = Some(at);
            let remaining = set.remaining();
            record.failures.count = 0;
            Some(remaining)
        }))
    }

    async fn replace_code_set(
        &self,
        user: &UserId,
        step: u64,
        set: Option<&BackupCodeSet>,
    ) -> Result<Written, StoreError> {
        Ok(self.update_active(user, step, |record| {
            record.codes = set.cloned();
            record.grant = None;
        }))
    }

    async fn grant_download(
        &self,
        user: &UserId,
        grant: &DownloadGrant,
    ) -> Result<Written, StoreError> {
        Ok(self.with_users(|users| match users.get_mut(user) {
            Some(record) if record.is_enrolled() => {
                record.codes = None;
                record.grant = Some(grant.clone());
                Written::Applied
            }
            _ => Written::ConditionFailed,
        }))
    }

    async fn redeem_download(
        &self,
        user: &UserId,
        grant_id: &str,
        now: OffsetDateTime,
        set: &BackupCodeSet,
    ) -> Result<Written, StoreError> {
        Ok(self.with_users(|users| match users.get_mut(user) {
            Some(record)
                if record.is_enrolled()
                    && record
                        .grant
                        .as_ref()
                        .is_some_and(|g| g.id == grant_id && g.is_live(now)) =>
            {
                record.grant = None;
                record.codes = Some(set.clone());
                Written::Applied
            }
            _ => Written::ConditionFailed,
        }))
    }
}
