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
        serde_json::json!({ "Records": [{ "eventName": "INSERT", "dynamodb": {
            "SequenceNumber": "1",
            "NewImage": { "audit_user": { "S": "user#ida" }, "event_type": { "S": "no_such_kind" } }
        }}]}),
        serde_json::json!({ "Records": [{ "eventName": "INSERT", "dynamodb": {
            "SequenceNumber": "1", "NewImage": { "audit_user": { "X": "?" } }
        }}]}),
    ] {
        assert!(
            deliver_batch(&notifier, &hostile).await.is_err(),
            "{hostile} is refused"
        );
    }
    assert_eq!(app.mailer.count(), 0);
    // Not an audit item, or not new: nothing to do.
    let ignored = serde_json::json!({ "Records": [
        { "eventName": "MODIFY", "dynamodb": { "SequenceNumber": "1", "NewImage": {} } },
        { "eventName": "INSERT", "dynamodb": { "SequenceNumber": "2",
            "NewImage": { "pk": { "S": "delivery#x" } } } },
    ]});
    let answer = deliver_batch(&notifier, &ignored)
        .await
        .expect("nothing fails");
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]));
}
