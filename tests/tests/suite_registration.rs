//! Every behaviour-suite function runs on both stores: a `pub async fn` added to
//! `tests/src/suite.rs` or a module under `tests/src/suite/` but not to `behaviour_suite!`'s
//! list fails here, so none can be forgotten silently. Prints the count, which the test
//! command's output shows.

use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The names of the suite's test functions: every `pub async fn` at the start of a line.
fn defined(suite: &str) -> BTreeSet<String> {
    suite
        .lines()
        .filter_map(|line| line.strip_prefix("pub async fn "))
        .map(|rest| rest.split('(').next().unwrap().trim().to_owned())
        .collect()
}

/// The names `behaviour_suite!($backend)` instantiates.
fn registered(suite: &str) -> BTreeSet<String> {
    let start = suite
        .find("$crate::behaviour_suite!($backend;")
        .expect("the macro's list")
        + "$crate::behaviour_suite!($backend;".len();
    let end = start + suite[start..].find(");").expect("the list's end");
    suite[start..end]
        .split(',')
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn every_suite_function_is_registered_and_every_store_runs_the_suite() {
    let suite = read("src/suite.rs");
    // The suite's modules (src/suite/*.rs) define functions too; the list is in suite.rs.
    let mut everything = suite.clone();
    let dir = format!("{}/src/suite", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        everything.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let (defined, registered) = (defined(&everything), registered(&suite));
    assert!(defined.len() > 30, "read the suite: {defined:?}");
    let forgotten: Vec<_> = defined.difference(&registered).collect();
    assert!(
        forgotten.is_empty(),
        "not in behaviour_suite!: {forgotten:?}"
    );
    let unknown: Vec<_> = registered.difference(&defined).collect();
    assert!(
        unknown.is_empty(),
        "registered but not defined: {unknown:?}"
    );
    for (file, backend) in [
        ("tests/memory_store.rs", "Backend::Memory"),
        ("tests/dynamodb_store.rs", "Backend::DynamoDb"),
    ] {
        let text = read(file);
        assert!(
            text.contains(&format!("behaviour_suite!(integration_tests::{backend})")),
            "{file} runs the suite on {backend}"
        );
    }
    println!(
        "behaviour suite: {} functions defined, {} registered, run on 2 stores",
        defined.len(),
        registered.len()
    );
}

#[test]
fn a_forgotten_function_would_be_caught() {
    let suite = "macro_rules! x { ($backend:expr) => { $crate::behaviour_suite!($backend;\n    a,\n    b,\n); }; }\n\
                 pub async fn a(app: TestApp) {}\npub async fn b(app: TestApp) {}\npub async fn c(app: TestApp) {}\n";
    let forgotten: Vec<String> = defined(suite)
        .difference(&registered(suite))
        .cloned()
        .collect();
    assert_eq!(forgotten, ["c"]);
}
