//! template.yaml deploys what the code serves: a function resource per binary, the routes of
//! openapi.yaml with the right authorizer and function, the table the store expects, and IAM
//! statements that grant `*` only where AWS has no resource-level permission, each function
//! under its own role with only the actions it uses.

use std::collections::BTreeSet;

use backup_codes::{
    adapters::dynamodb::{
        AUDIT_INDEX, AUDIT_SORT_KEY, AUDIT_USER, MEMBERS_INDEX, MEMBER_OF, MEMBER_USER,
        PARTITION_KEY, TTL_ATTRIBUTE,
    },
    functions::{all_routes, names},
    http::Authorization,
};
use serde_yaml::{Mapping, Value};

fn repo_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{name} at the repository root: {e}"))
}

fn template() -> Value {
    serde_yaml::from_str(&repo_file("template.yaml")).expect("template.yaml parses")
}

fn resources(template: &Value) -> Vec<(String, &Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v))
        .collect()
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    resources(template)
        .into_iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// `!Ref X` and friends parse as tagged values; this reads the tag's argument as a string.
fn tagged_str(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(t) => t.value.as_str().map(str::to_owned),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn binary_of(function: &Value) -> String {
    assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");
    function["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .expect("BuildProperties.Binary")
        .to_owned()
}

#[test]
fn every_binary_has_a_function_resource_and_every_resource_a_binary() {
    let template = template();
    let mut in_template: Vec<String> = of_type(&template, "AWS::Serverless::Function")
        .iter()
        .map(|(_, f)| binary_of(f))
        .collect();
    in_template.sort();
    let binaries = integration_tests::function_binaries();
    assert_eq!(in_template, binaries);
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
}

#[test]
fn template_routes_match_the_spec_the_served_routes_and_their_authorizers() {
    let template = template();
    let mut in_template = BTreeSet::new();
    for (_, function) in of_type(&template, "AWS::Serverless::Function") {
        let binary = binary_of(function);
        for (name, event) in function["Properties"]["Events"]
            .as_mapping()
            .unwrap_or(&Mapping::new())
        {
            let p = &event["Properties"];
            if event["Type"] == "DynamoDB" {
                assert_eq!(binary, "notify", "only the notifier reads the stream");
                continue;
            }
            if event["Type"] == "Schedule" {
                assert_eq!(
                    binary, "notify",
                    "only the notifier runs on a schedule (digests)"
                );
                continue;
            }
            assert_eq!(event["Type"], "HttpApi", "event {name:?}");
            assert_eq!(tagged_str(&p["ApiId"]).as_deref(), Some("Api"));
            let authorizer = p["Auth"]["Authorizer"]
                .as_str()
                .unwrap_or_else(|| panic!("event {name:?} names its authorizer"))
                .to_owned();
            if authorizer == "NONE" {
                assert!(
                    p["RouteSettings"]["ThrottlingRateLimit"] != Value::Null
                        && p["RouteSettings"]["ThrottlingBurstLimit"] != Value::Null,
                    "public route {name:?} is throttled"
                );
            }
            in_template.insert((
                p["Method"].as_str().unwrap().to_uppercase(),
                p["Path"].as_str().unwrap().to_owned(),
                binary.clone(),
                authorizer,
            ));
        }
    }
    let served: BTreeSet<_> = all_routes()
        .iter()
        .map(|r| {
            let authorizer = match r.authorization {
                Authorization::Jwt => "Jwt",
                Authorization::Iam => "AWS_IAM",
                Authorization::None => "NONE",
            };
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.function.to_owned(),
                authorizer.to_owned(),
            )
        })
        .collect();
    assert_eq!(
        in_template, served,
        "template routes (method, path, function, authorizer) differ from the served routes"
    );

    let spec: Value = serde_yaml::from_str(&repo_file("openapi.yaml")).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap().to_uppercase();
            if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                documented.insert((method, path.as_str().unwrap().to_owned()));
            }
        }
    }
    let routed: BTreeSet<_> = in_template
        .iter()
        .map(|(m, p, _, _)| (m.clone(), p.clone()))
        .collect();
    assert_eq!(
        routed, documented,
        "template routes differ from openapi.yaml"
    );
    assert_eq!(names().len(), 11);
}

