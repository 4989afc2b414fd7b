//! The behaviour suite. Every function here runs against the in-memory store and against
//! DynamoDB (dynalite): `behaviour_suite!` instantiates them as tests for a backend.

use lambda_http::http::StatusCode;
use serde_json::{json, Value};

use crate::{Call, TestApp};

mod events;
mod new_phone;
mod pending_sets;
mod step_up;
mod two_factor_off;
pub use events::*;
pub use new_phone::*;
pub use pending_sets::*;
pub use step_up::*;
pub use two_factor_off::*;

#[macro_export]
macro_rules! behaviour_suite {
    ($backend:expr) => {
        $crate::behaviour_suite!($backend;
            full_walk_enroll_confirm_verify_regenerate,
            backup_code_works_exactly_once,
            verify_accepts_any_case_spaces_and_no_hyphen,
            totp_code_is_rejected_when_replayed,
            totp_skew_is_one_step_either_way,
            refusals_are_identical_for_unknown_user_wrong_and_used_code,
            enrollment_restart_replaces_the_pending_secret,
            enrollment_refusals,
            regenerate_needs_a_step_up_proof,
            regenerate_as_text_attachment_via_x_otp,
            delete_removes_the_set,
            status_reports_use_without_codes,
            malformed_input_is_refused_and_changes_nothing,
            unknown_routes_and_methods,
            concurrent_verifies_of_one_backup_code_succeed_once,
            concurrent_verifies_of_one_totp_code_succeed_once,
            concurrent_regenerates_with_one_totp_code_succeed_once,
            admin_reset_kills_old_codes_and_mails_a_single_use_link,
            admin_reset_refusals,
            admin_totp_is_replay_protected,
            a_new_admin_reset_replaces_the_link,
            without_a_link_base_url_the_link_points_at_the_address_called,
            forged_expired_truncated_and_foreign_tokens_are_gone,
            the_page_never_redeems_on_get_or_head,
            the_page_form_post_shows_codes_with_download_and_copy,
            mail_failure_changes_nothing,
            owner_regenerate_cancels_a_pending_link,
            concurrent_redemptions_issue_one_set,
            repeated_refusals_lock_verifies_for_a_while,
            an_accepted_code_resets_the_failure_count,
            refusals_for_unknown_users_write_nothing,
            concurrent_refusals_are_all_counted,
            a_verify_burst_evaluates_at_most_the_threshold,
            a_step_up_burst_evaluates_at_most_the_threshold,
            an_admin_totp_burst_evaluates_at_most_the_threshold,
            a_confirm_burst_evaluates_at_most_the_threshold,
            the_admin_totp_is_checked_before_anything_about_the_target,
            the_email_claim_must_be_one_address_and_is_dropped_when_unverified,
            a_comma_in_a_group_name_never_makes_an_admin,
            the_admin_path_user_is_decoded_once,
            sets_keep_working_after_the_hash_cost_changes,
            each_security_event_mails_the_user_once_with_its_facts,
            the_audit_trail_says_who_did_what_from_where,
            the_audit_trail_pages_newest_first,
            admins_read_any_trail_and_nobody_else_does,
            the_lockout_mail_is_sent_once_per_window_under_a_burst,
            running_low_is_signalled_by_verify_and_the_status,
            a_verify_source_must_be_an_address_and_a_short_agent,
            notify_switches_each_mail_off,
            a_failing_mailer_never_fails_the_request,
            a_backup_code_proves_regenerate_and_remove_and_is_spent,
            an_admin_proves_themselves_with_a_backup_code,
            one_backup_code_is_one_proof_across_routes_at_once,
            wrong_backup_code_proofs_fill_the_ledger,
            turning_two_factor_off_leaves_the_user_as_never_enrolled,
            a_lost_phones_backup_code_turns_two_factor_off,
            an_admin_turns_two_factor_off_behind_their_own_proof,
            a_burst_of_wrong_proofs_to_turn_off_evaluates_at_most_the_threshold,
            a_new_phone_replaces_the_authenticator_once_confirmed,
            a_replacement_needs_a_proof_and_an_unconfirmed_one_is_dropped,
            a_burst_of_wrong_proofs_to_replace_evaluates_at_most_the_threshold,
            only_the_owners_live_pending_set_can_be_activated,
            concurrent_activations_of_one_set_apply_once,
            removing_codes_removes_the_pending_set_too,
            the_lost_phone_path_end_to_end,
        );
    };
    ($backend:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::suite::$name($crate::TestApp::new($backend).await).await;
            }
        )+
    };
}

pub(crate) fn is_invalid_code(reply: &crate::Reply) -> bool {
    reply.status == StatusCode::UNAUTHORIZED && reply.json()["error"] == "invalid_code"
}

pub async fn full_walk_enroll_confirm_verify_regenerate(app: TestApp) {
    let started = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("ana"))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let body = started.json();
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "160-bit secret in base32");
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Acme:ana%40example.com?"),
        "{uri}"
    );
    assert!(uri.contains(&format!("secret={secret}")));
    assert!(body["qr_svg"].as_str().unwrap().contains("<svg"));

    let confirmed = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("ana")
                .json(json!({ "code": app.totp(&secret) })),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    let codes = confirmed.codes();
    assert_eq!(codes.len(), 10);
    assert_eq!(confirmed.json()["remaining"], 10);
    for code in &codes {
        assert!(code.len() == 11 && code.as_bytes()[5] == b'-', "{code}");
    }

    app.next_step();
    let by_totp = app.verify("ana", &app.totp(&secret)).await;
    assert_eq!(by_totp.status, StatusCode::OK, "{}", by_totp.text);
    assert_eq!(
        by_totp.json(),
        json!({ "valid": true, "method": "totp", "remaining_backup_codes": 10, "low": false })
    );

    let by_code = app.verify("ana", &codes[0]).await;
    assert_eq!(by_code.status, StatusCode::OK, "{}", by_code.text);
    assert_eq!(
        by_code.json(),
        json!({ "valid": true, "method": "backup_code", "remaining_backup_codes": 9, "low": false })
    );
    assert!(
        is_invalid_code(&app.verify("ana", &codes[0]).await),
        "second use must fail"
    );

    app.next_step();
    let regenerated = app.regenerate("ana", &app.totp(&secret)).await;
    assert_eq!(
        regenerated.status,
        StatusCode::CREATED,
        "{}",
        regenerated.text
    );
    let fresh = regenerated.codes();
    assert_eq!(fresh.len(), 10);
    assert!(regenerated.json()["generated_at"]
        .as_str()
        .unwrap()
        .starts_with("2027-"));
    assert!(
        is_invalid_code(&app.verify("ana", &fresh[0]).await),
        "the new set counts only once activated"
    );
    assert_eq!(
        app.verify("ana", &codes[1]).await.status,
        StatusCode::OK,
        "the old set works until then"
    );
    let activated = app.activate("ana", &regenerated).await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    assert!(
        is_invalid_code(&app.verify("ana", &codes[2]).await),
        "old set must be dead"
    );
    let new_code = app.verify("ana", &fresh[3]).await;
    assert_eq!(
        new_code.json()["remaining_backup_codes"],
        9,
        "{}",
        new_code.text
    );
}

