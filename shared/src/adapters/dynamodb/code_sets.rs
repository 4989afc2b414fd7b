//! Backup code sets and the download grant an administrator's reset leaves.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use time::OffsetDateTime;

use super::{
    conditional,
    expressions::{holding, spending, with_pending_set, PENDING_SET_CLAUSE},
    item::parse_record,
    n, s, DynamoStore, ACTIVE, GRANT_ATTRIBUTES, HOLDS_RESERVATION, LEDGER_ATTRIBUTES,
    PENDING_SET_ATTRIBUTES, REPLACEMENT_ATTRIBUTES, SET_ATTRIBUTES,
};
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
impl CodeSets for DynamoStore {
    async fn put_pending_set(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        pending: &PendingSet,
        at: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let (request, spend, unspent) =
            spending(holding(self.update(user), attempt), proof, Some(at));
        let request = with_pending_set(request, pending)
            .update_expression(format!(
                "SET {PENDING_SET_CLAUSE}{spend} REMOVE {LEDGER_ATTRIBUTES}"
            ))
            .condition_expression(format!(
                "totp_state = :active AND {unspent} AND {HOLDS_RESERVATION}"
            ))
            .expression_attribute_values(":active", s(ACTIVE));
        self.change(request, records, "put a pending backup code set")
            .await
    }

    async fn activate_pending_set(
        &self,
        user: &UserId,
        set_id: &str,
        through_grant: Option<&str>,
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let grant_condition = if through_grant.is_some() {
            " AND grant_id = :grant AND grant_expires_at > :now"
        } else {
            ""
        };
        // Each active attribute takes its pending twin's value, in the same write.
        let request = self
            .update(user)
            .update_expression(format!(
                "SET set_id = pending_set_id, set_salt = pending_set_salt, \
                 set_cost = pending_set_cost, set_generated_at = pending_set_generated_at, \
                 codes = pending_codes, code_lines = pending_code_lines REMOVE {PENDING_SET_ATTRIBUTES}, {GRANT_ATTRIBUTES}, \
                 {REPLACEMENT_ATTRIBUTES}"
            ))
            .condition_expression(format!(
                "totp_state = :active AND pending_set_id = :id AND pending_set_expires_at > :now\
                 {grant_condition}"
            ))
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":id", s(set_id))
            .expression_attribute_values(":now", n(now.unix_timestamp()));
        let request = match through_grant {
            Some(grant) => request.expression_attribute_values(":grant", s(grant)),
            None => request,
        };
        self.change(request, records, "activate a pending backup code set")
            .await
    }

    async fn remove_code_sets(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        // The sets go, so a backup code as the proof is spent by going with them.
        let (request, spend, unspent) = spending(holding(self.update(user), attempt), proof, None);
        let spend = spend
            .strip_prefix(", ")
            .map_or(String::new(), |s| format!("SET {s} "));
        let request = request
            .update_expression(format!(
                "{spend}REMOVE {SET_ATTRIBUTES}, {PENDING_SET_ATTRIBUTES}, {GRANT_ATTRIBUTES}, \
                 {REPLACEMENT_ATTRIBUTES}, {LEDGER_ATTRIBUTES}"
            ))
            .condition_expression(format!(
                "totp_state = :active AND {unspent} AND {HOLDS_RESERVATION}"
            ))
            .expression_attribute_values(":active", s(ACTIVE));
        self.change(request, records, "remove the backup code sets")
            .await
    }
}

#[async_trait]
impl DownloadGrants for DynamoStore {
    async fn grant_download(
        &self,
        user: &UserId,
        grant: &DownloadGrant,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let request = self
            .update(user)
            .update_expression(format!(
                "SET grant_id = :grant, grant_expires_at = :expires, grant_redemptions = :none \
                 REMOVE grant_claim, grant_claim_until, {SET_ATTRIBUTES}, \
                 {PENDING_SET_ATTRIBUTES}, {REPLACEMENT_ATTRIBUTES}"
            ))
            .condition_expression("totp_state = :active")
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":grant", s(&grant.id))
            .expression_attribute_values(":expires", n(grant.expires_at.unix_timestamp()))
            .expression_attribute_values(":none", n(0));
        self.change(request, records, "grant a download").await
    }

    async fn claim_download(
        &self,
        user: &UserId,
        claim: &GrantClaim,
        now: OffsetDateTime,
    ) -> Result<Option<UserRecord>, StoreError> {
        let request = self
            .update(user)
            .update_expression(
                "SET grant_claim = :claim, grant_claim_until = :until ADD grant_redemptions :one",
            )
            .condition_expression(
                "totp_state = :active AND grant_id = :grant AND grant_expires_at > :now \
                 AND (attribute_not_exists(grant_claim_until) OR grant_claim_until <= :now) \
                 AND (attribute_not_exists(grant_redemptions) OR grant_redemptions < :most)",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":most", n(DownloadGrant::MAX_REDEMPTIONS))
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":grant", s(&claim.grant_id))
            .expression_attribute_values(":claim", s(&claim.id))
            .expression_attribute_values(":until", n(claim.until.unix_timestamp()))
            .expression_attribute_values(":now", n(now.unix_timestamp()))
            .return_values(ReturnValue::AllNew);
        conditional(request, "claim a download")
            .await?
            .map(|item| parse_record(user, &item))
            .transpose()
    }

    async fn redeem_download(
        &self,
        user: &UserId,
        claim: &GrantClaim,
        now: OffsetDateTime,
        pending: &PendingSet,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let request = with_pending_set(self.update(user), pending)
            .update_expression(format!(
                "SET {PENDING_SET_CLAUSE} REMOVE grant_claim, grant_claim_until, \
                 {REPLACEMENT_ATTRIBUTES}"
            ))
            .condition_expression(
                "totp_state = :active AND grant_id = :grant AND grant_claim = :claim \
                 AND grant_expires_at > :now",
            )
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":grant", s(&claim.grant_id))
            .expression_attribute_values(":claim", s(&claim.id))
            .expression_attribute_values(":now", n(now.unix_timestamp()));
        self.change(request, records, "redeem a download").await
    }
}
