//! DynamoDB store. One item per user (`pk = user#<id>`); the backup codes live in a map from
//! code hash to the time it was used (0 while unused), so marking a code used is one conditional
//! `UpdateItem` on that map entry, which DynamoDB serializes per item.

mod account_settings;
mod audit;
mod code_sets;
mod deliveries;
mod expressions;
mod factor;
mod item;
mod mail_budget;
mod memberships;
mod records;
mod recovery;
mod recovery_lists;
pub mod stream;
mod table;

use std::collections::HashMap;

pub use self::audit::{AUDIT_INDEX, AUDIT_SORT_KEY, AUDIT_USER};
pub use self::memberships::{MEMBERS_INDEX, MEMBER_OF, MEMBER_USER};
pub use self::table::ensure_table;

use self::item::{corrupt, get_n, get_s, parse_record, timestamp, Item};

use aws_sdk_dynamodb::{
    error::SdkError,
    operation::transact_write_items::TransactWriteItemsError,
    operation::update_item::{builders::UpdateItemFluentBuilder, UpdateItemError},
    primitives::Blob,
    types::{
        AttributeValue, KeysAndAttributes, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
        TransactWriteItem, Update,
    },
    Client,
};
use backon::{BackoffBuilder, ExponentialBuilder, Retryable};

use crate::{
    domain::{
        attempts::{LockoutPolicy, Reservation, ReservedAttempt},
        events::Recorded,
        record::UserRecord,
        user::UserId,
    },
    ports::{StoreError, Written},
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
const SET_ATTRIBUTES: &str = "set_id, set_salt, set_cost, set_generated_at, codes, code_lines";
/// The grant, and the redemption holding it (see `GrantClaim`): removed together, always.
const GRANT_ATTRIBUTES: &str =
    "grant_id, grant_expires_at, grant_claim, grant_claim_until, grant_redemptions";
/// A regenerated set waiting to be activated: the active set's attributes, `pending_` first,
/// and when it is dropped.
const PENDING_SET_ATTRIBUTES: &str = "pending_set_id, pending_set_salt, pending_set_cost, \
     pending_set_generated_at, pending_codes, pending_code_lines, pending_set_expires_at";
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
/// How the challenge was passed, and the backup codes left: what the ID token is told.
const SIGN_IN_PASS_METHOD: &str = "sign_in_pass_method";
const SIGN_IN_PASS_CODES: &str = "sign_in_pass_codes";
/// The whole pass: left together, consumed together.
const SIGN_IN_PASS_ATTRIBUTES: &str =
    "sign_in_pass_until, sign_in_pass_client, sign_in_pass_method, sign_in_pass_codes";
/// Everything a user's second factor is: removing it all leaves the user as before enrollment
/// (an item with only its key, which `get_user` reads as no record).
const FACTOR_ATTRIBUTES: &str = "totp_state, totp_secret, totp_last_step, totp_since, \
     replacement_secret, replacement_expires_at, replacement_started_at, replacement_ip, \
     replacement_agent, email, expires_at, \
     set_id, set_salt, set_cost, set_generated_at, codes, code_lines, pending_set_id, \
     pending_set_salt, pending_set_cost, pending_set_generated_at, pending_codes, \
     pending_code_lines, pending_set_expires_at, \
     grant_id, grant_expires_at, grant_claim, grant_claim_until, grant_redemptions, \
     attempts, attempts_until, failures, locked_until, sign_in_pass_until, sign_in_pass_client, \
     sign_in_pass_method, sign_in_pass_codes";
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

/// How many times a batch read is sent while DynamoDB leaves some of its keys unprocessed.
const BATCH_READ_SENDS: usize = 4;

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
        let items = vec![TransactWriteItem::builder().update(update).build()];
        self.transact(items, records, operation).await
    }

    /// `items`, each conditional, and the events `records` keeps, in one transaction: a failed
    /// condition on any item is `ConditionFailed`, and nothing is written.
    async fn transact(
        &self,
        mut items: Vec<TransactWriteItem>,
        records: &[Recorded],
        operation: &'static str,
    ) -> Result<Written, StoreError> {
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

    /// The items of `keys` (at most 100, each a whole key), read consistently in one
    /// `BatchGetItem`. Keys DynamoDB leaves unprocessed (a throttled partition) are asked for
    /// again after a growing pause, a bounded number of times: past that, the store is as
    /// unavailable as a failed request.
    async fn batch_get(
        &self,
        keys: Vec<Item>,
        operation: &'static str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = vec![];
        if keys.is_empty() {
            return Ok(items);
        }
        let mut pauses = ExponentialBuilder::default()
            .with_min_delay(std::time::Duration::from_millis(20))
            .with_max_times(BATCH_READ_SENDS - 1)
            .with_jitter()
            .build();
        let wanted = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|e| request_failed_with(operation, e))?;
        let mut pending: HashMap<String, KeysAndAttributes> = [(self.table.clone(), wanted)].into();
        loop {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(|e| request_failed_with(operation, e))?;
            items.extend(out.responses.unwrap_or_default().into_values().flatten());
            pending = out.unprocessed_keys.unwrap_or_default();
            if pending.is_empty() {
                return Ok(items);
            }
            let Some(pause) = pauses.next() else {
                return Err(StoreError::Request {
                    operation,
                    source: "keys stayed unprocessed after every try".into(),
                });
            };
            tokio::time::sleep(pause).await;
        }
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

/// Why DynamoDB cancelled a transaction, in the order that decides: one of our conditions
/// failed (a lost race, nothing written; the events' puts carry none), or a concurrent write
/// got in the way.
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
    if codes.contains(&"ConditionalCheckFailed") {
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
