//! Turning two-factor off: by its owner behind a step-up proof, or by an administrator behind
//! the administrator's own proof (for a user who lost both the phone and the codes). Either way
//! the user is as before enrollment: verify answers as for a user never enrolled, the Cognito
//! trigger treats them as unenrolled, and enrolling again needs no proof.

use tracing::info;

use super::account_rules::{requiring_accounts, RulesOfUser};
use super::FactorChecks;
use super::{
    errors::{AdminResetError, CodeSetError},
    FactorServices,
};
use crate::ports::TwoFactorOff;
use crate::{
    domain::{
        access::Admin,
        events::{Actor, EventKind, Source},
        proof::StepUp,
        record::UserRecord,
        user::UserId,
    },
    ports::Written,
};

#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn disable<S: FactorChecks + TwoFactorOff + RulesOfUser + ?Sized>(
    svc: &FactorServices<S>,
    user: &UserId,
    proof: Option<&str>,
    source: &Source,
) -> Result<(), CodeSetError> {
    // An account's rule is asked before the proof, so a refused turn-off spends no code.
    let requiring = requiring_accounts(svc.store.as_ref(), user).await?;
    if !requiring.is_empty() {
        return Err(CodeSetError::TwoFactorRequired {
            accounts: requiring,
        });
    }
    let proof = proof.ok_or(CodeSetError::TotpRequired)?;
    let record = svc
        .enrolled_record(user)
        .await?
        .ok_or(CodeSetError::NotEnrolled)?;
    let (attempt, proof) = svc
        .check_step_up(&record, proof, Actor::User, source)
        .await?;
    // The proof's event first: the trail orders events of one second by when they were made.
    let mut records: Vec<_> = svc
        .proof_record(&record, &proof, StepUp::DisableTwoFactor, source)
        .into_iter()
        .collect();
    let disabled = svc.event(EventKind::TwoFactorDisabled, user, Actor::User, source);
    records.push(svc.record(disabled, record.email.as_ref()));
    let stands = |r: &UserRecord| r.is_enrolled() && proof.is_unspent_in(r);
    let (proof, records) = (&proof, &records);
    let written = svc
        .accept(user, attempt, stands, |attempt| async move {
            svc.store
                .disable_two_factor(user, &attempt, proof, records)
                .await
        })
        .await?;
    if written == Written::ConditionFailed {
        return Err(CodeSetError::InvalidCode);
    }
    info!("two-factor turned off by its owner");
    Ok(())
}

/// The administrator's own proof first, through the administrator's ledger: until it is
/// proven, the answer says nothing about the target.
#[tracing::instrument(skip_all, fields(admin = %admin.user(), target = %target))]
pub async fn disable_for<S: FactorChecks + TwoFactorOff + ?Sized>(
    svc: &FactorServices<S>,
    admin: &Admin,
    target: &UserId,
    proof: Option<&str>,
    source: &Source,
) -> Result<(), AdminResetError> {
    svc.admin_proof(admin, proof, StepUp::AdminDisableTwoFactor, source)
        .await?;
    disable_proven(svc, admin, target, source).await
}

/// The turn-off, once the administrator's own proof was spent and the target is one they reach.
pub(crate) async fn disable_proven<S: FactorChecks + TwoFactorOff + ?Sized>(
    svc: &FactorServices<S>,
    admin: &Admin,
    target: &UserId,
    source: &Source,
) -> Result<(), AdminResetError> {
    let target_record = svc
        .enrolled_record(target)
        .await?
        .ok_or(AdminResetError::UserNotEnrolled)?;
    let actor = Actor::Admin(admin.user().clone());
    let event = svc
        .event(EventKind::TwoFactorDisabled, target, actor, source)
        .in_account(admin.account());
    let records = [svc.record(event, target_record.email.as_ref())];
    let written = svc.store.disable_two_factor_for(target, &records).await?;
    if written == Written::ConditionFailed {
        return Err(AdminResetError::UserNotEnrolled);
    }
    info!("two-factor turned off by an administrator");
    Ok(())
}
