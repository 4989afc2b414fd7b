//! The audit trail and the events kept for the notifier (what DynamoDB's stream is to the
//! table): a change's events are kept by the same call that applies it.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::MemoryStore;
use crate::{
    domain::{
        events::{AuditPosition, Recorded, SecurityEvent},
        user::UserId,
    },
    ports::{AuditLog, AuditPage, StoreError, Written},
};

impl MemoryStore {
    /// Keeps `records` when the change they record applied.
    pub(super) fn recording(&self, records: &[Recorded], written: Written) -> Written {
        if written == Written::Applied {
            for record in records {
                self.keep(record);
            }
        }
        written
    }

    pub(super) fn keep(&self, record: &Recorded) {
        let event = &record.event;
        self.audit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(event.user.clone())
            .or_default()
            .insert(AuditPosition::of(event).sort_key(), event.clone());
        self.new_events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(record.clone());
    }

    /// The events kept since the last call, oldest first: the local server hands them to the
    /// notifier after each request, as DynamoDB's stream hands the notify function new items.
    pub fn take_new_events(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.new_events.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Puts back events the notifier failed to deliver, for its next try.
    pub fn return_undelivered(&self, records: Vec<Recorded>) {
        let mut new_events = self.new_events.lock().unwrap_or_else(|p| p.into_inner());
        let newer = std::mem::replace(&mut *new_events, records);
        new_events.extend(newer);
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append(&self, record: &Recorded) -> Result<(), StoreError> {
        self.keep(record);
        Ok(())
    }

    async fn count(
        &self,
        event: &SecurityEvent,
        expires_at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut audit = self.audit.lock().unwrap_or_else(|p| p.into_inner());
        let trail = audit.entry(event.user.clone()).or_default();
        // The first repeat's time places the event; later ones find it by the repeat key.
        let key = trail
            .iter()
            .find(|(_, kept)| kept.repeat_key.is_some() && kept.repeat_key == event.repeat_key)
            .map(|(key, _)| key.clone())
            .unwrap_or_else(|| AuditPosition::of(event).sort_key());
        let kept = trail.entry(key).or_insert_with(|| SecurityEvent {
            repeats: Some(0),
            ..event.clone()
        });
        let count = kept.repeats.unwrap_or(0) + 1;
        kept.repeats = Some(count);
        if count == 1 {
            // The window's first repeat makes the item, which is what the notifier is told of.
            let first = Recorded {
                event: kept.clone(),
                to: None,
                expires_at,
            };
            drop(audit);
            self.new_events
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(first);
        }
        Ok(count)
    }

    async fn page(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<&AuditPosition>,
    ) -> Result<AuditPage, StoreError> {
        let audit = self.audit.lock().unwrap_or_else(|p| p.into_inner());
        let Some(trail) = audit.get(user) else {
            return Ok(AuditPage {
                events: vec![],
                next: None,
            });
        };
        let older = match after {
            Some(position) => trail.range(..position.sort_key()),
            None => trail.range::<String, _>(..),
        };
        let events = older
            .rev()
            .take(limit + 1)
            .map(|(_, e)| e.clone())
            .collect();
        Ok(AuditPage::cut(events, limit, false))
    }
}
