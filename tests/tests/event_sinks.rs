//! The event sinks as deployed: EventBridge on moto, read back through a rule to an SQS queue;
//! and sinks that fail, which leave the request successful and log the failure.

use std::sync::{Arc, OnceLock};

use aws_sdk_sqs::types::QueueAttributeName;
use backup_codes::{adapters::eventbridge::EventBridgeSink, domain::codes::random_id};
use integration_tests::{emulator_config_at, moto_url, Backend, CapturedLog, TestApp};
use lambda_http::http::StatusCode;
use serde_json::Value;

fn log() -> &'static CapturedLog {
    static LOG: OnceLock<CapturedLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = CapturedLog::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .init();
        log
    })
}

/// The log lines that report `sink` failing for `event`.
fn sink_failures(sink: &str, event: &str) -> usize {
    log()
        .text()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            line["level"] == "ERROR"
                && line["fields"]["message"] == "security event not delivered to a sink"
                && line["fields"]["sink"] == sink
                && line["fields"]["event"] == event
        })
        .count()
}

async fn eventbridge() -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(&emulator_config_at(moto_url()).await)
}

#[tokio::test]
async fn every_event_reaches_a_rule_on_the_bus() {
    let config = emulator_config_at(moto_url()).await;
    let (events, sqs) = (eventbridge().await, aws_sdk_sqs::Client::new(&config));
    let bus = format!("backup-codes-{}", &random_id()[..8]);
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue = sqs
        .create_queue()
        .queue_name(format!("{bus}-queue"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    events
        .put_rule()
        .name("all-backup-codes-events")
        .event_bus_name(&bus)
        .event_pattern(r#"{"source": ["backup-codes"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("all-backup-codes-events")
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let app = TestApp::new(Backend::Memory)
        .await
        .with_bus(Arc::new(EventBridgeSink::new(events.clone(), &bus)));
    let (_, codes) = app.enrolled("eve").await;
    assert_eq!(app.verify("eve", &codes[0]).await.status, StatusCode::OK);

    let mut received = vec![];
    for _ in 0..10 {
        let out = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for message in out.messages() {
            let body: Value = serde_json::from_str(message.body().unwrap()).unwrap();
            for code in &codes {
                assert!(
                    !message.body().unwrap().contains(code.as_str()),
                    "no code on the bus"
                );
            }
            received.push(body);
        }
        if received.len() >= 3 {
            break;
        }
    }
    let mut kinds: Vec<&str> = received
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["backup_code_used", "codes_issued", "enrolled"]);
    let used = received
        .iter()
        .find(|e| e["detail-type"] == "backup_code_used")
        .unwrap();
    assert_eq!(used["source"], "backup-codes");
    assert_eq!(used["detail"]["user_id"], "eve");
    assert_eq!(used["detail"]["actor"], "auth_server");
    assert_eq!(used["detail"]["remaining_codes"], 9);
}

#[tokio::test]
async fn failing_sinks_leave_the_request_successful_and_are_logged() {
    log();
    // A bus nobody answers for: the SDK's request fails.
    let unreachable = aws_sdk_eventbridge::Client::new(
        &emulator_config_at("http://127.0.0.1:9".to_owned()).await,
    );
    let app = TestApp::new(Backend::Memory)
        .await
        .with_bus(Arc::new(EventBridgeSink::new(unreachable, "nowhere")));
    let (_, codes) = app.enrolled("fay").await;
    app.mailer
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let before = (
        sink_failures("mail", "backup_code_used"),
        sink_failures("eventbridge", "backup_code_used"),
    );
    let used = app.verify("fay", &codes[0]).await;
    assert_eq!(used.status, StatusCode::OK, "{}", used.text);
    assert_eq!(used.json()["remaining_backup_codes"], 9);
    assert_eq!(
        (
            sink_failures("mail", "backup_code_used"),
            sink_failures("eventbridge", "backup_code_used"),
        ),
        (before.0 + 1, before.1 + 1),
        "each failing sink is logged once with the event type"
    );
    assert_eq!(sink_failures("audit", "backup_code_used"), 0);
    assert_eq!(
        app.verify("fay", &codes[0]).await.status,
        StatusCode::UNAUTHORIZED,
        "the code was used all the same"
    );
}

/// A pool on moto with one user who signed in with a password: the pool's id, the user's name
/// (moto looks users up by name only; Cognito also takes the `sub`, as the deployed walk
/// shows), the app client and the refresh token the sign-in got.
async fn signed_in_user(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
) -> (String, String, String, String) {
    use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};
    let pool = cognito
        .create_user_pool()
        .pool_name(format!("sessions-{}", &random_id()[..8]))
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("app")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    let user = uuid_like();
    cognito
        .admin_create_user()
        .user_pool_id(&pool)
        .username(&user)
        .send()
        .await
        .unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username(&user)
        .password("Correct-horse-9")
        .permanent(true)
        .send()
        .await
        .unwrap();
    let refresh = cognito
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", &user)
        .auth_parameters("PASSWORD", "Correct-horse-9")
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap()
        .refresh_token
        .unwrap();
    (pool, user, client, refresh)
}

fn uuid_like() -> String {
    let id = random_id();
    format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    )
}

/// Whether `refresh` still gets tokens.
async fn refreshes(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    (pool, client, refresh): (&str, &str, &str),
) -> bool {
    cognito
        .admin_initiate_auth()
        .user_pool_id(pool)
        .client_id(client)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", refresh)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn a_factor_change_ends_the_users_cognito_sessions() {
    use backup_codes::{adapters::cognito::CognitoSessions, domain::sign_in::UserPoolId};
    let cognito =
        aws_sdk_cognitoidentityprovider::Client::new(&emulator_config_at(moto_url()).await);
    let (pool, user, client, refresh) = signed_in_user(&cognito).await;
    assert!(refreshes(&cognito, (&pool, &client, &refresh)).await);
    let sessions = Arc::new(CognitoSessions::new(
        cognito.clone(),
        UserPoolId::parse(&pool).expect("moto's pool id has Cognito's shape"),
    ));
    let app = TestApp::new(Backend::Memory)
        .await
        .with_sessions(sessions.clone());
    log();
    // Enrolling changes the factor: the password-only session from before ends with it.
    app.enrolled(&user).await;
    assert!(
        !refreshes(&cognito, (&pool, &client, &refresh)).await,
        "the refresh token from before enrolling is refused"
    );

    // A user the pool does not know (enrolled through another identity provider) has no
    // session there: the change is delivered, not retried for ever.
    let stranger = uuid_like();
    app.enrolled(&stranger).await;
    assert_eq!(sink_failures("sessions", "enrolled"), 0);

    // An unreachable pool fails the delivery, counted like any sink, and is retried.
    let unreachable = aws_sdk_cognitoidentityprovider::Client::new(
        &emulator_config_at("http://127.0.0.1:9".to_owned()).await,
    );
    let app = TestApp::new(Backend::Memory)
        .await
        .with_sessions(Arc::new(CognitoSessions::new(
            unreachable,
            UserPoolId::parse(&pool).unwrap(),
        )));
    app.enrolled("sessions-unreachable").await;
    assert!(sink_failures("sessions", "enrolled") >= 1);
}
