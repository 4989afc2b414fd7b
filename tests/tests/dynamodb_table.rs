//! The table the local server and the tests make: `ensure_table` brings a table made before its
//! indexes existed up to date, one index at a time, and the new index answers at once. And an
//! item an earlier version wrote still serves.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use backup_codes::{
    adapters::dynamodb::{ensure_table, DynamoStore, AUDIT_INDEX, MEMBERS_INDEX, PARTITION_KEY},
    domain::{
        account::{AccountId, Role},
        codes::random_id,
        user::UserId,
    },
    ports::{MemberLists, MembershipWrites, Written},
};
use integration_tests::{dynamodb_client, fresh_table, TestApp};
use serde_json::Value;

#[tokio::test]
async fn a_table_from_before_the_indexes_gains_both() {
    let client = dynamodb_client().await;
    let table = format!("backup-codes-old-{}", random_id());
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(PARTITION_KEY)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(PARTITION_KEY)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // Twice: the second finds nothing to add.
    for _ in 0..2 {
        ensure_table(&client, &table).await.unwrap();
        let described = client.describe_table().table_name(&table).send().await;
        let indexes: BTreeSet<String> = described
            .unwrap()
            .table
            .unwrap()
            .global_secondary_indexes()
            .iter()
            .filter_map(|index| index.index_name().map(str::to_owned))
            .collect();
        assert_eq!(
            indexes,
            BTreeSet::from([AUDIT_INDEX.to_owned(), MEMBERS_INDEX.to_owned()])
        );
    }

    let store = DynamoStore::new(client, table);
    let (acme, ana) = (
        AccountId::parse("acme").unwrap(),
        UserId::parse("ana").unwrap(),
    );
    let joined = store.put_membership(&acme, &ana, Role::Member, None, &[]);
    assert_eq!(joined.await.unwrap(), Written::Applied);
    let page = store.members(&acme, 10, None).await.unwrap();
    assert_eq!(page.members, vec![(ana, Role::Member)]);
}

#[tokio::test]
async fn a_set_stored_before_sets_kept_their_lines_still_serves() {
    let (client, table) = fresh_table().await;
    let store = DynamoStore::new(client.clone(), table.clone());
    let app = TestApp::with_store(std::sync::Arc::new(store));
    let (_, codes) = app.enrolled("old").await;
    assert_eq!(app.verify("old", &codes[2]).await.status, 200);
    // As an earlier version stored it: the codes without their lines.
    client
        .update_item()
        .table_name(&table)
        .key(
            PARTITION_KEY,
            aws_sdk_dynamodb::types::AttributeValue::S("user#old".into()),
        )
        .update_expression("REMOVE code_lines")
        .send()
        .await
        .unwrap();
    assert_eq!(
        app.verify("old", &codes[3]).await.status,
        200,
        "its codes still work"
    );
    let status = app.status("old").await;
    assert_eq!(status["remaining"], 8);
    let numbers: Vec<Value> = status["used"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["number"].clone())
        .collect();
    assert_eq!(
        numbers,
        [Value::Null, Value::Null],
        "unknown, never a wrong line"
    );
    // Its next set is numbered.
    let fresh = app.regenerate_and_activate("old", &codes[4]).await;
    assert_eq!(app.verify("old", &fresh[6]).await.status, 200);
    assert_eq!(app.status("old").await["used"][0]["number"], 7);
}
