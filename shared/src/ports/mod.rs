//! What the use cases need from the outside world, in the product's words: traits only; the
//! records they pass are the domain's.

/// A capability of the store: its trait, and the same capability for a shared handle to a
/// store (`Arc`), so that a function's narrower view is cut from the whole store its host holds
/// (`Arc<dyn Storage>` coerces to `Arc<dyn AnyView>` through it).
macro_rules! capability {
    (
        $(#[$meta:meta])*
        pub trait $name:ident {
            $(
                $(#[$method_meta:meta])*
                async fn $method:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $answer:ty;
            )+
        }
    ) => {
        $(#[$meta])*
        #[async_trait]
        pub trait $name: Send + Sync {
            $(
                $(#[$method_meta])*
                async fn $method(&self $(, $arg: $ty)*) -> $answer;
            )+
        }

        #[async_trait]
        impl<T: $name + ?Sized> $name for std::sync::Arc<T> {
            $(
                async fn $method(&self $(, $arg: $ty)*) -> $answer {
                    (**self).$method($($arg),*).await
                }
            )+
        }
    };
}

mod accounts;
mod records;
mod recovery;

pub use self::{accounts::*, records::*, recovery::*};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{
    account::AccountId,
    events::{AuditPosition, EventKind, Recorded, SecurityEvent},
    mail_budget::{DayCount, HeldMail, HourDigest},
    user::{Email, UserId},
};

/// A fault in the storage layer, with what we were doing when it happened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage request failed while trying to {operation}")]
    Request {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("stored record for a user is malformed: {0}")]
    Corrupt(String),
    #[error("table {table} did not become ACTIVE within {seconds} s")]
    TableNotActive { table: String, seconds: u64 },
}

/// A message to one recipient, with a text and an HTML part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: Email,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the mail service did not accept the message")]
pub struct MailError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError>;
}

/// A user's audit trail: security events, kept for a retention period.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Keeps an event that records no change of its own (a refusal that locked the ledger).
    async fn append(&self, record: &Recorded) -> Result<(), StoreError>;

    /// One more repeat of a repeated event (see `SecurityEvent::repeated`): the first makes it
    /// with a count of 1, every later one adds 1, atomically. Answers the count now.
    async fn count(
        &self,
        event: &SecurityEvent,
        expires_at: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// Up to `limit` of `user`'s events, newest first, starting after `after`.
    async fn page(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<&AuditPosition>,
    ) -> Result<AuditPage, StoreError>;
}

pub struct AuditPage {
    pub events: Vec<SecurityEvent>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<AuditPosition>,
}

impl AuditPage {
    /// A page of `limit` from events read newest first, one more than asked when there were
    /// more: the extra one (or `more`, a store's own sign) says a next page exists.
    pub fn cut(mut events: Vec<SecurityEvent>, limit: usize, more: bool) -> Self {
        let more = more || events.len() > limit;
        events.truncate(limit);
        let next = if more {
            events.last().map(AuditPosition::of)
        } else {
            None
        };
        Self { events, next }
    }
}

/// Ends a user's sessions at the identity provider after their second factor changed: every
/// refresh token they hold stops working (Cognito's `AdminUserGlobalSignOut`). A user the
/// provider does not know has no session there, and is done.
#[async_trait]
pub trait SessionEnder: Send + Sync {
    async fn end_sessions(&self, user: &UserId) -> Result<(), SinkError>;
}

/// Somewhere a kept security event goes: the user's mailbox, the team's event bus.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// The name failures are logged and counted under.
    fn name(&self) -> &'static str;

    /// Whether `publish` would send anything for `event`: the notifier marks deliveries only
    /// for events some sink takes (a TOTP sign-in with no bus costs it no write).
    fn takes(&self, _event: &SecurityEvent, _to: Option<&Email>) -> bool {
        true
    }

    /// `to` is the user's address, for a sink that writes to them.
    async fn publish(&self, event: &SecurityEvent, to: Option<&Email>) -> Result<(), SinkError>;
}

/// What the notifier knows of an event's delivery, so that a retried batch sends nothing twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// This notifier holds the event until the hold lapses; `sent` names the sinks that
    /// already have it (from an earlier try).
    Held { sent: Vec<String> },
    /// Every sink has it: nothing to do.
    Done,
    /// Another try holds it now (a concurrent retry): try again later.
    Busy,
}

