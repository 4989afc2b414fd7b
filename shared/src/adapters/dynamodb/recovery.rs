//! Each user's latest recovery request, one item `recovery#<user>`: filed by a conditional put
//! (no request open now) with a pointer from its id (`recovery-id#<id>`) and its accounts'
//! queues (`recovery_lists.rs`), closed by a conditional update (this request, still open) that
//! takes it out of them, each with its events in one transaction. While open, it is in the
//! members index under a partition no account id can be (`OPEN_PARTITION`): the platform's list
//! and the expiry sweep read it there. The table's TTL sweeps the items 30 days after the
//! request would expire, so an answer to a closed request still finds it closed for weeks.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::{
    conditional,
    item::{corrupt, get_n, get_s, timestamp, Item},
    memberships::{MEMBER_OF, MEMBER_USER},
    n, recovery_lists, request_failed_with, s, DynamoStore, PARTITION_KEY, TTL_ATTRIBUTE,
};
use crate::{
    domain::{
        account::AccountId,
        events::{Recorded, Source, UserAgent},
        recovery::{DenyReason, RecoveryRequest, RequestState},
        recovery_queue::AccountQueue,
        user::UserId,
    },
    ports::{RecoveryDecisions, RecoveryFiling, RequestPosition, StoreError, Written},
};

/// How long after its expiry a request's item is kept.
const KEPT_AFTER_EXPIRY: time::Duration = time::Duration::days(30);
const STATE: &str = "state";
const UNTIL: &str = "open_until";
const OPEN: &str = "open";
/// Until when a filing holds the user's right to file; the filing's put drops it.
const HOLDING: &str = "filing_until";

/// The members index partition of every open request: no account id holds a control
/// character.
pub(super) const OPEN_PARTITION: &str = "\u{1}recovery";

pub(super) fn request_key(user: &UserId) -> AttributeValue {
    s(format!("recovery#{user}"))
}

pub(super) fn id_key(id: &str) -> AttributeValue {
    s(format!("recovery-id#{id}"))
}

fn kept_until(request: &RecoveryRequest) -> AttributeValue {
    n((request.expires_at() + KEPT_AFTER_EXPIRY).unix_timestamp())
}

fn state_values(state: &RequestState) -> Vec<(&'static str, AttributeValue)> {
    match state {
        RequestState::Open => vec![(STATE, s(OPEN))],
        RequestState::Cancelled { at } => vec![
            (STATE, s("cancelled")),
            ("decided_at", n(at.unix_timestamp())),
        ],
        RequestState::Approved { by, at } => vec![
            (STATE, s("approved")),
            ("decided_by", s(by.as_str())),
            ("decided_at", n(at.unix_timestamp())),
        ],
        RequestState::Denied { by, at, reason } => {
            let mut values = vec![
                (STATE, s("denied")),
                ("decided_by", s(by.as_str())),
                ("decided_at", n(at.unix_timestamp())),
            ];
            if let Some(reason) = reason {
                values.push(("reason", s(reason.as_str())));
            }
            values
        }
        RequestState::Expired { at } => vec![
            (STATE, s("expired")),
            ("decided_at", n(at.unix_timestamp())),
        ],
    }
}

fn request_item(request: &RecoveryRequest) -> Item {
    let mut item: Item = [
        (PARTITION_KEY.to_owned(), request_key(&request.user)),
        ("request_id".to_owned(), s(&request.id)),
        ("user_id".to_owned(), s(request.user.as_str())),
        ("filed_at".to_owned(), n(request.filed_at.unix_timestamp())),
        (UNTIL.to_owned(), n(request.expires_at().unix_timestamp())),
        (TTL_ATTRIBUTE.to_owned(), kept_until(request)),
        (
            "accounts".to_owned(),
            AttributeValue::L(request.accounts.iter().map(|a| s(a.as_str())).collect()),
        ),
        (
            "source_reported".to_owned(),
            AttributeValue::Bool(request.source.reported),
        ),
    ]
    .into();
    if let Some(ip) = request.source.ip {
        item.insert("ip".to_owned(), s(ip.to_string()));
    }
    if let Some(agent) = &request.source.user_agent {
        item.insert("user_agent".to_owned(), s(agent.as_str()));
    }
    for (name, value) in state_values(&request.state) {
        item.insert(name.to_owned(), value);
    }
    if request.state == RequestState::Open {
        item.insert(MEMBER_OF.to_owned(), s(OPEN_PARTITION));
        let position = RequestPosition::of(request).sort_key();
        item.insert(MEMBER_USER.to_owned(), s(position));
    }
    item
}

