//! Where a request came from, as an event keeps it: the address and the user agent, seen by
//! API Gateway or reported by the sign-in client, cleaned before anyone is shown them.

use std::net::IpAddr;

use super::display_text;

/// The longest `user_agent` kept; API Gateway passes whatever the client sent.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// Where the request that caused an event came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<UserAgent>,
    /// Told by the sign-in client (verify's `ip` and `user_agent`, Cognito's `clientMetadata`)
    /// rather than seen by API Gateway: whoever signs in chooses it, so mails and the trail say
    /// so.
    pub reported: bool,
}

impl Source {
    /// What API Gateway saw of the caller's own connection.
    pub fn seen(ip: Option<IpAddr>, user_agent: Option<UserAgent>) -> Self {
        Self {
            ip,
            user_agent,
            reported: false,
        }
    }

    /// What the sign-in client said of itself; marked reported only when it said something.
    pub fn reported(ip: Option<IpAddr>, user_agent: Option<UserAgent>) -> Self {
        let reported = ip.is_some() || user_agent.is_some();
        Self {
            ip,
            user_agent,
            reported,
        }
    }
}

/// A user agent string as it may be shown to a person: at most `MAX_USER_AGENT_CHARS`
/// characters, none of them hidden (see `display_text`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAgent(String);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UserAgentError {
    #[error("must be at most {MAX_USER_AGENT_CHARS} characters")]
    TooLong,
    #[error("must not contain control characters")]
    Control,
}

impl UserAgent {
    /// An explicit field (verify's `user_agent`): too long or holding a control character is
    /// refused, as a malformed request; other hidden characters (bidi, zero-width, line
    /// separators) are dropped, so a sign-in never fails on a browser's odd header. `None`
    /// when nothing is left.
    pub fn parse(raw: &str) -> Result<Option<Self>, UserAgentError> {
        if raw.chars().count() > MAX_USER_AGENT_CHARS {
            return Err(UserAgentError::TooLong);
        }
        if raw.chars().any(char::is_control) {
            return Err(UserAgentError::Control);
        }
        Ok(Self::from_header(raw))
    }

    /// What a client sent in its header or metadata, cleaned and cut to the limit rather than
    /// refused: the client did not choose to be audited, and the request itself is still served.
    pub fn from_header(raw: &str) -> Option<Self> {
        let kept: String = display_text::clean(raw)
            .chars()
            .take(MAX_USER_AGENT_CHARS)
            .collect();
        let kept = kept.trim_end();
        (!kept.is_empty()).then(|| Self(kept.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name screens and mails show for it ("Firefox on Linux"): never the string itself,
    /// which the client chose (see `device::describe`).
    pub fn device(&self) -> Option<String> {
        super::device::describe(&self.0)
    }
}