/// The items of a statement list, with `!If [condition, a, b]` items read as both branches:
/// a grant that holds under some parameters is checked like one that always holds.
fn statement_items(list: &Value) -> Vec<Value> {
    let mut found = vec![];
    for item in list.as_sequence().into_iter().flatten() {
        match item {
            Value::Tagged(t) if t.tag == "If" => {
                let branches = t.value.as_sequence().expect("!If [condition, a, b]");
                found.extend(branches[1..].iter().filter(|b| b.is_mapping()).cloned());
            }
            other => found.push(other.clone()),
        }
    }
    found
}

/// The statements of the policies that a resource (a role or a managed policy) carries inline.
fn own_statements(resource: &Value) -> Vec<Value> {
    let p = &resource["Properties"];
    let mut found = statement_items(&p["PolicyDocument"]["Statement"]);
    for policy in p["Policies"].as_sequence().into_iter().flatten() {
        found.extend(statement_items(&policy["PolicyDocument"]["Statement"]));
        found.extend(statement_items(&policy["Statement"]));
    }
    found
}

/// Every IAM statement in the template: roles, managed policies and SAM function policies.
fn statements(template: &Value) -> Vec<Value> {
    resources(template)
        .into_iter()
        .flat_map(|(_, resource)| own_statements(resource))
        .collect()
}

fn strings_in(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings_in).collect(),
        Value::Tagged(t) => strings_in(&t.value),
        Value::Mapping(m) => m.values().flat_map(strings_in).collect(),
        _ => vec![],
    }
}

/// The role a function runs under: `Role: !GetAtt <role>.Arn`.
fn role_of<'a>(template: &'a Value, function: &Value) -> (String, &'a Value) {
    let arn = tagged_str(&function["Properties"]["Role"]).expect("Role: !GetAtt <role>.Arn");
    let name = arn.strip_suffix(".Arn").expect("the role's Arn").to_owned();
    let role = &template["Resources"][name.as_str()];
    assert_eq!(role["Type"], "AWS::IAM::Role", "{name}");
    (name, role)
}

/// What a function may do: its role's own statements and those of the managed policies of the
/// template that the role attaches.
fn granted(template: &Value, function: &Value) -> Vec<Value> {
    let (_, role) = role_of(template, function);
    let mut found = own_statements(role);
    for attached in role["Properties"]["ManagedPolicyArns"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let name = tagged_str(attached).expect("!Ref to a managed policy of the template");
        let policy = &template["Resources"][name.as_str()];
        assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy", "{name}");
        found.extend(own_statements(policy));
    }
    found
}

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

