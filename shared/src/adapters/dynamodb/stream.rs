//! The table's stream as Lambda hands it to the notify function: each record's sequence number
//! (what a partial batch failure names) and, for a new audit item, the event it keeps. Anything
//! in the event is parsed strictly: a record that does not read is a failure, never a guess.

use aws_sdk_dynamodb::{primitives::Blob, types::AttributeValue};
use base64::{engine::general_purpose::STANDARD, Engine};
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
    #[error("the event has no Records list")]
    NoRecords,
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
    let list = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or(StreamError::NoRecords)?;
    list.iter()
        .enumerate()
        .map(|(index, record)| {
            let change = record.get("dynamodb");
            let sequence = change
                .and_then(|c| c.get("SequenceNumber"))
                .and_then(Value::as_str)
                .ok_or(StreamError::NoSequenceNumber(index))?
                .to_owned();
            let inserted = record.get("eventName").and_then(Value::as_str) == Some("INSERT");
            let image = match (inserted, change.and_then(|c| c.get("NewImage"))) {
                (true, Some(image)) => recorded(image),
                _ => Ok(None),
            };
            Ok(StreamRecord { sequence, image })
        })
        .collect()
}

fn recorded(image: &Value) -> Result<Option<Recorded>, String> {
    let item = match image_item(image)? {
        AttributeValue::M(item) => item,
        _ => return Err("NewImage is not a map".into()),
    };
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

/// DynamoDB's JSON form of an attribute (`{"S": "…"}`), as a stream image carries it.
fn image_item(image: &Value) -> Result<AttributeValue, String> {
    let map = image.as_object().ok_or("an image is not an object")?;
    let item: Result<Item, String> = map
        .iter()
        .map(|(name, value)| Ok((name.clone(), attribute(value)?)))
        .collect();
    Ok(AttributeValue::M(item?))
}

fn attribute(value: &Value) -> Result<AttributeValue, String> {
    let object = value.as_object().filter(|o| o.len() == 1);
    let Some((kind, inner)) = object.and_then(|o| o.iter().next()) else {
        return Err("an attribute is not a one-key object".into());
    };
    let text = || inner.as_str().ok_or(format!("{kind} is not a string"));
    let texts = || -> Result<Vec<String>, String> {
        inner
            .as_array()
            .ok_or(format!("{kind} is not a list"))?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(format!("{kind} holds a non-string"))
            })
            .collect()
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(text()?.to_owned()),
        "N" => AttributeValue::N(text()?.to_owned()),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or("BOOL is not a boolean")?),
        "NULL" => AttributeValue::Null(true),
        "B" => AttributeValue::B(Blob::new(
            STANDARD.decode(text()?).map_err(|_| "B is not base64")?,
        )),
        "SS" => AttributeValue::Ss(texts()?),
        "NS" => AttributeValue::Ns(texts()?),
        "M" => image_item(inner)?,
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or("L is not a list")?
                .iter()
                .map(attribute)
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("unknown attribute type {other}")),
    })
}
