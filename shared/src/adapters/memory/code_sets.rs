//! Backup code sets and the download grant an administrator's reset leaves.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{drop_grant, has_live_grant, spend_keeping_the_set, MemoryStore};
use crate::{
    domain::{
        attempts::ReservedAttempt,
        events::Recorded,
        link_token::{DownloadGrant, GrantClaim},
        proof::Proof,
        record::{PendingSet, UserRecord},
        user::UserId,
    },
    ports::{CodeSets, DownloadGrants, StoreError, Written},
};

#[async_trait]
impl CodeSets for MemoryStore {
    async fn put_pending_set(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        pending: &PendingSet,
        at: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.behind_proof(user, attempt, proof, |record| {
                spend_keeping_the_set(record, proof, at);
                record.pending_codes = Some(pending.clone());
            }),
        ))
    }

    async fn activate_pending_set(
        &self,
        user: &UserId,
        set_id: &str,
        through_grant: Option<&str>,
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_users(|users| match users.get_mut(user) {
                Some(record)
                    if record.is_enrolled()
                        && through_grant.is_none_or(|grant| has_live_grant(record, grant, now))
                        && record
                            .pending_codes
                            .as_ref()
                            .is_some_and(|p| p.set.id == set_id && p.is_live(now)) =>
                {
                    record.codes = record.pending_codes.take().map(|p| p.set);
                    drop_grant(record);
                    record.totp.replacement = None;
                    Written::Applied
                }
                _ => Written::ConditionFailed,
            }),
        ))
    }

    async fn remove_code_sets(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.behind_proof(user, attempt, proof, |record| {
                if let Proof::Totp { step } = proof {
                    record.totp.last_step = *step;
                }
                // A backup code as the proof goes with the set it belonged to.
                record.codes = None;
                record.pending_codes = None;
                drop_grant(record);
                record.totp.replacement = None;
            }),
        ))
    }
}

#[async_trait]
impl DownloadGrants for MemoryStore {
    async fn grant_download(
        &self,
        user: &UserId,
        grant: &DownloadGrant,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_users(|users| match users.get_mut(user) {
                Some(record) if record.is_enrolled() => {
                    record.codes = None;
                    record.pending_codes = None;
                    // A hold on an earlier grant holds nothing now, and counts nothing.
                    drop_grant(record);
                    record.grant = Some(grant.clone());
                    record.totp.replacement = None;
                    Written::Applied
                }
                _ => Written::ConditionFailed,
            }),
        ))
    }

    async fn claim_download(
        &self,
        user: &UserId,
        claim: &GrantClaim,
        now: OffsetDateTime,
    ) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.with_users(|users| match users.get_mut(user) {
            Some(record)
                if has_live_grant(record, &claim.grant_id, now)
                    && record.grant_redemptions < DownloadGrant::MAX_REDEMPTIONS
                    && !record
                        .grant_claim
                        .as_ref()
                        .is_some_and(|held| held.holds(&claim.grant_id, now)) =>
            {
                record.grant_claim = Some(claim.clone());
                record.grant_redemptions += 1;
                Some(record.clone())
            }
            _ => None,
        }))
    }

    async fn redeem_download(
        &self,
        user: &UserId,
        claim: &GrantClaim,
        now: OffsetDateTime,
        pending: &PendingSet,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_users(|users| match users.get_mut(user) {
                Some(record)
                    if has_live_grant(record, &claim.grant_id, now)
                        && record.grant_claim.as_ref() == Some(claim) =>
                {
                    record.grant_claim = None;
                    record.pending_codes = Some(pending.clone());
                    record.totp.replacement = None;
                    Written::Applied
                }
                _ => Written::ConditionFailed,
            }),
        ))
    }
}
