//! DynamoDB store. One item per user (`pk = user#<id>`); the backup codes live in a map from
//! code hash to the time it was used (0 while unused), so marking a code used is one conditional
//! `UpdateItem` on that map entry, which DynamoDB serializes per item.

mod audit;
mod deliveries;
mod expressions;
mod item;
mod mail_budget;
pub mod stream;
mod table;

use std::collections::HashMap;

pub use self::audit::{AUDIT_INDEX, AUDIT_SORT_KEY, AUDIT_USER};
pub use self::table::ensure_table;

use self::expressions::{
    holding, leaving, spending, with_pending_set, with_set, PENDING_SET_CLAUSE, SET_CLAUSE,
};
use self::item::{corrupt, get_n, get_s, parse_ledger, parse_record, timestamp, Item};

use async_trait::async_trait;
use aws_sdk_dynamodb::{
    error::SdkError,
    operation::transact_write_items::TransactWriteItemsError,
    operation::update_item::{builders::UpdateItemFluentBuilder, UpdateItemError},
    primitives::Blob,
    types::{
        AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
        Update,
    },
    Client,
};
use backon::{ExponentialBuilder, Retryable};
use time::OffsetDateTime;

use crate::{
    domain::{
        attempts::{AttemptLedger, LockoutPolicy, Reservation, ReservedAttempt},
        events::Recorded,
        link_token::{DownloadGrant, GrantClaim},
        proof::Proof,
        record::{PendingSet, Replacement, UserRecord},
        sealing::SealedSecret,
        sign_in::{AppClient, SignInPass},
        user::{Email, UserId},
    },
    ports::{Activation, Adopting, IfPending, SpentCode, Store, StoreError, Written},
};

/// The table's only key attribute.
pub const PARTITION_KEY: &str = "pk";
/// The table's TTL attribute (epoch seconds). An enrollment that was started and never
/// confirmed, an unknown user's attempt ledger (see `reserve_reading`) and an audit event carry
/// a time; an enrolled user carries `NEVER_SWEPT`. A download grant lives on the user's item
/// (see `grant_download`) and simply stops working at its expiry.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// An enrolled user's `expires_at`: 9999-12-31T23:59:59Z, which the TTL never reaches. Its
/// presence is what tells a verify's reservation that the item is not an unknown user's.
pub const NEVER_SWEPT: i64 = 253_402_300_799;
const PENDING: &str = "pending";
const ACTIVE: &str = "active";
const SET_ATTRIBUTES: &str = "set_id, set_salt, set_cost, set_generated_at, codes";
/// The grant, and the redemption holding it (see `GrantClaim`): removed together, always.
const GRANT_ATTRIBUTES: &str =
    "grant_id, grant_expires_at, grant_claim, grant_claim_until, grant_redemptions";
/// A regenerated set waiting to be activated: the active set's attributes, `pending_` first,
/// and when it is dropped.
const PENDING_SET_ATTRIBUTES: &str = "pending_set_id, pending_set_salt, pending_set_cost, \
     pending_set_generated_at, pending_codes, pending_set_expires_at";
/// A replacement authenticator being set up, and when and where it was started: removed
/// together, always (confirmed, cancelled, or ended by the owner's or an admin's response).
const REPLACEMENT_ATTRIBUTES: &str = "replacement_secret, replacement_expires_at, \
     replacement_started_at, replacement_ip, replacement_agent";
/// The attempt ledger: reserved attempts and when their window closes (epoch seconds). An
/// accepting write removes both, and `failures` and `locked_until`, the lockout counters of
/// items written before the ledger existed.
const LEDGER_ATTRIBUTES: &str = "attempts, attempts_until, failures, locked_until";
/// A Cognito sign-in's passed challenge: epoch seconds it lasts until, and the app client it
/// was left for; see `SignInPass`.
const SIGN_IN_PASS: &str = "sign_in_pass_until";
const SIGN_IN_PASS_CLIENT: &str = "sign_in_pass_client";
/// Everything a user's second factor is: removing it all leaves the user as before enrollment
/// (an item with only its key, which `get_user` reads as no record).
const FACTOR_ATTRIBUTES: &str = "totp_state, totp_secret, totp_last_step, totp_since, \
     replacement_secret, replacement_expires_at, replacement_started_at, replacement_ip, \
     replacement_agent, email, expires_at, \
     set_id, set_salt, set_cost, set_generated_at, codes, pending_set_id, pending_set_salt, \
     pending_set_cost, pending_set_generated_at, pending_codes, pending_set_expires_at, \
     grant_id, grant_expires_at, grant_claim, grant_claim_until, grant_redemptions, \
     attempts, attempts_until, failures, locked_until, sign_in_pass_until, sign_in_pass_client";
