//! The sinks a kept security event goes to (see `notify`). A sink that fails, and a refusal's
//! trail write that fails, is logged with the event type and counted in a CloudWatch metric
//! (embedded metric format, read from the function's log); the notifier retries its sinks.

use std::sync::Arc;

use tracing::error;

use crate::{domain::events::SecurityEvent, ports::EventSink};

/// The metric a failed sink is counted in; the template's alarm watches it.
pub const METRIC_NAMESPACE: &str = "BackupCodes";
pub const SINK_FAILURES_METRIC: &str = "EventSinkFailures";

/// Every sink the notifier was built with, in the order it hands them an event.
#[derive(Clone, Default)]
pub struct EventSinks {
    sinks: Vec<Arc<dyn EventSink>>,
}

impl EventSinks {
    pub fn new(sinks: Vec<Arc<dyn EventSink>>) -> Self {
        Self { sinks }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn EventSink>> {
        self.sinks.iter()
    }
}

pub(crate) fn failed(sink: &str, event: &SecurityEvent, err: &dyn std::error::Error) {
    let cause = err
        .source()
        .map_or_else(|| err.to_string(), ToString::to_string);
    error!(
        event = %event.kind,
        sink,
        error = %cause,
        "security event not delivered to a sink"
    );
    println!("{}", sink_failure_metric(sink, event.kind.name(), event));
}

/// One embedded-metric-format record: CloudWatch turns this log line into a data point.
fn sink_failure_metric(sink: &str, kind: &str, event: &SecurityEvent) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": event.at.unix_timestamp() * 1000,
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [{ "Name": SINK_FAILURES_METRIC, "Unit": "Count" }],
            }],
        },
        SINK_FAILURES_METRIC: 1,
        "sink": sink,
        "event_type": kind,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        events::{Actor, EventKind, Source},
        user::UserId,
    };

    #[test]
    fn a_failure_is_one_embedded_metric_record() {
        let user = UserId::parse("ana").unwrap();
        let at = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let event = SecurityEvent::new(
            EventKind::LockedOut,
            &user,
            Actor::AuthServer,
            &Source::default(),
            at,
        );
        let line: serde_json::Value =
            serde_json::from_str(&sink_failure_metric("mail", "locked_out", &event)).unwrap();
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 1_800_000_000_000_i64);
        assert_eq!(directive["Namespace"], METRIC_NAMESPACE);
        assert_eq!(directive["Metrics"][0]["Name"], SINK_FAILURES_METRIC);
        assert_eq!(line[SINK_FAILURES_METRIC], 1);
        assert_eq!(
            (line["sink"].as_str(), line["event_type"].as_str()),
            (Some("mail"), Some("locked_out"))
        );
    }
}
