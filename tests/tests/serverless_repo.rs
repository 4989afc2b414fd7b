//! template.yaml carries what the Serverless Application Repository needs to publish it, within
//! the repository's documented limits, and says the same version and license as the crates.

use integration_tests::template::{repo_path, template};
use regex_lite::Regex;
use serde_yaml::Value;

fn application() -> Value {
    template()["Metadata"]["AWS::ServerlessRepo::Application"].clone()
}

fn text<'a>(application: &'a Value, field: &str) -> &'a str {
    application[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a plain string (the repository reads no intrinsic)"))
}

/// The limits of the repository's CreateApplication (Name, Author, Description, Labels).
#[test]
fn the_application_metadata_is_within_the_repositorys_limits() {
    let application = application();
    let name = text(&application, "Name");
    assert!(
        (1..=140).contains(&name.len()) && Regex::new("^[a-zA-Z0-9-]+$").unwrap().is_match(name),
        "Name {name:?}"
    );
    let author = text(&application, "Author");
    let author_pattern = Regex::new("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$").unwrap();
    assert!(
        (1..=127).contains(&author.len())
            && author_pattern.is_match(author)
            && !author.contains("--"),
        "Author {author:?}"
    );
    let description = text(&application, "Description");
    assert!(
        (1..=256).contains(&description.chars().count()),
        "Description is {} characters",
        description.chars().count()
    );
    let labels = application["Labels"].as_sequence().expect("Labels");
    let label_pattern = Regex::new(r"^[a-zA-Z0-9+\-_:/@]+$").unwrap();
    assert!((1..=10).contains(&labels.len()), "{} labels", labels.len());
    for label in labels {
        let label = label.as_str().expect("a label is a string");
        assert!(
            label.len() <= 127 && label_pattern.is_match(label),
            "label {label:?}"
        );
    }
}

/// The published version and license are the crates' own, and the license and readme it
/// uploads are the repository's files.
#[test]
fn the_application_is_published_with_the_crates_version_license_and_files() {
    let application = application();
    assert_eq!(
        text(&application, "SemanticVersion"),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        text(&application, "SpdxLicenseId"),
        env!("CARGO_PKG_LICENSE")
    );
    for field in ["LicenseUrl", "ReadmeUrl"] {
        let file = text(&application, field);
        assert!(repo_path(file).is_file(), "{field} {file} is not a file");
    }
    let license = std::fs::read_to_string(repo_path(text(&application, "LicenseUrl"))).unwrap();
    assert!(license.contains("Apache License") && license.contains("Version 2.0"));
}
