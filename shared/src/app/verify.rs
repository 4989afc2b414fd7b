//! Verify, called by the team's auth server mid-sign-in: a current TOTP code or an unused backup code.

use tracing::info;

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
/// its timing tells them apart.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn verify(svc: &Services, user: &UserId, code: &str) -> Result<Verified, AppError> {
    let record = svc.store.get_user(user).await?.filter(|r| r.is_enrolled());
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
        .use_backup_code(user, &set.id, &hash, svc.clock.now())
        .await?
        .ok_or(AppError::InvalidCode)?;
    info!(method = "backup_code", remaining, "verified");
    Ok(Verified {
        method: Method::BackupCode,
        remaining_backup_codes: remaining,
    })
}
