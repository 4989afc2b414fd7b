//! Each account's two-factor rule: set by its admins behind their proof and told to the other
//! admins; while an account requires it, its members cannot turn two-factor off, the team's
//! auth server is told so, and a Cognito sign-in makes an unenrolled member enroll.

use super::{account_admins::member, *};
use crate::cognito::{create, define_event, password_passed, tokens_issued};

async fn set_rule(app: &TestApp, admin: &str, rule: &str, proof: Option<&str>) -> crate::Reply {
    let mut body = json!({ "two_factor": rule });
    if let Some(proof) = proof {
        body["totp"] = json!(proof);
    }
    app.send(
        Call::new("PUT", "/v1/accounts/acme/policy")
            .user(admin)
            .json(body),
    )
    .await
}

/// acme: admins ada and al, members mo and nia (nia never enrolled); globex: gia.
async fn acme(app: &TestApp) -> (String, Vec<String>) {
    let ada = app.enrolled("ada").await;
    app.enrolled("al").await;
    app.enrolled("gia").await;
    for (account, user, role) in [
        ("acme", "ada", "admin"),
        ("acme", "al", "admin"),
        ("acme", "mo", "member"),
        ("acme", "nia", "member"),
        ("globex", "gia", "member"),
    ] {
        member(app, account, user, role).await;
    }
    app.next_step();
    ada
}

/// The rule is an admin's, behind their own proof; a change is mailed to the other admins and
/// kept on each admin's trail; setting it again tells no one.
pub async fn an_accounts_rule_is_set_behind_a_proof_and_told_to_its_other_admins(app: TestApp) {
    let (ada, _) = acme(&app).await;
    app.enrolled("mo").await;
    let read = app
        .send(Call::new("GET", "/v1/accounts/acme/policy").user("al"))
        .await;
    assert_eq!(
        read.json(),
        json!({ "account_id": "acme", "two_factor": "optional", "changed": false })
    );
    let by_member = app
        .send(
            Call::new("PUT", "/v1/accounts/acme/policy")
                .user("mo")
                .raw("{not json"),
        )
        .await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN, "before the body");
    let no_proof = set_rule(&app, "ada", "required", None).await;
    assert_eq!(no_proof.json()["error"], "totp_required");
    for (body, error) in [
        (json!({ "two_factor": "on" }), "invalid_field"),
        (json!({ "two_factor": "Required" }), "invalid_field"),
        (json!({ "two_factor": null }), "invalid_field"),
        (json!({ "rule": "required" }), "unknown_field"),
        (
            json!({ "two_factor": "required", "totp": null }),
            "invalid_field",
        ),
        (
            json!({ "two_factor": "required", "totp": "" }),
            "invalid_field",
        ),
    ] {
        let reply = app
            .send(
                Call::new("PUT", "/v1/accounts/acme/policy")
                    .user("ada")
                    .json(body.clone()),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert_eq!(reply.json()["error"], error, "{body}");
    }
    let mails_before = app.mailer.count();
    let set = set_rule(&app, "ada", "required", Some(&app.totp(&ada))).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(set.json()["changed"], true);
    let told: Vec<_> = app.mailer.all()[mails_before..].to_vec();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].to.as_str(), "al@example.com");
    assert!(told[0]
        .text
        .contains("ada, an administrator of the account \u{201c}acme\u{201d}"));
    assert!(told[0]
        .text
        .contains("made two-factor authentication required"));
    for admin in ["ada", "al"] {
        let trail = app
            .send(Call::new("GET", "/v1/audit").user(admin))
            .await
            .json();
        let event = trail["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "two_factor_rule_changed")
            .cloned()
            .unwrap_or_else(|| panic!("{admin}'s trail: {trail}"));
        assert_eq!(event["account_id"], "acme");
        assert_eq!(event["two_factor"], "required");
        assert_eq!(event["actor"], "admin:ada");
    }
    app.next_step();
    let again = set_rule(&app, "ada", "required", Some(&app.totp(&ada))).await;
    assert_eq!(again.json()["changed"], false);
    assert_eq!(
        app.mailer.count(),
        mails_before + 1,
        "nothing changed, no one told"
    );
    let read = app
        .send(Call::new("GET", "/v1/accounts/acme/policy").user("ada"))
        .await;
    assert_eq!(read.json()["two_factor"], "required");
}

