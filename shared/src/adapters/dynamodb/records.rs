//! What every check reads and writes first: the record, its attempt ledger, a checked code spent,
//! and the sign-in pass.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use time::OffsetDateTime;

use super::{
    conditional,
    expressions::{holding, leaving},
    item::{corrupt, get_n, parse_ledger, parse_pass, parse_record},
    n, reading, reserved, s, user_key, DynamoStore, ACTIVE, HOLDS_RESERVATION, LEDGER_ATTRIBUTES,
    PARTITION_KEY, SIGN_IN_PASS, SIGN_IN_PASS_ATTRIBUTES, SIGN_IN_PASS_CLIENT, TTL_ATTRIBUTE,
};
use crate::{
    domain::{
        attempts::{AttemptLedger, LockoutPolicy, Reservation, ReservedAttempt},
        events::Recorded,
        record::UserRecord,
        sign_in::{AppClient, SignInPass},
        user::UserId,
    },
    ports::{
        Attempts, CodeUse, MemberRecords, SignInPasses, SpentCode, StoreError, UserRecords, Written,
    },
};

#[async_trait]
impl UserRecords for DynamoStore {
    async fn get_user(&self, user: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, user_key(user))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| StoreError::Request {
                operation: "read a user record",
                source: Box::new(err),
            })?;
        // Two-factor turned off, or an unknown user's counted checks, leave an item with no
        // factor on it: as if there were no record.
        out.item
            .filter(|item| item.contains_key("totp_state"))
            .map(|item| parse_record(user, &item))
            .transpose()
    }
}

#[async_trait]
impl MemberRecords for DynamoStore {
    async fn get_users(&self, users: &[UserId]) -> Result<Vec<UserRecord>, StoreError> {
        let keys = users
            .iter()
            .map(|user| [(PARTITION_KEY.to_owned(), user_key(user))].into())
            .collect();
        let items = self.batch_get(keys, "read members' records").await?;
        items
            .iter()
            .filter(|item| item.contains_key("totp_state"))
            .map(|item| {
                let user = item
                    .get(PARTITION_KEY)
                    .and_then(|key| key.as_s().ok())
                    .and_then(|key| key.strip_prefix("user#"))
                    .and_then(|raw| UserId::parse(raw).ok())
                    .ok_or_else(|| corrupt(PARTITION_KEY))?;
                parse_record(&user, item)
            })
            .collect()
    }
}

#[async_trait]
impl Attempts for DynamoStore {
    async fn reserve_reading(
        &self,
        user: &UserId,
        policy: &LockoutPolicy,
        now: OffsetDateTime,
    ) -> Result<(Option<UserRecord>, Reservation), StoreError> {
        let until = now + policy.duration;
        let sweep = n((now + policy.longest_window()).unix_timestamp());
        // A few rounds at most: each refused write answers the item as it was, which says why
        // (a full ledger ends it; a closed window or an unmarked record takes one more write).
        for _ in 0..3 {
            // Counting in a live window (or the first window) is an increment concurrent checks
            // can all apply until the threshold. Only an item without `expires_at` gets one:
            // an unknown user's ledger, which the TTL then sweeps once any window it can
            // open has closed; an enrolled user's item carries `NEVER_SWEPT`.
            let counted = self
                .update(user)
                .update_expression(format!(
                    "SET attempts = if_not_exists(attempts, :zero) + :one, attempts_until = :until, \
                     {TTL_ATTRIBUTE} = if_not_exists({TTL_ATTRIBUTE}, :sweep)"
                ))
                .condition_expression(format!(
                    "(attribute_exists({TTL_ATTRIBUTE}) OR attribute_not_exists(totp_state)) \
                     AND (attribute_not_exists(attempts_until) \
                     OR (attempts_until > :now AND attempts < :threshold))"
                ))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":until", n(until.unix_timestamp()))
                .expression_attribute_values(":now", n(now.unix_timestamp()))
                .expression_attribute_values(":threshold", n(policy.threshold))
                .expression_attribute_values(":sweep", sweep.clone());
            let old = match reading(counted, "reserve a code check").await? {
                Ok(item) => return reserved(user, policy, &item),
                Err(old) => old,
            };
            let known = old.contains_key("totp_state");
            if known && !old.contains_key(TTL_ATTRIBUTE) {
                self.mark_never_swept(user).await?;
                continue;
            }
            let ledger = parse_ledger(&old)?;
            let record = known.then(|| parse_record(user, &old)).transpose()?;
            if ledger.is_locked(policy, now) {
                let until = ledger.window_ends.unwrap_or(until);
                return Ok((record, Reservation::Locked { until }));
            }
            if ledger.is_live(now) || ledger.window_ends.is_none() {
                continue; // the item changed between the write and its answer: count again
            }
            // The window closed: open a new one, which only one of many racing checks does. An
            // unknown user's ledger is swept once the windows it can open from now have closed.
            let opened = self
                .update(user)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":until", n(until.unix_timestamp()))
                .expression_attribute_values(":now", n(now.unix_timestamp()));
            let opened = match known {
                true => opened
                    .update_expression("SET attempts = :one, attempts_until = :until")
                    .condition_expression(
                        "attribute_exists(totp_state) AND attempts_until <= :now",
                    ),
                false => opened
                    .update_expression(format!(
                        "SET attempts = :one, attempts_until = :until, {TTL_ATTRIBUTE} = :sweep"
                    ))
                    .condition_expression(
                        "attribute_not_exists(totp_state) AND attempts_until <= :now",
                    )
                    .expression_attribute_values(":sweep", sweep.clone()),
            };
            if let Ok(item) = reading(opened, "reserve a code check").await? {
                return reserved(user, policy, &item);
            }
        }
        // Still refused: concurrent checks are filling the ledger just now.
        let record = self.get_user(user).await?;
        Ok((record, Reservation::Locked { until }))
    }

    async fn reserve_attempt(
        &self,
        user: &UserId,
        policy: &LockoutPolicy,
        now: OffsetDateTime,
        seen: &AttemptLedger,
    ) -> Result<Reservation, StoreError> {
        let until = now + policy.duration;
        // Counting in the live window is an ADD-like increment that concurrent requests can all
        // apply until the threshold; opening a new window (none yet, or the last one closed)
        // is a reset that only one of them wins. Start with the one the read suggests.
        let increment = || {
            self.update(user)
                .update_expression(
                    "SET attempts = if_not_exists(attempts, :zero) + :one, attempts_until = :until",
                )
                .condition_expression(
                    "attribute_exists(totp_state) AND (attribute_not_exists(attempts_until) \
                     OR (attempts_until > :now AND attempts < :threshold))",
                )
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":threshold", n(policy.threshold))
        };
        let new_window = || {
            self.update(user)
                .update_expression("SET attempts = :one, attempts_until = :until")
                .condition_expression("attribute_exists(totp_state) AND attempts_until <= :now")
        };
        let closed = seen.window_ends.is_some() && !seen.is_live(now);
        let mut order = [increment(), new_window()];
        if closed {
            order.reverse();
        }
        for request in order {
            let request = request
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":until", n(until.unix_timestamp()))
                .expression_attribute_values(":now", n(now.unix_timestamp()))
                .return_values(ReturnValue::UpdatedNew);
            if let Some(updated) = conditional(request, "reserve a code check").await? {
                let number = get_n(&updated, "attempts")
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| corrupt("attempts"))?;
                return Ok(Reservation::Reserved(ReservedAttempt::counted(
                    policy, number,
                )));
            }
        }
        // Refused although the read saw room: concurrent checks filled it just now, each
        // moving its window to about `until`. (Or, rarely, the record appeared or went since
        // the read: refusing that one check costs nothing.)
        Ok(Reservation::Locked {
            until: seen
                .window_ends
                .filter(|_| seen.is_locked(policy, now))
                .unwrap_or(until),
        })
    }
}

