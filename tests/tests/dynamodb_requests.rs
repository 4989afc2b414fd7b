//! How many DynamoDB requests each route makes, counted on the wire by an SDK interceptor.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::{
    config::{
        interceptors::BeforeTransmitInterceptorContextRef, ConfigBag, Intercept, RuntimeComponents,
    },
    error::BoxError,
};
use backup_codes::adapters::dynamodb::{ensure_table, DynamoStore};
use integration_tests::{emulator_config, TestApp};
use lambda_http::http::StatusCode;

/// Records the operation (`X-Amz-Target`) of every request the SDK sends.
#[derive(Debug, Default, Clone)]
struct RequestLog(Arc<Mutex<Vec<String>>>);

impl RequestLog {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

async fn counted_app() -> (TestApp, RequestLog) {
    let log = RequestLog::default();
    let config = aws_sdk_dynamodb::config::Builder::from(&emulator_config().await)
        .interceptor(log.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = format!(
        "backup-codes-count-{}",
        backup_codes::domain::codes::random_id()
    );
    ensure_table(&client, &table).await.unwrap();
    (
        TestApp::with_store(Arc::new(DynamoStore::new(client, table))),
        log,
    )
}

/// A verify's first request is the reservation that also reads the record; an accepted code
/// adds one transaction: the write that uses it and clears the ledger, and the event it records.
const READ: &str = "GetItem";
const WRITE: &str = "UpdateItem";
const CHANGE_AND_EVENT: &str = "TransactWriteItems";
/// An event that records no change of its own: the refusal that fills the ledger.
const AUDIT: &str = "PutItem";

#[tokio::test]
async fn verify_requests_are_the_same_for_a_wrong_code_and_an_unknown_user() {
    let (app, log) = counted_app().await;
    let (secret, codes) = app.enrolled("ana").await;

    log.take();
    assert_eq!(app.verify("ana", &codes[0]).await.status, StatusCode::OK);
    assert_eq!(
        log.take(),
        [WRITE, CHANGE_AND_EVENT],
        "backup code: reserve and read, then use and record in one transaction"
    );

    app.next_step();
    assert_eq!(
        app.verify("ana", &app.totp(&secret)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        log.take(),
        [WRITE, CHANGE_AND_EVENT],
        "TOTP: reserve and read, then use and record in one transaction"
    );

    assert_eq!(
        app.verify("ana", &codes[0]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(log.take(), [WRITE], "a refusal: the reservation alone");

    // An unknown user's check is counted in a ledger of its own: the same requests, and the
    // same lock after the threshold, so neither tells who exists.
    for _ in 0..10 {
        assert_eq!(
            app.verify("nobody", &codes[1]).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            log.take(),
            [WRITE],
            "an unknown user costs the same requests"
        );
    }
    assert_eq!(
        app.verify("nobody", &codes[1]).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        log.take(),
        [WRITE],
        "and is locked as a known user is, by the refused reservation"
    );

    for _ in 0..8 {
        app.verify("ana", &codes[0]).await;
    }
    log.take();
    assert_eq!(
        app.verify("ana", &codes[0]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        log.take(),
        [WRITE, AUDIT],
        "the refusal that fills the ledger also records locked_out"
    );
    assert_eq!(
        app.verify("ana", &codes[1]).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        log.take(),
        [WRITE],
        "a full ledger refuses the reservation, which answers why"
    );

    app.clock.advance(900);
    assert_eq!(
        app.verify("nobody", &codes[1]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        log.take(),
        [WRITE, WRITE],
        "a closed window: the refused count answers why, and one write opens the next"
    );
    app.next_step();
    let regenerated = app.regenerate("ana", &app.totp(&secret)).await;
    assert_eq!(
        regenerated.status,
        StatusCode::CREATED,
        "{}",
        regenerated.text
    );
    assert_eq!(
        log.take(),
        [READ, READ, WRITE, WRITE],
        "regenerate: the address check's read (every JWT route), read, reserve (opening a new \
         window), store the pending set"
    );
    assert_eq!(
        app.activate("ana", &regenerated).await.status,
        StatusCode::OK
    );
    assert_eq!(
        log.take(),
        [READ, READ, CHANGE_AND_EVENT],
        "activate: the address check's read, read, then swap the set in and record it in one \
         transaction"
    );
}

#[tokio::test]
async fn a_cognito_sign_in_costs_the_verify_and_one_write_for_the_token_guard() {
    use integration_tests::cognito::{answer, tokens_issued};
    let (app, log) = counted_app().await;
    let (_, codes) = app.enrolled("ana").await;

    log.take();
    assert!(answer(&app, "ana", &codes[0]).await);
    assert_eq!(
        log.take(),
        [WRITE, CHANGE_AND_EVENT],
        "the challenge is a verify: the pass rides on the write that uses the code"
    );
    assert!(tokens_issued(&app, "ana").await);
    assert_eq!(
        log.take(),
        [WRITE],
        "the guard consumes the pass in one write"
    );

    assert!(!tokens_issued(&app, "ana").await);
    assert_eq!(
        log.take(),
        [WRITE, READ],
        "no pass: the refused write, then the read that finds the user enrolled"
    );
    assert!(
        tokens_issued(&app, "ben").await,
        "an unenrolled user (allow)"
    );
    assert_eq!(
        log.take(),
        [WRITE, READ, READ],
        "unenrolled: the refused write, the record, and the user's accounts (none, so no \
         account's rule to read)"
    );
}

/// The backend's membership writes: a read of the membership the write is conditional on,
/// then one transaction for the membership item, the user's list of accounts and the event.
/// A write of the role already held, or a removal of a non-member, is the read alone.
#[tokio::test]
async fn a_membership_write_is_one_read_and_one_transaction() {
    use integration_tests::Call;
    use serde_json::json;
    let (app, log) = counted_app().await;
    let path = "/v1/accounts/acme/members/ana";
    let put = |role: &'static str| Call::new("PUT", path).json(json!({ "role": role }));
    log.take();

    assert_eq!(app.send(put("member")).await.status, StatusCode::CREATED);
    assert_eq!(log.take(), [READ, CHANGE_AND_EVENT], "a join");
    assert_eq!(app.send(put("admin")).await.status, StatusCode::OK);
    assert_eq!(log.take(), [READ, CHANGE_AND_EVENT], "a role change");
    assert_eq!(app.send(put("admin")).await.status, StatusCode::OK);
    assert_eq!(log.take(), [READ], "the same role again: nothing to write");
    let remove = || Call::new("DELETE", path);
    assert_eq!(app.send(remove()).await.status, StatusCode::NO_CONTENT);
    assert_eq!(log.take(), [READ, CHANGE_AND_EVENT], "a removal");
    assert_eq!(app.send(remove()).await.status, StatusCode::NO_CONTENT);
    assert_eq!(log.take(), [READ], "removed already");
}

/// An account admin's routes: the caller's role (one read) before anything, then what the
/// platform's admin routes do, with the target's membership read once the proof is spent.
#[tokio::test]
async fn an_account_admins_routes_read_the_roles_the_backend_wrote() {
    use integration_tests::Call;
    use serde_json::json;
    let (app, log) = counted_app().await;
    let (ada, _) = app.enrolled("ada").await;
    app.enrolled("mo").await;
    for (user, role) in [("ada", "admin"), ("mo", "member")] {
        let path = format!("/v1/accounts/acme/members/{user}");
        app.send(Call::new("PUT", &path).json(json!({ "role": role })))
            .await;
    }
    app.next_step();
    log.take();

    let list = app
        .send(Call::new("GET", "/v1/accounts/acme/members").user("ada"))
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        log.take(),
        [READ, READ, "Query", "BatchGetItem"],
        "the caller's stored address (every JWT route keeps it current), the caller's role, a \
         page of the index, the page's records"
    );

    let refused = app
        .send(Call::new("GET", "/v1/accounts/acme/members").user("mo"))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        log.take(),
        [READ, READ],
        "a plain member: the address and the role alone"
    );

    let reset = app
        .send(
            Call::new("POST", "/v1/accounts/acme/members/mo/backup-codes")
                .user("ada")
                .header("x-otp", app.totp(&ada)),
        )
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.text);
    assert_eq!(
        log.take(),
        [
            READ,
            READ,
            READ,
            WRITE,
            WRITE,
            READ,
            READ,
            WRITE,
            CHANGE_AND_EVENT
        ],
        "the address; the role; the admin's own record, the proof's reservation and its \
         spending; the target's membership and record; the day's mail count; the grant with \
         its event"
    );

    let audit = app
        .send(Call::new("GET", "/v1/accounts/acme/members/mo/audit").user("ada"))
        .await;
    assert_eq!(audit.status, StatusCode::OK);
    assert_eq!(
        log.take(),
        [READ, READ, READ, "Query"],
        "the address, the role, the membership, a page of the trail"
    );
}

/// An account's rule: read and set by its admins, asked by the auth server, and asked again
/// wherever a second factor may be missing or turned off.
#[tokio::test]
async fn an_accounts_rule_costs_a_read_where_it_applies() {
    use integration_tests::Call;
    use serde_json::json;
    let (app, log) = counted_app().await;
    let (ada, _) = app.enrolled("ada").await;
    let (_, mo_codes) = app.enrolled("mo").await;
    for (user, role) in [("ada", "admin"), ("al", "admin"), ("mo", "member")] {
        let path = format!("/v1/accounts/acme/members/{user}");
        app.send(Call::new("PUT", &path).json(json!({ "role": role })))
            .await;
    }
    app.next_step();
    log.take();

    let read = Call::new("GET", "/v1/accounts/acme/policy").user("ada");
    assert_eq!(app.send(read).await.status, StatusCode::OK);
    assert_eq!(
        log.take(),
        [READ, READ, READ],
        "address, role, the account item"
    );

    let set = Call::new("PUT", "/v1/accounts/acme/policy")
        .user("ada")
        .json(json!({ "two_factor": "required", "totp": app.totp(&ada) }));
    assert_eq!(app.send(set).await.status, StatusCode::OK);
    assert_eq!(
        log.take(),
        [
            READ,
            READ,
            READ,
            WRITE,
            WRITE,
            READ,
            "BatchGetItem",
            CHANGE_AND_EVENT
        ],
        "address, role; the proof's record, reservation and spending; the account item; the \
         other admins' addresses; the rule with an event for each admin"
    );

    let asked = Call::new("GET", "/v1/accounts/acme/members/mo/requirement");
    assert_eq!(app.send(asked).await.status, StatusCode::OK);
    assert_eq!(
        log.take(),
        [READ, READ, READ],
        "membership, account item, record"
    );

    let turn_off = Call::new("DELETE", "/v1/totp/enrollment")
        .user("mo")
        .json(json!({ "totp": mo_codes[0] }));
    assert_eq!(app.send(turn_off).await.status, StatusCode::CONFLICT);
    assert_eq!(
        log.take(),
        [READ, READ, "BatchGetItem"],
        "address; the user's accounts and their rules, before any code is checked"
    );

    let status = Call::new("GET", "/v1/backup-codes").user("mo");
    assert_eq!(app.send(status).await.status, StatusCode::OK);
    assert_eq!(
        log.take(),
        [READ, READ, READ, "BatchGetItem"],
        "address, record, the rules"
    );
}

/// A recovery request: filed by the auth server (the same reads for a user it files for and one
/// it does not), listed by an account's admin, approved and denied.
#[tokio::test]
async fn a_recovery_request_costs_a_few_reads_and_one_transaction_a_step() {
    use integration_tests::Call;
    use serde_json::json;
    let (app, log) = counted_app().await;
    let (ada, _) = app.enrolled("ada").await;
    app.enrolled("mo").await;
    app.enrolled("mel").await;
    for (user, role) in [("ada", "admin"), ("mo", "member"), ("mel", "member")] {
        let path = format!("/v1/accounts/acme/members/{user}");
        app.send(Call::new("PUT", &path).json(json!({ "role": role })))
            .await;
    }
    log.take();
    let file = |user: &'static str| {
        app.send(Call::new("POST", "/v1/recovery-requests").json(json!({ "user_id": user })))
    };

    assert_eq!(file("nobody").await.status, StatusCode::ACCEPTED);
    assert_eq!(
        log.take(),
        [READ, READ, READ],
        "the user's record, their latest request and their accounts, read side by side; \
         nothing filed for nobody"
    );
    assert_eq!(file("mo").await.status, StatusCode::ACCEPTED);
    assert_eq!(
        log.take(),
        [
            READ,
            READ,
            READ,
            WRITE,
            WRITE,
            "BatchGetItem",
            "BatchGetItem",
            "BatchGetItem",
            CHANGE_AND_EVENT
        ],
        "the same three reads; the hold on filing; the day's mail count (the user is mailed \
         first); the accounts' queues, their admins and the admins' addresses; the request \
         with its pointer, queues and events"
    );
    assert_eq!(file("mo").await.status, StatusCode::ACCEPTED);
    assert_eq!(log.take(), [READ, READ, READ], "open already: nothing more");

    let list = app
        .send(Call::new("GET", "/v1/accounts/acme/recovery-requests").user("ada"))
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let id = list.json()["requests"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        log.take(),
        [READ, READ, READ, READ],
        "the address, the role, the account's queue, the asker's membership"
    );

    app.clock.advance(86_400);
    app.next_step();
    let approved = app
        .send(
            Call::new(
                "POST",
                &format!("/v1/accounts/acme/recovery-requests/{id}/approve"),
            )
            .user("ada")
            .header("x-otp", app.totp(&ada)),
        )
        .await;
    assert_eq!(approved.status, StatusCode::ACCEPTED, "{}", approved.text);
    assert_eq!(
        log.take(),
        [
            READ,
            READ,
            READ,
            WRITE,
            WRITE,
            READ,
            READ,
            READ,
            CHANGE_AND_EVENT,
            READ,
            WRITE,
            CHANGE_AND_EVENT
        ],
        "the address and the role; the admin's proof (record, reservation, spend); the request \
         by its id (pointer, request) and the asker's membership; the request closed; then the \
         reset: the record, the day's mail count, the grant with the approval's event"
    );

    assert_eq!(file("mel").await.status, StatusCode::ACCEPTED);
    log.take();
    let mel = app
        .send(Call::new("GET", "/v1/accounts/acme/recovery-requests").user("ada"))
        .await
        .json()["requests"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    log.take();
    let denied = app
        .send(
            Call::new(
                "POST",
                &format!("/v1/accounts/acme/recovery-requests/{mel}/deny"),
            )
            .user("ada")
            .json(json!({})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::NO_CONTENT, "{}", denied.text);
    assert_eq!(
        log.take(),
        [READ, READ, READ, READ, READ, READ, CHANGE_AND_EVENT],
        "the address and the role; the request by its id, the asker's membership and address; \
         the request closed with its event"
    );
}