/// While an account requires two-factor, its members cannot turn it off (no code spent), the
/// status names the account, and an admin's turn-off still works. Leaving the account, or the
/// rule going back to optional, lifts it.
pub async fn a_requiring_accounts_members_cannot_turn_two_factor_off(app: TestApp) {
    let (ada, _) = acme(&app).await;
    let (_, mo_codes) = app.enrolled("mo").await;
    let set = set_rule(&app, "ada", "required", Some(&app.totp(&ada))).await;
    assert_eq!(set.status, StatusCode::OK);
    let turn_off = |code: String| {
        let app = &app;
        async move {
            app.send(
                Call::new("DELETE", "/v1/totp/enrollment")
                    .user("mo")
                    .json(json!({ "totp": code })),
            )
            .await
        }
    };
    let refused = turn_off(mo_codes[0].clone()).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.json()["error"], "two_factor_required");
    assert!(refused.json()["message"]
        .as_str()
        .unwrap()
        .contains("\u{201c}acme\u{201d}"));
    assert_eq!(
        app.verify("mo", &mo_codes[0]).await.status,
        StatusCode::OK,
        "the refused turn-off spent no code"
    );
    assert_eq!(app.status("mo").await["required_by"], json!(["acme"]));
    assert_eq!(app.status("gia").await["required_by"], json!([]));

    // Leaving the account lifts the rule at once.
    let left = app
        .send(Call::new("DELETE", "/v1/accounts/acme/members/mo"))
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT);
    assert_eq!(
        turn_off(mo_codes[1].clone()).await.status,
        StatusCode::NO_CONTENT
    );

    // An admin's turn-off of a member of a requiring account is allowed.
    let (_, _) = app.enrolled("mo").await;
    member(&app, "acme", "mo", "member").await;
    app.next_step();
    let by_admin = app
        .send(
            Call::new("DELETE", "/v1/accounts/acme/members/mo/totp")
                .user("ada")
                .json(json!({ "totp": app.totp(&ada) })),
        )
        .await;
    assert_eq!(by_admin.status, StatusCode::NO_CONTENT, "{}", by_admin.text);
}

/// The team's auth server asks, in one signed call, whether a member may enter an account
/// without a code.
pub async fn the_auth_server_asks_an_accounts_requirement(app: TestApp) {
    let (ada, _) = acme(&app).await;
    app.enrolled("mo").await;
    let ask = |user: &'static str| {
        let app = &app;
        async move {
            let path = format!("/v1/accounts/acme/members/{user}/requirement");
            app.send(Call::new("GET", &path)).await
        }
    };
    assert_eq!(
        ask("mo").await.json(),
        json!({ "two_factor": "optional", "enrolled": true })
    );
    set_rule(&app, "ada", "required", Some(&app.totp(&ada))).await;
    assert_eq!(
        ask("mo").await.json(),
        json!({ "two_factor": "required", "enrolled": true })
    );
    assert_eq!(
        ask("nia").await.json(),
        json!({ "two_factor": "required", "enrolled": false })
    );
    let outside = ask("gia").await;
    let unknown = ask("nobody").await;
    assert_eq!(outside.status, StatusCode::NOT_FOUND);
    assert_eq!(
        (outside.text, outside.headers),
        (unknown.text, unknown.headers)
    );
}

/// On Cognito, under `allow`, an unenrolled member of a requiring account is asked to enroll
/// after the password and gets no tokens without it; a member of an optional account is let in.
pub async fn a_requiring_accounts_unenrolled_member_enrolls_at_sign_in(app: TestApp) {
    let (ada, _) = acme(&app).await;
    member(&app, "globex", "gil", "member").await;
    let defined = |user: &'static str| {
        let app = &app;
        async move {
            let out = app
                .cognito_trigger()
                .handle(define_event(user, password_passed()))
                .await
                .expect("define answers");
            (
                out["response"]["challengeName"].clone(),
                out["response"]["issueTokens"].clone(),
            )
        }
    };
    assert_eq!(
        defined("nia").await,
        (Value::Null, json!(true)),
        "optional: let in"
    );
    assert!(tokens_issued(&app, "nia").await);

    set_rule(&app, "ada", "required", Some(&app.totp(&ada))).await;
    assert_eq!(
        defined("nia").await,
        (json!("CUSTOM_CHALLENGE"), json!(false)),
        "required: asked"
    );
    let (public, _, _) = create(&app, "nia", password_passed()).await;
    assert_eq!(public["type"], "TOTP_ENROLLMENT", "{public}");
    assert!(
        !tokens_issued(&app, "nia").await,
        "no tokens without the enrollment"
    );
    assert_eq!(
        defined("gil").await,
        (Value::Null, json!(true)),
        "globex is optional"
    );
    assert!(tokens_issued(&app, "gil").await);
}