pub async fn backup_code_works_exactly_once(app: TestApp) {
    let (_, codes) = app.enrolled("bo").await;
    for (i, code) in codes.iter().enumerate() {
        let reply = app.verify("bo", code).await;
        assert_eq!(
            reply.json()["remaining_backup_codes"],
            9 - i,
            "{}",
            reply.text
        );
    }
    for code in &codes {
        assert!(is_invalid_code(&app.verify("bo", code).await));
    }
    assert_eq!(app.status("bo").await["remaining"], 0);
}

pub async fn verify_accepts_any_case_spaces_and_no_hyphen(app: TestApp) {
    let (_, codes) = app.enrolled("cy").await;
    let shouted = codes[0].to_uppercase().replace('-', "");
    assert_eq!(app.verify("cy", &shouted).await.status, StatusCode::OK);
    let spaced = codes[1].replace('-', " ");
    assert_eq!(
        app.verify("cy", &format!(" {spaced} ")).await.status,
        StatusCode::OK
    );
}

pub async fn totp_code_is_rejected_when_replayed(app: TestApp) {
    let (secret, _) = app.enrolled("di").await;
    // The confirm step's own code is already spent.
    assert!(is_invalid_code(&app.verify("di", &app.totp(&secret)).await));
    app.next_step();
    let code = app.totp(&secret);
    assert_eq!(app.verify("di", &code).await.status, StatusCode::OK);
    assert!(
        is_invalid_code(&app.verify("di", &code).await),
        "replay must fail"
    );
    // An older step's code is also refused once a later one was accepted.
    assert!(is_invalid_code(
        &app.verify("di", &app.totp_at_offset(&secret, -1)).await
    ));
    let replayed_for_regenerate = app.regenerate("di", &code).await;
    assert!(is_invalid_code(&replayed_for_regenerate));
}

pub async fn totp_skew_is_one_step_either_way(app: TestApp) {
    let (secret, _) = app.enrolled("ed").await;
    app.clock.advance(300);
    let too_old = app.totp_at_offset(&secret, -2);
    let too_new = app.totp_at_offset(&secret, 2);
    let neighbours = [
        app.totp_at_offset(&secret, -1),
        app.totp(&secret),
        app.totp_at_offset(&secret, 1),
    ];
    if !neighbours.contains(&too_old) {
        assert!(is_invalid_code(&app.verify("ed", &too_old).await));
    }
    if !neighbours.contains(&too_new) {
        assert!(is_invalid_code(&app.verify("ed", &too_new).await));
    }
    assert_eq!(
        app.verify("ed", &app.totp_at_offset(&secret, 1))
            .await
            .status,
        StatusCode::OK
    );
}

pub async fn refusals_are_identical_for_unknown_user_wrong_and_used_code(app: TestApp) {
    let (_, codes) = app.enrolled("fa").await;
    app.send(Call::new("POST", "/v1/totp/enrollment").user("pending"))
        .await;
    assert_eq!(app.verify("fa", &codes[0]).await.status, StatusCode::OK);
    let replies = [
        app.verify("nobody", &codes[1]).await,
        app.verify("pending", &codes[1]).await,
        app.verify("fa", "aaaaa-bbbbb").await,
        app.verify("fa", &codes[0]).await,
        app.verify("fa", "000000").await,
        app.verify("nobody", "000000").await,
        app.verify("fa", "not a code").await,
    ];
    let first = &replies[0];
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    assert_eq!(first.json()["valid"], false);
    assert_eq!(first.json()["error"], "invalid_code");
    for reply in &replies {
        assert_eq!((reply.status, &reply.text), (first.status, &first.text));
    }
}

pub async fn enrollment_restart_replaces_the_pending_secret(app: TestApp) {
    let first = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("gu"))
        .await
        .json();
    let second = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("gu"))
        .await
        .json();
    let (old, new) = (
        first["secret"].as_str().unwrap(),
        second["secret"].as_str().unwrap(),
    );
    assert_ne!(old, new);
    let with_old = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("gu")
                .json(json!({ "code": app.totp(old) })),
        )
        .await;
    if app.totp(old) != app.totp(new) {
        assert!(is_invalid_code(&with_old), "{}", with_old.text);
    }
    let with_new = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("gu")
                .json(json!({ "code": app.totp(new) })),
        )
        .await;
    assert_eq!(with_new.status, StatusCode::OK, "{}", with_new.text);
}

pub async fn enrollment_refusals(app: TestApp) {
    let unstarted = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("ha")
                .json(json!({ "code": "123456" })),
        )
        .await;
    assert_eq!(unstarted.status, StatusCode::CONFLICT);
    assert_eq!(unstarted.json()["error"], "no_pending_enrollment");

    let started = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("ha"))
        .await
        .json();
    let secret = started["secret"].as_str().unwrap();
    let wrong = if app.totp(secret) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let refused = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("ha")
                .json(json!({ "code": wrong })),
        )
        .await;
    assert!(is_invalid_code(&refused), "{}", refused.text);

    let confirmed = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("ha")
                .json(json!({ "code": app.totp(secret) })),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK);
    let again = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("ha"))
        .await;
    // Enrolled: starting again is replacing the authenticator, which needs a step-up proof.
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.json()["error"], "totp_required");
    let reconfirm = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("ha")
                .json(json!({ "code": app.totp(secret) })),
        )
        .await;
    assert_eq!(reconfirm.json()["error"], "already_enrolled");
}

