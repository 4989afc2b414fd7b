//! Security events: what happened to a user's second factor, who did it and from where. One
//! model feeds the audit trail, the user's mail and the team's event bus.

use std::{fmt, str::FromStr};

use time::{format_description::well_known::Rfc3339, OffsetDateTime};

pub use super::source::{Source, UserAgent, UserAgentError, MAX_USER_AGENT_CHARS};
use super::{
    account::{AccountId, Role, TwoFactorRule},
    codes::random_id,
    proof::StepUp,
    user::UserId,
};

/// Repeats of one refusal (a used download link replayed) within this many seconds are one
/// event with a count, so a replay loop cannot push a user's real events out of sight.
pub const REPEAT_WINDOW_SECONDS: i64 = 3600;

/// An event as the trail keeps it: written in the same atomic step as the change it records,
/// with the address its mail goes to (read before the change, which may remove it) and when
/// the trail lets it go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub event: SecurityEvent,
    pub to: Option<super::user::Email>,
    pub expires_at: OffsetDateTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    Enrolled,
    CodesIssued,
    BackupCodeUsed,
    TotpUsed,
    CodesRegenerated,
    CodesRemoved,
    CodesResetByAdmin,
    DownloadLinkRedeemed,
    DownloadLinkRefused,
    LockedOut,
    TwoFactorDisabled,
    AuthenticatorReplaced,
    ReplacementStarted,
    ReplacementCancelled,
    EmailChanged,
    /// The team's backend made the user a member of an account (`account`, `role`).
    MembershipAdded,
    /// The backend changed their role there (`previous_role` to `role`).
    MembershipChanged,
    /// The backend took them out of the account (`role` is the one they had).
    MembershipRemoved,
    /// An admin set an account's two-factor rule (`account`, `two_factor`): kept on that
    /// admin's own trail, and, mailed, on each of the account's other admins'.
    TwoFactorRuleChanged,
    /// Someone who knew the user's password asked for their two-factor to be reset
    /// (`request_id`). On the user's trail; a copy on each asked admin's, `about` the user, in
    /// the account (`account`) that made them one to ask.
    RecoveryRequested,
    /// The user said the request was not theirs (the mailed link).
    RecoveryCancelled,
    /// An admin approved it (`account`, when they acted for one): the admin reset follows.
    RecoveryApproved,
    /// An admin denied it, with an optional `reason` the user is mailed.
    RecoveryDenied,
    /// Nobody answered it within its lifetime.
    RecoveryExpired,
}

impl EventKind {
    pub const ALL: [EventKind; 24] = [
        EventKind::Enrolled,
        EventKind::CodesIssued,
        EventKind::BackupCodeUsed,
        EventKind::TotpUsed,
        EventKind::CodesRegenerated,
        EventKind::CodesRemoved,
        EventKind::CodesResetByAdmin,
        EventKind::DownloadLinkRedeemed,
        EventKind::DownloadLinkRefused,
        EventKind::LockedOut,
        EventKind::TwoFactorDisabled,
        EventKind::AuthenticatorReplaced,
        EventKind::ReplacementStarted,
        EventKind::ReplacementCancelled,
        EventKind::EmailChanged,
        EventKind::MembershipAdded,
        EventKind::MembershipChanged,
        EventKind::MembershipRemoved,
        EventKind::TwoFactorRuleChanged,
        EventKind::RecoveryRequested,
        EventKind::RecoveryCancelled,
        EventKind::RecoveryApproved,
        EventKind::RecoveryDenied,
        EventKind::RecoveryExpired,
    ];

    /// What the user is told about by mail (`NOTIFY` can switch each off). An administrator's
    /// reset is told by the mail that carries the download link, which is not optional; so is
    /// the user's own recovery request, by the mail with the link that cancels it, sent before
    /// anything is filed (its event is mailed to the admins asked).
    pub const MAILED: [EventKind; 15] = [
        EventKind::BackupCodeUsed,
        EventKind::CodesRegenerated,
        EventKind::CodesRemoved,
        EventKind::DownloadLinkRedeemed,
        EventKind::LockedOut,
        EventKind::TwoFactorDisabled,
        EventKind::AuthenticatorReplaced,
        EventKind::ReplacementStarted,
        EventKind::EmailChanged,
        EventKind::TwoFactorRuleChanged,
        EventKind::RecoveryRequested,
        EventKind::RecoveryCancelled,
        EventKind::RecoveryApproved,
        EventKind::RecoveryDenied,
        EventKind::RecoveryExpired,
    ];

