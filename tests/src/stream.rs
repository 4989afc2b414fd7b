//! The table's stream read as Lambda's event source mapping reads it, so a test app over
//! DynamoDB hands each batch of new records to the notify function's own handler after every
//! request: the stream, the handler's parsing and its partial-failure answer are production's.
//! A record the handler reports failed is read again at the next delivery, as the mapping
//! retries it.

use std::sync::Mutex;

use serde_json::{json, Value};

/// Where the next read starts.
#[derive(Clone, Debug)]
enum Position {
    Start,
    At(String),
    After(String),
}

pub struct StreamFeed {
    http: reqwest::Client,
    endpoint: String,
    table: String,
    /// The table's stream and its shard, once looked up: they do not change.
    shard: Mutex<Option<(String, String)>>,
    position: Mutex<Position>,
}

impl StreamFeed {
    pub fn new(table: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            endpoint: crate::dynamodb_endpoint(),
            table: table.to_owned(),
            shard: Mutex::new(None),
            position: Mutex::new(Position::Start),
        }
    }

    async fn call(&self, operation: &str, body: Value) -> Value {
        let reply = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header(
                "x-amz-target",
                format!("DynamoDBStreams_20120810.{operation}"),
            )
            // The emulator reads the account and region from the credential scope.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{operation}: {e}"));
        let status = reply.status();
        let text = reply.text().await.unwrap_or_default();
        assert!(status.is_success(), "{operation}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{operation}: {e}: {text}"))
    }

    async fn shard(&self) -> (String, String) {
        if let Some(known) = self.shard.lock().unwrap().clone() {
            return known;
        }
        let streams = self
            .call("ListStreams", json!({ "TableName": self.table }))
            .await;
        let arn = streams["Streams"][0]["StreamArn"]
            .as_str()
            .expect("the test table has a stream")
            .to_owned();
        let described = self
            .call("DescribeStream", json!({ "StreamArn": arn }))
            .await;
        let shard = described["StreamDescription"]["Shards"][0]["ShardId"]
            .as_str()
            .expect("the stream has a shard")
            .to_owned();
        let known = (arn, shard);
        *self.shard.lock().unwrap() = Some(known.clone());
        known
    }

    /// Every record from the current position on, as one Lambda event (`{"Records": [...]}`).
    pub async fn read(&self) -> Value {
        let (arn, shard) = self.shard().await;
        let position = self.position.lock().unwrap().clone();
        let mut request = json!({ "StreamArn": arn, "ShardId": shard });
        match position {
            Position::Start => request["ShardIteratorType"] = json!("TRIM_HORIZON"),
            Position::At(sequence) => {
                request["ShardIteratorType"] = json!("AT_SEQUENCE_NUMBER");
                request["SequenceNumber"] = json!(sequence);
            }
            Position::After(sequence) => {
                request["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
                request["SequenceNumber"] = json!(sequence);
            }
        }
        let mut iterator = self.call("GetShardIterator", request).await["ShardIterator"].clone();
        let mut records = vec![];
        while let Some(current) = iterator.as_str().map(str::to_owned) {
            let page = self
                .call("GetRecords", json!({ "ShardIterator": current }))
                .await;
            let batch = page["Records"].as_array().cloned().unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            records.extend(batch);
            iterator = page["NextShardIterator"].clone();
        }
        json!({ "Records": records })
    }

    /// What the handler answered for `batch`: read on after it, or again from the record it
    /// named (or the batch's first, when it failed as a whole).
    pub fn answered(&self, batch: &Value, answer: Result<&Value, ()>) {
        let sequences: Vec<String> = batch["Records"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["dynamodb"]["SequenceNumber"].as_str().map(str::to_owned))
            .collect();
        let Some(last) = sequences.last() else { return };
        let failed = match answer {
            Err(()) => sequences.first().cloned(),
            Ok(answer) => answer["batchItemFailures"][0]["itemIdentifier"]
                .as_str()
                .map(str::to_owned),
        };
        *self.position.lock().unwrap() = match failed {
            Some(sequence) => Position::At(sequence),
            None => Position::After(last.clone()),
        };
    }
}