pub async fn regenerate_needs_a_step_up_proof(app: TestApp) {
    let (secret, codes) = app.enrolled("ib").await;
    let missing = app
        .send(Call::new("POST", "/v1/backup-codes").user("ib"))
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.json()["error"], "totp_required");
    let wrong = app.regenerate("ib", "12345x").await;
    assert!(is_invalid_code(&wrong));
    assert_eq!(app.verify("ib", &codes[0]).await.status, StatusCode::OK);
    // A used backup code proves nothing (an unused one does: see the step-up module).
    let with_used = app.regenerate("ib", &codes[0]).await;
    assert!(is_invalid_code(&with_used));
    assert_eq!(
        app.verify("ib", &codes[1]).await.status,
        StatusCode::OK,
        "refusals changed nothing"
    );
    let never_enrolled = app.regenerate("nobody", &app.totp(&secret)).await;
    assert_eq!(never_enrolled.status, StatusCode::CONFLICT);
    assert_eq!(never_enrolled.json()["error"], "not_enrolled");
}

pub async fn regenerate_as_text_attachment_via_x_otp(app: TestApp) {
    let (secret, old) = app.enrolled("jo").await;
    app.next_step();
    let reply = app
        .send(
            Call::new("POST", "/v1/backup-codes")
                .user("jo")
                .header("x-otp", app.totp(&secret))
                .header("accept", "text/plain"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        reply.headers["content-disposition"],
        "attachment; filename=\"backup-codes.txt\""
    );
    assert!(
        reply
            .text
            .starts_with("Acme backup codes\nGenerated 2027-01-15"),
        "{}",
        reply.text
    );
    let lines: Vec<&str> = reply
        .text
        .lines()
        .filter(|l| l.len() == 11 && l.as_bytes()[5] == b'-')
        .collect();
    assert_eq!(lines.len(), 10, "{}", reply.text);
    let set_id = reply.headers["x-backup-codes-set-id"].to_str().unwrap();
    assert!(reply.headers.contains_key("x-backup-codes-expires-at"));
    assert!(!reply.text.contains(set_id), "the file is the codes alone");
    let activated = app
        .send(
            Call::new("POST", "/v1/backup-codes/activate")
                .user("jo")
                .json(json!({ "set_id": set_id })),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    assert_eq!(app.verify("jo", lines[9]).await.status, StatusCode::OK);
    assert!(is_invalid_code(&app.verify("jo", &old[0]).await));
}

pub async fn delete_removes_the_set(app: TestApp) {
    let (secret, codes) = app.enrolled("ka").await;
    app.next_step();
    let reply = app
        .send(
            Call::new("DELETE", "/v1/backup-codes")
                .user("ka")
                .json(json!({ "totp": app.totp(&secret) })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert!(reply.text.is_empty());
    assert!(is_invalid_code(&app.verify("ka", &codes[0]).await));
    let status = app.status("ka").await;
    assert_eq!(
        (status["total"].clone(), status["remaining"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(status["generated_at"], Value::Null);
    // TOTP itself still works: only the backup codes are gone.
    app.next_step();
    assert_eq!(
        app.verify("ka", &app.totp(&secret)).await.status,
        StatusCode::OK
    );
}

pub async fn status_reports_use_without_codes(app: TestApp) {
    let (_, codes) = app.enrolled("li").await;
    let before = app.status("li").await;
    assert_eq!(before["total"], 10);
    assert_eq!(before["remaining"], 10);
    assert_eq!(before["used"], json!([]));
    assert_eq!(before["pending_download"], false);
    assert_eq!(before["generated_at"], "2027-01-15T08:00:00Z");
    app.clock.advance(90);
    app.verify("li", &codes[4]).await;
    let after = app.status("li").await;
    assert_eq!(after["remaining"], 9);
    assert_eq!(
        after["used"],
        json!([{ "used_at": "2027-01-15T08:01:30Z" }])
    );
    let text = after.to_string();
    for code in &codes {
        assert!(!text.contains(code.as_str()));
    }
    let nobody = app
        .send(Call::new("GET", "/v1/backup-codes").user("nobody"))
        .await;
    assert_eq!(nobody.json()["error"], "not_enrolled");
}

pub async fn malformed_input_is_refused_and_changes_nothing(app: TestApp) {
    let (secret, codes) = app.enrolled("mo").await;
    let before = app.status("mo").await;
    let huge = format!(
        "{{\"user_id\":\"mo\",\"code\":\"{}\"}}",
        "a".repeat(17 * 1024)
    );
    let cases: Vec<(Call, StatusCode, &str, &str)> = vec![
        (
            Call::new("POST", "/v1/verify").raw("{not json"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "JSON",
        ),
        (
            Call::new("POST", "/v1/verify").json(json!({ "user_id": "mo" })),
            StatusCode::BAD_REQUEST,
            "missing_field",
            "`code`",
        ),
        (
            Call::new("POST", "/v1/verify").json(json!({ "user_id": "mo", "code": 123 })),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "`code`",
        ),
        (
            Call::new("POST", "/v1/verify").json(json!({ "user_id": "", "code": codes[0] })),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "`user_id`",
        ),
        (
            Call::new("POST", "/v1/verify").json(json!({ "user_id": "mo", "code": "" })),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "`code`",
        ),
        (
            Call::new("POST", "/v1/verify")
                .json(json!({ "user_id": "mo", "code": codes[0], "extra": 1 })),
            StatusCode::BAD_REQUEST,
            "unknown_field",
            "`extra`",
        ),
        (
            Call::new("POST", "/v1/verify").json(json!(["mo", codes[0]])),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "object",
        ),
        (
            Call::new("POST", "/v1/verify"),
            StatusCode::BAD_REQUEST,
            "missing_body",
            "JSON body",
        ),
        (
            Call::new("POST", "/v1/verify").raw(huge),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "16384",
        ),
        (
            Call::new("POST", "/v1/verify")
                .header("content-type", "application/x-www-form-urlencoded")
                .raw("user_id=mo"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "application/json",
        ),
        (
            Call::new("GET", "/v1/backup-codes"),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "identity",
        ),
        (
            Call::new("POST", "/v1/backup-codes").json(json!({ "totp": app.totp(&secret) })),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "identity",
        ),
        (
            Call::new("POST", "/v1/totp/enrollment"),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "identity",
        ),
        (
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("mo")
                .json(json!({})),
            StatusCode::BAD_REQUEST,
            "missing_field",
            "`code`",
        ),
        (
            Call::new("POST", "/v1/backup-codes")
                .user("mo")
                .json(json!({ "totp": 5 })),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "`totp`",
        ),
        (
            Call::new("DELETE", "/v1/backup-codes").user("mo").raw("]"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "JSON",
        ),
    ];
    for (call, status, error, named) in cases {
        let label = format!(
            "{} {} {:?}",
            call.method,
            call.path,
            call.body.as_deref().map(|b| &b[..b.len().min(60)])
        );
        let reply = app.send(call).await;
        assert_eq!(reply.status, status, "{label}: {}", reply.text);
        let body = reply.json();
        assert_eq!(body["error"], error, "{label}: {}", reply.text);
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(named),
            "{label}: message {message:?} should name {named:?}"
        );
    }
    assert_eq!(
        app.status("mo").await,
        before,
        "refused requests must change nothing"
    );
    assert_eq!(app.verify("mo", &codes[0]).await.status, StatusCode::OK);
}

pub async fn unknown_routes_and_methods(app: TestApp) {
    let missing = app.send(Call::new("GET", "/v1/nothing").user("no")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"], "not_found");
    let wrong_method = app
        .send(Call::new("PUT", "/v1/backup-codes").user("no"))
        .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers["allow"], "GET, POST, DELETE");
    assert_eq!(wrong_method.json()["error"], "method_not_allowed");
}

pub async fn concurrent_verifies_of_one_backup_code_succeed_once(app: TestApp) {
    let (_, codes) = app.enrolled("ny").await;
    let app = std::sync::Arc::new(app);
    let attempts = 32;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(attempts));
    let tasks: Vec<_> = (0..attempts)
        .map(|_| {
            let (app, barrier, code) = (app.clone(), barrier.clone(), codes[0].clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.verify("ny", &code).await.status
            })
        })
        .collect();
    let mut successes = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::OK => successes += 1,
            // Past the ledger's threshold the rest are not evaluated at all.
            StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(
        successes, 1,
        "exactly one of {attempts} concurrent verifies may succeed"
    );
    assert_eq!(app.status("ny").await["remaining"], 9);
}

pub async fn concurrent_verifies_of_one_totp_code_succeed_once(app: TestApp) {
    let (secret, _) = app.enrolled("ob").await;
    app.next_step();
    let code = app.totp(&secret);
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (app, code) = (app.clone(), code.clone());
            tokio::spawn(async move { app.verify("ob", &code).await.status })
        })
        .collect();
    let mut successes = 0;
    for task in tasks {
        successes += usize::from(task.await.unwrap() == StatusCode::OK);
    }
    assert_eq!(successes, 1);
}

pub async fn concurrent_regenerates_with_one_totp_code_succeed_once(app: TestApp) {
    let (secret, _) = app.enrolled("pa").await;
    app.next_step();
    let code = app.totp(&secret);
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, code) = (app.clone(), code.clone());
            tokio::spawn(async move { app.regenerate("pa", &code).await })
        })
        .collect();
    let mut issued = vec![];
    for task in tasks {
        let reply = task.await.unwrap();
        if reply.status == StatusCode::CREATED {
            issued.push(reply);
        }
    }
    assert_eq!(issued.len(), 1, "one TOTP code may regenerate once");
    assert_eq!(app.activate("pa", &issued[0]).await.status, StatusCode::OK);
    let code = &issued[0].codes()[0];
    assert_eq!(app.verify("pa", code).await.status, StatusCode::OK);
}

const ADMIN_PATH: &str = "/v1/admin/users/{user_id}/backup-codes";

fn admin_path(user: &str) -> String {
    ADMIN_PATH.replace("{user_id}", user)
}

/// Enrolls an admin "root" and a user "uma", and has the admin reset uma's codes.
/// Returns the admin's and uma's TOTP secrets.
async fn reset_by_admin(app: &TestApp) -> (String, String) {
    let (admin_secret, _) = app.enrolled("root").await;
    let (user_secret, _) = app.enrolled("uma").await;
    app.next_step();
    let path = admin_path("uma");
    let reply = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .json(json!({ "totp": app.totp(&admin_secret) })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    (admin_secret, user_secret)
}

async fn redeem_json(app: &TestApp, token: &str) -> crate::Reply {
    app.send(Call::new("POST", "/v1/backup-codes/download").json(json!({ "token": token })))
        .await
}

fn is_gone(reply: &crate::Reply) -> bool {
    reply.status == StatusCode::GONE && reply.json()["error"] == "link_invalid"
}

pub async fn admin_reset_kills_old_codes_and_mails_a_single_use_link(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    let (_, old) = app.enrolled("uma").await;
    app.next_step();
    let path = admin_path("uma");
    let reply = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .header("x-otp", app.totp(&admin_secret)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.json()["status"], "email_sent");
    assert_eq!(reply.json()["expires_at"], "2027-01-16T08:00:30Z");
    assert!(
        is_invalid_code(&app.verify("uma", &old[0]).await),
        "old codes die at once"
    );

    let status = app.status("uma").await;
    assert_eq!(
        (
            status["remaining"].clone(),
            status["pending_download"].clone()
        ),
        (json!(0), json!(true))
    );

    let mail = app.mailer.last();
    assert_eq!(
        mail.to.as_str(),
        "uma@example.com",
        "the address on file, never one the admin gives"
    );
    assert!(mail.subject.contains("Acme"));
    assert!(
        mail.text
            .contains("An administrator reset the backup codes"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains("expires on Sat, 16 Jan 2027 08:00:30"),
        "{}",
        mail.text
    );
    assert!(mail
        .text
        .contains("https://codes.example.com/v1/backup-codes/download#token="));
    assert!(mail
        .html
        .contains("href=\"https://codes.example.com/v1/backup-codes/download#token="));

    let token = crate::token_in(&mail);
    let redeemed = redeem_json(&app, &token).await;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.text);
    let codes = redeemed.codes();
    assert_eq!(codes.len(), 10);
    assert!(
        is_gone(&redeem_json(&app, &token).await),
        "a link works once"
    );
    assert_eq!(app.verify("uma", &codes[2]).await.status, StatusCode::OK);
    let status = app.status("uma").await;
    assert_eq!(
        (
            status["remaining"].clone(),
            status["pending_download"].clone()
        ),
        (json!(9), json!(false))
    );
}

pub async fn admin_reset_refusals(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    let (user_secret, codes) = app.enrolled("uma").await;
    app.next_step();
    let path = admin_path("uma");
    let not_admin = app
        .send(
            Call::new("POST", &path)
                .user("uma")
                .json(json!({ "totp": app.totp(&user_secret) })),
        )
        .await;
    assert_eq!(not_admin.status, StatusCode::FORBIDDEN);
    assert_eq!(not_admin.json()["error"], "forbidden");

    let wrong = if app.totp(&admin_secret) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let bad_totp = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .json(json!({ "totp": wrong })),
        )
        .await;
    assert!(is_invalid_code(&bad_totp), "{}", bad_totp.text);
    let no_totp = app.send(Call::new("POST", &path).admin("root")).await;
    assert_eq!(no_totp.json()["error"], "totp_required");

    app.send(Call::new("POST", "/v1/totp/enrollment").user("pending"))
        .await;
    for target in ["pending", "nobody"] {
        // The admin's code is proven and spent before the target is looked at.
        app.next_step();
        let path = admin_path(target);
        let reply = app
            .send(
                Call::new("POST", &path)
                    .admin("root")
                    .json(json!({ "totp": app.totp(&admin_secret) })),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CONFLICT,
            "{target}: {}",
            reply.text
        );
        assert_eq!(reply.json()["error"], "user_not_enrolled");
    }
    assert_eq!(app.mailer.count(), 0, "no refusal sends mail");
    assert_eq!(
        app.verify("uma", &codes[0]).await.status,
        StatusCode::OK,
        "refusals changed nothing"
    );
    assert_eq!(app.status("uma").await["pending_download"], false);
}

pub async fn admin_totp_is_replay_protected(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    app.enrolled("uma").await;
    app.next_step();
    let code = app.totp(&admin_secret);
    let path = admin_path("uma");
    let first = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .json(json!({ "totp": code })),
        )
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let replay = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .json(json!({ "totp": code })),
        )
        .await;
    assert!(is_invalid_code(&replay));
    assert!(
        is_invalid_code(&app.verify("root", &code).await),
        "the admin's code is spent everywhere"
    );
}