pub(super) fn parse_request(item: &Item) -> Result<RecoveryRequest, StoreError> {
    let text = |name: &str| get_s(item, name).ok_or_else(|| corrupt(name));
    let time = |name: &str| {
        get_n(item, name)
            .ok_or_else(|| corrupt(name))
            .and_then(timestamp)
    };
    let user = UserId::parse(text("user_id")?).map_err(|_| corrupt("user_id"))?;
    let by = || UserId::parse(text("decided_by")?).map_err(|_| corrupt("decided_by"));
    let state = match text(STATE)? {
        OPEN => RequestState::Open,
        "cancelled" => RequestState::Cancelled {
            at: time("decided_at")?,
        },
        "approved" => RequestState::Approved {
            by: by()?,
            at: time("decided_at")?,
        },
        "denied" => RequestState::Denied {
            by: by()?,
            at: time("decided_at")?,
            reason: get_s(item, "reason")
                .map(|raw| DenyReason::parse(raw).map_err(|_| corrupt("reason")))
                .transpose()?
                .flatten(),
        },
        "expired" => RequestState::Expired {
            at: time("decided_at")?,
        },
        _ => return Err(corrupt(STATE)),
    };
    let accounts = match item.get("accounts") {
        Some(AttributeValue::L(ids)) => ids
            .iter()
            .map(|id| {
                id.as_s()
                    .ok()
                    .and_then(|raw| AccountId::parse(raw).ok())
                    .ok_or_else(|| corrupt("accounts"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(corrupt("accounts")),
    };
    Ok(RecoveryRequest {
        id: text("request_id")?.to_owned(),
        user,
        filed_at: time("filed_at")?,
        source: Source {
            ip: get_s(item, "ip").and_then(|ip| ip.parse().ok()),
            user_agent: get_s(item, "user_agent").and_then(UserAgent::from_header),
            reported: matches!(
                item.get("source_reported"),
                Some(AttributeValue::Bool(true))
            ),
        },
        accounts,
        state,
    })
}

#[async_trait]
impl RecoveryFiling for DynamoStore {
    async fn request_of(&self, user: &UserId) -> Result<Option<RecoveryRequest>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, request_key(user))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| request_failed_with("read a recovery request", e))?;
        // An item a filing's hold made, with no request yet, is no request.
        out.item
            .as_ref()
            .filter(|item| item.contains_key("request_id"))
            .map(parse_request)
            .transpose()
    }

    async fn hold_filing(
        &self,
        user: &UserId,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Written, StoreError> {
        let hold = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, request_key(user))
            // A hold on a user who never filed makes an item: the TTL sweeps it if no filing
            // follows.
            .update_expression("SET #holding = :until, #ttl = if_not_exists(#ttl, :swept)")
            .condition_expression(
                "(attribute_not_exists(#holding) OR #holding <= :now) AND \
                 (attribute_not_exists(#state) OR #state <> :open OR #until <= :now)",
            )
            .expression_attribute_names("#holding", HOLDING)
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#until", UNTIL)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":until", n(until.unix_timestamp()))
            .expression_attribute_values(":swept", n((until + KEPT_AFTER_EXPIRY).unix_timestamp()))
            .expression_attribute_values(":now", n(now.unix_timestamp()))
            .expression_attribute_values(":open", s(OPEN));
        Ok(match conditional(hold, "hold a recovery filing").await? {
            Some(_) => Written::Applied,
            None => Written::ConditionFailed,
        })
    }

    async fn queues_of(&self, accounts: &[AccountId]) -> Result<Vec<AccountQueue>, StoreError> {
        recovery_lists::read_queues(self, accounts).await
    }

    async fn file_request(
        &self,
        request: &RecoveryRequest,
        queues: &[AccountQueue],
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        const OPERATION: &str = "file a recovery request";
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(request_item(request)))
            .condition_expression(
                "attribute_not_exists(#state) OR #state <> :open OR #until <= :now",
            )
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#until", UNTIL)
            .expression_attribute_values(":open", s(OPEN))
            .expression_attribute_values(":now", n(now.unix_timestamp()))
            .build()
            .map_err(|e| request_failed_with(OPERATION, e))?;
        let pointer = Put::builder()
            .table_name(&self.table)
            .item(PARTITION_KEY, id_key(&request.id))
            .item("user_id", s(request.user.as_str()))
            .item(TTL_ATTRIBUTE, kept_until(request))
            .build()
            .map_err(|e| request_failed_with(OPERATION, e))?;
        let mut items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().put(pointer).build(),
        ];
        for queue in queues {
            let put = recovery_lists::queue_put(self, queue)
                .map_err(|e| request_failed_with(OPERATION, e))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        self.transact(items, records, OPERATION).await
    }
}

