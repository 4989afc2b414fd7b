//! The behaviour suite. Every function here runs against the in-memory store and against
//! DynamoDB (ministack's): `behaviour_suite!` instantiates them as tests for a backend.

use lambda_http::http::StatusCode;
use serde_json::{json, Value};

use crate::{Call, TestApp};

mod account_admins;
mod account_rules;
mod address;
mod admin_reset;
mod bounded_events;
mod claims;
mod events;
mod federated;
mod ledger;
mod link_codes;
mod mail_budget;
mod membership_routes;
mod memberships;
mod new_phone;
mod pending_sets;
mod races;
mod recovery_answers;
mod recovery_requests;
mod recovery_store;
mod replacement_ends;
mod sessions;
mod sign_in_paths;
mod step_up;
mod two_factor_off;
mod untrusted_text;
mod used_codes;
pub use account_admins::*;
pub use account_rules::*;
pub use address::*;
pub use admin_reset::*;
pub use bounded_events::*;
pub use claims::*;
pub use events::*;
pub use federated::*;
pub use ledger::*;
pub use link_codes::*;
pub use mail_budget::*;
pub use membership_routes::*;
pub use memberships::*;
pub use new_phone::*;
pub use pending_sets::*;
pub use races::*;
pub use recovery_answers::*;
pub use recovery_requests::*;
pub use recovery_store::*;
pub use replacement_ends::*;
pub use sessions::*;
pub use sign_in_paths::*;
pub use step_up::*;
pub use two_factor_off::*;
pub use untrusted_text::*;
pub use used_codes::*;

