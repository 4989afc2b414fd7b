//! The notify function's handler on a real DynamoDB stream (the emulator's): what a verify's
//! transaction writes reaches the handler as one new audit item; the handler's answer names the
//! record to retry when a sink fails; and a batch handed over again, as the event source mapping
//! retries it, mails no one twice.

use std::sync::{atomic::Ordering, Arc};

use backup_codes::{adapters::dynamodb::DynamoStore, stream::deliver_batch};
use integration_tests::{dynamodb_client, fresh_table, stream::StreamFeed, TestApp};
use lambda_http::http::StatusCode;
use serde_json::Value;

fn sequences(batch: &Value) -> Vec<&str> {
    batch["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap())
        .collect()
}

/// The first new audit item's place: the stream also carries the user item's updates, which the
/// template's filter keeps from the function and the handler passes over.
fn first_audit_sequence(batch: &Value) -> &str {
    batch["Records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["eventName"] == "INSERT" && r["dynamodb"]["NewImage"]["audit_user"] != Value::Null
        })
        .unwrap()["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap()
}

fn new_audit_items(batch: &Value) -> Vec<&str> {
    batch["Records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["eventName"] == "INSERT" && r["dynamodb"]["NewImage"]["audit_user"] != Value::Null
        })
        .map(|r| {
            r["dynamodb"]["NewImage"]["event_type"]["S"]
                .as_str()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_failed_record_is_named_for_retry_and_a_retried_batch_mails_no_one_twice() {
    let (client, table) = fresh_table().await;
    // No notifier run by the app: this test hands the stream to the handler itself.
    let app = TestApp::with_store(Arc::new(DynamoStore::new(client, table.clone())));
    let marks = Arc::new(DynamoStore::new(dynamodb_client().await, table.clone()));
    let notifier = integration_tests::notifier_over(&app, marks);
    let feed = StreamFeed::new(&table);

    let (_, codes) = app.enrolled("ida").await;
    let start = feed.read().await;
    feed.answered(&start, Ok(&serde_json::json!({ "batchItemFailures": [] })));
    assert_eq!(new_audit_items(&start), ["enrolled", "codes_issued"]);

    // Two sign-ins by backup code: each is one reservation and one transaction, whose audit
    // item is the stream's only new audit item for it.
    assert_eq!(app.verify("ida", &codes[0]).await.status, StatusCode::OK);
    // An hour apart, so the mail budget mails each (a repeat within the hour is digested).
    app.clock.advance(3600);
    assert_eq!(app.verify("ida", &codes[1]).await.status, StatusCode::OK);
    let batch = feed.read().await;
    feed.answered(&batch, Ok(&serde_json::json!({ "batchItemFailures": [] })));
    assert_eq!(
        new_audit_items(&batch),
        ["backup_code_used", "backup_code_used"]
    );
    assert_eq!(
        app.mailer.count(),
        0,
        "nothing is mailed on the request path"
    );

    // The mail service is down: the first audit record fails and is named, so the mapping
    // retries from it.
    app.mailer.failing.store(true, Ordering::SeqCst);
    let answer = deliver_batch(&notifier, &batch)
        .await
        .expect("a partial failure");
    assert_eq!(
        answer["batchItemFailures"][0]["itemIdentifier"],
        first_audit_sequence(&batch)
    );
    app.mailer.failing.store(false, Ordering::SeqCst);

    // Retried: both are mailed.
    let answer = deliver_batch(&notifier, &batch).await.expect("delivered");
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]));
    assert_eq!(app.mailer.about("backup code was used").len(), 2);

    // The same batch again, as a retry after a later record failed: no second mail.
    deliver_batch(&notifier, &batch).await.expect("delivered");
    assert_eq!(
        app.mailer.about("backup code was used").len(),
        2,
        "mailed once each"
    );

    // A failure after the first record names that record: the mapping retries from it.
    app.clock.advance(3600);
    assert_eq!(app.verify("ida", &codes[2]).await.status, StatusCode::OK);
    let later = feed.read().await;
    let mut both = batch.clone();
    both["Records"]
        .as_array_mut()
        .unwrap()
        .extend(later["Records"].as_array().unwrap().iter().cloned());
    app.mailer.failing.store(true, Ordering::SeqCst);
    let answer = deliver_batch(&notifier, &both)
        .await
        .expect("a partial failure");
    let failed = answer["batchItemFailures"][0]["itemIdentifier"]
        .as_str()
        .unwrap();
    assert_eq!(
        failed,
        first_audit_sequence(&later),
        "the third use's record, not the delivered ones"
    );
    assert!(sequences(&both).contains(&failed));
    app.mailer.failing.store(false, Ordering::SeqCst);
    assert_eq!(app.mailer.about("backup code was used").len(), 2);
}

