//! Untrusted display text: cleaning never panics, always yields text the rule accepts, and is
//! idempotent; a user agent kept from a header parses as a field would; and the mail about an
//! event never carries a hidden character or the reported text itself, only a device name.
#![no_main]

use backup_codes::{
    domain::{
        display_text,
        events::{Actor, EventKind, SecurityEvent, Source, UserAgent},
        user::{Email, UserId},
    },
    presentation::{device, event_mail::event_mail},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let cleaned = display_text::clean(raw);
    assert!(
        display_text::check(&cleaned).is_ok(),
        "{raw:?} -> {cleaned:?}"
    );
    assert_eq!(display_text::clean(&cleaned), cleaned);
    let agent = UserAgent::from_header(raw);
    if let Some(agent) = &agent {
        assert!(UserAgent::parse(agent.as_str()).is_ok(), "{raw:?}");
    }
    let event = SecurityEvent::new(
        EventKind::BackupCodeUsed,
        &UserId::parse("ana").unwrap(),
        Actor::AuthServer,
        &Source::reported(None, agent.clone()),
        time::OffsetDateTime::UNIX_EPOCH,
    )
    .with_remaining(3);
    let mail = event_mail("Acme", Email::parse("ana@example.com").unwrap(), &event).unwrap();
    assert!(
        mail.text
            .chars()
            .all(|c| c == '\n' || !display_text::is_hidden(c)),
        "{:?}",
        mail.text
    );
    let named = agent
        .as_ref()
        .and_then(|a| device::describe(a.as_str()))
        .unwrap_or_else(|| "unknown".to_owned());
    // Nothing reported (an empty agent) is not labelled as reported.
    let label = match agent {
        Some(_) => "Device (reported by the sign-in client)",
        None => "Device",
    };
    let line = format!("{label}: \u{201c}{named}\u{201d}\n");
    assert!(mail.text.contains(&line), "{:?}", mail.text);
});