pub async fn a_new_admin_reset_replaces_the_link(app: TestApp) {
    let (admin_secret, _) = reset_by_admin(&app).await;
    let first = crate::token_in(&app.mailer.last());
    app.next_step();
    let path = admin_path("uma");
    app.send(
        Call::new("POST", &path)
            .admin("root")
            .json(json!({ "totp": app.totp(&admin_secret) })),
    )
    .await;
    let second = crate::token_in(&app.mailer.last());
    assert_ne!(first, second);
    assert!(
        is_gone(&redeem_json(&app, &first).await),
        "only the newest link works"
    );
    assert_eq!(redeem_json(&app, &second).await.status, StatusCode::OK);
}

pub async fn without_a_link_base_url_the_link_points_at_the_address_called(mut app: TestApp) {
    app.reconfigure(|config| config.link_base_url = None);
    reset_by_admin(&app).await;
    let mail = app.mailer.last();
    // `Call::event` reports API Gateway's domain as api.example.com, stage `$default`.
    assert!(
        mail.text
            .contains("https://api.example.com/v1/backup-codes/download#token="),
        "{}",
        mail.text
    );
    let token = crate::token_in(&mail);
    assert_eq!(redeem_json(&app, &token).await.status, StatusCode::OK);
}

pub async fn forged_expired_truncated_and_foreign_tokens_are_gone(app: TestApp) {
    use backup_codes::domain::{
        codes::random_id,
        link_token::{DownloadGrant, LinkSigner},
        sealing::{Keyring, SecretKey},
        user::UserId,
    };
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    let mine = LinkSigner::new(Keyring::new(app.signing_key.clone(), vec![]));
    let grant = |offset: i64| DownloadGrant {
        id: random_id(),
        expires_at: backup_codes::ports::Clock::now(&*app.clock) + time::Duration::seconds(offset),
    };
    let uma = UserId::parse("uma").unwrap();
    let root = UserId::parse("root").unwrap();
    let foreign_key = LinkSigner::new(Keyring::new(SecretKey::generate(), vec![]));
    let mut flipped = token.clone().into_bytes();
    let middle = flipped.len() / 3;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let cases = [
        ("truncated", token[..token.len() - 4].to_owned()),
        ("tampered", String::from_utf8(flipped).unwrap()),
        (
            "signed by another key",
            foreign_key.sign(&uma, &grant(3600)),
        ),
        ("unknown grant for this user", mine.sign(&uma, &grant(3600))),
        ("another user's grant", mine.sign(&root, &grant(3600))),
        ("garbage", "not-a-token".to_owned()),
    ];
    for (label, bad) in cases {
        let reply = redeem_json(&app, &bad).await;
        assert!(is_gone(&reply), "{label}: {} {}", reply.status, reply.text);
    }
    // No token at all is not a link: bad input, named, as the spec's `minLength` says.
    for empty in ["", "   "] {
        let reply = redeem_json(&app, empty).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{empty:?}: {}",
            reply.text
        );
        assert_eq!(reply.json()["error"], "invalid_field");
        assert!(reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("`token`"));
    }
    // Expiry: the real link stops working after its lifetime, without being used.
    app.clock.advance(86_400);
    assert!(is_gone(&redeem_json(&app, &token).await), "expired");
    let status = app.status("uma").await;
    assert_eq!(
        status["pending_download"], false,
        "an expired grant is not pending"
    );
}