#[macro_export]
macro_rules! behaviour_suite {
    ($backend:expr) => {
        $crate::behaviour_suite!($backend;
            full_walk_enroll_confirm_verify_regenerate,
            a_membership_is_written_over_the_role_seen_and_read_back_at_once,
            memberships_are_never_confused_across_accounts,
            a_thousand_members_are_listed_page_by_page,
            a_user_belongs_to_a_bounded_number_of_accounts,
            racing_membership_writes_apply_once,
            the_backends_membership_writes_record_what_they_changed,
            joining_past_the_limit_is_refused_as_such,
            racing_role_changes_lose_no_update,
            the_backend_writes_memberships_through_its_routes,
            odd_membership_writes_are_refused_and_change_nothing,
            account_ids_are_decoded_once_and_kept_apart,
            a_join_past_the_limit_is_answered_too_many_accounts,
            an_accounts_admins_are_bounded,
            only_an_accounts_admins_act_on_its_members,
            another_accounts_user_answers_as_an_unknown_one,
            a_wrong_proof_is_refused_before_the_member_is_looked_at,
            an_accounts_admin_resets_turns_off_and_reads_their_members,
            support_acts_in_any_account_and_account_admins_not_on_the_platform,
            rights_follow_the_backends_writes_at_the_next_request,
            the_users_page_shows_each_member_as_their_admin_needs,
            a_thousand_members_are_listed_through_the_users_page,
            a_demotion_racing_admin_actions_loses_nothing,
            an_accounts_rule_is_set_behind_a_proof_and_told_to_its_other_admins,
            a_requiring_accounts_members_cannot_turn_two_factor_off,
            the_auth_server_asks_an_accounts_requirement,
            a_requiring_accounts_unenrolled_member_enrolls_at_sign_in,
            a_recovery_request_is_kept_as_filed_and_one_is_open_at_a_time,
            racing_filings_keep_one_request,
            a_request_is_closed_once_and_only_by_its_id,
            racing_filings_in_one_account_all_reach_its_queue,
            open_requests_are_listed_newest_first_and_swept_oldest_first,
            a_filed_request_tells_the_user_and_asks_their_accounts_admins,
            racing_first_filings_mail_the_user_once,
            an_unknown_or_unenrolled_user_filed_for_gets_the_same_answer,
            the_user_cancels_by_the_mailed_link_once,
            approval_waits_then_resets_and_the_user_signs_in_again,
            a_denial_is_mailed_with_its_reason_and_answered_once,
            support_answers_any_request,
            a_request_nobody_answers_expires_and_its_user_is_told,
            concurrent_approvals_make_one_reset_and_one_mail,
            a_member_who_left_is_no_longer_their_admins_to_answer,
            an_accounts_admins_are_asked_at_most_twenty_times_a_day,
            a_cognito_sign_in_files_a_request_in_place_of_a_code,
            an_approval_that_cannot_mail_the_link_leaves_the_request_open,
            nobody_approves_their_own_request,
            an_approval_for_a_user_without_a_factor_leaves_the_request_open,
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
            used_codes_are_named_by_their_line_on_the_sheet,
            every_factor_change_ends_the_users_sessions,
            an_admin_reset_and_its_link_end_the_users_sessions,
            the_mail_and_the_bus_wait_until_the_sessions_have_ended,
            without_a_pool_the_bus_says_no_session_was_ended,
            a_federated_identity_is_not_enrolled_and_nothing_changes,
            a_federated_identity_enrolled_before_keeps_its_factor,
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
            a_held_link_refuses_other_redemptions_until_the_hold_lapses,
            a_redeemed_link_shows_codes_that_count_once_saved,
            a_dropped_connection_never_loses_the_codes,
            concurrent_saves_of_one_set_all_answer_and_record_once,
            a_link_is_redeemed_a_bounded_number_of_times,
            a_hold_is_short_bounded_and_cleared_by_a_new_grant,
            shown_codes_expire_with_the_link_and_another_links_token_saves_nothing,
            a_malformed_save_is_refused_and_changes_nothing,
            the_stored_address_follows_the_verified_email_in_the_token,
            each_sign_in_shows_its_own_secret_and_the_first_confirmed_wins,
            sign_ins_never_break_an_enrollment_in_progress_in_the_settings,
            a_sign_in_in_progress_survives_a_new_start_in_the_settings,
            a_pass_a_failure_left_behind_serves_no_other_sign_in,
            a_sign_in_and_the_settings_confirming_at_once_enroll_one_authenticator,
            an_unverified_email_changes_nothing,
            a_user_confirmed_without_a_verified_address_gets_one_from_a_later_token,
            concurrent_requests_with_a_new_address_change_it_once,
            a_flood_from_one_user_is_bounded_and_digested_while_others_get_their_mail,
            the_stack_ceiling_holds_ordinary_mail_and_keeps_room_for_urgent_mail_and_links,
            one_accounts_flood_holds_its_own_ordinary_mail_and_no_one_elses,
            concurrent_counts_never_pass_the_limit,
            replays_of_a_used_link_are_one_counted_event_per_hour,
            repeated_refusals_lock_verifies_for_a_while,
            an_accepted_code_resets_the_failure_count,
            an_unknown_user_is_locked_as_an_enrolled_one_is,
            an_unknown_users_refusals_do_not_stop_a_later_enrollment,
            concurrent_refusals_are_all_counted,
            a_verify_burst_evaluates_at_most_the_threshold,
            a_step_up_burst_evaluates_at_most_the_threshold,
            an_admin_totp_burst_evaluates_at_most_the_threshold,
            a_confirm_burst_evaluates_at_most_the_threshold,
            the_admin_totp_is_checked_before_anything_about_the_target,
            the_email_claim_must_be_one_address_and_is_dropped_when_unverified,
            a_comma_in_a_group_name_never_makes_an_admin,
            white_space_in_a_group_name_never_makes_an_admin,
            hidden_characters_in_a_reported_user_agent_are_dropped,
            hidden_characters_in_a_user_agent_header_are_dropped,
            free_text_in_a_user_agent_never_reaches_the_mail,
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
            the_owner_cancels_a_replacement_with_their_token_alone,
            the_owners_new_codes_or_their_removal_end_a_replacement,
            an_admins_reset_turn_off_or_a_redeemed_link_ends_a_replacement,
            distinct_valid_codes_at_once_each_succeed_or_are_told_to_retry,
            a_sign_in_beside_a_backup_code_step_up_never_refuses_the_proof,
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
    for route in ["/v1/backup-codes", "/v1/totp/enrollment"] {
        let empty = app
            .send(Call::new("POST", route).user("ib").header("x-otp", " "))
            .await;
        assert_eq!(
            (empty.status, empty.json()["error"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalid_field")),
            "{route}: an empty proof is malformed, and counts no attempt"
        );
    }
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
        json!([{ "number": 5, "used_at": "2027-01-15T08:01:30Z" }])
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
    let regenerated = app.regenerate("cid", &app.totp(&secret)).await;
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
