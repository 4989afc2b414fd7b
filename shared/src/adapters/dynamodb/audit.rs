//! The audit trail in the same table: one item per event (`pk = audit#<user>#<sort key>`),
//! found through the `audit` index, keyed by the user (`audit_user`) and the event's sort key
//! (`audit_sk`). The user's own item stays one item, and adding an index to an existing table
//! is an online change.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::{corrupt, get_n, get_s, n, s, timestamp, user_key, DynamoStore, Item, TTL_ATTRIBUTE};
use crate::{
    domain::{
        account::{AccountId, Role, TwoFactorRule},
        events::{Actor, AuditPosition, EventKind, Recorded, SecurityEvent, Source, UserAgent},
        proof::StepUp,
        user::UserId,
    },
    ports::{AuditLog, AuditPage, StoreError},
};

pub const AUDIT_INDEX: &str = "audit";
pub const AUDIT_USER: &str = "audit_user";
pub const AUDIT_SORT_KEY: &str = "audit_sk";
/// Present (true) when the event's source was told by the sign-in client.
const SOURCE_REPORTED: &str = "source_reported";
/// On a repeated event: how many repeats it stands for.
const REPEATS: &str = "repeats";

fn audit_item_key(user: &UserId, sort_key: &str) -> AttributeValue {
    s(format!("audit#{user}#{sort_key}"))
}

fn fault(
    operation: &'static str,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> StoreError {
    move |source| StoreError::Request { operation, source }
}

/// The address an event's mail goes to, until the notifier has sent it (see `notify`).
pub(super) const MAIL_TO: &str = "mail_to";

/// An event's item: what the trail keeps, and what the table's stream hands the notifier.
pub(super) fn item(record: &Recorded) -> Item {
    let event = &record.event;
    let sort_key = AuditPosition::of(event).sort_key();
    let mut item = Item::from([
        (
            super::PARTITION_KEY.to_owned(),
            audit_item_key(&event.user, &sort_key),
        ),
        (AUDIT_USER.to_owned(), user_key(&event.user)),
        (AUDIT_SORT_KEY.to_owned(), s(sort_key)),
        ("event_id".to_owned(), s(&event.id)),
        ("event_type".to_owned(), s(event.kind.name())),
        ("event_at".to_owned(), n(event.at.unix_timestamp())),
        ("actor".to_owned(), s(event.actor.label())),
        (
            TTL_ATTRIBUTE.to_owned(),
            n(record.expires_at.unix_timestamp()),
        ),
    ]);
    let mut put = |name: &str, value| {
        item.insert(name.to_owned(), value);
    };
    if let Some(ip) = event.source.ip {
        put("ip", s(ip.to_string()));
    }
    if let Some(agent) = &event.source.user_agent {
        put("user_agent", s(agent.as_str()));
    }
    if event.source.reported {
        put(SOURCE_REPORTED, AttributeValue::Bool(true));
    }
    if let Some(remaining) = event.remaining_codes {
        put("remaining_codes", n(remaining));
    }
    if let Some(until) = event.locked_until {
        put("locked_until", n(until.unix_timestamp()));
    }
    if let Some(step_up) = event.authorised {
        put("authorised", s(step_up.name()));
    }
    if let Some(number) = event.code_number {
        put("code_number", n(number));
    }
    if let Some(account) = &event.account {
        put("account_id", s(account.as_str()));
    }
    if let Some(role) = event.role {
        put("role", s(role.as_str()));
    }
    if let Some(role) = event.previous_role {
        put("previous_role", s(role.as_str()));
    }
    if let Some(rule) = event.rule {
        put("two_factor", s(rule.as_str()));
    }
    if let Some(id) = &event.request_id {
        put("request_id", s(id));
    }
    if let Some(about) = &event.about {
        put("about_user_id", s(about.as_str()));
    }
    if let Some(reason) = &event.reason {
        put("reason", s(reason));
    }
    if let Some(to) = &record.to {
        put(MAIL_TO, s(to.as_str()));
    }
    item
}

