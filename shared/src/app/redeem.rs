//! Redeeming a download link: the new set is generated at this moment, stored hashed, shown once.

use tracing::info;

use super::{errors::RedeemError, LinkSettings, Services};
use crate::{
    domain::{
        codes::IssuedCodes,
        events::{Actor, EventKind, Source},
    },
    ports::Written,
};

#[tracing::instrument(skip_all)]
pub async fn redeem(
    svc: &Services,
    links: &LinkSettings,
    token: &str,
    source: &Source,
) -> Result<IssuedCodes, RedeemError> {
    let now = svc.clock.now();
    // Signature and expiry first: a forged or stale token never reaches the store.
    let claims = links.signer.verify(token, now).map_err(|reason| {
        info!(%reason, "download link refused");
        RedeemError::LinkInvalid
    })?;
    // A used, replaced or expired grant is refused by one read before any hashing: replaying a
    // link must not make this public route spend argon2id work.
    let record = svc.store.get_user(&claims.user).await?;
    let email = record.as_ref().and_then(|r| r.email.clone());
    let live = record
        .and_then(|record| record.grant)
        .is_some_and(|grant| grant.id == claims.grant.id && grant.is_live(now));
    // A well-signed link that no longer works is worth a line in the trail: someone has it.
    let refused = || {
        svc.event(
            EventKind::DownloadLinkRefused,
            &claims.user,
            Actor::User,
            source,
        )
    };
    if !live {
        info!(user = %claims.user, "download link already used, replaced or expired");
        svc.events.emit(refused(), None).await;
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
            let event = svc
                .event(
                    EventKind::DownloadLinkRedeemed,
                    &claims.user,
                    Actor::User,
                    source,
                )
                .with_remaining(issued.plaintext.len());
            svc.events.emit(event, email.as_ref()).await;
            Ok(issued)
        }
        Written::ConditionFailed => {
            info!(user = %claims.user, "download link already used or replaced");
            svc.events.emit(refused(), None).await;
            Err(RedeemError::LinkInvalid)
        }
    }
}
