//! template.yaml's IAM statements grant `*` only where AWS has no resource-level permission;
//! each function runs under its own role with only the actions it uses, on only the keys its
//! code touches, and reads its keys from Secrets Manager.

use std::collections::BTreeSet;

use backup_codes::functions::names;
use integration_tests::template::*;
use serde_yaml::Value;

/// X-Ray offers no resource-level permissions for sending traces: the one place `*` is due.
const NO_RESOURCE_LEVEL: [&str; 2] = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

#[test]
fn no_iam_statement_grants_a_wildcard_action_or_resource() {
    let template = template();
    let statements = statements(&template);
    assert!(statements.len() >= 10, "found the function policies");
    for statement in &statements {
        let actions = strings_in(&statement["Action"]);
        for action in &actions {
            assert!(!action.contains('*'), "wildcard action {action:?}");
        }
        assert!(
            statement["Resource"] != Value::Null,
            "statement without a Resource: {statement:?}"
        );
        if actions
            .iter()
            .all(|a| NO_RESOURCE_LEVEL.contains(&a.as_str()))
        {
            continue;
        }
        for resource in strings_in(&statement["Resource"]) {
            assert_ne!(resource.trim(), "*", "wildcard resource in {statement:?}");
        }
    }
}

#[test]
fn the_wildcard_check_sees_a_wildcard() {
    let mut template = template();
    let (name, _) = of_type(&template, "AWS::IAM::Role")
        .into_iter()
        .next()
        .unwrap();
    template["Resources"][name.as_str()]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"][0]["Action"] = Value::String("dynamodb:*".into());
    let caught = statements(&template)
        .iter()
        .any(|s| strings_in(&s["Action"]).iter().any(|a| a.contains('*')));
    assert!(caught);
}

/// SAM would make a role with broad managed policies (logs on `*`) for a function without
/// `Role`; each function names its own role instead, and writes logs to its own group only.
#[test]
fn each_function_runs_under_its_own_role_with_only_the_actions_it_uses() {
    let template = template();
    let mut roles = BTreeSet::new();
    for (name, function) in of_type(&template, "AWS::Serverless::Function") {
        let p = &function["Properties"];
        assert_eq!(
            p["Policies"],
            Value::Null,
            "{name}: policies belong on its role"
        );
        let (role_name, role) = role_of(&template, function);
        assert!(roles.insert(role_name.clone()), "{role_name} is shared");
        let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"];
        assert_eq!(trust.as_sequence().unwrap().len(), 1);
        assert_eq!(trust[0]["Principal"]["Service"], "lambda.amazonaws.com");

        let log_group = tagged_str(&p["LoggingConfig"]["LogGroup"]).expect("its own log group");
        let statements = granted(&template, function);
        let logs: Vec<&Value> = statements
            .iter()
            .filter(|s| {
                strings_in(&s["Action"])
                    .iter()
                    .any(|a| a.starts_with("logs:"))
            })
            .collect();
        assert_eq!(logs.len(), 1, "{name}");
        assert_eq!(
            tagged_str(&logs[0]["Resource"]),
            Some(format!("{log_group}.Arn")),
            "{name} writes only to its own log group"
        );

        let mut actions: Vec<String> = statements
            .iter()
            .flat_map(|s| strings_in(&s["Action"]))
            .collect();
        actions.sort();
        actions.dedup();
        // The audit function reads trails through the index: no keys, no writes, no mail. Only
        // notify mails and puts bus events (off the request path), and admin mails
        // the link that is its answer.
        let serving = [
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
            "secretsmanager:GetSecretValue",
        ];
        let mut expected = match binary_of(function).as_str() {
            "audit" => vec!["dynamodb:Query"],
            // The mail budget's items, by key only (see the notifier's own test).
            // ...and the sweep of unanswered recovery requests: the open ones from the members
            // index, each closed with its event.
            // ...and, after a factor change, the user's sessions end in the pool.
            "notify" => vec![
                "cognito-idp:AdminUserGlobalSignOut",
                "dynamodb:BatchGetItem",
                "dynamodb:GetItem",
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "events:PutEvents",
                "ses:SendEmail",
                "sqs:SendMessage",
            ],
            "admin" => [serving.as_slice(), &["ses:SendEmail"]].concat(),
            // The Users page reads a page of the members index and the members' records.
            "accounts" => [
                serving.as_slice(),
                &["ses:SendEmail", "dynamodb:Query", "dynamodb:BatchGetItem"],
            ]
            .concat(),
            // Support's list of requests is a page of the members index; the admins asked and
            // the accounts' queues are read in batches.
            "recovery" => [
                serving.as_slice(),
                &["ses:SendEmail", "dynamodb:Query", "dynamodb:BatchGetItem"],
            ]
            .concat(),
            // The backend's membership writes: no secret, and a removal deletes its item.
            "memberships" => vec![
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
            // Which accounts' rules apply to the user: their accounts, then those accounts'
            // items in a batch.
            "enroll" | "code-sets" => [serving.as_slice(), &["dynamodb:BatchGetItem"]].concat(),
            // ...and the Cognito triggers file a recovery request answered in place of a code,
            // mailing its user.
            "cognito-challenge" => [
                serving.as_slice(),
                &["dynamodb:BatchGetItem", "ses:SendEmail"],
            ]
            .concat(),
            _ => serving.to_vec(),
        };
        expected.extend([
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTelemetryRecords",
            "xray:PutTraceSegments",
        ]);
        expected.sort();
        assert_eq!(actions, expected, "{name}");
    }
    // Every function: the HTTP ones, the Cognito triggers' function and the notifier.
    assert_eq!(roles.len(), names().len());
}

/// No role reads (alone or in a batch), updates or deletes any item it likes: every one of
/// those names the keys it may touch. The flows' shared policy holds them to user and audit
/// items, so no request path can rewrite a delivery mark, the mail budget or a membership.
/// Beyond it: admin and accounts update the stack's daily mail count (their links are counted
/// there); accounts reads membership items and user records in a batch, and sets the rule on
/// the account item; memberships writes the membership, account-list and account items; the
/// functions that apply account rules read a user's accounts and those accounts' items; the
/// notifier its marks and budget. Only membership items are ever deleted.
#[test]
fn item_gets_and_updates_are_held_to_their_keys() {
    let template = template();
    let mut grants = BTreeSet::new();
    for statement in statements(&template) {
        let actions = strings_in(&statement["Action"]);
        if actions.iter().any(|a| a == "dynamodb:DeleteItem") {
            assert_eq!(actions, ["dynamodb:DeleteItem"]);
            assert_eq!(
                strings_in(
                    &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                ),
                ["member#*"]
            );
            continue;
        }
        if !actions.iter().any(|a| {
            a == "dynamodb:GetItem" || a == "dynamodb:UpdateItem" || a == "dynamodb:BatchGetItem"
        }) {
            continue;
        }
        let keys =
            strings_in(&statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]);
        assert!(!keys.is_empty(), "{actions:?} with no key condition");
        grants.insert(keys);
    }
    let owned = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    assert!(
        grants.contains(&owned(&["user#*", "audit#*"])),
        "{grants:?}"
    );
    for keys in &grants {
        let flows = [
            &["user#*", "audit#*"][..],
            &["mail#day#*"],
            &["user#*"],
            &["accounts#*"],
            &["account#*"],
            &["member#*"],
            &["member#*", "account#*"],
            &["member#*", "accounts#*", "account#*"],
            &["recovery#*", "recovery-id#*", "recovery-queue#*"],
            &["recovery#*", "recovery-queue#*"],
            &["user#*", "recovery-queue#*"],
        ]
        .iter()
        .any(|allowed| *keys == owned(allowed));
        let notifier = keys.iter().all(|k| k == "delivery#*" || k == "mail#*");
        assert!(flows || notifier, "a grant on {keys:?}");
    }
}

