//! The address security mails go to follows the user's identity provider: whenever a signed-in
//! request carries a verified `email` that differs from the stored one, the stored one becomes
//! it, recorded as `email_changed` and told to the old address (as identity providers tell the
//! address they stop using), so a takeover that changes the address does not go unheard.

use async_trait::async_trait;
use tracing::{info, warn};

use super::{errors::Fault, Services};
use crate::ports::{Addresses, UserRecords};
use crate::{
    domain::{
        events::{Actor, EventKind, Source},
        user::{Email, UserId},
    },
    ports::Written,
};

/// What a signed-in request keeps its caller's address current through: the services of any
/// function whose store keeps addresses, whatever else it can do.
#[async_trait]
pub trait KeepsAddress: Send + Sync {
    async fn keep_current(
        &self,
        user: &UserId,
        claimed: &Email,
        source: &Source,
    ) -> Result<(), Fault>;
}

#[async_trait]
impl<S: UserRecords + Addresses + ?Sized> KeepsAddress for Services<S> {
    async fn keep_current(
        &self,
        user: &UserId,
        claimed: &Email,
        source: &Source,
    ) -> Result<(), Fault> {
        keep_current(self, user, claimed, source).await
    }
}

/// Keeps the enrolled `user`'s stored address `claimed`, the verified one in their token. Users
/// with no record or a pending enrollment are left alone: confirming stores the address.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn keep_current<S: UserRecords + Addresses + ?Sized>(
    svc: &Services<S>,
    user: &UserId,
    claimed: &Email,
    source: &Source,
) -> Result<(), Fault> {
    let Some(record) = svc.store.get_user(user).await? else {
        return Ok(());
    };
    if !record.is_enrolled() || record.email.as_ref() == Some(claimed) {
        return Ok(());
    }
    let event = svc.event(EventKind::EmailChanged, user, Actor::User, source);
    // The old address is told; a user who had none stored is told nothing.
    let records = [svc.record(event, record.email.as_ref())];
    match svc
        .store
        .change_email(user, record.email.as_ref(), claimed, &records)
        .await?
    {
        Written::Applied => info!("the stored address now follows the token's verified email"),
        Written::ConditionFailed => warn!("the stored address changed meanwhile; left as it is"),
    }
    Ok(())
}
