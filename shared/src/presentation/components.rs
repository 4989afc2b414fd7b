//! The drop-in web components: plain files in the repository's `ui/`, one per component on top
//! of their shared base, built into the `public` function and served as one script.

/// Versioned with the API: a page that loads `/v1/ui/...` gets components that speak `/v1`.
pub const PATH: &str = "/v1/ui/backup-codes.js";

/// The files of `ui/`, base first, in the order they are served.
pub const FILES: [&str; 5] = [
    "base.js",
    "settings.js",
    "admin-reset.js",
    "account-members.js",
    "challenge.js",
];

pub const SCRIPT: &str = concat!(
    include_str!("../../../ui/base.js"),
    include_str!("../../../ui/settings.js"),
    include_str!("../../../ui/admin-reset.js"),
    include_str!("../../../ui/account-members.js"),
    include_str!("../../../ui/challenge.js"),
);

/// A QR code as its modules, `<width>.<base64url of the dark modules, row by row, first
/// module in the highest bit>`: what the sign-in challenge's client draws, a few hundred
/// characters where an SVG would be thousands (Cognito's challenge parameters carry it).
pub fn qr_modules(text: &str) -> Option<String> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let colors = code.to_colors();
    let mut packed = vec![0u8; colors.len().div_ceil(8)];
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            packed[i / 8] |= 0x80 >> (i % 8);
        }
    }
    Some(format!(
        "{}.{}",
        code.width(),
        URL_SAFE_NO_PAD.encode(packed)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_round_trip_to_the_code() {
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
        let uri = "otpauth://totp/Acme:ana?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme";
        let packed = qr_modules(uri).unwrap();
        let (width, bits) = packed.split_once('.').unwrap();
        let width: usize = width.parse().unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(bits).unwrap();
        let code = qrcode::QrCode::new(uri.as_bytes()).unwrap();
        assert_eq!(width, code.width());
        for (i, color) in code.to_colors().iter().enumerate() {
            let dark = bytes[i / 8] & (0x80 >> (i % 8)) != 0;
            assert_eq!(dark, *color == qrcode::Color::Dark, "module {i}");
        }
        assert!(packed.len() < 400, "{} characters", packed.len());
    }

    #[test]
    fn the_challenge_asks_for_recovery_with_the_answer_the_trigger_knows() {
        use crate::domain::recovery::{could_be_a_code, REQUEST_ANSWER};
        assert!(SCRIPT.contains(&format!("'{REQUEST_ANSWER}'")));
        assert!(!could_be_a_code(REQUEST_ANSWER));
    }
}