pub async fn the_page_never_redeems_on_get_or_head(app: TestApp) {
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    for method in ["GET", "HEAD", "GET"] {
        let reply = app
            .send(Call::new(method, "/v1/backup-codes/download"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{method}");
        assert_eq!(reply.headers["content-type"], "text/html; charset=utf-8");
        if method == "HEAD" {
            assert!(reply.text.is_empty());
        } else {
            assert!(reply.text.contains("Continue"), "{}", reply.text);
            assert!(!reply.text.contains("submit()</script>") && reply.text.contains("isTrusted"));
        }
        let csp = reply.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'sha256-"),
            "{csp}"
        );
    }
    assert_eq!(
        app.status("uma").await["pending_download"],
        true,
        "viewing did not redeem"
    );
    assert_eq!(redeem_json(&app, &token).await.status, StatusCode::OK);
}

pub async fn the_page_form_post_shows_codes_with_download_and_copy(app: TestApp) {
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    let form = |token: &str| {
        Call::new("POST", "/v1/backup-codes/download")
            .header("content-type", "application/x-www-form-urlencoded")
            .raw(format!("token={token}"))
    };
    let page = app.send(form(&token)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Save them now."));
    assert!(page.text.contains("will not be shown again"));
    assert!(page.text.contains("download=\"backup-codes.txt\""));
    assert!(page.text.contains(">Copy</button>"));
    let codes: Vec<&str> = page
        .text
        .split("<code>")
        .skip(1)
        .map(|c| c.split("</code>").next().unwrap())
        .collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(app.verify("uma", codes[0]).await.status, StatusCode::OK);
    let again = app.send(form(&token)).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.text.contains("This link is no longer valid"));
    let empty = app.send(form("")).await;
    assert_eq!(empty.status, StatusCode::GONE);
}

pub async fn mail_failure_changes_nothing(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    let (_, codes) = app.enrolled("uma").await;
    app.next_step();
    app.mailer
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let path = admin_path("uma");
    let reply = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .json(json!({ "totp": app.totp(&admin_secret) })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.text);
    assert_eq!(reply.json()["error"], "email_failed");
    assert_eq!(app.status("uma").await["pending_download"], false);
    assert_eq!(
        app.verify("uma", &codes[0]).await.status,
        StatusCode::OK,
        "old codes still work"
    );

    app.mailer
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    app.next_step();
    let retry = app
        .send(
            Call::new("POST", &path)
                .admin("root")
                .json(json!({ "totp": app.totp(&admin_secret) })),
        )
        .await;
    assert_eq!(
        retry.status,
        StatusCode::ACCEPTED,
        "calling again sends a new link"
    );
    let token = crate::token_in(&app.mailer.last());
    assert_eq!(redeem_json(&app, &token).await.status, StatusCode::OK);
}

pub async fn owner_regenerate_cancels_a_pending_link(app: TestApp) {
    let (_, user_secret) = reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    // The owner still has their authenticator, so may choose new codes themselves; the link then dies.
    app.next_step();
    let own = app.regenerate("uma", &app.totp(&user_secret)).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.text);
    assert_eq!(
        app.status("uma").await["pending_download"],
        true,
        "until the owner's set is saved, the link still stands"
    );
    assert_eq!(app.activate("uma", &own).await.status, StatusCode::OK);
    assert_eq!(app.status("uma").await["pending_download"], false);
    assert!(is_gone(&redeem_json(&app, &token).await));
    assert_eq!(
        app.verify("uma", &own.codes()[0]).await.status,
        StatusCode::OK,
        "the owner's set stands"
    );
}

