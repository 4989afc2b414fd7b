//! An administrator resets another user's codes without seeing them: the old set dies, and the
//! user is mailed a single-use link through which the new set is generated and shown.

use tracing::{info, warn};

use super::FactorChecks;
use super::{errors::AdminResetError, FactorServices, LinkSettings};
use crate::ports::DownloadGrants;
use crate::{
    domain::{
        access::Admin,
        codes::random_id,
        events::{Actor, EventKind, SecurityEvent, Source},
        link_token::DownloadGrant,
        mail_budget::{day_of, DayCount},
        proof::StepUp,
        user::UserId,
    },
    ports::{MailBudget, ResetNotice, Written},
};

/// How the link reaches the user: `notice` tells them, with the signed token that collects the
/// new set, and the mail is counted in the stack's daily `budget` (never refused by it).
pub struct LinkDelivery<'a> {
    pub notice: &'a dyn ResetNotice,
    pub budget: &'a dyn MailBudget,
}

#[tracing::instrument(skip_all, fields(admin = %admin.user(), target = %target))]
pub async fn regenerate_for<S: FactorChecks + DownloadGrants + ?Sized>(
    svc: &FactorServices<S>,
    links: &LinkSettings,
    admin: &Admin,
    target: &UserId,
    totp: Option<&str>,
    delivery: LinkDelivery<'_>,
    source: &Source,
) -> Result<DownloadGrant, AdminResetError> {
    // The admin's own code first, through the admin's ledger: until it is proven, the answer
    // says nothing about the target.
    svc.admin_proof(admin, totp, StepUp::AdminReset, source)
        .await?;
    reset_proven(svc, links, admin, target, delivery, source, vec![]).await
}

/// The reset, once the administrator's own proof was spent and the target is one they reach;
/// `also` are events about the target written with it and mailed to the address the link goes
/// to (an approved recovery request's).
pub(crate) async fn reset_proven<S: FactorChecks + DownloadGrants + ?Sized>(
    svc: &FactorServices<S>,
    links: &LinkSettings,
    admin: &Admin,
    target: &UserId,
    delivery: LinkDelivery<'_>,
    source: &Source,
    also: Vec<SecurityEvent>,
) -> Result<DownloadGrant, AdminResetError> {
    let account = admin.account();
    let admin = admin.user();

    let target_record = svc
        .enrolled_record(target)
        .await?
        .ok_or(AdminResetError::UserNotEnrolled)?;
    let to = target_record
        .email
        .clone()
        .ok_or(AdminResetError::UserHasNoEmail)?;

    let grant = DownloadGrant {
        id: random_id(),
        expires_at: svc.clock.now() + links.ttl,
    };
    let token = links.signer.sign(target, &grant);
    // Mail first: if it cannot be sent nothing has changed, and the user keeps their old codes.
    delivery
        .notice
        .send(&to, &token, grant.expires_at, account)
        .await
        .map_err(AdminResetError::EmailFailed)?;
    // Counted so the notifier's ceiling leaves room for links; a count that fails only makes
    // that ceiling a little late, never the reset.
    if let Err(err) = delivery
        .budget
        .take_day(&DayCount::Stack, day_of(svc.clock.now()), None)
        .await
    {
        warn!(error = %err, "a reset link mail was not counted in the day's mail");
    }
    // The link mail above is what the user is told; the event goes to the trail and the bus.
    let actor = Actor::Admin(admin.clone());
    let event = svc
        .event(EventKind::CodesResetByAdmin, target, actor.clone(), source)
        .with_remaining(0)
        .in_account(account);
    let records: Vec<_> = std::iter::once(svc.record(event, None))
        .chain(svc.replacement_ended(&target_record, actor, source))
        .chain(also.into_iter().map(|event| svc.record(event, Some(&to))))
        .collect();
    if svc.store.grant_download(target, &grant, &records).await? == Written::ConditionFailed {
        return Err(AdminResetError::UserNotEnrolled);
    }
    info!("backup codes reset by an administrator; download link mailed");
    Ok(grant)
}
