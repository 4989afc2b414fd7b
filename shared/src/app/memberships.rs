//! The team's backend writes who belongs to which account. Each write reads the membership
//! first and is conditional on what it read, so a change is recorded from the role it really
//! replaced; a write that lost to another is read and sent again.

use tracing::warn;

use super::{errors::MembershipError, Services};
use crate::{
    domain::{
        account::{
            AccountId, MembershipChange, Role, MAX_ACCOUNTS_PER_USER, MAX_ADMINS_PER_ACCOUNT,
        },
        events::{Actor, EventKind, Source},
        user::UserId,
    },
    ports::{AccountRecords, MembershipWrites, Memberships, Written},
};

/// How many times a write that keeps losing to other writes of the same membership is read
/// and sent again.
const WRITE_TRIES: usize = 3;

/// Makes `user` a member of `account` with `role`. Writing the role they already have changes
/// and records nothing.
#[tracing::instrument(skip_all, fields(account = %account, user = %user))]
pub async fn put<S: Memberships + MembershipWrites + AccountRecords + ?Sized>(
    svc: &Services<S>,
    account: &AccountId,
    user: &UserId,
    role: Role,
    source: &Source,
) -> Result<MembershipChange, MembershipError> {
    for _ in 0..WRITE_TRIES {
        let seen = svc.store.role_in(account, user).await?;
        let (kind, change) = match seen {
            Some(current) if current == role => return Ok(MembershipChange::Unchanged(role)),
            Some(from) => (
                EventKind::MembershipChanged,
                MembershipChange::RoleChanged { from, to: role },
            ),
            None => (EventKind::MembershipAdded, MembershipChange::Added(role)),
        };
        let event = svc
            .event(kind, user, Actor::Backend, source)
            .with_membership(account, role, seen);
        let records = [svc.record(event, None)];
        let written = svc
            .store
            .put_membership(account, user, role, seen, &records)
            .await?;
        if written == Written::Applied {
            return Ok(change);
        }
        // Lost: another write changed the membership, or a limit was met (the user's
        // accounts, or the account's admins). Only a limit leaves the role as it was seen.
        if svc.store.role_in(account, user).await? != seen {
            continue;
        }
        if seen.is_none() && svc.store.accounts_of(user).await?.len() >= MAX_ACCOUNTS_PER_USER {
            return Err(MembershipError::TooManyAccounts {
                most: MAX_ACCOUNTS_PER_USER,
            });
        }
        if role == Role::Admin
            && svc.store.account_settings(account).await?.admins.len() >= MAX_ADMINS_PER_ACCOUNT
        {
            return Err(MembershipError::TooManyAdmins {
                most: MAX_ADMINS_PER_ACCOUNT,
            });
        }
    }
    warn!("a membership write lost to other writes at every try");
    Err(MembershipError::Contended)
}

/// Takes `user` out of `account`: from their next request on, its rights and rules are gone.
/// Removing someone who is not a member is done already: `None`, and nothing is recorded, so
/// the backend may send a removal again after a dropped answer.
#[tracing::instrument(skip_all, fields(account = %account, user = %user))]
pub async fn remove<S: Memberships + MembershipWrites + ?Sized>(
    svc: &Services<S>,
    account: &AccountId,
    user: &UserId,
    source: &Source,
) -> Result<Option<MembershipChange>, MembershipError> {
    for _ in 0..WRITE_TRIES {
        let Some(seen) = svc.store.role_in(account, user).await? else {
            return Ok(None);
        };
        let event = svc
            .event(EventKind::MembershipRemoved, user, Actor::Backend, source)
            .with_membership(account, seen, None);
        let records = [svc.record(event, None)];
        let written = svc
            .store
            .remove_membership(account, user, seen, &records)
            .await?;
        if written == Written::Applied {
            return Ok(Some(MembershipChange::Removed(seen)));
        }
    }
    warn!("a membership removal lost to other writes at every try");
    Err(MembershipError::Contended)
}
