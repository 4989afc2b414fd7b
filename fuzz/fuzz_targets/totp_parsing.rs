//! TOTP input: a code as typed and a base32 secret as an app would read it. Never panics; a
//! parsed code is six digits and matches at most one step in the skew window.
#![no_main]

use backup_codes::domain::totp::{step_at, TotpCode, TotpSecret};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fuzz_target!(|input: (&str, &str, u32)| {
    let (code, secret, seconds) = input;
    let Some(code) = TotpCode::parse(code) else {
        return;
    };
    let secret = TotpSecret::from_base32(secret)
        .unwrap_or_else(|| TotpSecret::from_bytes(b"12345678901234567890".to_vec()));
    let now = OffsetDateTime::from_unix_timestamp(i64::from(seconds)).unwrap();
    if let Some(step) = secret.matching_step(&code, now) {
        assert!(
            step.abs_diff(step_at(now)) <= 1,
            "step {step} outside the skew window"
        );
    }
});
