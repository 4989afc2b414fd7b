//! The notify function: a batch of the table's stream in, and out the answer Lambda's event
//! source mapping reads (`ReportBatchItemFailures`). Records are delivered in order; the first
//! that fails stops the batch, since the mapping retries from it and everything after it. A
//! scheduled EventBridge event instead sweeps the hourly mail digests that are due.

use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::{json, Value};
use tracing::warn;

use crate::{
    adapters::dynamodb::stream::{records, StreamError},
    app::notify::Notifier,
    entry::{EventFuture, Host, Invoked, LambdaFunction},
};

pub struct NotifyFunction {
    pub notifier: Notifier,
}

impl LambdaFunction for NotifyFunction {
    const NAME: &'static str = "notify";
    const INVOKED: Invoked<Self> = Invoked::Event(answer);

    /// No keys: it opens no secret and signs nothing.
    async fn build(host: &impl Host) -> Result<Self, lambda_http::Error> {
        let notifier = host.wiring()?.notifier(
            host.deliveries()?,
            host.mailer()?,
            host.bus(),
            host.sessions(),
        )?;
        Ok(NotifyFunction { notifier })
    }
}

fn answer(function: &NotifyFunction, event: Value) -> EventFuture<'_> {
    Box::pin(async move { Ok(function.handle(&event).await?) })
}

#[derive(Debug, thiserror::Error)]
pub enum BatchFailed {
    /// The batch's first record failed: the whole batch is retried, and, with
    /// `BisectBatchOnFunctionError`, split to find the record that fails.
    #[error("the first record of the batch was not delivered: {0}")]
    FirstRecord(String),
    #[error(transparent)]
    Unreadable(#[from] StreamError),
    #[error("the digest sweep failed: {0}")]
    Sweep(#[from] crate::ports::StoreError),
}

impl NotifyFunction {
    pub async fn handle(&self, event: &Value) -> Result<Value, BatchFailed> {
        if is_scheduled(event) {
            let sent = self.notifier.sweep().await?;
            return Ok(json!({ "digests_sent": sent }));
        }
        deliver_batch(&self.notifier, event).await
    }
}

/// EventBridge's scheduled event (the template's `DigestSweep`), told apart from a stream
/// batch by its documented `source` and `detail-type`.
fn is_scheduled(event: &Value) -> bool {
    event["source"] == "aws.events" && event["detail-type"] == "Scheduled Event"
}

/// Each record of the batch `event` to `notifier`, in order, until one fails; the answer is
/// Lambda's `DynamoDbEventResponse`, as JSON.
pub async fn deliver_batch(notifier: &Notifier, event: &Value) -> Result<Value, BatchFailed> {
    let answer = delivered(notifier, event).await?;
    Ok(serde_json::to_value(answer).expect("the response type serializes"))
}

async fn delivered(
    notifier: &Notifier,
    event: &Value,
) -> Result<DynamoDbEventResponse, BatchFailed> {
    let mut answer = DynamoDbEventResponse::default();
    for (index, record) in records(event)?.into_iter().enumerate() {
        let outcome = match &record.image {
            Ok(None) => Ok(()),
            Ok(Some(recorded)) => notifier.notify(recorded).await.map_err(|e| e.to_string()),
            Err(unreadable) => Err(format!("unreadable record: {unreadable}")),
        };
        let Err(reason) = outcome else { continue };
        warn!(%reason, sequence = %record.sequence, "stream record not delivered");
        if index == 0 {
            return Err(BatchFailed::FirstRecord(reason));
        }
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(record.sequence);
        answer.batch_item_failures.push(failure);
        break;
    }
    Ok(answer)
}
