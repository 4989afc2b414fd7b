//! The notifier's delivery marks: which sinks have an event, and who is delivering it now.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::MemoryStore;
use crate::ports::{Deliveries, Delivery, StoreError};

#[derive(Default)]
pub(super) struct DeliveryMarks {
    sent: Vec<String>,
    done: bool,
    held_until: Option<OffsetDateTime>,
}

#[async_trait]
impl Deliveries for MemoryStore {
    async fn hold(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Delivery, StoreError> {
        let mut all = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        let marks = all.entry(event_id.to_owned()).or_default();
        Ok(if marks.done {
            Delivery::Done
        } else if marks.held_until.is_some_and(|held| held > now) {
            Delivery::Busy
        } else {
            marks.held_until = Some(until);
            Delivery::Held {
                sent: marks.sent.clone(),
            }
        })
    }

    async fn sent(&self, event_id: &str, sink: &str) -> Result<(), StoreError> {
        let mut all = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        all.entry(event_id.to_owned())
            .or_default()
            .sent
            .push(sink.to_owned());
        Ok(())
    }

    async fn release(&self, event_id: &str, done: bool) -> Result<(), StoreError> {
        let mut all = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        let marks = all.entry(event_id.to_owned()).or_default();
        marks.held_until = None;
        marks.done |= done;
        Ok(())
    }
}