#[test]
fn the_table_is_the_one_the_store_expects_and_is_kept() {
    let template = template();
    let tables = of_type(&template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1);
    let (_, table) = tables[0];
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    // The users the table's records belong to are kept with it.
    for kept in ["UserPool", "UserPoolClient", "UserPoolAdminGroup"] {
        let resource = &template["Resources"][kept];
        assert_eq!(resource["DeletionPolicy"], "Retain", "{kept}");
        assert_eq!(resource["UpdateReplacePolicy"], "Retain", "{kept}");
    }
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(p["KeySchema"][0]["AttributeName"], PARTITION_KEY);
    assert_eq!(p["KeySchema"].as_sequence().unwrap().len(), 1);
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(p["TimeToLiveSpecification"]["AttributeName"], TTL_ATTRIBUTE);
    assert_eq!(p["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        p["StreamSpecification"]["StreamViewType"], "NEW_IMAGE",
        "the stream the notifier reads"
    );
    let index = &p["GlobalSecondaryIndexes"][0];
    assert_eq!(index["IndexName"], AUDIT_INDEX);
    assert_eq!(index["KeySchema"][0]["AttributeName"], AUDIT_USER);
    assert_eq!(index["KeySchema"][1]["AttributeName"], AUDIT_SORT_KEY);
    assert_eq!(index["Projection"]["ProjectionType"], "ALL");
    let members = &p["GlobalSecondaryIndexes"][1];
    assert_eq!(members["IndexName"], MEMBERS_INDEX);
    assert_eq!(members["KeySchema"][0]["AttributeName"], MEMBER_OF);
    assert_eq!(members["KeySchema"][1]["AttributeName"], MEMBER_USER);
    assert_eq!(members["Projection"]["ProjectionType"], "ALL");
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

#[test]
fn every_request_is_answered_before_its_function_times_out() {
    let template = template();
    let deadline = backup_codes::http::routes::REQUEST_DEADLINE;
    let global = template["Globals"]["Function"]["Timeout"].as_u64();
    for (name, function) in of_type(&template, "AWS::Serverless::Function") {
        let timeout = function["Properties"]["Timeout"]
            .as_u64()
            .or(global)
            .unwrap_or_else(|| panic!("{name} has no Timeout"));
        assert!(
            std::time::Duration::from_secs(timeout) > deadline,
            "{name}: a {timeout} s timeout would cut off the {deadline:?} request deadline"
        );
    }
}

/// The alarm watches the metric a failed event sink is counted in.
#[test]
fn an_alarm_watches_failed_event_sinks() {
    use backup_codes::app::sinks::{METRIC_NAMESPACE, SINK_FAILURES_METRIC};
    let template = template();
    let alarm = &template["Resources"]["EventSinkFailuresAlarm"]["Properties"];
    assert_eq!(alarm["Namespace"], METRIC_NAMESPACE);
    assert_eq!(alarm["MetricName"], SINK_FAILURES_METRIC);
    assert_eq!(alarm["Threshold"], 1);
}

#[test]
fn a_user_pool_may_invoke_the_cognito_triggers_only_when_named_or_created() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let get = |name: &str| &resources[&Value::from(name)];
    let existing = get("ExistingPoolInvokePermission");
    assert_eq!(existing["Condition"].as_str(), Some("HasUserPoolArn"));
    assert_eq!(
        existing["Properties"]["Principal"].as_str(),
        Some("cognito-idp.amazonaws.com")
    );
    assert_eq!(
        existing["Properties"]["Action"].as_str(),
        Some("lambda:InvokeFunction")
    );
    assert_eq!(
        tagged_str(&existing["Properties"]["SourceArn"]).as_deref(),
        Some("CognitoUserPoolArn")
    );
    assert_eq!(
        tagged_str(&existing["Properties"]["FunctionName"]).as_deref(),
        Some("CognitoChallengeFunction.Arn")
    );
    let created = get("CreatedPoolInvokePermission");
    assert_eq!(created["Condition"].as_str(), Some("MakeUserPool"));
    assert_eq!(
        tagged_str(&created["Properties"]["SourceArn"]).as_deref(),
        Some("UserPool.Arn")
    );

    let pool = get("UserPool");
    assert_eq!(pool["Condition"].as_str(), Some("MakeUserPool"));
    assert_eq!(pool["Properties"]["MfaConfiguration"].as_str(), Some("OFF"));
    let triggers = &pool["Properties"]["LambdaConfig"];
    for trigger in [
        "DefineAuthChallenge",
        "CreateAuthChallenge",
        "VerifyAuthChallengeResponse",
        "PreTokenGeneration",
    ] {
        assert_eq!(
            tagged_str(&triggers[trigger]).as_deref(),
            Some("CognitoChallengeFunction.Arn"),
            "{trigger}"
        );
    }
    let client = &get("UserPoolClient")["Properties"];
    let flows: BTreeSet<String> = strings_in(&client["ExplicitAuthFlows"])
        .into_iter()
        .collect();
    assert_eq!(
        flows,
        BTreeSet::from([
            "ALLOW_CUSTOM_AUTH".into(),
            "ALLOW_REFRESH_TOKEN_AUTH".into()
        ]),
        "no flow that signs in with the password alone"
    );
    let admin_only = &pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"];
    let Value::Tagged(admin_only) = admin_only else {
        panic!("AllowAdminCreateUserOnly: {admin_only:?}")
    };
    assert_eq!(admin_only.tag, "If");
    assert_eq!(
        admin_only.value,
        serde_yaml::from_str::<Value>("[AdminCreatesUsers, true, false]").unwrap(),
        "closed unless AllowSelfSignUp"
    );
    assert_eq!(
        serde_yaml::to_string(&template["Conditions"]["AdminCreatesUsers"]).unwrap(),
        "!Equals\n- !Ref AllowSelfSignUp\n- 'false'\n"
    );
    let parameters = &template["Parameters"];
    assert_eq!(
        parameters["AllowSelfSignUp"]["Default"].as_str(),
        Some("false")
    );
    assert_eq!(
        strings_in(&parameters["UnenrolledUsers"]["AllowedValues"]),
        ["allow", "require", "deny"]
    );
    assert_eq!(
        tagged_str(&get("UserPoolAdminGroup")["Properties"]["GroupName"]).as_deref(),
        Some("AdminGroup")
    );
    assert!(template["Outputs"]["CognitoChallengeFunctionArn"].is_mapping());
    let function = &get("CognitoChallengeFunction")["Properties"];
    assert!(
        function["Events"].is_null(),
        "Cognito calls it; no route does"
    );
    assert_eq!(
        tagged_str(&function["Environment"]["Variables"]["UNENROLLED_USERS"]).as_deref(),
        Some("UnenrolledUsers")
    );
}

/// The web components call the API from the team's pages: CORS for a list of origins, and the
/// headers a page needs readable (a regenerate answered as a file names its set in one).
#[test]
fn cors_takes_a_list_of_origins_and_exposes_what_the_components_read() {
    use backup_codes::http::functions::code_sets::{SET_EXPIRES_HEADER, SET_ID_HEADER};
    let template = template();
    assert_eq!(
        template["Parameters"]["CorsOrigin"]["Type"],
        "CommaDelimitedList"
    );
    let Value::Tagged(cors) = &template["Resources"]["Api"]["Properties"]["CorsConfiguration"]
    else {
        panic!("CorsConfiguration is an !If on CorsOn");
    };
    let on = &cors.value[1];
    assert_eq!(
        tagged_str(&on["AllowOrigins"]).as_deref(),
        Some("CorsOrigin")
    );
    let listed = |key: &str| -> Vec<String> {
        on[key]
            .as_sequence()
            .unwrap_or_else(|| panic!("{key}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_ascii_lowercase())
            .collect()
    };
    for header in ["authorization", "content-type", "x-otp", "accept"] {
        assert!(
            listed("AllowHeaders").contains(&header.to_owned()),
            "{header}"
        );
    }
    for header in [SET_ID_HEADER, SET_EXPIRES_HEADER, "retry-after"] {
        assert!(
            listed("ExposeHeaders").contains(&header.to_owned()),
            "{header}"
        );
    }
    for method in ["get", "post", "delete"] {
        assert!(
            listed("AllowMethods").contains(&method.to_owned()),
            "{method}"
        );
    }
}

/// The event stream's far side: new audit items only, each batch retried a bounded number of times
/// (split to find the record that fails), what is given up kept on a queue with an alarm.
#[test]
fn the_notifier_reads_new_audit_items_with_bounded_retries_and_a_watched_failure_queue() {
    let template = template();
    let notify = of_type(&template, "AWS::Serverless::Function")
        .into_iter()
        .find(|(_, f)| binary_of(f) == "notify")
        .expect("a notify function")
        .1;
    let events = notify["Properties"]["Events"].as_mapping().unwrap();
    assert_eq!(events.len(), 2, "the stream and the digests' schedule");
    let stream = events
        .values()
        .find(|event| event["Type"] == "DynamoDB")
        .expect("the stream");
    let schedule = events
        .values()
        .find(|event| event["Type"] == "Schedule")
        .expect("the digests' schedule");
    assert_eq!(schedule["Properties"]["Schedule"], "rate(15 minutes)");
    let p = &stream["Properties"];
    assert_eq!(tagged_str(&p["Stream"]).as_deref(), Some("Table.StreamArn"));
    assert_eq!(p["BisectBatchOnFunctionError"], true);
    assert_eq!(
        strings_in(&p["FunctionResponseTypes"]),
        ["ReportBatchItemFailures"]
    );
    let retries = p["MaximumRetryAttempts"].as_u64().expect("bounded retries");
    assert!((1..=10).contains(&retries), "{retries} retries");
    let queue = tagged_str(&p["DestinationConfig"]["OnFailure"]["Destination"])
        .expect("an on-failure destination");
    let queue = queue.trim_end_matches(".Arn");
    assert_eq!(template["Resources"][queue]["Type"], "AWS::SQS::Queue");
    let alarmed = of_type(&template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .any(|(_, alarm)| {
            alarm["Properties"]["Namespace"] == "AWS/SQS"
                && tagged_str(&alarm["Properties"]["Dimensions"][0]["Value"]).as_deref()
                    == Some(&format!("{queue}.QueueName"))
        });
    assert!(alarmed, "an alarm watches {queue}");

    let filters = p["FilterCriteria"]["Filters"].as_sequence().unwrap();
    assert_eq!(filters.len(), 1);
    let pattern: serde_json::Value =
        serde_json::from_str(filters[0]["Pattern"].as_str().unwrap()).unwrap();
    assert_eq!(pattern["eventName"], serde_json::json!(["INSERT"]));
    assert_eq!(
        pattern["dynamodb"]["NewImage"][AUDIT_USER]["S"],
        serde_json::json!([{ "exists": true }]),
        "new audit items only: no user item, no update, no delivery mark"
    );

    // Its table grants are by key prefix: delivery marks and the mail budget, with a read of
    // the user's accounts (whose days their mail counts in); for the sweep of unanswered
    // recovery requests, those requests and their queues, and users' addresses by a read. It
    // never writes a user.
    let role = tagged_str(&notify["Properties"]["Role"]).expect("its own role");
    let role = role.trim_end_matches(".Arn");
    let statements = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"]
        .as_sequence()
        .unwrap()
        .clone();
    for statement in &statements {
        let actions = strings_in(&statement["Action"]);
        let on_items = actions.iter().any(|a| {
            [
                "dynamodb:UpdateItem",
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
            ]
            .contains(&a.as_str())
        });
        if on_items {
            let keys = strings_in(
                &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
            );
            let marks = keys.iter().all(|k| k == "delivery#*" || k == "mail#*");
            let read_only = actions == ["dynamodb:GetItem"];
            let sweep =
                keys == ["recovery#*", "recovery-queue#*"] || (keys == ["user#*"] && read_only);
            let accounts = keys == ["accounts#*"] && read_only;
            assert!(
                !keys.is_empty() && (marks || sweep || accounts),
                "{actions:?} on {keys:?}"
            );
        }
    }
}

#[test]
fn sessions_end_after_a_factor_change_in_the_pool_the_stack_knows_and_nowhere_else() {
    let template = template();
    let parameter = &template["Parameters"]["SignOutOnFactorChange"];
    assert_eq!(parameter["Default"], "true", "on by default");
    let condition = serde_yaml::to_string(&template["Conditions"]["SignsOut"]).unwrap();
    for part in ["SignOutOnFactorChange", "MakeUserPool", "HasUserPoolArn"] {
        assert!(condition.contains(part), "{condition}");
    }
    // One action, granted under that condition to notify alone, on the pool alone.
    let mut grants = vec![];
    for (name, function) in of_type(&template, "AWS::Serverless::Function") {
        let (_, role) = role_of(&template, function);
        let policies = serde_yaml::to_string(&role["Properties"]["Policies"]).unwrap();
        if policies.contains("Action: cognito-idp:") {
            grants.push(name.clone());
            assert_eq!(
                policies.matches("Action: cognito-idp:").count(),
                1,
                "{name}: {policies}"
            );
            let grant = policies
                .split("cognito-idp:AdminUserGlobalSignOut")
                .nth(1)
                .unwrap();
            assert!(grant.contains("UserPool.Arn"), "{grant}");
            assert!(grant.contains(":userpool/${PoolId}"), "{grant}");
            assert!(
                policies.contains("SignsOut"),
                "only where the stack signs out: {policies}"
            );
        }
    }
    assert_eq!(grants, ["NotifyFunction"]);
    // The pool's id reaches notify, and the functions whose screens say "sign in again"; never
    // the Cognito function, which the pool's triggers name (a cycle).
    for (name, function) in of_type(&template, "AWS::Serverless::Function") {
        let pool = &function["Properties"]["Environment"]["Variables"]["USER_POOL_ID"];
        let expected = matches!(
            name.as_str(),
            "NotifyFunction" | "EnrollFunction" | "RegenerateFunction"
        );
        assert_eq!(*pool != Value::Null, expected, "{name}");
        if expected {
            assert!(
                serde_yaml::to_string(pool).unwrap().contains("SignsOut"),
                "{name}"
            );
        }
    }
}

fn parameter<'a>(template: &'a Value, name: &str) -> &'a Value {
    let parameter = &template["Parameters"][name];
    assert!(parameter.is_mapping(), "parameter {name}");
    parameter
}

/// A product name the functions would refuse at start-up fails the deploy instead: the
/// template's pattern refuses the hidden characters people misread, and never a name the
/// functions accept.
#[test]
fn the_product_name_is_checked_when_the_stack_is_deployed() {
    use backup_codes::{config::MAX_NAME_CHARS, domain::display_text::is_hidden};

    let template = template();
    let product = parameter(&template, "ProductName");
    let pattern = product["AllowedPattern"].as_str().expect("AllowedPattern");
    let pattern = regex_lite::Regex::new(pattern).expect("the pattern compiles");
    assert_eq!(product["MaxLength"].as_u64(), Some(MAX_NAME_CHARS as u64));
    for refused in [
        "Acme:Inc",
        "Acme\r\nBcc: eve@attacker.example",
        "Acme\u{202E}lanigiro",
        "Acme\u{2028}Security",
        "Acme\u{200B}",
        "Acme\u{FEFF}",
        "Acme\u{7}",
        "",
    ] {
        assert!(
            !pattern.is_match(refused),
            "{refused:?} passes the template"
        );
    }
    for accepted in [
        "Backup Codes",
        "Acme Café",
        "株式会社アクメ",
        "Acme 🔐",
        "O'Neil & Co.",
    ] {
        assert!(pattern.is_match(accepted), "{accepted:?} is refused");
    }
    let too_strict: Vec<_> = ('\0'..='\u{FFFF}')
        .filter(|&c| c != ':' && !is_hidden(c) && !pattern.is_match(&c.to_string()))
        .collect();
    assert!(too_strict.is_empty(), "the template refuses {too_strict:?}");
}

/// The Notify parameter lists every kind a user can be mailed about.
#[test]
fn the_notify_parameter_names_every_mailed_event() {
    let template = template();
    let description = parameter(&template, "Notify")["Description"]
        .as_str()
        .expect("Description")
        .replace('\n', " ");
    let missing: Vec<_> = backup_codes::domain::events::EventKind::MAILED
        .iter()
        .map(|kind| kind.name())
        .filter(|name| !description.contains(name))
        .collect();
    assert!(missing.is_empty(), "Notify leaves out {missing:?}");
}

/// A team attaching the challenge function to its own pool is told all four triggers: the
/// token guard is the one that keeps the password alone from signing an enrolled user in.
#[test]
fn the_challenge_functions_output_names_all_four_triggers() {
    let template = template();
    let description = template["Outputs"]["CognitoChallengeFunctionArn"]["Description"]
        .as_str()
        .expect("Description")
        .replace('\n', " ");
    for trigger in [
        "Define Auth Challenge",
        "Create Auth Challenge",
        "Verify Auth Challenge Response",
        "Pre Token Generation",
    ] {
        assert!(description.contains(trigger), "{trigger}: {description}");
    }
}
