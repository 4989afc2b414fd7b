//! What admins and support read of recovery requests. Each account's queue is one item
//! (`recovery-queue#<account>`): its open requests in a map by id, and the latest day's count of
//! filings. A filing writes it whole, conditional on the version it read; a closing takes its
//! entry out and moves the version on, so a filing that read before it reads again rather than
//! bring the entry back.

use async_trait::async_trait;
use aws_sdk_dynamodb::{
    error::BuildError,
    types::{AttributeValue, Put, Update},
};
use time::OffsetDateTime;

use super::{
    item::{corrupt, get_n, get_s, timestamp, Item},
    memberships::{MEMBERS_INDEX, MEMBER_OF, MEMBER_USER},
    n,
    recovery::{id_key, parse_request, request_key, OPEN_PARTITION},
    request_failed_with, s, DynamoStore, PARTITION_KEY,
};
use crate::{
    domain::{
        account::AccountId,
        events::{Source, UserAgent},
        recovery::RecoveryRequest,
        recovery_queue::{AccountQueue, QueuedRequest},
        user::UserId,
    },
    ports::{RecoveryFiling, RecoveryLists, RequestPage, RequestPosition, StoreError},
};

const VERSION: &str = "version";
const OPEN: &str = "open";

fn queue_key(account: &AccountId) -> AttributeValue {
    s(format!("recovery-queue#{account}"))
}

fn queued_value(queued: &QueuedRequest) -> AttributeValue {
    let mut entry: Item = [
        ("user_id".to_owned(), s(queued.user.as_str())),
        ("filed_at".to_owned(), n(queued.filed_at.unix_timestamp())),
        (
            "source_reported".to_owned(),
            AttributeValue::Bool(queued.source.reported),
        ),
    ]
    .into();
    if let Some(ip) = queued.source.ip {
        entry.insert("ip".to_owned(), s(ip.to_string()));
    }
    if let Some(agent) = &queued.source.user_agent {
        entry.insert("user_agent".to_owned(), s(agent.as_str()));
    }
    AttributeValue::M(entry)
}

fn parse_queued(id: &str, value: &AttributeValue) -> Result<QueuedRequest, StoreError> {
    let entry = value.as_m().map_err(|_| corrupt("queued request"))?;
    Ok(QueuedRequest {
        id: id.to_owned(),
        user: get_s(entry, "user_id")
            .and_then(|raw| UserId::parse(raw).ok())
            .ok_or_else(|| corrupt("queued user_id"))?,
        filed_at: get_n(entry, "filed_at")
            .ok_or_else(|| corrupt("queued filed_at"))
            .and_then(timestamp)?,
        source: Source {
            ip: get_s(entry, "ip").and_then(|ip| ip.parse().ok()),
            user_agent: get_s(entry, "user_agent").and_then(UserAgent::from_header),
            reported: matches!(
                entry.get("source_reported"),
                Some(AttributeValue::Bool(true))
            ),
        },
    })
}

/// A queue item as read; a closing may have made one with only its version.
fn parse_queue(account: &AccountId, item: &Item) -> Result<AccountQueue, StoreError> {
    let open = match item.get(OPEN) {
        Some(AttributeValue::M(entries)) => entries
            .iter()
            .map(|(id, value)| parse_queued(id, value))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(corrupt("queue open")),
        None => vec![],
    };
    let count = |name| get_n(item, name).unwrap_or(0);
    Ok(AccountQueue {
        account: account.clone(),
        version: count(VERSION).try_into().map_err(|_| corrupt(VERSION))?,
        day: count("day"),
        filed_that_day: count("filed_that_day")
            .try_into()
            .map_err(|_| corrupt("filed_that_day"))?,
        open,
    })
}

/// The write of `queue` (its new version), when the stored one is still the version before.
pub(super) fn queue_put(store: &DynamoStore, queue: &AccountQueue) -> Result<Put, BuildError> {
    let open = queue
        .open
        .iter()
        .map(|queued| (queued.id.clone(), queued_value(queued)))
        .collect();
    let put = Put::builder()
        .table_name(&store.table)
        .item(PARTITION_KEY, queue_key(&queue.account))
        .item(VERSION, n(queue.version))
        .item("day", n(queue.day))
        .item("filed_that_day", n(queue.filed_that_day))
        .item(OPEN, AttributeValue::M(open));
    let seen = queue.version.saturating_sub(1);
    let put = if seen == 0 {
        put.condition_expression("attribute_not_exists(#version) OR #version = :zero")
            .expression_attribute_values(":zero", n(0))
    } else {
        put.condition_expression("#version = :seen")
            .expression_attribute_values(":seen", n(seen))
    };
    put.expression_attribute_names("#version", VERSION).build()
}

