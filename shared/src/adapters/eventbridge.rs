//! Amazon EventBridge `PutEvents`: one entry per security event, for the team's own tools.

use async_trait::async_trait;
use aws_sdk_eventbridge::{types::PutEventsRequestEntry, Client};

use crate::{
    domain::{events::SecurityEvent, user::Email},
    ports::{EventSink, SinkError},
};

/// Every entry's `source`; rules on the bus match on it.
pub const EVENT_SOURCE: &str = "backup-codes";

pub struct EventBridgeSink {
    client: std::sync::OnceLock<Client>,
    /// What the client is built from at the first event, when it was not given built.
    config: Option<aws_sdk_eventbridge::config::Builder>,
    bus: String,
}

impl EventBridgeSink {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            config: None,
            bus: bus.into(),
        }
    }

    /// A sink whose client is built at its first event (see `SesMailer::lazy`).
    pub fn lazy(config: aws_sdk_eventbridge::config::Builder, bus: impl Into<String>) -> Self {
        Self {
            client: std::sync::OnceLock::new(),
            config: Some(config),
            bus: bus.into(),
        }
    }

    fn client(&self) -> &Client {
        self.client.get_or_init(|| {
            let config = self
                .config
                .clone()
                .expect("a lazy sink keeps its configuration");
            Client::from_conf(config.build())
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("EventBridge refused the entry: {0}")]
struct Refused(String);

#[async_trait]
impl EventSink for EventBridgeSink {
    fn name(&self) -> &'static str {
        "eventbridge"
    }

    async fn publish(&self, event: &SecurityEvent, _: Option<&Email>) -> Result<(), SinkError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(EVENT_SOURCE)
            .detail_type(event.kind.name())
            .detail(event.to_json().to_string())
            .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
                event.at.unix_timestamp(),
            ))
            .build();
        let out = self
            .client()
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| SinkError(Box::new(e)))?;
        // PutEvents answers 200 even when it refuses an entry; the refusal is in the body.
        if out.failed_entry_count > 0 {
            let code = out
                .entries()
                .iter()
                .filter_map(|e| e.error_code())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(SinkError(Box::new(Refused(code))));
        }
        Ok(())
    }
}