/// Audit events and recovery requests are the only items a function may put: a PutItem that
/// could land on a user's key would let a bug overwrite a whole record, ledger included. A
/// request, the pointer from its id and its accounts' queues are each written whole, by a put
/// conditional on what was read.
#[test]
fn functions_may_put_only_audit_items() {
    let template = template();
    let puts: Vec<Value> = statements(&template)
        .into_iter()
        .filter(|s| strings_in(&s["Action"]).contains(&"dynamodb:PutItem".to_owned()))
        .collect();
    assert!(!puts.is_empty());
    for put in puts {
        let keys = strings_in(&put["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]);
        assert!(
            keys == ["audit#*"] || keys == ["recovery#*", "recovery-id#*", "recovery-queue#*"],
            "a put on {keys:?}"
        );
    }
}

#[test]
fn keys_come_from_secrets_manager_never_from_plain_environment() {
    let template = template();
    let mut readers = BTreeSet::new();
    for (_, function) in of_type(&template, "AWS::Serverless::Function") {
        let variables = &function["Properties"]["Environment"]["Variables"];
        for plain in ["ENCRYPTION_KEY", "SIGNING_KEY", "PREVIOUS_SIGNING_KEY"] {
            assert_eq!(variables[plain], Value::Null, "{plain} in plaintext");
        }
        for (variable, secret) in [
            ("ENCRYPTION_KEY_SECRET_ID", "EncryptionKeySecret"),
            ("SIGNING_KEY_SECRET_ID", "SigningKeySecret"),
        ] {
            if variables[variable] != Value::Null {
                assert_eq!(tagged_str(&variables[variable]).as_deref(), Some(secret));
                readers.insert((binary_of(function), secret));
            }
        }
        let mut allowed: Vec<String> = vec![];
        for statement in granted(&template, function) {
            if strings_in(&statement["Action"]).contains(&"secretsmanager:GetSecretValue".into()) {
                allowed.extend(strings_in(&statement["Resource"]));
            }
        }
        allowed.sort();
        let mut used: Vec<String> = readers
            .iter()
            .filter(|(f, _)| *f == binary_of(function))
            .map(|(_, s)| s.to_string())
            .collect();
        used.sort();
        assert_eq!(
            allowed,
            used,
            "{} may read exactly the secrets it uses",
            binary_of(function)
        );
    }
    let expected: BTreeSet<_> = [
        ("accounts", "EncryptionKeySecret"),
        ("accounts", "SigningKeySecret"),
        ("admin", "EncryptionKeySecret"),
        ("admin", "SigningKeySecret"),
        ("code-sets", "EncryptionKeySecret"),
        ("cognito-challenge", "EncryptionKeySecret"),
        ("cognito-challenge", "SigningKeySecret"),
        ("enroll", "EncryptionKeySecret"),
        ("public", "SigningKeySecret"),
        ("recovery", "EncryptionKeySecret"),
        ("recovery", "SigningKeySecret"),
        ("verify", "EncryptionKeySecret"),
    ]
    .into_iter()
    .map(|(f, s)| (f.to_owned(), s))
    .collect();
    assert_eq!(
        readers, expected,
        "only the functions that use a key read it"
    );
    for (name, secret) in of_type(&template, "AWS::SecretsManager::Secret") {
        assert!(
            secret["Properties"]["GenerateSecretString"]["PasswordLength"]
                .as_u64()
                .is_some_and(|n| n >= 44),
            "{name} is generated by the stack, 256 bits or more"
        );
    }
}
