//! template.yaml deploys what the code serves: a function resource per binary, the routes of
//! openapi.yaml with the right authorizer and function, the table the store expects, and IAM
//! statements that never grant `*`.

use std::collections::BTreeSet;

use backup_codes::{
    adapters::dynamodb::{PARTITION_KEY, TTL_ATTRIBUTE},
    http::{Authorization, Function, ROUTES},
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
    let served: BTreeSet<_> = ROUTES
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
                r.function.name().to_owned(),
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
    assert_eq!(Function::ALL.len(), 5);
}

/// Every IAM statement in the template: function policies and any role or policy resource.
fn statements(template: &Value) -> Vec<Value> {
    let mut found = vec![];
    for (_, resource) in resources(template) {
        let p = &resource["Properties"];
        for policy in p["Policies"].as_sequence().into_iter().flatten() {
            found.extend(
                policy["Statement"]
                    .as_sequence()
                    .cloned()
                    .unwrap_or_default(),
            );
            found.extend(
                policy["PolicyDocument"]["Statement"]
                    .as_sequence()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        found.extend(
            p["PolicyDocument"]["Statement"]
                .as_sequence()
                .cloned()
                .unwrap_or_default(),
        );
    }
    found
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

#[test]
fn no_iam_statement_grants_a_wildcard_action_or_resource() {
    let template = template();
    let statements = statements(&template);
    assert!(statements.len() >= 10, "found the function policies");
    for statement in &statements {
        for action in strings_in(&statement["Action"]) {
            assert!(!action.contains('*'), "wildcard action {action:?}");
        }
        assert!(
            statement["Resource"] != Value::Null,
            "statement without a Resource: {statement:?}"
        );
        for resource in strings_in(&statement["Resource"]) {
            assert_ne!(resource.trim(), "*", "wildcard resource in {statement:?}");
        }
    }
}

#[test]
fn the_wildcard_check_sees_a_wildcard() {
    let mut template = template();
    let (name, _) = of_type(&template, "AWS::Serverless::Function")
        .into_iter()
        .next()
        .unwrap();
    template["Resources"][name.as_str()]["Properties"]["Policies"][0]["Statement"][0]["Action"] =
        Value::String("dynamodb:*".into());
    let caught = statements(&template)
        .iter()
        .any(|s| strings_in(&s["Action"]).iter().any(|a| a.contains('*')));
    assert!(caught);
}

#[test]
fn the_table_is_the_one_the_store_expects_and_is_kept() {
    let template = template();
    let tables = of_type(&template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1);
    let (_, table) = tables[0];
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
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
        for policy in function["Properties"]["Policies"].as_sequence().unwrap() {
            for statement in policy["Statement"].as_sequence().unwrap() {
                if strings_in(&statement["Action"])
                    .contains(&"secretsmanager:GetSecretValue".into())
                {
                    allowed.extend(strings_in(&statement["Resource"]));
                }
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
        ("admin-regenerate", "EncryptionKeySecret"),
        ("admin-regenerate", "SigningKeySecret"),
        ("download", "SigningKeySecret"),
        ("enroll", "EncryptionKeySecret"),
        ("regenerate", "EncryptionKeySecret"),
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
