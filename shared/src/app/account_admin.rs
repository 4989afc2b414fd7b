//! An account's administrators act on its members, and only on them. Who is an administrator
//! of an account, and who is a member, is what the team's backend wrote, read at this request:
//! a caller's token says only who they are. A user who is not a member now (unknown, in another
//! account, or removed) is answered exactly as one who does not exist.

use std::collections::HashMap;

use super::{
    admin_regenerate::{self, LinkDelivery},
    errors::{AdminResetError, Fault, MemberError},
    two_factor, FactorChecks, FactorServices, LinkSettings, Services,
};
use crate::{
    domain::{
        access::{Admin, Reach},
        account::AccountId,
        events::{AuditPosition, Source},
        link_token::DownloadGrant,
        member_summary::MemberSummary,
        proof::StepUp,
        record::UserRecord,
        user::UserId,
    },
    ports::{
        AuditPage, DownloadGrants, MemberLists, MemberRecords, Memberships, TwoFactorOff,
        MAX_RECORDS_AT_ONCE,
    },
};

/// The administrator acting on `account`'s members: a member of the platform's admin group
/// (`platform`), narrowed to that account, or an admin of the account itself. `None`: the
/// caller may not act there.
pub async fn admin_of<S: Memberships + ?Sized>(
    svc: &Services<S>,
    caller: &UserId,
    platform: Option<Admin>,
    account: &AccountId,
) -> Result<Option<Admin>, Fault> {
    if let Some(support) = platform {
        return Ok(Some(support.within(account)));
    }
    let role = svc.store.role_in(account, caller).await?;
    Ok(Admin::of_account(caller, account, role))
}

/// Whether `admin` reaches `target` now: anyone for the platform's group, an account's current
/// members for an account's administrator. One consistent read, the same for every target.
async fn reached<S: Memberships + ?Sized>(
    svc: &Services<S>,
    admin: &Admin,
    target: &UserId,
) -> Result<(), MemberError> {
    match admin.reach() {
        Reach::Everyone => Ok(()),
        Reach::MembersOf(account) => match svc.store.role_in(account, target).await? {
            Some(_) => Ok(()),
            None => Err(MemberError::NotAMember),
        },
    }
}

/// The reset an account's administrator makes: their own proof spent first, then the member
/// looked at, then the reset and its mailed link as for the platform's administrators.
#[tracing::instrument(skip_all, fields(admin = %admin.user(), target = %target))]
pub async fn reset_member<S: FactorChecks + DownloadGrants + Memberships + ?Sized>(
    svc: &FactorServices<S>,
    links: &LinkSettings,
    admin: &Admin,
    target: &UserId,
    proof: Option<&str>,
    delivery: LinkDelivery<'_>,
    source: &Source,
) -> Result<DownloadGrant, AdminResetError> {
    svc.admin_proof(admin, proof, StepUp::AdminReset, source)
        .await?;
    reached(svc, admin, target).await?;
    admin_regenerate::reset_proven(svc, links, admin, target, delivery, source, vec![]).await
}

/// An account's administrator turns a member's two-factor off, in the same order.
#[tracing::instrument(skip_all, fields(admin = %admin.user(), target = %target))]
pub async fn disable_for_member<S: FactorChecks + TwoFactorOff + Memberships + ?Sized>(
    svc: &FactorServices<S>,
    admin: &Admin,
    target: &UserId,
    proof: Option<&str>,
    source: &Source,
) -> Result<(), AdminResetError> {
    svc.admin_proof(admin, proof, StepUp::AdminDisableTwoFactor, source)
        .await?;
    reached(svc, admin, target).await?;
    two_factor::disable_proven(svc, admin, target, source).await
}

/// A member's security events, newest first, for an administrator who reaches them.
#[tracing::instrument(skip_all, fields(admin = %admin.user(), target = %target))]
pub async fn member_trail<S: Memberships + ?Sized>(
    svc: &Services<S>,
    admin: &Admin,
    target: &UserId,
    limit: usize,
    after: Option<&AuditPosition>,
) -> Result<AuditPage, MemberError> {
    reached(svc, admin, target).await?;
    Ok(svc.audit.page(target, limit, after).await?)
}

/// A page of the administrator's account's members.
#[derive(Debug)]
pub struct MembersPage {
    pub members: Vec<MemberSummary>,
    /// Where the next page starts, when one may follow.
    pub next: Option<UserId>,
}

/// Up to `limit` (at most `MAX_RECORDS_AT_ONCE`) members of the administrator's account, by
/// user id after `after`: one `Query` of the members index and one batch read of their records.
#[tracing::instrument(skip_all, fields(admin = %admin.user()))]
pub async fn members<S: MemberLists + MemberRecords + ?Sized>(
    svc: &Services<S>,
    admin: &Admin,
    limit: usize,
    after: Option<&UserId>,
) -> Result<MembersPage, MemberError> {
    let account = admin.account().ok_or(MemberError::NotAMember)?;
    let page = svc
        .store
        .members(account, limit.min(MAX_RECORDS_AT_ONCE), after)
        .await?;
    let users: Vec<UserId> = page.members.iter().map(|(user, _)| user.clone()).collect();
    let records: HashMap<UserId, UserRecord> = svc
        .store
        .get_users(&users)
        .await?
        .into_iter()
        .map(|record| (record.user_id.clone(), record))
        .collect();
    let now = svc.clock.now();
    let members = page
        .members
        .into_iter()
        .map(|(user, role)| {
            let record = records.get(&user);
            MemberSummary::of(user, role, record, now)
        })
        .collect();
    Ok(MembersPage {
        members,
        next: page.next,
    })
}
