//! The table itself, for the local server and the tests: created with its audit index when
//! missing, the index added to a table from before it, and waited for until usable.

use aws_sdk_dynamodb::Client;

use super::{AUDIT_INDEX, AUDIT_SORT_KEY, AUDIT_USER, PARTITION_KEY};
use crate::ports::StoreError;

/// Creates the table (with its audit index) if it is missing, adds the index to a table made
/// before it existed, and waits until both are usable (local server, tests).
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
        GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection,
        ProjectionType, ScalarAttributeType, TableStatus,
    };
    let fault = |operation: &'static str| {
        move |err: Box<dyn std::error::Error + Send + Sync>| StoreError::Request {
            operation,
            source: err,
        }
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| fault("describe the key")(Box::new(e)))
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| fault("describe the key")(Box::new(e)))
    };
    let projection = Projection::builder()
        .projection_type(ProjectionType::All)
        .build();
    let exists = client.describe_table().table_name(table).send().await;
    let described = match exists {
        Ok(out) => out.table,
        Err(err) => {
            let missing = err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception());
            if !missing {
                return Err(fault("describe the table")(Box::new(err)));
            }
            let index = GlobalSecondaryIndex::builder()
                .index_name(AUDIT_INDEX)
                .key_schema(key(AUDIT_USER, KeyType::Hash)?)
                .key_schema(key(AUDIT_SORT_KEY, KeyType::Range)?)
                .projection(projection.clone())
                .build()
                .map_err(|e| fault("describe the audit index")(Box::new(e)))?;
            client
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(attribute(PARTITION_KEY)?)
                .attribute_definitions(attribute(AUDIT_USER)?)
                .attribute_definitions(attribute(AUDIT_SORT_KEY)?)
                .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
                .global_secondary_indexes(index)
                // The stream the notify function reads, as the template's table has it.
                .stream_specification(
                    aws_sdk_dynamodb::types::StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewImage)
                        .build()
                        .map_err(|e| fault("describe the table's stream")(Box::new(e)))?,
                )
                .send()
                .await
                .map_err(|e| fault("create the table")(Box::new(e)))?;
            None
        }
    };
    let has_index = |t: &aws_sdk_dynamodb::types::TableDescription| {
        t.global_secondary_indexes()
            .iter()
            .any(|i| i.index_name() == Some(AUDIT_INDEX))
    };
    if described.as_ref().is_some_and(|t| !has_index(t)) {
        // A table from before the audit trail: the README's migration, done for the local run.
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(AUDIT_INDEX)
            .key_schema(key(AUDIT_USER, KeyType::Hash)?)
            .key_schema(key(AUDIT_SORT_KEY, KeyType::Range)?)
            .projection(projection)
            .build()
            .map_err(|e| fault("describe the audit index")(Box::new(e)))?;
        client
            .update_table()
            .table_name(table)
            .attribute_definitions(attribute(AUDIT_USER)?)
            .attribute_definitions(attribute(AUDIT_SORT_KEY)?)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(|e| fault("add the audit index")(Box::new(e)))?;
    }
    for _ in 0..100 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| fault("wait for the table")(Box::new(e)))?;
        let ready = described.table.is_some_and(|t| {
            t.table_status == Some(TableStatus::Active)
                && t.global_secondary_indexes().iter().any(|i| {
                    i.index_name() == Some(AUDIT_INDEX)
                        && i.index_status() == Some(&IndexStatus::Active)
                })
        });
        if ready {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(StoreError::TableNotActive {
        table: table.to_owned(),
        seconds: 10,
    })
}
