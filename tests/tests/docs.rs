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
