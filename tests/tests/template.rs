//! template.yaml deploys what the code serves: a function resource per binary, the routes of
//! openapi.yaml with the right authorizer and function, the table the store expects, the
//! Cognito triggers, CORS, the notifier's stream and what each parameter checks. The IAM
//! statements are held in template_iam.rs.

use std::collections::BTreeSet;

use backup_codes::{
    adapters::dynamodb::{
        AUDIT_INDEX, AUDIT_SORT_KEY, AUDIT_USER, MEMBERS_INDEX, MEMBER_OF, MEMBER_USER,
        PARTITION_KEY, TTL_ATTRIBUTE,
    },
    functions::{all_routes, names},
    http::Authorization,
};
use integration_tests::template::*;
use serde_yaml::{Mapping, Value};

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
