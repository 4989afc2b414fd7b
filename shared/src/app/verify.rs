//! Verify, called by the team's auth server mid-sign-in: a current TOTP code or an unused backup code.

use tracing::{info, warn};

use super::{AppError, Services};
use crate::domain::{
    codes::{BackupCode, SALT_LEN},
    totp::TotpCode,
    user::UserId,
};
use crate::ports::Written;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Totp,
    BackupCode,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub method: Method,
    pub remaining_backup_codes: usize,
}

/// Unknown user, unenrolled user, wrong code and used code all end in `InvalidCode`, and a
/// backup-code-shaped guess costs one argon2id hash in every case, so neither the answer nor
/// its timing tells them apart. Every refusal is counted; enough in a row lock the user's
/// verifies for a while, and a locked user gets the same refusal, even for a right code.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn verify(svc: &Services, user: &UserId, code: &str) -> Result<Verified, AppError> {
    match check(svc, user, code).await {
        Err(AppError::InvalidCode) => {
            count_failure(svc, user).await?;
            Err(AppError::InvalidCode)
        }
        outcome => outcome,
    }
}

async fn check(svc: &Services, user: &UserId, code: &str) -> Result<Verified, AppError> {
    let now = svc.clock.now();
    let record = svc
        .store
        .get_user(user)
        .await?
        .filter(|r| r.is_enrolled() && !r.failures.is_locked(now));
    if let Some(totp) = TotpCode::parse(code) {
        let Some(record) = record else {
            return Err(AppError::InvalidCode);
        };
        let step = svc
            .fresh_totp_step(&record, &totp)?
            .ok_or(AppError::InvalidCode)?;
        if svc.store.use_totp_step(user, step).await? == Written::ConditionFailed {
            return Err(AppError::InvalidCode);
        }
        info!(method = "totp", "verified");
        let remaining = record.codes.as_ref().map_or(0, |s| s.remaining());
        return Ok(Verified {
            method: Method::Totp,
            remaining_backup_codes: remaining,
        });
    }
    let code = BackupCode::parse(code).ok_or(AppError::InvalidCode)?;
    let set = record.and_then(|r| r.codes);
    let salt = set.as_ref().map_or([0u8; SALT_LEN], |s| s.salt);
    let hash = svc.hash_code(code, salt).await?;
    let Some(set) = set else {
        return Err(AppError::InvalidCode);
    };
    let unused = set.find(&hash).is_some_and(|c| c.used_at.is_none());
    if !unused {
        return Err(AppError::InvalidCode);
    }
    let remaining = svc
        .store
        .use_backup_code(user, &set.id, &hash, now)
        .await?
        .ok_or(AppError::InvalidCode)?;
    info!(method = "backup_code", remaining, "verified");
    Ok(Verified {
        method: Method::BackupCode,
        remaining_backup_codes: remaining,
    })
}

/// Refusals while locked count too, so a guesser who keeps going keeps the lock on.
async fn count_failure(svc: &Services, user: &UserId) -> Result<(), AppError> {
    let policy = svc.settings.lockout;
    if policy.threshold == 0 {
        return Ok(());
    }
    let Some(count) = svc.store.count_failed_verify(user).await? else {
        return Ok(());
    };
    if count >= policy.threshold {
        let until = svc.clock.now() + policy.duration;
        svc.store.lock_verifies(user, until).await?;
        warn!(failures = count, until = %until, "verifies locked after repeated failures");
    }
    Ok(())
}
