//! A valid code is never called wrong: when other requests of the same user change the ledger
//! under a valid code's write, the write is reserved and sent again, or the client is told to
//! send it again (409 `try_again` with `Retry-After`), and the code stays unspent.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use tokio::sync::Barrier;

use crate::{Reply, TestApp};

/// Success, or a retryable refusal that says when to come back; never `invalid_code`.
fn succeeded_or_told_to_retry(reply: &Reply) -> bool {
    if reply.status.is_success() {
        return true;
    }
    let retryable = [StatusCode::CONFLICT, StatusCode::TOO_MANY_REQUESTS].contains(&reply.status)
        && ["try_again", "locked"].contains(&reply.json()["error"].as_str().unwrap_or(""))
        && reply.headers.contains_key("retry-after");
    assert!(
        retryable,
        "a valid code was refused: {} {}",
        reply.status, reply.text
    );
    false
}

pub async fn distinct_valid_codes_at_once_each_succeed_or_are_told_to_retry(app: TestApp) {
    let (_, codes) = app.enrolled("xia").await;
    let app = Arc::new(app);
    let at_once = 9;
    let barrier = Arc::new(Barrier::new(at_once));
    let tasks: Vec<_> = codes[..at_once]
        .iter()
        .map(|code| {
            let (app, barrier, code) = (app.clone(), barrier.clone(), code.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let reply = app.verify("xia", &code).await;
                (code, reply)
            })
        })
        .collect();
    let mut to_retry = vec![];
    for task in tasks {
        let (code, reply) = task.await.unwrap();
        if !succeeded_or_told_to_retry(&reply) {
            to_retry.push(code);
        }
    }
    for code in &to_retry {
        let again = app.verify("xia", code).await;
        assert_eq!(
            again.status,
            StatusCode::OK,
            "told to retry, then: {}",
            again.text
        );
    }
    let status = app.status("xia").await;
    assert_eq!(
        status["remaining"], 1,
        "every one of the {at_once} was used once: {status}"
    );
}

pub async fn a_sign_in_beside_a_backup_code_step_up_never_refuses_the_proof(app: TestApp) {
    let (secret, codes) = app.enrolled("yan").await;
    let app = Arc::new(app);
    for (round, proof) in codes[..6].iter().enumerate() {
        app.next_step();
        let totp = app.totp(&secret);
        let barrier = Arc::new(Barrier::new(2));
        let signing_in = {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.verify("yan", &totp).await
            })
        };
        let regenerating = {
            let (app, barrier, proof) = (app.clone(), barrier.clone(), proof.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.regenerate("yan", &proof).await
            })
        };
        let signed_in = signing_in.await.unwrap();
        assert_eq!(
            signed_in.status,
            StatusCode::OK,
            "round {round}: {}",
            signed_in.text
        );
        let regenerated = regenerating.await.unwrap();
        if !succeeded_or_told_to_retry(&regenerated) {
            let again = app.regenerate("yan", proof).await;
            assert_eq!(
                again.status,
                StatusCode::CREATED,
                "round {round}: {}",
                again.text
            );
        }
    }
    let status = app.status("yan").await;
    assert_eq!(status["remaining"], 4, "each proof spent once: {status}");
}