#[async_trait]
impl CodeUse for DynamoStore {
    async fn use_totp_step(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        step: u64,
        pass: Option<&SignInPass>,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let (request, pass_clause) = leaving(holding(self.update(user), attempt), pass);
        let request = request
            .update_expression(format!(
                "SET totp_last_step = :step{pass_clause} REMOVE {LEDGER_ATTRIBUTES}"
            ))
            .condition_expression(format!(
                "totp_state = :active AND totp_last_step < :step AND {HOLDS_RESERVATION}"
            ))
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":step", n(step));
        self.change(request, records, "record a TOTP step").await
    }

    async fn use_backup_code(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        code: &SpentCode<'_>,
        pass: Option<&SignInPass>,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let SpentCode { set_id, hash, at } = *code;
        let (request, pass_clause) = leaving(holding(self.update(user), attempt), pass);
        let request = request
            .update_expression(format!(
                "SET codes.#code = :used_at{pass_clause} REMOVE {LEDGER_ATTRIBUTES}"
            ))
            .condition_expression(format!(
                "set_id = :set_id AND codes.#code = :unused AND {HOLDS_RESERVATION}"
            ))
            .expression_attribute_names("#code", hash.to_hex())
            .expression_attribute_values(":used_at", n(at.unix_timestamp().max(1)))
            .expression_attribute_values(":set_id", s(set_id))
            .expression_attribute_values(":unused", n(0));
        self.change(request, records, "use a backup code").await
    }
}

#[async_trait]
impl SignInPasses for DynamoStore {
    async fn consume_sign_in_pass(
        &self,
        user: &UserId,
        client: &AppClient,
        now: OffsetDateTime,
    ) -> Result<Option<SignInPass>, StoreError> {
        // On a missing item the condition fails and nothing is created. The write answers the
        // attributes it removed: the pass, as it was.
        let request = self
            .update(user)
            .update_expression(format!("REMOVE {SIGN_IN_PASS_ATTRIBUTES}"))
            .return_values(ReturnValue::UpdatedOld)
            .condition_expression(format!(
                "totp_state = :active AND {SIGN_IN_PASS} > :now AND {SIGN_IN_PASS_CLIENT} = :client"
            ))
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":client", s(client.as_str()))
            .expression_attribute_values(":now", n(now.unix_timestamp()));
        match conditional(request, "consume a sign-in pass").await? {
            Some(removed) => parse_pass(&removed),
            None => Ok(None),
        }
    }
}