#[async_trait]
impl AuditLog for DynamoStore {
    async fn append(&self, record: &Recorded) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(record)))
            .send()
            .await
            .map_err(|e| fault("append an audit event")(Box::new(e)))?;
        Ok(())
    }

    /// One UpdateItem on an item keyed by the repeat key alone: the first repeat sets the
    /// event (its id and time, and so its place in the trail, and its source are the first
    /// one's), each adds 1 to the count, atomically, so concurrent repeats count once each.
    async fn count(
        &self,
        event: &SecurityEvent,
        expires_at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let sort_key = AuditPosition::of(event).sort_key();
        let repeat_key = event.repeat_key.as_deref().unwrap_or(&event.id);
        let mut values = vec![
            (AUDIT_USER, user_key(&event.user)),
            ("event_type", s(event.kind.name())),
            ("actor", s(event.actor.label())),
            (TTL_ATTRIBUTE, n(expires_at.unix_timestamp())),
        ];
        let set_always = values.len();
        values.push(("event_id", s(&event.id)));
        values.push((AUDIT_SORT_KEY, s(&sort_key)));
        values.push(("event_at", n(event.at.unix_timestamp())));
        if let Some(ip) = event.source.ip {
            values.push(("ip", s(ip.to_string())));
        }
        if let Some(agent) = &event.source.user_agent {
            values.push(("user_agent", s(agent.as_str())));
        }
        if event.source.reported {
            values.push((SOURCE_REPORTED, AttributeValue::Bool(true)));
        }
        let assignments: Vec<String> = (0..values.len())
            .map(|i| {
                if i < set_always {
                    format!("#a{i} = :a{i}")
                } else {
                    format!("#a{i} = if_not_exists(#a{i}, :a{i})")
                }
            })
            .collect();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                super::PARTITION_KEY,
                audit_item_key(&event.user, &format!("repeat#{repeat_key}")),
            )
            .update_expression(format!("SET {} ADD #repeats :one", assignments.join(", ")))
            .expression_attribute_names("#repeats", REPEATS)
            .expression_attribute_values(":one", n(1))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew);
        for (i, (name, value)) in values.into_iter().enumerate() {
            request = request
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), value);
        }
        let out = request
            .send()
            .await
            .map_err(|e| fault("count a repeated audit event")(Box::new(e)))?;
        out.attributes
            .as_ref()
            .and_then(|item| get_n(item, REPEATS))
            .and_then(|count| u64::try_from(count).ok())
            .ok_or_else(|| corrupt(REPEATS))
    }

    async fn page(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<&AuditPosition>,
    ) -> Result<AuditPage, StoreError> {
        let mut condition = format!("{AUDIT_USER} = :user");
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(AUDIT_INDEX)
            .scan_index_forward(false)
            // One more than asked tells whether another page follows.
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .expression_attribute_values(":user", user_key(user));
        if let Some(after) = after {
            condition.push_str(&format!(" AND {AUDIT_SORT_KEY} < :after"));
            request = request.expression_attribute_values(":after", s(after.sort_key()));
        }
        let out = request
            .key_condition_expression(condition)
            .send()
            .await
            .map_err(|e| fault("read the audit trail")(Box::new(e)))?;
        // Past 1 MB DynamoDB stops early and says so: another page follows then too.
        let more = out.last_evaluated_key.is_some();
        let events = out
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| parse_event(user, item))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AuditPage::cut(events, limit, more))
    }
}

pub(super) fn parse_event(user: &UserId, item: &Item) -> Result<SecurityEvent, StoreError> {
    let text = |name: &str| get_s(item, name).ok_or_else(|| corrupt(name));
    let kind = text("event_type")?
        .parse::<EventKind>()
        .map_err(|_| corrupt("event_type"))?;
    let actor = Actor::parse(text("actor")?).ok_or_else(|| corrupt("actor"))?;
    let ip = get_s(item, "ip")
        .map(|ip| ip.parse().map_err(|_| corrupt("ip")))
        .transpose()?;
    // Cleaned rather than refused: an event written before today's display rule still reads.
    let user_agent = get_s(item, "user_agent").and_then(UserAgent::from_header);
    let reported = item
        .get(SOURCE_REPORTED)
        .is_some_and(|v| v.as_bool().is_ok_and(|b| *b));
    let at = timestamp(get_n(item, "event_at").ok_or_else(|| corrupt("event_at"))?)?;
    let remaining_codes = get_n(item, "remaining_codes")
        .map(|n| usize::try_from(n).map_err(|_| corrupt("remaining_codes")))
        .transpose()?;
    let locked_until = get_n(item, "locked_until").map(timestamp).transpose()?;
    let authorised = get_s(item, "authorised")
        .map(|name| StepUp::parse(name).ok_or_else(|| corrupt("authorised")))
        .transpose()?;
    let role = |name: &str| {
        get_s(item, name)
            .map(|raw| Role::parse(raw).ok_or_else(|| corrupt(name)))
            .transpose()
    };
    let account = get_s(item, "account_id")
        .map(|raw| AccountId::parse(raw).map_err(|_| corrupt("account_id")))
        .transpose()?;
    Ok(SecurityEvent {
        id: text("event_id")?.to_owned(),
        at,
        user: user.clone(),
        kind,
        actor,
        source: Source {
            ip,
            user_agent,
            reported,
        },
        remaining_codes,
        locked_until,
        authorised,
        code_number: get_n(item, "code_number")
            .map(|number| usize::try_from(number).map_err(|_| corrupt("code_number")))
            .transpose()?,
        repeats: get_n(item, REPEATS)
            .map(|n| u64::try_from(n).map_err(|_| corrupt(REPEATS)))
            .transpose()?,
        repeat_key: None,
        account,
        role: role("role")?,
        previous_role: role("previous_role")?,
        rule: get_s(item, "two_factor")
            .map(|raw| TwoFactorRule::parse(raw).ok_or_else(|| corrupt("two_factor")))
            .transpose()?,
        request_id: get_s(item, "request_id").map(str::to_owned),
        about: get_s(item, "about_user_id")
            .map(|raw| UserId::parse(raw).map_err(|_| corrupt("about_user_id")))
            .transpose()?,
        reason: get_s(item, "reason").map(str::to_owned),
        sessions_ended: None,
    })
}
