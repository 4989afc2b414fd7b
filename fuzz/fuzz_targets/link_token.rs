//! Download-link tokens: parsing and verification never panic, nothing unsigned verifies, and
//! a token this signer made verifies to exactly what was signed.
#![no_main]

use backup_codes::domain::{
    link_token::{DownloadGrant, LinkSigner},
    sealing::{Keyring, SecretKey},
    user::UserId,
};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fn signer() -> LinkSigner {
    let key = SecretKey::from_base64("Q8K4vT0SjfkDbOB7sXchy1T4OK8wARqdW7iiC3LLRQc=").unwrap();
    LinkSigner::new(Keyring::new(key, vec![]))
}

fuzz_target!(|input: (&str, &str, [u8; 16], i32)| {
    let (token, user, grant_bytes, expiry) = input;
    let signer = signer();
    let now = OffsetDateTime::from_unix_timestamp(0).unwrap();
    // The fuzzer cannot forge an HMAC-SHA256: anything it builds must be refused.
    assert!(
        signer.verify(token, now).is_err(),
        "unsigned token accepted: {token:?}"
    );
    let Ok(user) = UserId::parse(user) else {
        return;
    };
    let grant = DownloadGrant {
        id: grant_bytes.iter().map(|b| format!("{b:02x}")).collect(),
        expires_at: OffsetDateTime::from_unix_timestamp(i64::from(expiry)).unwrap(),
    };
    let signed = signer.sign(&user, &grant);
    match signer.verify(&signed, now) {
        Ok(claims) => {
            assert_eq!(claims.user, user);
            assert_eq!(claims.grant, grant);
        }
        Err(_) => assert!(grant.expires_at <= now, "a live signed token was refused"),
    }
});