/// Takes request `id` out of `account`'s queue and moves its version on.
pub(super) fn queue_leave(
    store: &DynamoStore,
    account: &AccountId,
    id: &str,
) -> Result<Update, BuildError> {
    Update::builder()
        .table_name(&store.table)
        .key(PARTITION_KEY, queue_key(account))
        .update_expression("ADD #version :one REMOVE #open.#id")
        .expression_attribute_names("#version", VERSION)
        .expression_attribute_names("#open", OPEN)
        .expression_attribute_names("#id", id)
        .expression_attribute_values(":one", n(1))
        .build()
}

/// Puts `request` back in `account`'s queue and moves its version on.
pub(super) fn queue_return(
    store: &DynamoStore,
    account: &AccountId,
    request: &RecoveryRequest,
) -> Result<Update, BuildError> {
    Update::builder()
        .table_name(&store.table)
        .key(PARTITION_KEY, queue_key(account))
        .update_expression("SET #open.#id = :entry ADD #version :one")
        .expression_attribute_names("#version", VERSION)
        .expression_attribute_names("#open", OPEN)
        .expression_attribute_names("#id", &request.id)
        .expression_attribute_values(":entry", queued_value(&QueuedRequest::of(request)))
        .expression_attribute_values(":one", n(1))
        .build()
}

pub(super) async fn read_queues(
    store: &DynamoStore,
    accounts: &[AccountId],
) -> Result<Vec<AccountQueue>, StoreError> {
    let keys = accounts
        .iter()
        .map(|account| [(PARTITION_KEY.to_owned(), queue_key(account))].into())
        .collect();
    let items = store
        .batch_get(keys, "read accounts' recovery queues")
        .await?;
    accounts
        .iter()
        .map(|account| {
            let key = queue_key(account);
            match items
                .iter()
                .find(|item| item.get(PARTITION_KEY) == Some(&key))
            {
                Some(item) => parse_queue(account, item),
                None => Ok(AccountQueue::empty(account)),
            }
        })
        .collect()
}

#[async_trait]
impl RecoveryLists for DynamoStore {
    async fn queue_of(&self, account: &AccountId) -> Result<AccountQueue, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, queue_key(account))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| request_failed_with("read an account's recovery queue", e))?;
        match &out.item {
            Some(item) => parse_queue(account, item),
            None => Ok(AccountQueue::empty(account)),
        }
    }

    async fn request_by_id(&self, id: &str) -> Result<Option<RecoveryRequest>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, id_key(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| request_failed_with("find a recovery request", e))?;
        let Some(user) = out.item.as_ref().and_then(|item| get_s(item, "user_id")) else {
            return Ok(None);
        };
        let user = UserId::parse(user).map_err(|_| corrupt("recovery pointer user_id"))?;
        // The user's latest request may be a newer one: the id says which was meant.
        Ok(self.request_of(&user).await?.filter(|r| r.id == id))
    }

    async fn open_requests(
        &self,
        limit: usize,
        after: Option<&RequestPosition>,
    ) -> Result<RequestPage, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(MEMBERS_INDEX)
            .key_condition_expression("#of = :open")
            .expression_attribute_names("#of", MEMBER_OF)
            .expression_attribute_values(":open", s(OPEN_PARTITION))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
        if let Some(after) = after {
            query = query
                .exclusive_start_key(MEMBER_OF, s(OPEN_PARTITION))
                .exclusive_start_key(MEMBER_USER, s(after.sort_key()))
                .exclusive_start_key(PARTITION_KEY, request_key(&after.user));
        }
        let found = query
            .send()
            .await
            .map_err(|e| request_failed_with("list open recovery requests", e))?;
        let mut requests = found
            .items()
            .iter()
            .map(parse_request)
            .collect::<Result<Vec<_>, _>>()?;
        // One more than asked says a next page exists; so does a read DynamoDB cut short.
        let more = requests.len() > limit || found.last_evaluated_key().is_some();
        requests.truncate(limit);
        let next = more
            .then(|| requests.last().map(RequestPosition::of))
            .flatten();
        Ok(RequestPage { requests, next })
    }

    async fn filed_before(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<RecoveryRequest>, StoreError> {
        // Every position of a request filed at or after `before` sorts above this one.
        let bound = format!("{:012}", before.unix_timestamp());
        let found = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(MEMBERS_INDEX)
            .key_condition_expression("#of = :open AND #position < :bound")
            .expression_attribute_names("#of", MEMBER_OF)
            .expression_attribute_names("#position", MEMBER_USER)
            .expression_attribute_values(":open", s(OPEN_PARTITION))
            .expression_attribute_values(":bound", s(bound))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| request_failed_with("list expired recovery requests", e))?;
        found.items().iter().map(parse_request).collect()
    }
}