/// Every accepting write's condition: the ledger still holds the caller's reservation.
const HOLDS_RESERVATION: &str = "attempts BETWEEN :ledger_one AND :ledger_max";

/// The SDK's tries per request, first included: a throttled or unreachable table answers 503
/// after this many, well inside the request deadline (`http::REQUEST_DEADLINE`). (Not the
/// attempt ledger's attempts, which count code checks.)
pub const SDK_TRIES_PER_REQUEST: u32 = 3;

/// Sends of a transaction that concurrent writes to its items cancel (`TransactionConflict`),
/// first included; before each resend a pause that doubles, with jitter (10-20 ms, then
/// 20-40 ms), so racing writers do not meet again at once.
pub const TRANSACTION_SENDS: usize = 3;

/// A DynamoDB client whose retries and timeouts are bounded, so a table that throttles or does
/// not answer costs a request a few seconds at most, never the whole Lambda timeout.
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    use aws_sdk_dynamodb::config::{retry::RetryConfig, timeout::TimeoutConfig};
    use std::time::Duration;
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(SDK_TRIES_PER_REQUEST)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_millis(400)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_millis(1500))
                .operation_timeout(Duration::from_secs(4))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// Gives a record enrolled before `NEVER_SWEPT` existed its mark, once, so that a verify's
    /// reservation can tell it from an unknown user's ledger.
    async fn mark_never_swept(&self, user: &UserId) -> Result<(), StoreError> {
        let request = self
            .update(user)
            .update_expression(format!("SET {TTL_ATTRIBUTE} = :never"))
            .condition_expression(format!(
                "attribute_exists(totp_state) AND attribute_not_exists({TTL_ATTRIBUTE})"
            ))
            .expression_attribute_values(":never", n(NEVER_SWEPT));
        conditional(request, "mark a record as never swept").await?;
        Ok(())
    }

    /// Applies the conditional `request` and keeps `records` in one atomic write: the update
    /// alone when it records nothing, else a transaction whose first item is the update, so a
    /// failed condition there is `ConditionFailed` and nothing is written.
    async fn change(
        &self,
        request: UpdateItemFluentBuilder,
        records: &[Recorded],
        operation: &'static str,
    ) -> Result<Written, StoreError> {
        if records.is_empty() {
            return Ok(written(conditional(request, operation).await?));
        }
        let input = request.as_input();
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(input.get_key().clone())
            .set_update_expression(input.get_update_expression().clone())
            .set_condition_expression(input.get_condition_expression().clone())
            .set_expression_attribute_names(input.get_expression_attribute_names().clone())
            .set_expression_attribute_values(input.get_expression_attribute_values().clone())
            .build()
            .map_err(|e| request_failed_with(operation, e))?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        for record in records {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(audit::item(record)))
                .build()
                .map_err(|e| request_failed_with(operation, e))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        // A transaction that meets a concurrent write to the same item is cancelled with
        // `TransactionConflict` rather than serialized behind it: sent again after a pause.
        let send = || async {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match sent {
                Ok(_) => Ok(Written::Applied),
                Err(err) => match cancellation(&err) {
                    Cancelled::ByCondition => Ok(Written::ConditionFailed),
                    Cancelled::ByConflict | Cancelled::Otherwise => Err(err),
                },
            }
        };
        let pauses = ExponentialBuilder::default()
            .with_min_delay(std::time::Duration::from_millis(10))
            .with_max_times(TRANSACTION_SENDS - 1)
            .with_jitter();
        send.retry(pauses)
            .when(|err| cancellation(err) == Cancelled::ByConflict)
            .await
            .map_err(|err| request_failed_with(operation, err))
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn update(&self, user: &UserId) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, user_key(user))
    }
}

/// Why DynamoDB cancelled a transaction, in the order that decides: our condition on the first
/// item failed (a lost race, nothing written), or a concurrent write got in the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cancelled {
    ByCondition,
    ByConflict,
    Otherwise,
}

fn cancellation<R>(err: &SdkError<TransactWriteItemsError, R>) -> Cancelled {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    else {
        return Cancelled::Otherwise;
    };
    let codes: Vec<_> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|reason| reason.code().unwrap_or("None"))
        .collect();
    if codes.first() == Some(&"ConditionalCheckFailed") {
        Cancelled::ByCondition
    } else if codes.contains(&"TransactionConflict") {
        Cancelled::ByConflict
    } else {
        Cancelled::Otherwise
    }
}

fn user_key(user: &UserId) -> AttributeValue {
    AttributeValue::S(format!("user#{user}"))
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn b(bytes: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(bytes))
}

fn request_failed_with(
    operation: &'static str,
    err: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Request {
        operation,
        source: Box::new(err),
    }
}

