//! Turning two-factor off: by its owner behind a step-up proof, or by an administrator behind
//! the administrator's own proof (for a user who lost both the phone and the codes). Either way
//! the user is as before enrollment: verify answers as for a user never enrolled, the Cognito
//! trigger treats them as unenrolled, and enrolling again needs no proof.

use tracing::info;

use super::{
    errors::{AdminResetError, CodeSetError},
    FactorServices,
};
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
pub async fn disable(
    svc: &FactorServices,
    user: &UserId,
    proof: Option<&str>,
    source: &Source,
) -> Result<(), CodeSetError> {
    let proof = proof.ok_or(CodeSetError::TotpRequired)?;
    let record = svc
        .store
        .get_user(user)
        .await?
        .filter(UserRecord::is_enrolled)
        .ok_or(CodeSetError::NotEnrolled)?;
    let (attempt, proof) = svc
        .check_step_up(&record, proof, Actor::User, source)
        .await?;
    if svc.store.disable_two_factor(user, &attempt, &proof).await? == Written::ConditionFailed {
        return Err(CodeSetError::InvalidCode);
    }
    info!("two-factor turned off by its owner");
    svc.proof_spent(&record, &proof, StepUp::DisableTwoFactor, source)
        .await;
    let event = svc.event(EventKind::TwoFactorDisabled, user, Actor::User, source);
    svc.events.emit(event, record.email.as_ref()).await;
    Ok(())
}

/// The administrator's own proof first, through the administrator's ledger: until it is
/// proven, the answer says nothing about the target.
#[tracing::instrument(skip_all, fields(admin = %admin.user(), target = %target))]
pub async fn disable_for(
    svc: &FactorServices,
    admin: &Admin,
    target: &UserId,
    proof: Option<&str>,
    source: &Source,
) -> Result<(), AdminResetError> {
    svc.admin_proof(admin, proof, StepUp::AdminDisableTwoFactor, source)
        .await?;
    let target_record = svc
        .store
        .get_user(target)
        .await?
        .filter(UserRecord::is_enrolled)
        .ok_or(AdminResetError::UserNotEnrolled)?;
    if svc.store.disable_two_factor_for(target).await? == Written::ConditionFailed {
        return Err(AdminResetError::UserNotEnrolled);
    }
    info!("two-factor turned off by an administrator");
    let actor = Actor::Admin(admin.user().clone());
    let event = svc.event(EventKind::TwoFactorDisabled, target, actor, source);
    svc.events.emit(event, target_record.email.as_ref()).await;
    Ok(())
}