/// Where the notifier keeps, per event id, which sinks have it.
#[async_trait]
pub trait Deliveries: Send + Sync {
    /// Holds `event_id` for this notifier until `until`, unless it is done or held.
    async fn hold(
        &self,
        event_id: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Delivery, StoreError>;

    /// `sink` has the event: a later try skips it.
    async fn sent(&self, event_id: &str, sink: &str) -> Result<(), StoreError>;

    /// Every sink has it (`done`), or a sink failed and the hold is let go for the retry.
    async fn release(&self, event_id: &str, done: bool) -> Result<(), StoreError>;
}

capability! {
    /// What the notifier counts to keep mail within its budget (see `domain::mail_budget`). Each
    /// count is one conditional write, so concurrent notifiers never send past a limit.
    pub trait MailBudget {
        /// Counts one mail of `kind` to `user` in `hour`. With `most`, only when fewer than `most`
        /// were counted and none of `kind` (a repeat waits for the digest): `false`, and nothing
        /// counted, otherwise.
        async fn take_user(
            &self,
            user: &UserId,
            hour: i64,
            kind: EventKind,
            most: Option<u32>,
        ) -> Result<bool, StoreError>;

        /// Counts one mail in `count`'s `day`; with `most`, only when fewer than `most` were.
        async fn take_day(
            &self,
            count: &DayCount,
            day: i64,
            most: Option<u32>,
        ) -> Result<bool, StoreError>;

        /// Gives back one mail of `count`'s `day`: it was counted but not sent.
        async fn give_back_day(&self, count: &DayCount, day: i64) -> Result<(), StoreError>;

        /// Gives back what `take_user` counted for a mail that was not sent, so its retry is
        /// counted as the first try was, not held as a repeat.
        async fn give_back_user(
            &self,
            user: &UserId,
            hour: i64,
            kind: EventKind,
        ) -> Result<(), StoreError>;

        /// Keeps `held` for `user`'s digest of `hour`, to go to `to`, and names the user in that
        /// hour's index of digests.
        async fn hold(
            &self,
            user: &UserId,
            hour: i64,
            held: &HeldMail,
            to: &Email,
        ) -> Result<(), StoreError>;

        /// The users the index names for each of `hours` (at most `DIGEST_LOOKBACK_HOURS`):
        /// those whose digest of that hour holds events.
        async fn digests_of(
            &self,
            hours: std::ops::Range<i64>,
        ) -> Result<Vec<(i64, UserId)>, StoreError>;

        /// `user`'s digest of `hour`, if anything was held.
        async fn digest(&self, user: &UserId, hour: i64) -> Result<Option<HourDigest>, StoreError>;

        /// Claims the digest for sending (`true` when this call claimed it), or, with `claim`
        /// false, lets a claim go after a failed send so the next sweep tries again.
        async fn claim_digest(&self, user: &UserId, hour: i64, claim: bool)
            -> Result<bool, StoreError>;
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the event sink failed")]
pub struct SinkError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Tells a user, before anything is filed, that a recovery request was made in their name:
/// when and from where, when an admin may approve it at the earliest, and the signed token of
/// the link that cancels it.
#[async_trait]
pub trait RecoveryNotice: Send + Sync {
    async fn send(
        &self,
        to: &Email,
        request: &crate::domain::recovery::RecoveryRequest,
        approvable_from: OffsetDateTime,
        cancel_token: &str,
    ) -> Result<(), MailError>;
}

/// Tells a user that an administrator reset their codes, with the signed token that collects
/// the new ones. How the link and the message look is the presentation's business.
#[async_trait]
pub trait ResetNotice: Send + Sync {
    /// `account`: the account whose administrator reset the codes, when one did.
    async fn send(
        &self,
        to: &Email,
        token: &str,
        expires_at: OffsetDateTime,
        account: Option<&AccountId>,
    ) -> Result<(), MailError>;
}

/// The time, injected so expiry and TOTP steps are testable without sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    /// Whole seconds: that is what DynamoDB keeps, so every store reports the same timestamps.
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(0).unwrap_or(now)
    }
}

/// Capabilities under one name: the whole store, a function's view of it, what a use case
/// needs. The trait lists them once, and everything that has them all is one.
macro_rules! view {
    ($(#[$meta:meta])* pub trait $name:ident: $($capability:path),+ $(,)?) => {
        $(#[$meta])*
        pub trait $name: $($capability +)+ {}

        impl<T: $($capability +)+ ?Sized> $name for T {}
    };
}
pub(crate) use view;

view! {
    /// The whole store, as both adapters implement it: every capability of the user record,
    /// the accounts, the audit trail, the mail budget and the delivery marks. What the local
    /// server, the tests and a Lambda's host hold; each function is handed only its own view.
    pub trait Storage:
    UserRecords,
    Attempts,
    CodeUse,
    Enrollment,
    Replacements,
    Addresses,
    SignInPasses,
    CodeSets,
    TwoFactorOff,
    DownloadGrants,
    Memberships,
    MembershipWrites,
    MemberLists,
    MemberRecords,
    AccountRecords,
    RuleWrites,
    RecoveryFiling,
    RecoveryDecisions,
    RecoveryLists,
    AuditLog,
    MailBudget,
    Deliveries,
}