fn request_failed(
    operation: &'static str,
) -> impl FnOnce(SdkError<UpdateItemError, aws_sdk_dynamodb::config::http::HttpResponse>) -> StoreError
{
    move |err| StoreError::Request {
        operation,
        source: Box::new(err),
    }
}

/// Sends a conditional update, turning a failed condition into an outcome instead of an error.
pub(super) async fn conditional(
    request: UpdateItemFluentBuilder,
    operation: &'static str,
) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
    match request.send().await {
        Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
        {
            Ok(None)
        }
        Err(err) => Err(request_failed(operation)(err)),
    }
}

/// Sends a conditional update that answers the item after it applied, or as it was when its
/// condition failed (empty when there was no item).
pub(super) async fn reading(
    request: UpdateItemFluentBuilder,
    operation: &'static str,
) -> Result<Result<Item, Item>, StoreError> {
    let request = request
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    match request.send().await {
        Ok(out) => Ok(Ok(out.attributes.unwrap_or_default())),
        Err(err) => match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                Ok(Err(refused.item().cloned().unwrap_or_default()))
            }
            _ => Err(request_failed(operation)(err)),
        },
    }
}

/// The record and the reservation a counting write's answer holds.
fn reserved(
    user: &UserId,
    policy: &LockoutPolicy,
    item: &Item,
) -> Result<(Option<UserRecord>, Reservation), StoreError> {
    let number = get_n(item, "attempts")
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| corrupt("attempts"))?;
    let record = item
        .contains_key("totp_state")
        .then(|| parse_record(user, item))
        .transpose()?;
    Ok((
        record,
        Reservation::Reserved(ReservedAttempt::counted(policy, number)),
    ))
}

fn written(result: Option<HashMap<String, AttributeValue>>) -> Written {
    match result {
        Some(_) => Written::Applied,
        None => Written::ConditionFailed,
    }
}

#[async_trait]
impl Store for DynamoStore {
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

    async fn put_pending_totp(
        &self,
        user: &UserId,
        secret: &SealedSecret,
        abandoned_after: OffsetDateTime,
        if_pending: IfPending,
    ) -> Result<Written, StoreError> {
        let condition = match if_pending {
            IfPending::Replace => "attribute_not_exists(totp_state) OR totp_state = :pending",
            IfPending::Keep => "attribute_not_exists(totp_state)",
        };
        let request = self
            .update(user)
            .update_expression(format!(
                "SET totp_state = :pending, totp_secret = :secret, \
                 totp_last_step = if_not_exists(totp_last_step, :zero), {TTL_ATTRIBUTE} = :expires"
            ))
            .expression_attribute_values(":expires", n(abandoned_after.unix_timestamp()))
            .condition_expression(condition)
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":secret", b(&secret.0))
            .expression_attribute_values(":zero", n(0));
        Ok(written(
            conditional(request, "start a TOTP enrollment").await?,
        ))
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

