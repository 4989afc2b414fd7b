//! Backup-code normalisation: never panics, and a parsed code parses back to itself from the
//! form shown to people (normalisation is idempotent).
#![no_main]

use backup_codes::domain::codes::BackupCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    if let Some(code) = BackupCode::parse(raw) {
        let shown = code.display();
        let again = BackupCode::parse(&shown).expect("a shown code parses");
        assert!(again == code, "{raw:?} -> {shown:?} -> different code");
        assert_eq!(again.display(), shown);
    }
});