pub async fn concurrent_redemptions_issue_one_set(app: TestApp) {
    reset_by_admin(&app).await;
    let token = crate::token_in(&app.mailer.last());
    let app = std::sync::Arc::new(app);
    let attempts = 16;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(attempts));
    let tasks: Vec<_> = (0..attempts)
        .map(|_| {
            let (app, barrier, token) = (app.clone(), barrier.clone(), token.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                redeem_json(&app, &token).await
            })
        })
        .collect();
    let mut issued = vec![];
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::OK => issued.push(reply.codes()),
            StatusCode::GONE => {}
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!(
        issued.len(),
        1,
        "exactly one of {attempts} concurrent redemptions issues codes"
    );
    assert_eq!(
        app.verify("uma", &issued[0][0]).await.status,
        StatusCode::OK
    );
}

/// A backup-code-shaped guess that is not one of the user's codes.
const WRONG_CODE: &str = "zzzzz-zzzzz";

/// A 6-digit guess that is none of the codes `secret` accepts around now.
pub(crate) fn wrong_totp(app: &TestApp, secret: &str) -> String {
    let near: Vec<String> = (-1..=1).map(|s| app.totp_at_offset(secret, s)).collect();
    (0..4)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|guess| !near.contains(guess))
        .unwrap()
}

/// The 429 a full ledger answers, with the seconds until it opens again.
pub(crate) fn locked_for(reply: &crate::Reply) -> Option<u64> {
    if reply.status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let body = reply.json();
    assert_eq!(body["error"], "locked", "{}", reply.text);
    assert!(body["message"].as_str().unwrap().contains("too many codes"));
    let seconds = body["retry_after_seconds"]
        .as_u64()
        .expect("retry_after_seconds");
    assert_eq!(
        reply.headers["retry-after"].to_str().unwrap(),
        seconds.to_string()
    );
    Some(seconds)
}

pub async fn repeated_refusals_lock_verifies_for_a_while(app: TestApp) {
    let (secret, codes) = app.enrolled("lee").await;
    let policy = app.config.settings.lockout;
    assert_eq!(
        (policy.threshold, policy.duration.whole_seconds()),
        (10, 900)
    );
    for attempt in 1..=10 {
        assert!(
            is_invalid_code(&app.verify("lee", WRONG_CODE).await),
            "attempt {attempt}"
        );
    }
    // Locked: the right backup code and a fresh TOTP code get 429 and are not spent.
    let locked = app.verify("lee", &codes[0]).await;
    assert_eq!(locked_for(&locked), Some(900), "{}", locked.text);
    assert_eq!(
        locked.json()["valid"],
        false,
        "verify's refusals say valid: false"
    );
    app.next_step();
    let locked = app.verify("lee", &app.totp(&secret)).await;
    assert_eq!(
        locked_for(&locked),
        Some(870),
        "refusals do not extend the lock"
    );
    assert_eq!(app.status("lee").await["remaining"], 10, "nothing was used");
    // An unknown user is never locked: the same 401 as a wrong code, however often.
    assert!(is_invalid_code(&app.verify("nobody", &codes[0]).await));

    app.clock.advance(870);
    let after = app.verify("lee", &codes[0]).await;
    assert_eq!(
        after.status,
        StatusCode::OK,
        "the lock ends: {}",
        after.text
    );
    assert_eq!(after.json()["remaining_backup_codes"], 9);
}

