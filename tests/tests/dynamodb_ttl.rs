//! What DynamoDB's TTL may sweep: an enrollment that was started and never confirmed, an
//! unknown user's attempt ledger, and nothing a confirmed user depends on (their item carries
//! `NEVER_SWEPT`, which is also how a verify's one write tells it from an unknown user's).

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use backup_codes::{
    adapters::dynamodb::{DynamoStore, NEVER_SWEPT, PARTITION_KEY, TTL_ATTRIBUTE},
    ports::Clock,
};
use integration_tests::{fresh_table, Call, TestApp};
use lambda_http::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn only_an_unconfirmed_enrollment_carries_the_ttl_attribute() {
    let (client, table) = fresh_table().await;
    let app = TestApp::with_store(Arc::new(DynamoStore::new(client.clone(), table.clone())));
    let expiry_of = |user: &'static str| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key(PARTITION_KEY, AttributeValue::S(format!("user#{user}")))
                .send()
                .await
                .unwrap()
                .item
                .expect("the user's item");
            item.get(TTL_ATTRIBUTE)
                .map(|v| v.as_n().unwrap().parse::<i64>().unwrap())
        }
    };

    let started = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("abandoned"))
        .await;
    assert_eq!(started.status, StatusCode::CREATED);
    let now = app.clock.now().unix_timestamp();
    assert_eq!(
        expiry_of("abandoned").await,
        Some(now + 7 * 86_400),
        "an abandoned enrollment is swept after a week"
    );

    let started = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("kept"))
        .await;
    let secret = started.json()["secret"].as_str().unwrap().to_owned();
    let confirmed = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("kept")
                .json(json!({ "code": app.totp(&secret) })),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    assert_eq!(
        expiry_of("kept").await,
        Some(NEVER_SWEPT),
        "a confirmed user never expires"
    );

    // An unknown user's counted checks are swept once any window they open has closed (ten
    // reservations, each moving the end 15 minutes on); a known user's check leaves theirs.
    let refused = app
        .send(Call::new("POST", "/v1/verify").json(json!({ "user_id": "ghost", "code": "000000" })))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        expiry_of("ghost").await,
        Some(now + 10 * 900),
        "an unknown user's ledger goes once its longest window has closed"
    );
    let refused = app
        .send(Call::new("POST", "/v1/verify").json(json!({ "user_id": "kept", "code": "000000" })))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        expiry_of("kept").await,
        Some(NEVER_SWEPT),
        "a known user's ledger never expires their item"
    );

    // A record confirmed before `NEVER_SWEPT` existed has no expiry at all: the first verify
    // marks it (one more write, once) instead of giving it an unknown user's.
    client
        .update_item()
        .table_name(&table)
        .key(PARTITION_KEY, AttributeValue::S("user#kept".into()))
        .update_expression(format!("REMOVE {TTL_ATTRIBUTE}"))
        .send()
        .await
        .unwrap();
    app.next_step();
    let accepted = app
        .send(
            Call::new("POST", "/v1/verify")
                .json(json!({ "user_id": "kept", "code": app.totp(&secret) })),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    assert_eq!(
        expiry_of("kept").await,
        Some(NEVER_SWEPT),
        "an older record is marked, never given a sweep time"
    );
}
