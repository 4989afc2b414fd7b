//! Reading template.yaml as CloudFormation does: its resources, parameters and IAM
//! statements, for the tests that hold the template to the code and to the docs.

use serde_yaml::Value;

/// The path of `name` at the repository's root.
pub fn repo_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
}

pub fn repo_file(name: &str) -> String {
    std::fs::read_to_string(repo_path(name))
        .unwrap_or_else(|e| panic!("{name} at the repository root: {e}"))
}

pub fn template() -> Value {
    serde_yaml::from_str(&repo_file("template.yaml")).expect("template.yaml parses")
}

pub fn resources(template: &Value) -> Vec<(String, &Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v))
        .collect()
}

pub fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    resources(template)
        .into_iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// `!Ref X` and friends parse as tagged values; this reads the tag's argument as a string.
pub fn tagged_str(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(t) => t.value.as_str().map(str::to_owned),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

pub fn binary_of(function: &Value) -> String {
    assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");
    function["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .expect("BuildProperties.Binary")
        .to_owned()
}

/// The items of a statement list, with `!If [condition, a, b]` items read as both branches:
/// a grant that holds under some parameters is checked like one that always holds.
pub fn statement_items(list: &Value) -> Vec<Value> {
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
pub fn own_statements(resource: &Value) -> Vec<Value> {
    let p = &resource["Properties"];
    let mut found = statement_items(&p["PolicyDocument"]["Statement"]);
    for policy in p["Policies"].as_sequence().into_iter().flatten() {
        found.extend(statement_items(&policy["PolicyDocument"]["Statement"]));
        found.extend(statement_items(&policy["Statement"]));
    }
    found
}

/// Every IAM statement in the template: roles, managed policies and SAM function policies.
pub fn statements(template: &Value) -> Vec<Value> {
    resources(template)
        .into_iter()
        .flat_map(|(_, resource)| own_statements(resource))
        .collect()
}

pub fn strings_in(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings_in).collect(),
        Value::Tagged(t) => strings_in(&t.value),
        Value::Mapping(m) => m.values().flat_map(strings_in).collect(),
        _ => vec![],
    }
}

/// The role a function runs under: `Role: !GetAtt <role>.Arn`.
pub fn role_of<'a>(template: &'a Value, function: &Value) -> (String, &'a Value) {
    let arn = tagged_str(&function["Properties"]["Role"]).expect("Role: !GetAtt <role>.Arn");
    let name = arn.strip_suffix(".Arn").expect("the role's Arn").to_owned();
    let role = &template["Resources"][name.as_str()];
    assert_eq!(role["Type"], "AWS::IAM::Role", "{name}");
    (name, role)
}

/// What a function may do: its role's own statements and those of the managed policies of the
/// template that the role attaches.
pub fn granted(template: &Value, function: &Value) -> Vec<Value> {
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

pub fn parameter<'a>(template: &'a Value, name: &str) -> &'a Value {
    let parameter = &template["Parameters"][name];
    assert!(parameter.is_mapping(), "parameter {name}");
    parameter
}