    /// A change of the second factor itself, after which the user's sessions end (see
    /// `SessionEnder`): a session opened before it, perhaps by whoever made the owner change it,
    /// must not outlive it. Signing in with a code, or a replacement merely started, is not one.
    pub fn ends_sessions(self) -> bool {
        matches!(
            self,
            EventKind::Enrolled
                | EventKind::AuthenticatorReplaced
                | EventKind::TwoFactorDisabled
                | EventKind::CodesRegenerated
                | EventKind::CodesRemoved
                | EventKind::CodesResetByAdmin
                | EventKind::DownloadLinkRedeemed
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            EventKind::Enrolled => "enrolled",
            EventKind::CodesIssued => "codes_issued",
            EventKind::BackupCodeUsed => "backup_code_used",
            EventKind::TotpUsed => "totp_used",
            EventKind::CodesRegenerated => "codes_regenerated",
            EventKind::CodesRemoved => "codes_removed",
            EventKind::CodesResetByAdmin => "codes_reset_by_admin",
            EventKind::DownloadLinkRedeemed => "download_link_redeemed",
            EventKind::DownloadLinkRefused => "download_link_refused",
            EventKind::LockedOut => "locked_out",
            EventKind::TwoFactorDisabled => "two_factor_disabled",
            EventKind::AuthenticatorReplaced => "authenticator_replaced",
            EventKind::ReplacementStarted => "replacement_started",
            EventKind::ReplacementCancelled => "replacement_cancelled",
            EventKind::EmailChanged => "email_changed",
            EventKind::MembershipAdded => "membership_added",
            EventKind::MembershipChanged => "membership_changed",
            EventKind::MembershipRemoved => "membership_removed",
            EventKind::TwoFactorRuleChanged => "two_factor_rule_changed",
            EventKind::RecoveryRequested => "recovery_requested",
            EventKind::RecoveryCancelled => "recovery_cancelled",
            EventKind::RecoveryApproved => "recovery_approved",
            EventKind::RecoveryDenied => "recovery_denied",
            EventKind::RecoveryExpired => "recovery_expired",
        }
    }
}

impl FromStr for EventKind {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, ()> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or(())
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who caused an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The user, signed in (or holding their download link).
    User,
    /// An administrator acting on the user.
    Admin(UserId),
    /// The team's auth server, checking a code at sign-in.
    AuthServer,
    /// The team's backend, writing what it alone decides (memberships).
    Backend,
    /// The service itself, on its schedule (a recovery request nobody answered in time).
    Service,
}

impl Actor {
    /// `self`, `admin:<id>`, `auth_server` or `backend`, as the audit trail and the event bus say it.
    pub fn label(&self) -> String {
        match self {
            Actor::User => "self".to_owned(),
            Actor::Admin(admin) => format!("admin:{admin}"),
            Actor::AuthServer => "auth_server".to_owned(),
            Actor::Backend => "backend".to_owned(),
            Actor::Service => "service".to_owned(),
        }
    }

    pub fn parse(label: &str) -> Option<Self> {
        match label {
            "self" => Some(Actor::User),
            "auth_server" => Some(Actor::AuthServer),
            "backend" => Some(Actor::Backend),
            "service" => Some(Actor::Service),
            other => UserId::parse(other.strip_prefix("admin:")?)
                .ok()
                .map(Actor::Admin),
        }
    }
}

/// One security event. It never holds a code, a secret or a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityEvent {
    /// Random, so two events in the same instant both keep their place in the trail.
    pub id: String,
    pub at: OffsetDateTime,
    pub user: UserId,
    pub kind: EventKind,
    pub actor: Actor,
    pub source: Source,
    /// Backup codes left after the event, where it changed them.
    pub remaining_codes: Option<usize>,
    /// For `locked_out`: when checks are allowed again.
    pub locked_until: Option<OffsetDateTime>,
    /// For `backup_code_used`: the change the code proved, when it was not a sign-in.
    pub authorised: Option<StepUp>,
    /// For `backup_code_used`: the code's line on the user's sheet (never the code).
    pub code_number: Option<usize>,
    /// For an event that stands for repeats (`download_link_refused`): how many it counts.
    pub repeats: Option<u64>,
    /// For such an event: what every repeat in its window shares, so the trail finds the one
    /// item that counts them. Never shown.
    pub repeat_key: Option<String>,
    /// For a membership event: the account, the role it leaves (or, removed, the role it
    /// ended), and the role before a change. For an administrator's action through an
    /// account's routes: that account alone.
    pub account: Option<AccountId>,
    pub role: Option<Role>,
    pub previous_role: Option<Role>,
    /// For a rule change: the account's rule from now on.
    pub rule: Option<TwoFactorRule>,
    /// For a recovery event: the request; on an admin's copy, the member who asked (`about`).
    pub request_id: Option<String>,
    pub about: Option<UserId>,
    /// For a denial: the reason the admin gave, as the user is mailed it.
    pub reason: Option<String>,
    /// For a change that ends sessions (`EventKind::ends_sessions`), as the notifier hands it
    /// on: whether it ended the user's sessions at the identity provider before the mail and
    /// the bus heard of it. Not kept on the trail.
    pub sessions_ended: Option<bool>,
}

