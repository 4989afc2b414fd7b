//! openapi.yaml documents exactly the routes the functions serve.

use std::collections::BTreeSet;

use backup_codes::functions::all_routes;

#[test]
fn every_route_is_in_the_spec_and_every_spec_route_is_served() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml"))
        .expect("openapi.yaml at the repository root");
    let spec: serde_yaml::Value = serde_yaml::from_str(&text).expect("openapi.yaml parses");
    let paths = spec["paths"].as_mapping().expect("paths");
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for (method, _) in item.as_mapping().expect("path item") {
            let method = method.as_str().unwrap().to_uppercase();
            if ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(&method.as_str()) {
                documented.insert((method, path.as_str().unwrap().to_owned()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = all_routes()
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in openapi.yaml: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "in openapi.yaml but not served: {unserved:?}"
    );
}

#[test]
fn every_function_has_a_binary_and_every_binary_a_function() {
    let binaries = integration_tests::function_binaries();
    let mut functions: Vec<String> = backup_codes::functions::names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    functions.sort();
    assert_eq!(binaries, functions);
}

#[test]
fn the_spec_lists_exactly_the_error_codes_the_service_answers() {
    use backup_codes::http::response::ErrorCode;
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml"))
        .expect("openapi.yaml at the repository root");
    let spec: serde_yaml::Value = serde_yaml::from_str(&text).expect("openapi.yaml parses");
    let documented: BTreeSet<String> = spec["components"]["schemas"]["Error"]["properties"]
        ["error"]["enum"]
        .as_sequence()
        .expect("the Error schema enumerates its codes")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let answered: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(documented, answered);
}
