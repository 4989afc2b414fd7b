//! The table itself, for the local server and the tests: created with its indexes (the audit
//! trail, each account's members) when missing, an index added to a table from before it, and
//! waited for until usable.

use aws_sdk_dynamodb::Client;

use super::{
    AUDIT_INDEX, AUDIT_SORT_KEY, AUDIT_USER, MEMBERS_INDEX, MEMBER_OF, MEMBER_USER, PARTITION_KEY,
};
use crate::ports::StoreError;

/// Creates the table (with its audit index) if it is missing, adds the index to a table made
/// before it existed, and waits until both are usable (local server, tests).
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
        GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType,
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
    let index_keys = |partition: &str, sort: &str| -> Result<Vec<KeySchemaElement>, StoreError> {
        Ok(vec![
            key(partition, KeyType::Hash)?,
            key(sort, KeyType::Range)?,
        ])
    };
    let projection = Projection::builder()
        .projection_type(ProjectionType::All)
        .build();
    // Each index by its name, partition key and sort key: the audit trail, and the members
    // of each account.
    let indexes = [
        (AUDIT_INDEX, AUDIT_USER, AUDIT_SORT_KEY),
        (MEMBERS_INDEX, MEMBER_OF, MEMBER_USER),
    ];
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
            let mut create = client
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(attribute(PARTITION_KEY)?)
                .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
                // The stream the notify function reads, as the template's table has it.
                .stream_specification(
                    aws_sdk_dynamodb::types::StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewImage)
                        .build()
                        .map_err(|e| fault("describe the table's stream")(Box::new(e)))?,
                );
            for (name, partition, sort) in indexes {
                let index = GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .set_key_schema(Some(index_keys(partition, sort)?))
                    .projection(projection.clone())
                    .build()
                    .map_err(|e| fault("describe an index")(Box::new(e)))?;
                create = create
                    .attribute_definitions(attribute(partition)?)
                    .attribute_definitions(attribute(sort)?)
                    .global_secondary_indexes(index);
            }
            create
                .send()
                .await
                .map_err(|e| fault("create the table")(Box::new(e)))?;
            None
        }
    };
    let has_index = |t: &aws_sdk_dynamodb::types::TableDescription, name: &str| {
        t.global_secondary_indexes()
            .iter()
            .any(|i| i.index_name() == Some(name))
    };
    for (name, partition, sort) in indexes {
        if described.as_ref().is_some_and(|t| !has_index(t, name)) {
            // A table from before the index: the README's migration, done for the local run. One
            // index is added per update, and waited for before the next.
            let create = CreateGlobalSecondaryIndexAction::builder()
                .index_name(name)
                .set_key_schema(Some(index_keys(partition, sort)?))
                .projection(projection.clone())
                .build()
                .map_err(|e| fault("describe an index")(Box::new(e)))?;
            client
                .update_table()
                .table_name(table)
                .attribute_definitions(attribute(partition)?)
                .attribute_definitions(attribute(sort)?)
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder().create(create).build(),
                )
                .send()
                .await
                .map_err(|e| fault("add an index")(Box::new(e)))?;
            wait_until_usable(client, table, name).await?;
        }
    }
    for (name, _, _) in indexes {
        wait_until_usable(client, table, name).await?;
    }
    Ok(())
}

/// Waits until the table is active with its index `name`.
async fn wait_until_usable(client: &Client, table: &str, name: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{IndexStatus, TableStatus};
    for _ in 0..100 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| StoreError::Request {
                operation: "wait for the table",
                source: Box::new(e),
            })?;
        let ready = described.table.is_some_and(|t| {
            t.table_status == Some(TableStatus::Active)
                && t.global_secondary_indexes().iter().any(|i| {
                    i.index_name() == Some(name) && i.index_status() == Some(&IndexStatus::Active)
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