/// Where a page of the trail ends: the next page starts after this event. Clients see it as an
/// opaque cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditPosition {
    pub at: i64,
    pub id: String,
}

impl AuditPosition {
    pub fn of(event: &SecurityEvent) -> Self {
        Self {
            at: event.at.unix_timestamp(),
            id: event.id.clone(),
        }
    }

    /// What sorts the trail: time, then the id (which starts with the moment it was made).
    pub fn sort_key(&self) -> String {
        format!("{:012}#{}", self.at, self.id)
    }

    /// The cursor clients pass back: the time and the id, as `^[0-9]{12}-[0-9a-f]{32}$`. Any
    /// string of that shape is a place in the trail (a page after it may be empty), so the
    /// spec's pattern is exactly what the server accepts.
    pub fn encode(&self) -> String {
        format!("{:012}-{}", self.at, self.id)
    }

    /// `None` for anything not of `encode`'s shape.
    pub fn decode(cursor: &str) -> Option<Self> {
        let (at, id) = cursor.split_once('-')?;
        let well_formed = at.len() == 12
            && at.bytes().all(|b| b.is_ascii_digit())
            && id.len() == EVENT_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if !well_formed {
            return None;
        }
        Some(Self {
            at: at.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

const EVENT_ID_LEN: usize = 32;

/// 16 hex digits of the moment (so ids made later sort later, even within a second) and 16
/// random ones.
fn event_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    format!("{nanos:016x}{}", &random_id()[..16])
}

impl SecurityEvent {
    pub fn new(
        kind: EventKind,
        user: &UserId,
        actor: Actor,
        source: &Source,
        at: OffsetDateTime,
    ) -> Self {
        Self {
            id: event_id(),
            at,
            user: user.clone(),
            kind,
            actor,
            source: source.clone(),
            remaining_codes: None,
            locked_until: None,
            authorised: None,
            code_number: None,
            repeats: None,
            repeat_key: None,
            account: None,
            role: None,
            previous_role: None,
            rule: None,
            request_id: None,
            about: None,
            reason: None,
            sessions_ended: None,
        }
    }

    /// The one event that stands for every repeat of `kind` about `subject` (a download
    /// link's grant) in the window holding `at`: every repeat makes the same `repeat_key`, so
    /// the trail counts them on one item, which keeps the first repeat's id, time and source.
    pub fn repeated(
        kind: EventKind,
        user: &UserId,
        actor: Actor,
        source: &Source,
        subject: &str,
        at: OffsetDateTime,
    ) -> Self {
        use sha2::{Digest, Sha256};
        let start = at.unix_timestamp() - at.unix_timestamp().rem_euclid(REPEAT_WINDOW_SECONDS);
        let digest = Sha256::digest(format!("{}#{kind}#{subject}#{start}", user.as_str()));
        Self {
            repeats: Some(1),
            repeat_key: Some(digest[..16].iter().map(|b| format!("{b:02x}")).collect()),
            ..Self::new(kind, user, actor, source, at)
        }
    }

    /// How the event is shown outside: in the audit API and on the event bus (which alone
    /// hears `sessions_ended`).
    pub fn to_json(&self) -> serde_json::Value {
        let rfc3339 = |t: OffsetDateTime| t.format(&Rfc3339).ok();
        let mut json = serde_json::json!({
            "id": self.id,
            "type": self.kind.name(),
            "time": rfc3339(self.at),
            "user_id": self.user.as_str(),
            "actor": self.actor.label(),
            "ip": self.source.ip.map(|ip| ip.to_string()),
            "user_agent": self.source.user_agent.as_ref().map(UserAgent::as_str),
            "device": self.source.user_agent.as_ref().and_then(UserAgent::device),
            "reported_by_sign_in_client": self.source.reported,
            "remaining_codes": self.remaining_codes,
            "locked_until": self.locked_until.and_then(rfc3339),
            "authorised": self.authorised.map(StepUp::name),
            "code_number": self.code_number,
            "repeats": self.repeats,
            "account_id": self.account.as_ref().map(AccountId::as_str),
            "role": self.role.map(Role::as_str),
            "previous_role": self.previous_role.map(Role::as_str),
            "two_factor": self.rule.map(TwoFactorRule::as_str),
            "request_id": self.request_id,
            "about_user_id": self.about.as_ref().map(UserId::as_str),
            "reason": self.reason,
        });
        if let Some(ended) = self.sessions_ended {
            json["sessions_ended"] = ended.into();
        }
        json
    }

    pub fn with_remaining(mut self, remaining: usize) -> Self {
        self.remaining_codes = Some(remaining);
        self
    }

    /// The used code's line on the user's sheet, where it is known.
    pub fn with_code_number(mut self, number: Option<usize>) -> Self {
        self.code_number = number;
        self
    }

    pub fn with_authorised(mut self, step_up: StepUp) -> Self {
        self.authorised = Some(step_up);
        self
    }

    pub fn with_locked_until(mut self, until: OffsetDateTime) -> Self {
        self.locked_until = Some(until);
        self
    }

    /// The account an administrator acted in, for an action taken through its routes.
    pub fn in_account(mut self, account: Option<&AccountId>) -> Self {
        self.account = account.cloned();
        self
    }

    /// What a rule change is about: `account`, and its rule from now on.
    pub fn with_rule(mut self, account: &AccountId, rule: TwoFactorRule) -> Self {
        self.account = Some(account.clone());
        self.rule = Some(rule);
        self
    }

    /// What a recovery event is about: the request, and on an admin's copy the member who
    /// asked.
    pub fn with_request(mut self, id: &str, about: Option<&UserId>) -> Self {
        self.request_id = Some(id.to_owned());
        self.about = about.cloned();
        self
    }

    /// What a membership event is about: `account`, the `role` it leaves (or ended), and the
    /// role before, for a change.
    pub fn with_membership(
        mut self,
        account: &AccountId,
        role: Role,
        previous_role: Option<Role>,
    ) -> Self {
        self.account = Some(account.clone());
        self.role = Some(role);
        self.previous_role = previous_role;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_actors_round_trip_through_their_names() {
        for kind in EventKind::ALL {
            assert_eq!(kind.name().parse::<EventKind>(), Ok(kind));
        }
        let admin = Actor::Admin(UserId::parse("root").unwrap());
        for actor in [
            Actor::User,
            Actor::AuthServer,
            Actor::Backend,
            Actor::Service,
            admin,
        ] {
            assert_eq!(Actor::parse(&actor.label()), Some(actor));
        }
        assert_eq!(Actor::parse("admin:"), None);
    }

    #[test]
    fn user_agents_are_bounded_and_printable() {
        let long = "x".repeat(MAX_USER_AGENT_CHARS + 1);
        assert_eq!(UserAgent::parse(&long), Err(UserAgentError::TooLong));
        assert_eq!(UserAgent::parse("a\nb"), Err(UserAgentError::Control));
        assert_eq!(
            UserAgent::parse("Firefox\u{202E}moc.elgoog")
                .unwrap()
                .unwrap()
                .as_str(),
            "Firefoxmoc.elgoog"
        );
        assert_eq!(UserAgent::parse("\u{200B}"), Ok(None));
        assert_eq!(
            UserAgent::from_header("Firefox\u{2028}Device: laptop")
                .unwrap()
                .as_str(),
            "FirefoxDevice: laptop"
        );
        assert_eq!(
            UserAgent::from_header(&long).unwrap().as_str().len(),
            MAX_USER_AGENT_CHARS
        );
        assert_eq!(UserAgent::from_header("\u{7}"), None);
    }

    #[test]
    fn cursors_round_trip_and_nothing_else_decodes() {
        let user = UserId::parse("ana").unwrap();
        let event = SecurityEvent::new(
            EventKind::TotpUsed,
            &user,
            Actor::User,
            &Source::default(),
            OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        );
        let position = AuditPosition::of(&event);
        assert_eq!(AuditPosition::decode(&position.encode()), Some(position));
        for bad in [
            "",
            "x",
            "MDAw",
            &"A".repeat(200),
            "000000000001-0123456789abcdef0123456789ABCDEF",
            "00000000001-0123456789abcdef0123456789abcdef",
            "000000000001-0123456789abcdef0123456789abcde",
            "000000000001#0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(AuditPosition::decode(bad), None, "{bad}");
        }
        let later = SecurityEvent::new(
            EventKind::TotpUsed,
            &user,
            Actor::User,
            &Source::default(),
            event.at,
        );
        assert!(AuditPosition::of(&later).sort_key() > AuditPosition::of(&event).sort_key());
    }
}
