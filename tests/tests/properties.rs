//! Properties of the whole verify use case, over generated codes and spellings.

use integration_tests::{Backend, TestApp};
use lambda_http::http::StatusCode;
use proptest::prelude::*;

/// `code` as a person might type it: any case, with or without the hyphen, with spaces.
fn respell(code: &str, upper: &[bool], spaces: &[bool]) -> String {
    code.chars()
        .filter(|c| *c != '-')
        .zip(upper.iter().zip(spaces))
        .map(|(c, (up, space))| {
            let c = if *up { c.to_ascii_uppercase() } else { c };
            if *space {
                format!("{c} ")
            } else {
                c.to_string()
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn a_generated_code_verifies_once_and_never_twice(
        index in 0usize..10,
        first in (any::<[bool; 10]>(), any::<[bool; 10]>()),
        second in (any::<[bool; 10]>(), any::<[bool; 10]>()),
    ) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let app = TestApp::new(Backend::Memory).await;
            let (_, codes) = app.enrolled("ana").await;
            let code = &codes[index];
            let once = app.verify("ana", &respell(code, &first.0, &first.1)).await;
            assert_eq!(once.status, StatusCode::OK, "{}", once.text);
            assert_eq!(once.json()["remaining_backup_codes"], 9);
            let twice = app.verify("ana", &respell(code, &second.0, &second.1)).await;
            assert_eq!(twice.status, StatusCode::UNAUTHORIZED, "{}", twice.text);
            let other = &codes[(index + 1) % codes.len()];
            assert_eq!(app.verify("ana", other).await.status, StatusCode::OK);
        });
    }
}
