//! Which sinks have each kept event (see `app::notify`): one small item per event id
//! (`pk = delivery#<id>`), swept by the TTL a week after its first try. It carries no
//! `audit_user`, so the stream's filter never hands it to the notifier.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::{conditional, n, reading, s, DynamoStore, PARTITION_KEY, TTL_ATTRIBUTE};
use crate::ports::{Deliveries, Delivery, StoreError};

/// How long a delivery's marks outlive its first try: longer than any retry of its batch.
const KEPT_FOR: time::Duration = time::Duration::days(7);

impl DynamoStore {
    fn delivery(
        &self,
        event_id: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(format!("delivery#{event_id}")))
    }
}

#[async_trait]
impl Deliveries for DynamoStore {
    async fn hold(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Delivery, StoreError> {
        let request = self
            .delivery(event_id)
            .update_expression(format!(
                "SET held_until = :until, {TTL_ATTRIBUTE} = if_not_exists({TTL_ATTRIBUTE}, :sweep)"
            ))
            .condition_expression(
                "attribute_not_exists(done) \
                 AND (attribute_not_exists(held_until) OR held_until <= :now)",
            )
            .expression_attribute_values(":until", n(until.unix_timestamp()))
            .expression_attribute_values(":now", n(now.unix_timestamp()))
            .expression_attribute_values(":sweep", n((now + KEPT_FOR).unix_timestamp()));
        Ok(match reading(request, "hold an event's delivery").await? {
            Ok(item) => Delivery::Held {
                sent: match item.get("sent") {
                    Some(AttributeValue::Ss(sinks)) => sinks.clone(),
                    _ => vec![],
                },
            },
            Err(old) if old.contains_key("done") => Delivery::Done,
            Err(_) => Delivery::Busy,
        })
    }

    async fn sent(&self, event_id: &str, sink: &str) -> Result<(), StoreError> {
        let request = self
            .delivery(event_id)
            .update_expression("ADD sent :sink")
            .expression_attribute_values(":sink", AttributeValue::Ss(vec![sink.to_owned()]));
        conditional(request, "mark an event sent to a sink").await?;
        Ok(())
    }

    async fn release(&self, event_id: &str, done: bool) -> Result<(), StoreError> {
        let request = match done {
            true => self
                .delivery(event_id)
                .update_expression("SET done = :done REMOVE held_until")
                .expression_attribute_values(":done", AttributeValue::Bool(true)),
            false => self
                .delivery(event_id)
                .update_expression("REMOVE held_until"),
        };
        conditional(request, "release an event's delivery").await?;
        Ok(())
    }
}
