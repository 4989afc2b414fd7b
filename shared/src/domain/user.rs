//! Who a request is about: identifiers parsed once at the boundary.

use std::fmt;

/// The identity provider's subject (`sub` claim), or the `user_id` a server names in verify.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

/// Why a string is not a usable user id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserIdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl UserId {
    /// Cognito subs are 36 characters; other issuers use longer ids, so allow some room.
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, UserIdError> {
        if raw.is_empty() {
            return Err(UserIdError::Empty);
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err(UserIdError::TooLong { max: Self::MAX_LEN });
        }
        if raw.chars().any(char::is_control) {
            return Err(UserIdError::ControlCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The address a later download link is mailed to; taken only from the verified token, never from a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Exactly one plain address: an RFC 5322 dot-atom local part, `@`, and a domain of at least
    /// two letter-digit-hyphen labels whose last (the top-level domain) has two or more
    /// characters and starts with a letter. A list, a display name, quotes, comments, an
    /// address literal or surrounding space is refused: the value decides where a reset link
    /// is mailed. So are `%` and `!` in the local part: old relays route on them
    /// (`eve%attacker.example@example.com` can be delivered to attacker.example).
    pub fn parse(raw: &str) -> Option<Self> {
        const MAX_LEN: usize = 254;
        let atext = |c: char| c.is_ascii_alphanumeric() || "#$&'*+-/=?^_`{|}~".contains(c);
        let ldh = |c: char| c.is_ascii_alphanumeric() || c == '-';
        let (local, domain) = raw.split_once('@')?;
        let local_ok = local.len() <= 64
            && local
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(atext));
        let labels: Vec<&str> = domain.split('.').collect();
        let top_level_ok = labels.last().is_some_and(|tld| {
            tld.len() >= 2 && tld.starts_with(|c: char| c.is_ascii_alphabetic())
        });
        let domain_ok = labels.len() >= 2
            && top_level_ok
            && labels.iter().all(|label| {
                (1..=63).contains(&label.len())
                    && label.chars().all(ldh)
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        (raw.len() <= MAX_LEN && local_ok && domain_ok).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_rejects_empty_long_and_control() {
        assert_eq!(UserId::parse(""), Err(UserIdError::Empty));
        assert_eq!(
            UserId::parse(&"a".repeat(257)),
            Err(UserIdError::TooLong { max: 256 })
        );
        assert_eq!(UserId::parse("a\nb"), Err(UserIdError::ControlCharacter));
        assert_eq!(UserId::parse("abc-123").unwrap().as_str(), "abc-123");
    }

    #[test]
    fn email_needs_a_local_part_and_a_dotted_domain() {
        assert!(Email::parse("ana@example.com").is_some());
        assert!(Email::parse("ana@localhost").is_none());
        assert!(Email::parse("@example.com").is_none());
        assert!(Email::parse("a na@example.com").is_none());
    }

    #[test]
    fn email_is_one_plain_address() {
        for ok in [
            "ana@example.com",
            "a.b+tag@mail.example.co.uk",
            "o'neil@ex-ample.org",
            "ana@xn--bcher-kva.example",
            "ana@mail.xn--p1ai",
        ] {
            assert!(Email::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "ana@example.com,eve@attacker.example",
            "ana@example.com;eve@attacker.example",
            "Ana <ana@example.com>",
            "\"ana\"@example.com",
            "ana@example.com ",
            " ana@example.com",
            "ana@@example.com",
            "ana@example..com",
            "ana.@example.com",
            "ana@-example.com",
            "ana@[192.0.2.1]",
            "ana@example.com\r\nBcc: eve@attacker.example",
            "eve%attacker.example@example.com",
            "attacker.example!eve@example.com",
            "ana@example.c",
            "ana@192.0.2.1",
            "ana@example.123",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad}");
        }
    }
}
