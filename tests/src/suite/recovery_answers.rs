//! Recovery requests answered (issue 34): an account's admins and support approve after the
//! wait behind their own proof (the reset we have, then the lost-phone path) or deny with a
//! reason; once each, one of racing approvals, never their own, and only their own members'.

use crate::token_in;

use super::{
    admin_reset::collect_codes,
    membership_routes::member_path,
    recovery_requests::{
        accounts, answer_path, approve, deny, file, listed, mails_to, request_id, support_list, DAY,
    },
    *,
};

/// An approval waits the day, takes the admin's own proof, then is the reset: the old codes
/// die, the link is mailed, the user collects new codes and signs in with one, then moves the
/// authenticator (the lost-phone path). Answered twice, it is 409.
pub async fn approval_waits_then_resets_and_the_user_signs_in_again(app: TestApp) {
    let people = accounts(&app).await;
    let (ada_secret, mo_codes) = (&people["ada"].0, &people["mo"].1);
    file(&app, "mo").await;
    let id = request_id(&app, "mo").await;

    let early = approve(&app, "ada", "acme", &id, &app.totp(ada_secret)).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    assert_eq!(early.json()["error"], "recovery_waiting");
    let until = early.json()["approvable_from"].as_str().unwrap().to_owned();
    assert_eq!(
        listed(&app, "ada", "acme").await[0]["approvable_from"],
        until
    );

    app.clock.advance(DAY);
    app.next_step();
    let no_proof = app
        .send(Call::new("POST", &answer_path(Some("acme"), &id, "approve")).user("ada"))
        .await;
    assert_eq!(no_proof.json()["error"], "totp_required");
    let wrong_account = approve(&app, "gus", "globex", &id, &app.totp(&people["gus"].0)).await;
    assert_eq!(
        wrong_account.status,
        StatusCode::NOT_FOUND,
        "{}",
        wrong_account.text
    );
    assert_eq!(wrong_account.json()["error"], "recovery_request_not_found");
    let not_theirs = approve(&app, "gus", "acme", &id, &app.totp(&people["gus"].0)).await;
    assert_eq!(not_theirs.status, StatusCode::FORBIDDEN);

    let before = app.mailer.count();
    let approved = approve(&app, "ada", "acme", &id, &app.totp(ada_secret)).await;
    assert_eq!(approved.status, StatusCode::ACCEPTED, "{}", approved.text);
    assert_eq!(approved.json()["status"], "email_sent");
    assert_eq!(
        app.verify("mo", &mo_codes[1]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let link: Vec<_> = mails_to(&app, "mo", before)
        .into_iter()
        .filter(|m| m.subject.contains("were reset"))
        .collect();
    assert_eq!(link.len(), 1, "{link:?}");
    assert!(link[0]
        .text
        .contains("An administrator of the account \u{201c}acme\u{201d}"));
    let codes = collect_codes(&app, &token_in(&link[0])).await;
    assert_eq!(app.verify("mo", &codes[0]).await.status, StatusCode::OK);

    app.next_step();
    for (verb, body) in [
        ("approve", json!({ "totp": app.totp(ada_secret) })),
        ("deny", json!({})),
    ] {
        let path = answer_path(Some("acme"), &id, verb);
        let call = Call::new("POST", &path).user("ada").json(body);
        let twice = app.send(call).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{verb}: {}", twice.text);
        assert_eq!(twice.json()["error"], "recovery_closed");
    }
    assert!(listed(&app, "ada", "acme").await.is_empty());

    assert!(mails_to(&app, "mo", before)
        .iter()
        .any(|m| m.subject.contains("request was approved")));
    let trail = app.trail_kinds("mo").await;
    for kind in ["recovery_approved", "codes_reset_by_admin"] {
        assert!(trail.contains(&kind.to_owned()), "{kind} in {trail:?}");
    }
}

/// A denial needs no wait and no proof, is mailed with its reason, and is answered once; a
/// reason that hides anything is refused and changes nothing.
pub async fn a_denial_is_mailed_with_its_reason_and_answered_once(app: TestApp) {
    let people = accounts(&app).await;
    let before = app.mailer.count();
    file(&app, "mel").await;
    let id = request_id(&app, "mel").await;
    for reason in ["x".repeat(501), "call me\u{202e}".to_owned()] {
        let refused = deny(&app, "ada", "acme", &id, Some(&reason)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
        assert_eq!(refused.json()["error"], "invalid_field");
    }
    let by_member = deny(&app, "mo", "acme", &id, None).await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN);
    let reason = "We could not reach you on the number we have; call the help desk.";
    let denied = deny(&app, "ada", "acme", &id, Some(reason)).await;
    assert_eq!(denied.status, StatusCode::NO_CONTENT, "{}", denied.text);
    assert_eq!(
        deny(&app, "al", "acme", &id, None).await.status,
        StatusCode::CONFLICT
    );
    let support = app
        .send(
            Call::new("POST", &answer_path(None, &id, "deny"))
                .admin("root")
                .json(json!({})),
        )
        .await;
    assert_eq!(support.json()["error"], "recovery_closed");

    let told = mails_to(&app, "mel", before);
    let denial = told
        .iter()
        .find(|m| m.subject.contains("denied"))
        .unwrap_or_else(|| panic!("{told:?}"));
    assert!(denial.text.contains(reason), "{}", denial.text);
    assert!(denial
        .text
        .contains("An administrator of the account \u{201c}acme\u{201d}"));
    assert_eq!(
        app.verify("mel", &people["mel"].1[0]).await.status,
        StatusCode::OK,
        "a denial changes no code"
    );
}

/// Support sees every request with its accounts and answers any, after the same wait; a user
/// outside the group is refused before anything is read.
pub async fn support_answers_any_request(app: TestApp) {
    let people = accounts(&app).await;
    file(&app, "gia").await;
    let id = request_id(&app, "gia").await;
    for caller in ["ada", "gus", "gia"] {
        let list = app
            .send(Call::new("GET", "/v1/admin/recovery-requests").user(caller))
            .await;
        assert_eq!(list.status, StatusCode::FORBIDDEN, "{caller}");
        let act = app
            .send(
                Call::new("POST", &answer_path(None, &id, "approve"))
                    .user(caller)
                    .raw("not json"),
            )
            .await;
        assert_eq!(act.status, StatusCode::FORBIDDEN, "{caller}: {}", act.text);
    }
    app.clock.advance(DAY);
    app.next_step();
    let approved = app
        .send(
            Call::new("POST", &answer_path(None, &id, "approve"))
                .admin("root")
                .json(json!({ "totp": app.totp(&people["root"].0) })),
        )
        .await;
    assert_eq!(approved.status, StatusCode::ACCEPTED, "{}", approved.text);
    assert_eq!(
        app.verify("gia", &people["gia"].1[0]).await.status,
        StatusCode::UNAUTHORIZED,
        "the reset happened"
    );
    let unknown = app
        .send(
            Call::new("POST", &answer_path(None, &"0".repeat(32), "deny"))
                .admin("root")
                .json(json!({})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let malformed = app
        .send(
            Call::new("POST", &answer_path(None, "NOT-AN-ID", "deny"))
                .admin("root")
                .json(json!({})),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
}

/// Two admins approving at once: one reset, one link mailed; the other is told it is closed.
pub async fn concurrent_approvals_make_one_reset_and_one_mail(app: TestApp) {
    let people = accounts(&app).await;
    file(&app, "mo").await;
    let id = request_id(&app, "mo").await;
    app.clock.advance(DAY);
    app.next_step();
    let before = app.mailer.count();
    let (ada, al, root) = (
        app.totp(&people["ada"].0),
        app.totp(&people["al"].0),
        app.totp(&people["root"].0),
    );
    let path = answer_path(None, &id, "approve");
    let support = Call::new("POST", &path)
        .admin("root")
        .json(json!({ "totp": root }));
    let (a, b, c) = tokio::join!(
        approve(&app, "ada", "acme", &id, &ada),
        approve(&app, "al", "acme", &id, &al),
        app.send(support),
    );
    let statuses = [a.status, b.status, c.status];
    let won = statuses
        .iter()
        .filter(|s| **s == StatusCode::ACCEPTED)
        .count();
    assert_eq!(won, 1, "{} {} {}", a.text, b.text, c.text);
    for reply in [&a, &b, &c] {
        if reply.status != StatusCode::ACCEPTED {
            assert_eq!(reply.json()["error"], "recovery_closed", "{}", reply.text);
        }
    }
    let links: Vec<_> = mails_to(&app, "mo", before)
        .into_iter()
        .filter(|m| m.subject.contains("were reset"))
        .collect();
    assert_eq!(links.len(), 1, "{links:?}");
}

/// An account's admins answer only their own members' requests: a member removed after filing
/// is listed no more and answers as one never filed.
pub async fn a_member_who_left_is_no_longer_their_admins_to_answer(app: TestApp) {
    accounts(&app).await;
    file(&app, "mo").await;
    let id = request_id(&app, "mo").await;
    let left = app
        .send(Call::new("DELETE", &member_path("acme", "mo")))
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT);
    assert!(listed(&app, "ada", "acme").await.is_empty());
    let denied = deny(&app, "ada", "acme", &id, None).await;
    assert_eq!(denied.status, StatusCode::NOT_FOUND, "{}", denied.text);
    assert_eq!(support_list(&app).await.len(), 1, "support still sees it");
}

/// An approval whose link cannot be mailed changes nothing the user would see: the old codes
/// still work, the request is open again in the list, and no approval is told; approved once
/// the mail goes, it is the one reset.
pub async fn an_approval_that_cannot_mail_the_link_leaves_the_request_open(app: TestApp) {
    use std::sync::atomic::Ordering;
    let people = accounts(&app).await;
    file(&app, "mo").await;
    let id = request_id(&app, "mo").await;
    app.clock.advance(DAY);
    app.next_step();
    let before = app.mailer.count();
    app.mailer.failing.store(true, Ordering::SeqCst);
    let failed = approve(&app, "ada", "acme", &id, &app.totp(&people["ada"].0)).await;
    app.mailer.failing.store(false, Ordering::SeqCst);
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY, "{}", failed.text);
    assert_eq!(failed.json()["error"], "email_failed");
    assert_eq!(
        app.verify("mo", &people["mo"].1[0]).await.status,
        StatusCode::OK
    );
    let open = listed(&app, "ada", "acme").await;
    assert_eq!(open.len(), 1, "open again");
    assert_eq!(open[0]["id"], id.as_str());
    assert!(!app
        .trail_kinds("mo")
        .await
        .contains(&"recovery_approved".to_owned()));

    app.next_step();
    let approved = approve(&app, "ada", "acme", &id, &app.totp(&people["ada"].0)).await;
    assert_eq!(approved.status, StatusCode::ACCEPTED, "{}", approved.text);
    let mails: Vec<String> = mails_to(&app, "mo", before)
        .iter()
        .map(|m| m.subject.clone())
        .collect();
    assert_eq!(
        mails.iter().filter(|s| s.contains("were reset")).count(),
        1,
        "{mails:?}"
    );
    assert_eq!(
        mails.iter().filter(|s| s.contains("was approved")).count(),
        1,
        "{mails:?}"
    );
}

/// An admin who lost their own phone and codes asks like anyone; another admin of the account,
/// or support, approves it: their own approval is refused as a request they may not answer.
pub async fn nobody_approves_their_own_request(app: TestApp) {
    let people = accounts(&app).await;
    file(&app, "al").await;
    let id = request_id(&app, "al").await;
    app.clock.advance(DAY);
    app.next_step();
    let own = approve(&app, "al", "acme", &id, &app.totp(&people["al"].0)).await;
    assert_eq!(own.status, StatusCode::NOT_FOUND, "{}", own.text);
    assert_eq!(own.json()["error"], "recovery_request_not_found");
    assert_eq!(
        app.verify("al", &people["al"].1[0]).await.status,
        StatusCode::OK
    );
    let other = approve(&app, "ada", "acme", &id, &app.totp(&people["ada"].0)).await;
    assert_eq!(other.status, StatusCode::ACCEPTED, "{}", other.text);
}

/// A user who has no factor any more when the approval comes (an admin turned it off since)
/// cannot be reset: the approval answers so, and the request is open again.
pub async fn an_approval_for_a_user_without_a_factor_leaves_the_request_open(app: TestApp) {
    let people = accounts(&app).await;
    file(&app, "mo").await;
    let id = request_id(&app, "mo").await;
    app.clock.advance(DAY);
    app.next_step();
    let off = app
        .send(
            Call::new("DELETE", "/v1/accounts/acme/members/mo/totp")
                .user("ada")
                .json(json!({ "totp": app.totp(&people["ada"].0) })),
        )
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.text);
    app.next_step();
    let refused = approve(&app, "ada", "acme", &id, &app.totp(&people["ada"].0)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.json()["error"], "user_not_enrolled");
    let open = listed(&app, "ada", "acme").await;
    assert_eq!(open.len(), 1, "open again");
    assert!(!app
        .trail_kinds("mo")
        .await
        .contains(&"recovery_approved".to_owned()));
}