pub async fn an_accepted_code_resets_the_failure_count(app: TestApp) {
    let (_, codes) = app.enrolled("max").await;
    for _ in 0..9 {
        assert!(is_invalid_code(&app.verify("max", WRONG_CODE).await));
    }
    assert_eq!(app.verify("max", &codes[0]).await.status, StatusCode::OK);
    for _ in 0..9 {
        assert!(is_invalid_code(&app.verify("max", WRONG_CODE).await));
    }
    assert_eq!(
        app.verify("max", &codes[1]).await.status,
        StatusCode::OK,
        "9 + 9 refusals with a success between never reach 10 in a row"
    );
}

pub async fn refusals_for_unknown_users_write_nothing(app: TestApp) {
    for _ in 0..12 {
        assert!(is_invalid_code(&app.verify("ghost", WRONG_CODE).await));
        assert!(is_invalid_code(&app.verify("ghost", "123456").await));
    }
    let ghost = backup_codes::domain::user::UserId::parse("ghost").unwrap();
    assert_eq!(
        app.store.get_user(&ghost).await.unwrap(),
        None,
        "no record is created for a user who does not exist"
    );
}

pub async fn concurrent_refusals_are_all_counted(app: TestApp) {
    let (_, codes) = app.enrolled("ned").await;
    let app = std::sync::Arc::new(app);
    let mut tasks = vec![];
    for _ in 0..10 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.verify("ned", WRONG_CODE).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    assert!(
        locked_for(&app.verify("ned", &codes[0]).await).is_some(),
        "10 concurrent refusals lock as 10 sequential ones do"
    );
}

/// Sends `BURST` wrong codes at once (`make(i)` builds the i-th) and, as soon as one of them
/// is answered 429, the right code (`right`) as well, while the rest are still in flight.
/// Asserts that at most the lockout threshold were evaluated (each refused with 401) and that
/// the right code was refused with 429.
pub(crate) async fn assert_burst_is_bounded(
    app: &std::sync::Arc<TestApp>,
    route: &str,
    make: impl Fn(usize) -> Call<'static>,
    right: Call<'static>,
) {
    let threshold = app.config.settings.lockout.threshold as usize;
    let (statuses, inside) = burst_then(app, BURST, make, right).await;
    assert!(evaluated(route, &statuses, StatusCode::UNAUTHORIZED) <= threshold);
    assert!(
        locked_for(&inside).is_some(),
        "{route}, right code inside the burst: {}",
        inside.text
    );
}

async fn burst_then(
    app: &std::sync::Arc<TestApp>,
    n: usize,
    make: impl Fn(usize) -> Call<'static>,
    then: Call<'static>,
) -> (Vec<StatusCode>, crate::Reply) {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let locked = std::sync::Arc::new(tokio::sync::Notify::new());
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (app, barrier, locked, call) =
                (app.clone(), barrier.clone(), locked.clone(), make(i));
            tokio::spawn(async move {
                barrier.wait().await;
                let status = app.send(call).await.status;
                if status == StatusCode::TOO_MANY_REQUESTS {
                    locked.notify_one();
                }
                status
            })
        })
        .collect();
    locked.notified().await;
    let reply = app.send(then).await;
    let mut statuses = vec![];
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    (statuses, reply)
}

/// How many of a burst's answers came from evaluating a code (anything but 429).
fn evaluated(route: &str, statuses: &[StatusCode], expected_refusal: StatusCode) -> usize {
    for status in statuses {
        assert!(
            *status == expected_refusal || *status == StatusCode::TOO_MANY_REQUESTS,
            "{route}: unexpected {status}"
        );
    }
    let n = statuses
        .iter()
        .filter(|s| **s != StatusCode::TOO_MANY_REQUESTS)
        .count();
    // Read by the closing note: the most evaluated under the heaviest burst, per route.
    println!("ledger burst: {route}: {n} of {} evaluated", statuses.len());
    n
}

const BURST: usize = 60;

pub async fn a_verify_burst_evaluates_at_most_the_threshold(app: TestApp) {
    let (secret, codes) = app.enrolled("vic").await;
    let app = std::sync::Arc::new(app);
    let wrong =
        |_| Call::new("POST", "/v1/verify").json(json!({ "user_id": "vic", "code": WRONG_CODE }));
    let right =
        Call::new("POST", "/v1/verify").json(json!({ "user_id": "vic", "code": codes[0].clone() }));
    assert_burst_is_bounded(&app, "verify", wrong, right).await;
    app.next_step();
    let after = app.verify("vic", &app.totp(&secret)).await;
    assert!(
        locked_for(&after).is_some(),
        "right TOTP after the burst: {}",
        after.text
    );
    assert_eq!(
        app.status("vic").await["remaining"],
        10,
        "nothing was spent"
    );
}

pub async fn a_step_up_burst_evaluates_at_most_the_threshold(app: TestApp) {
    let (secret, codes) = app.enrolled("sid").await;
    let guess = wrong_totp(&app, &secret);
    let app = std::sync::Arc::new(app);
    app.next_step();
    for method in ["POST", "DELETE"] {
        let guess = guess.clone();
        let wrong = move |_| {
            Call::new(method, "/v1/backup-codes")
                .user("sid")
                .header("x-otp", guess.clone())
        };
        let right = Call::new(method, "/v1/backup-codes")
            .user("sid")
            .header("x-otp", app.totp(&secret));
        assert_burst_is_bounded(&app, &format!("{method} /v1/backup-codes"), wrong, right).await;
        // One ledger for every check: the user's verifies are locked too.
        assert!(locked_for(&app.verify("sid", &codes[0]).await).is_some());
        app.clock.advance(900);
        app.next_step();
    }
    assert_eq!(app.status("sid").await["remaining"], 10, "the set survived");
}