#[async_trait]
impl RecoveryDecisions for DynamoStore {
    async fn close_request(
        &self,
        request: &RecoveryRequest,
        state: &RequestState,
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        const OPERATION: &str = "close a recovery request";
        let values = state_values(state);
        let sets: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, _)| format!("#n{i} = :v{i}"))
            .collect();
        // An expiry is recorded after the request expired; anything else only before.
        let condition = match state {
            RequestState::Expired { .. } => "request_id = :id AND #state = :open",
            _ => "request_id = :id AND #state = :open AND #until > :now",
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, request_key(&request.user))
            .update_expression(format!("SET {} REMOVE #of, #position", sets.join(", ")))
            .condition_expression(condition)
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#of", MEMBER_OF)
            .expression_attribute_names("#position", MEMBER_USER)
            .expression_attribute_values(":id", s(&request.id))
            .expression_attribute_values(":open", s(OPEN));
        if !matches!(state, RequestState::Expired { .. }) {
            update = update
                .expression_attribute_names("#until", UNTIL)
                .expression_attribute_values(":now", n(now.unix_timestamp()));
        }
        // Names through placeholders: `state` is one of DynamoDB's reserved words.
        for (i, (name, value)) in values.into_iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#n{i}"), name)
                .expression_attribute_values(format!(":v{i}"), value);
        }
        let update = update
            .build()
            .map_err(|e| request_failed_with(OPERATION, e))?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        for account in &request.accounts {
            let leave = recovery_lists::queue_leave(self, account, &request.id)
                .map_err(|e| request_failed_with(OPERATION, e))?;
            items.push(TransactWriteItem::builder().update(leave).build());
        }
        self.transact(items, records, OPERATION).await
    }

    async fn reopen_request(
        &self,
        request: &RecoveryRequest,
        closed: &RequestState,
    ) -> Result<Written, StoreError> {
        const OPERATION: &str = "open a recovery request again";
        let (by, at) = match closed {
            RequestState::Approved { by, at } => (by, at),
            _ => return Ok(Written::ConditionFailed),
        };
        let position = RequestPosition::of(request).sort_key();
        let update = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, request_key(&request.user))
            .update_expression(
                "SET #state = :open, #of = :partition, #position = :position \
                 REMOVE decided_by, decided_at",
            )
            .condition_expression(
                "request_id = :id AND #state = :approved AND decided_by = :by AND decided_at = :at",
            )
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#of", MEMBER_OF)
            .expression_attribute_names("#position", MEMBER_USER)
            .expression_attribute_values(":open", s(OPEN))
            .expression_attribute_values(":partition", s(OPEN_PARTITION))
            .expression_attribute_values(":position", s(position))
            .expression_attribute_values(":id", s(&request.id))
            .expression_attribute_values(":approved", s("approved"))
            .expression_attribute_values(":by", s(by.as_str()))
            .expression_attribute_values(":at", n(at.unix_timestamp()))
            .build()
            .map_err(|e| request_failed_with(OPERATION, e))?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        for account in &request.accounts {
            let back = recovery_lists::queue_return(self, account, request)
                .map_err(|e| request_failed_with(OPERATION, e))?;
            items.push(TransactWriteItem::builder().update(back).build());
        }
        self.transact(items, &[], OPERATION).await
    }
}
