//! The emailed link, as the seed has it: "Download your new backup codes. Save them, then click
//! Continue. Your new backup codes are now active." Redeeming the link makes a set and shows it,
//! pending; the set counts once the owner says they saved it. Until then the link can be
//! redeemed again (a fresh pending set each time), so a dropped connection never loses codes.

use time::OffsetDateTime;
use tracing::info;

use super::{
    backup_codes::{save_shown_set, ActivatedSet, ShownSet},
    errors::RedeemError,
    LinkSettings, Services,
};
use crate::ports::{CodeSets, DownloadGrants, UserRecords};
use crate::{
    domain::{
        codes::IssuedCodes,
        events::{Actor, EventKind, SecurityEvent, Source},
        link_token::{GrantClaim, LinkClaims},
        record::{PendingSet, UserRecord},
    },
    ports::Written,
};

/// A redemption's set, shown once, that counts once activated before `expires_at` (the link's
/// own expiry).
pub struct RedeemedCodes {
    pub issued: IssuedCodes,
    pub expires_at: OffsetDateTime,
}

#[tracing::instrument(skip_all)]
pub async fn redeem<S: UserRecords + DownloadGrants + ?Sized>(
    svc: &Services<S>,
    links: &LinkSettings,
    token: &str,
    source: &Source,
) -> Result<RedeemedCodes, RedeemError> {
    let now = svc.clock.now();
    let claims = verified(links, token, now)?;
    // The grant is held for this redemption by one conditional write before any hashing: a
    // used, replaced, expired or used-up link, and every redemption racing the holder, is
    // refused there, so neither a replay nor a burst of one live link spends argon2id.
    let claim = GrantClaim::new(&claims.grant.id, now);
    let held = svc.store.claim_download(&claims.user, &claim, now).await?;
    let Some(record) = held else {
        info!(user = %claims.user, "download link used, replaced, expired, used up or being redeemed");
        refused(svc, &claims, source, now).await;
        return Err(RedeemError::LinkInvalid);
    };
    let issued = svc.issue_codes().await?;
    let pending = PendingSet {
        set: issued.set.clone(),
        expires_at: claims.grant.expires_at,
    };
    // Opening the link is the owner's response to whatever made the admin reset: a pending
    // replacement ends here, even before the codes are saved.
    let records: Vec<_> = svc
        .replacement_ended(&record, Actor::User, source)
        .into_iter()
        .collect();
    match svc
        .store
        .redeem_download(&claims.user, &claim, now, &pending, &records)
        .await?
    {
        Written::Applied => {
            info!(user = %claims.user, "download link redeemed; new backup codes pending");
            Ok(RedeemedCodes {
                issued,
                expires_at: pending.expires_at,
            })
        }
        Written::ConditionFailed => {
            info!(user = %claims.user, "download link replaced or expired while redeemed");
            refused(svc, &claims, source, now).await;
            Err(RedeemError::LinkInvalid)
        }
    }
}

/// The owner saved the set `set_id` a redemption of this link showed: it becomes the only set
/// and the link is spent, in one write (the same as self-service activation, conditional on the
/// link's grant being the live one). Sent twice, the second answers as the first did.
#[tracing::instrument(skip_all)]
pub async fn activate<S: UserRecords + CodeSets + ?Sized>(
    svc: &Services<S>,
    links: &LinkSettings,
    token: &str,
    set_id: &str,
    source: &Source,
) -> Result<ActivatedSet, RedeemError> {
    let now = svc.clock.now();
    let claims = verified(links, token, now)?;
    let user = &claims.user;
    let Some(record) = svc.enrolled_record(user).await? else {
        refused(svc, &claims, source, now).await;
        return Err(RedeemError::LinkInvalid);
    };
    let linked = record
        .grant
        .as_ref()
        .is_some_and(|g| g.id == claims.grant.id && g.is_live(now));
    if linked {
        let grant = Some(claims.grant.id.as_str());
        match save_shown_set(svc, &record, set_id, grant, source, now).await? {
            ShownSet::Saved(activated) => {
                info!(user = %user, "emailed backup codes saved and activated");
                return Ok(activated);
            }
            ShownSet::NotPending => return Err(RedeemError::NotTheShownSet),
            // Lost to a second click, a new redemption or a new grant: the record says which.
            ShownSet::Lost => {
                let now_stored = svc.store.get_user(user).await?;
                return already_active(svc, &claims, now_stored.as_ref(), set_id, source, now)
                    .await;
            }
        }
    }
    already_active(svc, &claims, Some(&record), set_id, source, now).await
}

/// The link is no longer the live grant: the set it showed may be the one now in use (this
/// link's activation already happened: activating is what removes the grant, and a new grant
/// removes every set), or the link is dead.
async fn already_active<S: UserRecords + ?Sized>(
    svc: &Services<S>,
    claims: &LinkClaims,
    record: Option<&UserRecord>,
    set_id: &str,
    source: &Source,
    now: OffsetDateTime,
) -> Result<ActivatedSet, RedeemError> {
    match record
        .and_then(|r| r.codes.as_ref())
        .filter(|set| set.id == set_id)
    {
        Some(set) => Ok(ActivatedSet::of(set)),
        None => {
            refused(svc, claims, source, now).await;
            Err(RedeemError::LinkInvalid)
        }
    }
}

/// Signature and expiry first: a forged or stale token never reaches the store.
fn verified(
    links: &LinkSettings,
    token: &str,
    now: OffsetDateTime,
) -> Result<LinkClaims, RedeemError> {
    links.signer.verify(token, now).map_err(|reason| {
        info!(%reason, "download link refused");
        RedeemError::LinkInvalid
    })
}

/// A well-signed link that no longer works is worth a line in the trail: someone has it. Its
/// repeats within the hour are that one line with a count, so replaying it cannot flood the
/// trail or the bus.
async fn refused<S: ?Sized>(
    svc: &Services<S>,
    claims: &LinkClaims,
    source: &Source,
    now: OffsetDateTime,
) {
    svc.counted(SecurityEvent::repeated(
        EventKind::DownloadLinkRefused,
        &claims.user,
        Actor::User,
        source,
        &claims.grant.id,
        now,
    ))
    .await;
}