#[tokio::test]
async fn a_record_that_does_not_read_fails_the_batch_and_nothing_else() {
    let (client, table) = fresh_table().await;
    let app = TestApp::with_store(Arc::new(DynamoStore::new(client, table.clone())));
    let marks = Arc::new(DynamoStore::new(dynamodb_client().await, table));
    let notifier = integration_tests::notifier_over(&app, marks);
    // The batch's first record does not read: the whole batch is the function's error, which
    // the mapping retries (bisecting it) until it gives the batch to the failure queue.
    for hostile in [
        serde_json::json!({}),
        serde_json::json!({ "Records": [{ "eventName": "INSERT" }] }),
        serde_json::json!({ "Records": [{ "eventID": "1", "awsRegion": "us-east-1",
            "eventName": "INSERT", "dynamodb": { "SequenceNumber": "1", "SizeBytes": 40,
            "NewImage": { "audit_user": { "S": "user#ida" }, "event_type": { "S": "no_such_kind" } }
        }}]}),
        serde_json::json!({ "Records": [{ "eventID": "1", "awsRegion": "us-east-1",
            "eventName": "INSERT", "dynamodb": { "SequenceNumber": "1", "SizeBytes": 10,
            "NewImage": { "audit_user": { "X": "?" } }
        }}]}),
    ] {
        assert!(
            deliver_batch(&notifier, &hostile).await.is_err(),
            "{hostile} is refused"
        );
    }
    assert_eq!(app.mailer.count(), 0);
    // Not an audit item, or not new: nothing to do. (Records carry the fields every stream
    // record has, which `aws_lambda_events` requires: eventID, awsRegion, SizeBytes.)
    let ignored = serde_json::json!({ "Records": [
        { "eventID": "1", "awsRegion": "us-east-1", "eventName": "MODIFY",
          "dynamodb": { "SequenceNumber": "1", "SizeBytes": 10, "NewImage": {} } },
        { "eventID": "2", "awsRegion": "us-east-1", "eventName": "INSERT",
          "dynamodb": { "SequenceNumber": "2", "SizeBytes": 30,
            "NewImage": { "pk": { "S": "delivery#x" } } } },
    ]});
    let answer = deliver_batch(&notifier, &ignored)
        .await
        .expect("nothing fails");
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]));
}

/// The template's schedule hands the function an EventBridge "Scheduled Event": it sweeps the
/// hourly digests that are due and answers how many went.
#[tokio::test]
async fn a_scheduled_event_sends_the_digests_that_are_due() {
    let (client, table) = fresh_table().await;
    let app = TestApp::with_store(Arc::new(DynamoStore::new(client, table.clone())));
    let marks = Arc::new(DynamoStore::new(dynamodb_client().await, table.clone()));
    let function = backup_codes::stream::NotifyFunction {
        notifier: integration_tests::notifier_over(&app, marks),
    };
    let feed = StreamFeed::new(&table);
    let (_, codes) = app.enrolled("ida").await;
    for code in &codes[..4] {
        assert_eq!(app.verify("ida", code).await.status, StatusCode::OK);
    }
    let batch = feed.read().await;
    let answer = function.handle(&batch).await.expect("delivered");
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]));
    assert_eq!(
        app.mailer.about("backup code was used").len(),
        1,
        "the rest are held"
    );
    let scheduled = serde_json::json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2027-01-15T09:15:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/DigestSweep"],
        "detail": {}
    });
    let early = function.handle(&scheduled).await.expect("swept");
    assert_eq!(early["digests_sent"], 0, "not before the hour is over");
    app.clock.advance(3600);
    let due = function.handle(&scheduled).await.expect("swept");
    assert_eq!(due["digests_sent"], 1);
    let digest = app.mailer.last();
    assert!(
        digest.text.contains("3 more security events"),
        "{}",
        digest.text
    );
    let again = function.handle(&scheduled).await.expect("swept");
    assert_eq!(again["digests_sent"], 0, "each digest once");
}
