//! TOTP (RFC 6238): SHA1, 6 digits, 30 s steps, one step of skew either way.
//!
//! We compute the matching time step ourselves because the caller must record it: a code accepted
//! once is refused afterwards (RFC 6238 §5.2), enforced by a conditional write on the last step.

use rand::{rngs::OsRng, RngCore};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use time::OffsetDateTime;
use totp_rs::{Algorithm, TOTP};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub const STEP_SECONDS: u64 = 30;
pub const DIGITS: usize = 6;
/// 160 bits, the size RFC 4226 recommends and every authenticator app reads.
pub const SECRET_LEN: usize = 20;

/// A TOTP shared secret in the clear; only ever held in memory, sealed before it is stored.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_LEN];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Reads the base32 text an enrollment showed (as an authenticator app does).
    pub fn from_base32(text: &str) -> Option<Self> {
        totp_rs::Secret::Encoded(text.trim().to_owned())
            .to_bytes()
            .ok()
            .map(Self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, issuer: &str, account: &str) -> TOTP {
        // `new_unchecked`: the label is URL-encoded by totp-rs, so a ':' in an email is harmless.
        TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            1,
            STEP_SECONDS,
            self.0.clone(),
            Some(issuer.to_owned()),
            account.to_owned(),
        )
    }

    pub fn base32(&self) -> String {
        self.totp("", "").get_secret_base32()
    }

    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        self.totp(issuer, account).get_url()
    }

    /// The code an authenticator shows at `step`.
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp("", "").generate(step * STEP_SECONDS)
    }

    /// The step (previous, current or next) whose code equals `code`. All three are computed and
    /// compared in constant time, so the timing does not tell which step matched or whether any did.
    pub fn matching_step(&self, code: &TotpCode, now: OffsetDateTime) -> Option<u64> {
        let current = step_at(now);
        let mut matched = 0u64;
        let mut any = Choice::from(0);
        for step in current.saturating_sub(1)..=current + 1 {
            let expected = self.code_at_step(step);
            let hit = expected.as_bytes().ct_eq(code.0.as_bytes());
            // Later steps win; with 6 digits two steps rarely share a code, and then the later one is safer to record.
            matched = u64::conditional_select(&matched, &step, hit);
            any |= hit;
        }
        bool::from(any).then_some(matched)
    }
}

pub fn step_at(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp()).unwrap_or(0) / STEP_SECONDS
}

/// Six digits as typed; spaces are ignored because apps show codes as `123 456`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct TotpCode(String);

impl TotpCode {
    pub fn parse(raw: &str) -> Option<Self> {
        let digits: String = raw.chars().filter(|c| *c != ' ').collect();
        (digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit()))
            .then_some(Self(digits))
    }
}

impl std::fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpCode(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    #[test]
    fn rfc_6238_sha1_vector() {
        // RFC 6238 appendix B: secret "12345678901234567890", T=59 s -> 94287082 (8 digits); 6 digits -> 287082.
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        assert_eq!(secret.code_at_step(59 / 30), "287082");
        let code = TotpCode::parse("287 082").unwrap();
        assert_eq!(secret.matching_step(&code, at(59)), Some(1));
    }

    #[test]
    fn accepts_one_step_of_skew_either_way_and_no_more() {
        let secret = TotpSecret::generate();
        let now = at(1_000_000_000);
        let current = step_at(now);
        for (offset, expected) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let step = (current as i64 + offset) as u64;
            let code = TotpCode::parse(&secret.code_at_step(step)).unwrap();
            let found = secret.matching_step(&code, now);
            if expected {
                // A collision with a neighbouring step may pick that step; it must still be within skew.
                assert!(
                    found.is_some_and(|s| s.abs_diff(current) <= 1),
                    "offset {offset}"
                );
            } else {
                assert!(
                    found.is_none_or(|s| s.abs_diff(current) <= 1),
                    "offset {offset}"
                );
            }
        }
    }

    #[test]
    fn code_must_be_six_digits() {
        assert!(TotpCode::parse("12345").is_none());
        assert!(TotpCode::parse("1234567").is_none());
        assert!(TotpCode::parse("12345a").is_none());
        assert!(TotpCode::parse("123 456").is_some());
    }

    #[test]
    fn otpauth_uri_names_issuer_account_and_secret() {
        let secret = TotpSecret::generate();
        let uri = secret.otpauth_uri("Acme", "ana@example.com");
        assert!(
            uri.starts_with("otpauth://totp/Acme:ana%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={}", secret.base32())));
        assert!(uri.contains("issuer=Acme"));
        assert_eq!(secret.base32().len(), 32);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn totp_parsing_is_idempotent_and_exactly_six_digits(raw in "\\PC{0,16}") {
                if let Some(code) = TotpCode::parse(&raw) {
                    prop_assert_eq!(code.0.len(), DIGITS);
                    prop_assert!(code.0.bytes().all(|b| b.is_ascii_digit()));
                    prop_assert!(TotpCode::parse(&code.0) == Some(code.clone()));
                }
            }
        }
    }
}