pub async fn an_admin_totp_burst_evaluates_at_most_the_threshold(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    let (_, codes) = app.enrolled("uma").await;
    let guess = wrong_totp(&app, &admin_secret);
    let app = std::sync::Arc::new(app);
    app.next_step();
    let wrong = |_| {
        Call::new("POST", "/v1/admin/users/uma/backup-codes")
            .admin("root")
            .json(json!({ "totp": guess.clone() }))
    };
    let right = Call::new("POST", "/v1/admin/users/uma/backup-codes")
        .admin("root")
        .json(json!({ "totp": app.totp(&admin_secret) }));
    assert_burst_is_bounded(&app, "admin reset", wrong, right).await;
    let mails = app.mailer.all();
    assert!(
        mails.iter().all(|m| m.to.as_str() != "uma@example.com"),
        "no reset happened"
    );
    assert_eq!(
        mails.len(),
        1,
        "the admin is told once of the lockout: {:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert!(mails[0].subject.contains("too many wrong codes"));
    assert_eq!(app.verify("uma", &codes[0]).await.status, StatusCode::OK);
    // The admin's guesses lock the admin, not the user they targeted.
    assert!(locked_for(&app.verify("root", WRONG_CODE).await).is_some());
}

pub async fn a_confirm_burst_evaluates_at_most_the_threshold(app: TestApp) {
    let started = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("cat"))
        .await;
    let secret = started.json()["secret"].as_str().unwrap().to_owned();
    let guess = wrong_totp(&app, &secret);
    let app = std::sync::Arc::new(app);
    let wrong = |_| {
        Call::new("POST", "/v1/totp/enrollment/confirm")
            .user("cat")
            .json(json!({ "code": guess.clone() }))
    };
    let right = Call::new("POST", "/v1/totp/enrollment/confirm")
        .user("cat")
        .json(json!({ "code": app.totp(&secret) }));
    assert_burst_is_bounded(&app, "confirm", wrong, right).await;
    // Restarting enrollment does not clear the ledger.
    let restarted = app
        .send(Call::new("POST", "/v1/totp/enrollment").user("cat"))
        .await;
    let secret = restarted.json()["secret"].as_str().unwrap().to_owned();
    let again = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("cat")
                .json(json!({ "code": app.totp(&secret) })),
        )
        .await;
    assert!(locked_for(&again).is_some(), "{}", again.text);
}

pub async fn the_admin_totp_is_checked_before_anything_about_the_target(app: TestApp) {
    let (admin_secret, _) = app.enrolled("root").await;
    app.send(Call::new("POST", "/v1/totp/enrollment").user("pending"))
        .await;
    let guess = wrong_totp(&app, &admin_secret);
    let mut answers = vec![];
    for target in ["pending", "nobody", "root"] {
        let reply = app
            .send(
                Call::new("POST", &admin_path(target))
                    .admin("root")
                    .json(json!({ "totp": guess.clone() })),
            )
            .await;
        assert!(is_invalid_code(&reply), "{target}: {}", reply.text);
        answers.push(reply.json());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
}

pub async fn the_email_claim_must_be_one_address_and_is_dropped_when_unverified(app: TestApp) {
    for (claim, value) in [
        ("email", "ana@example.com,eve@attacker.example"),
        ("email", "Ana <ana@example.com>"),
        ("email_verified", "maybe"),
    ] {
        let reply = app
            .send(
                Call::new("POST", "/v1/totp/enrollment")
                    .user("ana")
                    .claim(claim, value),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{claim}={value}");
        assert_eq!(reply.json()["error"], "invalid_claim");
        assert!(reply.json()["message"].as_str().unwrap().contains(claim));
    }
    let ana = backup_codes::domain::user::UserId::parse("ana").unwrap();
    assert_eq!(
        app.store.get_user(&ana).await.unwrap(),
        None,
        "nothing stored"
    );

    // An unverified address is never stored, so a reset has nowhere to send the link.
    let started = app
        .send(
            Call::new("POST", "/v1/totp/enrollment")
                .user("ana")
                .claim("email_verified", "false"),
        )
        .await;
    let secret = started.json()["secret"].as_str().unwrap().to_owned();
    let confirmed = app
        .send(
            Call::new("POST", "/v1/totp/enrollment/confirm")
                .user("ana")
                .claim("email_verified", "false")
                .json(json!({ "code": app.totp(&secret) })),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    let (admin_secret, _) = app.enrolled("root").await;
    app.next_step();
    let reset = app
        .send(
            Call::new("POST", &admin_path("ana"))
                .admin("root")
                .json(json!({ "totp": app.totp(&admin_secret) })),
        )
        .await;
    assert_eq!(reset.json()["error"], "user_has_no_email", "{}", reset.text);
    assert_eq!(app.mailer.count(), 0);
}

pub async fn a_comma_in_a_group_name_never_makes_an_admin(app: TestApp) {
    app.enrolled("uma").await;
    let (secret, _) = app.enrolled("eve").await;
    app.next_step();
    let path = admin_path("uma");
    let mut call = Call::new("POST", &path)
        .user("eve")
        .json(json!({ "totp": app.totp(&secret) }));
    call.groups = "[ops,backup-codes-admins]";
    let reply = app.send(call).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(app.mailer.count(), 0);
}

pub async fn the_admin_path_user_is_decoded_once(app: TestApp) {
    // A `sub` with a literal percent sign: API Gateway decodes `%2541` to `%41`, once.
    app.enrolled("a%41").await;
    let (admin_secret, _) = app.enrolled("root").await;
    app.next_step();
    let reply = app
        .admin_reset("root", "a%2541", &app.totp(&admin_secret))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(app.mailer.last().to.as_str(), "a%41@example.com");
}

pub async fn sets_keep_working_after_the_hash_cost_changes(app: TestApp) {
    use backup_codes::domain::{codes::HashCost, user::UserId};
    let mut app = app;
    let (secret, old_codes) = app.enrolled("cid").await;
    let raised = HashCost {
        memory_kib: crate::TEST_HASH_COST.memory_kib * 2,
        iterations: 2,
        parallelism: 1,
    };
    app.reconfigure(|config| config.hash_cost = raised);
    assert_eq!(
        app.verify("cid", &old_codes[0]).await.status,
        StatusCode::OK,
        "a set made under the old cost still verifies"
    );
    app.next_step();
    let regenerated = app
        .send(
            Call::new("POST", "/v1/backup-codes")
                .user("cid")
                .header("x-otp", app.totp(&secret)),
        )
        .await;
    assert_eq!(
        regenerated.status,
        StatusCode::CREATED,
        "{}",
        regenerated.text
    );
    assert_eq!(
        app.activate("cid", &regenerated).await.status,
        StatusCode::OK
    );
    let record = app
        .store
        .get_user(&UserId::parse("cid").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.codes.unwrap().cost,
        Some(raised),
        "new sets use the new cost"
    );
    assert_eq!(
        app.verify("cid", &regenerated.codes()[0]).await.status,
        StatusCode::OK
    );
}