    async fn activate_totp(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        activation: &Activation<'_>,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let Activation {
            adopting,
            step,
            email,
            first_set,
            pass,
            at,
        } = *activation;
        let (request, pass_clause) = leaving(holding(self.update(user), attempt), pass);
        let mut request = request.expression_attribute_values(":since", n(at.unix_timestamp()));
        let still_pending = match adopting {
            Adopting::Pending(_) => "totp_secret = :checked AND ",
            Adopting::SignInsOwn(_) => "",
        };
        let mut expression = format!(
            "SET totp_state = :active, totp_secret = :checked, totp_last_step = :step, \
             totp_since = :since, {TTL_ATTRIBUTE} = :never{pass_clause}"
        );
        let mut removed = vec![LEDGER_ATTRIBUTES];
        match email {
            Some(email) => {
                expression.push_str(", email = :email");
                request = request.expression_attribute_values(":email", s(email.as_str()));
            }
            None => removed.push("email"),
        }
        if let Some(set) = first_set {
            expression.push_str(&format!(", {SET_CLAUSE}"));
            request = with_set(request, set);
        }
        expression.push_str(&format!(" REMOVE {}", removed.join(", ")));
        let request = request
            .update_expression(expression)
            .condition_expression(format!(
                "totp_state = :pending AND {still_pending}totp_last_step < :step AND {HOLDS_RESERVATION}"
            ))
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":never", n(NEVER_SWEPT))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":checked", b(&adopting.secret().0))
            .expression_attribute_values(":step", n(step));
        self.change(request, records, "activate TOTP").await
    }

    async fn start_replacement(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        replacement: &Replacement,
        at: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let (request, spend, unspent) =
            spending(holding(self.update(user), attempt), proof, Some(at));
        // Where it was started replaces what an earlier replacement said, absent parts too.
        let mut set = String::from(
            "SET replacement_secret = :replacement, replacement_expires_at = :expires, \
             replacement_started_at = :started",
        );
        let mut removed = vec![LEDGER_ATTRIBUTES];
        let mut request = request.expression_attribute_values(
            ":started",
            n(replacement.started_at.unwrap_or(at).unix_timestamp()),
        );
        let from = &replacement.started_from;
        match from.ip {
            Some(ip) => {
                set.push_str(", replacement_ip = :ip");
                request = request.expression_attribute_values(":ip", s(ip.to_string()));
            }
            None => removed.push("replacement_ip"),
        }
        match &from.user_agent {
            Some(agent) => {
                set.push_str(", replacement_agent = :agent");
                request = request.expression_attribute_values(":agent", s(agent.as_str()));
            }
            None => removed.push("replacement_agent"),
        }
        let request = request
            .update_expression(format!("{set}{spend} REMOVE {}", removed.join(", ")))
            .condition_expression(format!(
                "totp_state = :active AND {unspent} AND {HOLDS_RESERVATION}"
            ))
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":replacement", b(&replacement.secret.0))
            .expression_attribute_values(":expires", n(replacement.expires_at.unix_timestamp()));
        self.change(request, records, "start replacing an authenticator")
            .await
    }

    async fn confirm_replacement(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        checked_secret: &SealedSecret,
        step: u64,
        at: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let request = holding(self.update(user), attempt)
            .update_expression(format!(
                "SET totp_secret = :checked, totp_last_step = :step, totp_since = :at \
                 REMOVE {REPLACEMENT_ATTRIBUTES}, {LEDGER_ATTRIBUTES}"
            ))
            .condition_expression(format!(
                "totp_state = :active AND replacement_secret = :checked \
                 AND replacement_expires_at > :at AND totp_last_step < :step AND {HOLDS_RESERVATION}"
            ))
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":checked", b(&checked_secret.0))
            .expression_attribute_values(":step", n(step))
            .expression_attribute_values(":at", n(at.unix_timestamp()));
        self.change(request, records, "confirm a replacement authenticator")
            .await
    }

    async fn cancel_replacement(
        &self,
        user: &UserId,
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let request = self
            .update(user)
            .update_expression(format!("REMOVE {REPLACEMENT_ATTRIBUTES}"))
            .condition_expression("totp_state = :active AND replacement_expires_at > :now")
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":now", n(now.unix_timestamp()));
        self.change(request, records, "cancel a replacement authenticator")
            .await
    }

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

    async fn consume_sign_in_pass(
        &self,
        user: &UserId,
        client: &AppClient,
        now: OffsetDateTime,
    ) -> Result<Written, StoreError> {
        // On a missing item the condition fails and nothing is created.
        let request = self
            .update(user)
            .update_expression(format!("REMOVE {SIGN_IN_PASS}, {SIGN_IN_PASS_CLIENT}"))
            .condition_expression(format!(
                "totp_state = :active AND {SIGN_IN_PASS} > :now AND {SIGN_IN_PASS_CLIENT} = :client"
            ))
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":client", s(client.as_str()))
            .expression_attribute_values(":now", n(now.unix_timestamp()));
        Ok(written(
            conditional(request, "consume a sign-in pass").await?,
        ))
    }

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

    async fn change_email(
        &self,
        user: &UserId,
        from: Option<&Email>,
        to: &Email,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let request = self
            .update(user)
            .update_expression("SET email = :to")
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":to", s(to.as_str()));
        let request = match from {
            Some(from) => request
                .condition_expression("totp_state = :active AND email = :from")
                .expression_attribute_values(":from", s(from.as_str())),
            None => {
                request.condition_expression("totp_state = :active AND attribute_not_exists(email)")
            }
        };
        self.change(request, records, "change a user's address")
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
                 codes = pending_codes REMOVE {PENDING_SET_ATTRIBUTES}, {GRANT_ATTRIBUTES}, \
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

    async fn disable_two_factor(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        // Whatever the proof is, it goes with the factor it belonged to: only its condition.
        let (request, _, unspent) = spending(holding(self.update(user), attempt), proof, None);
        let request = request
            .update_expression(format!("REMOVE {FACTOR_ATTRIBUTES}"))
            .condition_expression(format!(
                "totp_state = :active AND {unspent} AND {HOLDS_RESERVATION}"
            ))
            .expression_attribute_values(":active", s(ACTIVE));
        self.change(request, records, "turn two-factor off").await
    }

    async fn disable_two_factor_for(
        &self,
        user: &UserId,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let request = self
            .update(user)
            .update_expression(format!("REMOVE {FACTOR_ATTRIBUTES}"))
            .condition_expression("totp_state = :active")
            .expression_attribute_values(":active", s(ACTIVE));
        self.change(request, records, "turn a user's two-factor off")
            .await
    }

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
