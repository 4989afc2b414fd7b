//! Redeeming a download link: the new set is generated at this moment, stored hashed, shown once.

use tracing::info;

use super::{errors::RedeemError, LinkSettings, Services};
use crate::{
    domain::{
        codes::IssuedCodes,
        events::{Actor, EventKind, SecurityEvent, Source},
        link_token::GrantClaim,
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
    // The grant is held for this redemption by one conditional write before any hashing: a
    // used, replaced or expired link, and every redemption racing the holder, is refused there,
    // so neither a replay nor a burst of one live link makes this public route spend argon2id.
    let claim = GrantClaim::new(&claims.grant.id, now);
    let held = svc.store.claim_download(&claims.user, &claim, now).await?;
    // A well-signed link that no longer works is worth a line in the trail: someone has it.
    // Its repeats within the hour are that one line with a count, so replaying it cannot
    // flood the trail or the bus.
    let refused = || {
        SecurityEvent::repeated(
            EventKind::DownloadLinkRefused,
            &claims.user,
            Actor::User,
            source,
            &claims.grant.id,
            now,
        )
    };
    let Some(record) = held else {
        info!(user = %claims.user, "download link used, replaced, expired or being redeemed");
        svc.counted(refused()).await;
        return Err(RedeemError::LinkInvalid);
    };
    let email = record.email.clone();
    let issued = svc.issue_codes().await?;
    let event = svc
        .event(
            EventKind::DownloadLinkRedeemed,
            &claims.user,
            Actor::User,
            source,
        )
        .with_remaining(issued.plaintext.len());
    let records: Vec<_> = std::iter::once(svc.record(event, email.as_ref()))
        .chain(svc.replacement_ended(&record, Actor::User, source))
        .collect();
    match svc
        .store
        .redeem_download(&claims.user, &claim, now, &issued.set, &records)
        .await?
    {
        Written::Applied => {
            info!(user = %claims.user, "download link redeemed; new backup codes issued");
            Ok(issued)
        }
        Written::ConditionFailed => {
            info!(user = %claims.user, "download link already used or replaced");
            svc.counted(refused()).await;
            Err(RedeemError::LinkInvalid)
        }
    }
}
