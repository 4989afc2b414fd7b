//! The docs stay true to the repository: every relative link in a Markdown file leads to a file
//! that exists, and its `#anchor` to a heading of that file.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Markdown files the project ships: the root's and docs/'s.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![];
    for dir in [root(), root().join("docs")] {
        for entry in std::fs::read_dir(&dir).expect("a docs folder") {
            let path = entry.expect("an entry").path();
            if path.extension().is_some_and(|ext| ext == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Every `](target)` outside code blocks.
fn links(markdown: &str) -> Vec<String> {
    let mut out = vec![];
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                out.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown: &str) -> Vec<String> {
    let mut in_code = false;
    markdown
        .lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
            }
            !in_code && line.starts_with('#')
        })
        .map(|line| slug(line.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = vec![];
    let files = markdown_files();
    assert!(
        files.len() >= 8,
        "README, CHANGELOG, ... and docs/: {files:?}"
    );
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for link in links(&text) {
            let link = link
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            if link.contains("://") || link.starts_with("mailto:") || link.is_empty() {
                continue;
            }
            let (path, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", file.display()));
                continue;
            }
            let is_markdown = target.extension().is_some_and(|ext| ext == "md");
            if !anchor.is_empty() && is_markdown {
                let headings = anchors(&std::fs::read_to_string(&target).unwrap());
                if !headings.iter().any(|h| h == anchor) {
                    broken.push(format!("{}: {link} (no such heading)", file.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_check_sees_a_broken_link() {
    let text = "See [the API](api.md#no-such-heading) and [x](y.md).\n```\n[in](code.md)\n```";
    assert_eq!(links(text), ["api.md#no-such-heading", "y.md"]);
    assert_eq!(
        slug(" Sessions end after a factor change"),
        "sessions-end-after-a-factor-change"
    );
    assert_eq!(
        slug("A member who lost the phone (and the codes)"),
        "a-member-who-lost-the-phone-and-the-codes"
    );
}

/// The rows of docs/api.md's route table, as (method, path, function, who): a cell of
/// "`GET`, `POST /path`" is two routes, and "`.../deny`" the previous path's last segment swapped.
fn api_md_routes() -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(root().join("docs/api.md")).unwrap();
    let mut rows = vec![];
    for line in text
        .lines()
        .skip_while(|l| !l.starts_with("| route | who | function |"))
    {
        if !line.starts_with('|') {
            break;
        }
        if line.starts_with("|---") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let [route, who, function] = cells[..] else {
            panic!("a route row has three cells: {line}");
        };
        if route == "route" {
            continue;
        }
        let function = function.trim_matches('`').to_owned();
        let (mut methods, mut last_path) = (vec![], String::new());
        for piece in route.split('`').skip(1).step_by(2) {
            let (method, path) = match piece.split_once(' ') {
                Some((method, path)) => (Some(method), Some(path)),
                None if piece.starts_with("...") => (None, Some(piece)),
                None => (Some(piece), None),
            };
            if let Some(method) = method {
                methods.push(method.to_owned());
            }
            let Some(path) = path else { continue };
            let path = match path.strip_prefix("...") {
                Some(tail) => format!("{}{tail}", &last_path[..last_path.rfind('/').unwrap()]),
                None => path.to_owned(),
            };
            let methods_here = if methods.is_empty() {
                vec![rows
                    .last()
                    .map(|(m, ..): &(String, String, String, String)| m.clone())
                    .unwrap()]
            } else {
                std::mem::take(&mut methods)
            };
            for method in methods_here {
                rows.push((method, path.clone(), function.clone(), who.to_owned()));
            }
            last_path = path;
        }
    }
    rows
}

/// docs/api.md's table of routes is every route the functions serve (and so the spec's and
/// the template's, which tests/tests/template.rs holds to them), each with its function and
/// who may call it.
#[test]
fn the_route_table_in_the_api_docs_is_the_router() {
    use backup_codes::{functions::all_routes, http::Authorization};
    use std::collections::BTreeSet;

    let documented = api_md_routes();
    let served: BTreeSet<(String, String, String)> = all_routes()
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.function.to_owned(),
            )
        })
        .collect();
    let listed: BTreeSet<(String, String, String)> = documented
        .iter()
        .map(|(m, p, f, _)| (m.clone(), p.clone(), f.clone()))
        .collect();
    assert_eq!(listed.len(), documented.len(), "a route is listed twice");
    let missing: Vec<_> = served.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&served).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not in docs/api.md: {missing:?}\nnot served: {extra:?}"
    );
    for route in all_routes() {
        let (.., who) = documented
            .iter()
            .find(|(m, p, ..)| m == route.method && p == route.path)
            .unwrap();
        let says = if who.contains("(IAM)") {
            Authorization::Iam
        } else if who.contains("(JWT") {
            Authorization::Jwt
        } else {
            Authorization::None
        };
        assert_eq!(
            says, route.authorization,
            "{} {}: docs say {who:?}",
            route.method, route.path
        );
    }
}

/// Every parameter of template.yaml has a row in docs/deploy.md's table, with its real default.
#[test]
fn every_template_parameter_is_in_the_deploy_docs_with_its_default() {
    let template = integration_tests::template::template();
    let docs = std::fs::read_to_string(root().join("docs/deploy.md")).unwrap();
    let rows: std::collections::BTreeMap<String, String> = docs
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            match cells[..] {
                [name, default, _] if name.starts_with('`') => {
                    Some((name.trim_matches('`').to_owned(), default.to_owned()))
                }
                _ => None,
            }
        })
        .collect();
    let parameters = template["Parameters"].as_mapping().unwrap();
    let mut wrong = vec![];
    for (name, parameter) in parameters {
        let name = name.as_str().unwrap();
        let real = match &parameter["Default"] {
            serde_yaml::Value::Null => "none: required".to_owned(),
            serde_yaml::Value::String(s) if s.is_empty() => "empty".to_owned(),
            serde_yaml::Value::String(s) => format!("`{s}`"),
            serde_yaml::Value::Number(n) => format!("`{n}`"),
            other => panic!("{name}: a default of {other:?}"),
        };
        match rows.get(name) {
            Some(documented) if *documented == real => {}
            Some(documented) => wrong.push(format!(
                "{name}: docs say {documented}, the template {real}"
            )),
            None => wrong.push(format!("{name}: not in docs/deploy.md's table")),
        }
    }
    let unknown: Vec<_> = rows
        .keys()
        .filter(|name| !parameters.contains_key(name.as_str()))
        .collect();
    assert!(
        wrong.is_empty() && unknown.is_empty(),
        "{}\nnot parameters: {unknown:?}",
        wrong.join("\n")
    );
}

