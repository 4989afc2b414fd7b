//! The table's stream as Lambda hands it to the notify function: each record's sequence number
//! (what a partial batch failure names) and, for a new audit item, the event it keeps. Anything
//! in the event is parsed strictly: a record that does not read is a failure, never a guess.

use aws_lambda_events::event::dynamodb::Event;
use serde::Deserialize;
use serde_json::Value;

use super::{
    audit::{parse_event, AUDIT_USER, MAIL_TO},
    get_n, get_s,
    item::{timestamp, Item},
    TTL_ATTRIBUTE,
};
use crate::domain::{
    events::Recorded,
    user::{Email, UserId},
};

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Not a DynamoDB stream event as Lambda documents it (`aws_lambda_events` reads it).
    #[error("the event is not a DynamoDB stream batch: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("record {0} has no dynamodb.SequenceNumber")]
    NoSequenceNumber(usize),
}

/// One stream record: its place, and what it says.
pub struct StreamRecord {
    pub sequence: String,
    pub image: Result<Option<Recorded>, String>,
}

/// Every record of the batch in order. A record that is not a new audit item (an update, a
/// user's item, a delivery mark) says `None`: the filter should have kept it out, and it asks
/// nothing of the notifier.
pub fn records(event: &Value) -> Result<Vec<StreamRecord>, StreamError> {
    let batch = Event::deserialize(event)?;
    batch
        .records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            let change = record.change;
            let sequence = change
                .sequence_number
                .ok_or(StreamError::NoSequenceNumber(index))?;
            let image = match record.event_name.as_str() {
                "INSERT" => recorded(change.new_image.into()),
                _ => Ok(None),
            };
            Ok(StreamRecord { sequence, image })
        })
        .collect()
}

fn recorded(item: Item) -> Result<Option<Recorded>, String> {
    let Some(owner) = get_s(&item, AUDIT_USER) else {
        return Ok(None);
    };
    let user = owner
        .strip_prefix("user#")
        .and_then(|id| UserId::parse(id).ok())
        .ok_or("audit_user is not a user key")?;
    let event = parse_event(&user, &item).map_err(|e| e.to_string())?;
    let to = get_s(&item, MAIL_TO)
        .map(|to| Email::parse(to).ok_or("mail_to is not an address"))
        .transpose()?;
    let expires_at = get_n(&item, TTL_ATTRIBUTE)
        .ok_or("an audit item has no expiry")
        .and_then(|at| timestamp(at).map_err(|_| "the expiry is not a time"))?;
    Ok(Some(Recorded {
        event,
        to,
        expires_at,
    }))
}
