//! Reading a user's audit trail, newest first. Who may read whose trail is the caller's proof:
//! the user their own, an administrator anyone's.

use super::errors::Fault;
use crate::{
    domain::{events::AuditPosition, user::UserId},
    ports::{AuditLog, AuditPage},
};

#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn trail(
    log: &dyn AuditLog,
    user: &UserId,
    limit: usize,
    after: Option<&AuditPosition>,
) -> Result<AuditPage, Fault> {
    Ok(log.page(user, limit, after).await?)
}