/// Every alarm of template.yaml has a row in docs/operations.md's "When an alarm fires" (what
/// happened, what to do), and the costs count as many alarms as the template has.
#[test]
fn every_alarm_has_a_runbook_row_and_is_counted_in_the_costs() {
    let template = integration_tests::template::template();
    let alarms: Vec<String> =
        integration_tests::template::of_type(&template, "AWS::CloudWatch::Alarm")
            .into_iter()
            .map(|(name, _)| name)
            .collect();
    let docs = std::fs::read_to_string(root().join("docs/operations.md")).unwrap();
    let runbook = docs
        .split("\n## When an alarm fires\n")
        .nth(1)
        .expect("operations.md has a section \"When an alarm fires\"");
    let runbook = runbook.split("\n## ").next().unwrap();
    let rows: Vec<&str> = runbook
        .lines()
        .filter(|line| line.starts_with("| `"))
        .collect();
    let missing: Vec<_> = alarms
        .iter()
        .filter(|alarm| {
            let named = format!("`{alarm}`");
            !rows
                .iter()
                .any(|row| row.split(" | ").next().unwrap().contains(&named))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "alarms with no runbook row: {missing:?}"
    );
    let words = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ];
    let counted = format!("{} CloudWatch alarms", words[alarms.len()]);
    assert!(docs.contains(&counted), "the costs should count {counted}");
}
