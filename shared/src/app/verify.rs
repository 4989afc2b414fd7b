//! Verify, called by the team's auth server mid-sign-in: a current TOTP code or an unused backup code.

use tracing::info;

use super::FactorChecks;
use super::{errors::VerifyError, FactorServices};
use crate::domain::{
    attempts::ReservedAttempt,
    codes::BackupCode,
    events::{Actor, EventKind, Source},
    proof::Proof,
    record::UserRecord,
    sign_in::{AppClient, SignInMethod, SignInPass},
    totp::TotpCode,
    user::UserId,
};
use crate::ports::{SpentCode, Written};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Totp,
    BackupCode,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub method: Method,
    pub remaining_backup_codes: usize,
    /// `LOW_CODES_THRESHOLD` or fewer codes are left: time to make a new set.
    pub low: bool,
}

/// Every check is reserved in the user's attempt ledger first, by the write that also reads the
/// record; a full ledger is `Locked` before any hashing, unsealing or HMAC work. Unknown user,
/// unenrolled user, wrong code and used code all end in `InvalidCode` with the same store
/// request (that one conditional write) and the same work (one argon2id hash for a
/// backup-code-shaped guess, one unseal and three HMACs for a TOTP-shaped one), so neither the
/// answer nor its timing tells them apart. An unknown user's checks are counted too, so after
/// `threshold` refusals they are `Locked` exactly as a known user is.
///
/// An accepted code is an event, kept by the write that accepts it; so is the refusal that fills
/// the ledger (`locked_out`). `source` is where the sign-in came from.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn verify<S: FactorChecks + ?Sized>(
    svc: &FactorServices<S>,
    user: &UserId,
    code: &str,
    source: &Source,
) -> Result<Verified, VerifyError> {
    verify_leaving(svc, user, code, source, None).await
}

/// Verify as a Cognito sign-in's challenge: the write that accepts the code also leaves the
/// sign-in pass that the token guard consumes before Cognito may issue tokens.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn verify_sign_in<S: FactorChecks + ?Sized>(
    svc: &FactorServices<S>,
    user: &UserId,
    code: &str,
    source: &Source,
    client: AppClient,
) -> Result<Verified, VerifyError> {
    verify_leaving(svc, user, code, source, Some(client)).await
}

async fn verify_leaving<S: FactorChecks + ?Sized>(
    svc: &FactorServices<S>,
    user: &UserId,
    code: &str,
    source: &Source,
    client: Option<AppClient>,
) -> Result<Verified, VerifyError> {
    let policy = &svc.settings.lockout;
    let (record, reservation) = svc
        .store
        .reserve_reading(user, policy, svc.clock.now())
        .await?;
    let attempt = svc.reserved(user, reservation)?;
    let last = attempt.as_ref().is_some_and(ReservedAttempt::is_last);
    let email = record.as_ref().and_then(|r| r.email.clone());
    let record_exists = record.is_some();
    let outcome = check(svc, user, code, record, attempt, client, source).await;
    // An unknown user's lock has no one to tell and no trail to keep.
    if matches!(outcome, Err(VerifyError::InvalidCode)) && last && record_exists {
        svc.locked_out(user, Actor::AuthServer, source, email.as_ref())
            .await;
    }
    outcome
}

/// The check; an accepting write records `totp_used` (audit only) or `backup_code_used` (also
/// mailed), caused by the auth server from `source`; for a sign-in through `client`, it also
/// leaves the pass that says how the challenge was passed.
async fn check<S: FactorChecks + ?Sized>(
    svc: &FactorServices<S>,
    user: &UserId,
    code: &str,
    record: Option<UserRecord>,
    attempt: Option<ReservedAttempt>,
    client: Option<AppClient>,
    source: &Source,
) -> Result<Verified, VerifyError> {
    let now = svc.clock.now();
    let pass = |method, remaining| {
        client
            .clone()
            .map(|client| SignInPass::starting(now, client, method, remaining))
    };
    // Only an enrolled user whose attempt was counted can have a code accepted.
    let checked = record.filter(|r| r.is_enrolled()).zip(attempt);
    if let Some(totp) = TotpCode::parse(code) {
        let step = svc.fresh_totp_step(checked.as_ref().map(|(r, _)| r), &totp)?;
        let (Some((record, attempt)), Some(step)) = (checked, step) else {
            return Err(VerifyError::InvalidCode);
        };
        let event = svc.event(EventKind::TotpUsed, user, Actor::AuthServer, source);
        let records = vec![svc.record(event, record.email.as_ref())];
        let remaining = record.codes.as_ref().map_or(0, |s| s.remaining());
        let pass = pass(SignInMethod::Totp, remaining);
        let pass = pass.as_ref();
        let secret = &record.totp.secret;
        let stands = |r: &UserRecord| {
            r.is_enrolled() && r.totp.secret == *secret && Proof::Totp { step }.is_unspent_in(r)
        };
        let records = &records;
        let written = svc
            .accept(user, attempt, stands, |attempt| async move {
                svc.store
                    .use_totp_step(user, &attempt, step, pass, records)
                    .await
            })
            .await?;
        if written == Written::ConditionFailed {
            return Err(VerifyError::InvalidCode);
        }
        info!(method = "totp", "verified");
        let verified = Verified {
            method: Method::Totp,
            remaining_backup_codes: remaining,
            low: svc.is_low(remaining),
        };
        return Ok(verified);
    }
    let code = BackupCode::parse(code).ok_or(VerifyError::InvalidCode)?;
    let set = checked.as_ref().and_then(|(r, _)| r.codes.as_ref());
    let proof = svc.unused_backup_code(set, code).await?;
    let (Some((record, attempt)), Some(proof)) = (checked, proof) else {
        return Err(VerifyError::InvalidCode);
    };
    let Some(set) = record.codes.as_ref() else {
        return Err(VerifyError::InvalidCode);
    };
    // The set as the reservation read it, less this code: what the user has left unless
    // another of their codes is being used at this same moment.
    let remaining = set.remaining().saturating_sub(1);
    let event = svc
        .event(EventKind::BackupCodeUsed, user, Actor::AuthServer, source)
        .with_remaining(remaining)
        .with_code_number(proof.code_number(&record));
    let records = vec![svc.record(event, record.email.as_ref())];
    let pass = pass(SignInMethod::BackupCode, remaining);
    let pass = pass.as_ref();
    let Proof::BackupCode { set_id, hash } = &proof else {
        return Err(VerifyError::InvalidCode);
    };
    let spent = SpentCode {
        set_id,
        hash,
        at: now,
    };
    let spent = &spent;
    let stands = |r: &UserRecord| r.is_enrolled() && proof.is_unspent_in(r);
    let records = &records;
    let written = svc
        .accept(user, attempt, stands, |attempt| async move {
            svc.store
                .use_backup_code(user, &attempt, spent, pass, records)
                .await
        })
        .await?;
    if written == Written::ConditionFailed {
        return Err(VerifyError::InvalidCode);
    }
    info!(method = "backup_code", remaining, "verified");
    let verified = Verified {
        method: Method::BackupCode,
        remaining_backup_codes: remaining,
        low: svc.is_low(remaining),
    };
    Ok(verified)
}
