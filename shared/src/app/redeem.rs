//! Redeeming a download link: the new set is generated at this moment, stored hashed, shown once.

use tracing::info;

use super::{errors::RedeemError, LinkSettings, Services};
use crate::{domain::codes::IssuedCodes, ports::Written};

#[tracing::instrument(skip_all)]
pub async fn redeem(
    svc: &Services,
    links: &LinkSettings,
    token: &str,
) -> Result<IssuedCodes, RedeemError> {
    let now = svc.clock.now();
    // Signature and expiry first: a forged or stale token never reaches the store.
    let claims = links.signer.verify(token, now).map_err(|reason| {
        info!(%reason, "download link refused");
        RedeemError::LinkInvalid
    })?;
    // A used, replaced or expired grant is refused by one read before any hashing: replaying a
    // link must not make this public route spend argon2id work.
    let live = svc
        .store
        .get_user(&claims.user)
        .await?
        .and_then(|record| record.grant)
        .is_some_and(|grant| grant.id == claims.grant.id && grant.is_live(now));
    if !live {
        info!(user = %claims.user, "download link already used, replaced or expired");
        return Err(RedeemError::LinkInvalid);
    }
    let issued = svc.issue_codes().await?;
    match svc
        .store
        .redeem_download(&claims.user, &claims.grant.id, now, &issued.set)
        .await?
    {
        Written::Applied => {
            info!(user = %claims.user, "download link redeemed; new backup codes issued");
            Ok(issued)
        }
        Written::ConditionFailed => {
            info!(user = %claims.user, "download link already used or replaced");
            Err(RedeemError::LinkInvalid)
        }
    }
}
