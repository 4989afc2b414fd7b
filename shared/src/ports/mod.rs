//! What the use cases need from the outside world, in the product's words: traits only; the
//! records they pass are the domain's.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{
    attempts::{AttemptLedger, LockoutPolicy, Reservation, ReservedAttempt},
    codes::{BackupCodeSet, CodeHash},
    events::{AuditPosition, EventKind, Recorded, SecurityEvent},
    link_token::{DownloadGrant, GrantClaim},
    mail_budget::{HeldMail, HourDigest},
    proof::Proof,
    record::{PendingSet, Replacement, UserRecord},
    sealing::SealedSecret,
    sign_in::{AppClient, SignInPass},
    user::{Email, UserId},
};

/// A conditional write either happened or lost to the condition (a race, a replay, a used code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Applied,
    ConditionFailed,
}

/// What a write that starts an enrollment does to one already pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfPending {
    /// The settings' start: the new secret replaces the pending one (the same user's token).
    Replace,
    /// A Cognito sign-in's: it only opens the record its attempt ledger lives on, and leaves an
    /// enrollment in progress elsewhere as it is (the sign-in keeps its own secret).
    Keep,
}

/// The secret a confirmed enrollment makes the user's authenticator.
#[derive(Clone, Copy, Debug)]
pub enum Adopting<'a> {
    /// The pending secret on the record, which must still be this one.
    Pending(&'a SealedSecret),
    /// A Cognito sign-in's own secret, shown to that sign-in alone: it takes the place of
    /// whatever enrollment is pending.
    SignInsOwn(&'a SealedSecret),
}

impl Adopting<'_> {
    pub fn secret(&self) -> &SealedSecret {
        match self {
            Adopting::Pending(secret) | Adopting::SignInsOwn(secret) => secret,
        }
    }

    /// Whether a record not yet enrolled still lets this secret be adopted.
    pub fn fits(&self, pending: &SealedSecret) -> bool {
        match self {
            Adopting::Pending(secret) => *secret == pending,
            Adopting::SignInsOwn(_) => true,
        }
    }
}

/// A confirmed enrollment, as one write: the secret adopted, the TOTP step its first code was
/// for, the address, the first set (none when the user makes it later), a sign-in's pass, and
/// when it was confirmed.
#[derive(Clone, Copy, Debug)]
pub struct Activation<'a> {
    pub adopting: Adopting<'a>,
    pub step: u64,
    pub email: Option<&'a Email>,
    pub first_set: Option<&'a BackupCodeSet>,
    pub pass: Option<&'a SignInPass>,
    pub at: OffsetDateTime,
}

/// A backup code being spent: the set it is in, its hash, and when.
#[derive(Clone, Copy, Debug)]
pub struct SpentCode<'a> {
    pub set_id: &'a str,
    pub hash: &'a CodeHash,
    pub at: OffsetDateTime,
}

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

/// The user records. Every method that changes state is a single conditional write, so that
/// concurrent requests serialize on the item and exactly one of two racing writers wins. The
/// `records` a change takes are the events it records: they are kept in the same atomic write
/// (a transaction), so there is no change without its events and no event without its change.
#[async_trait]
pub trait Store: Send + Sync {
    async fn get_user(&self, user: &UserId) -> Result<Option<UserRecord>, StoreError>;

    /// What a verify does first, in one request: counts the check in the user's attempt ledger
    /// and answers the record as that write left it (`None` for an unknown user, whose check
    /// is counted in a ledger of its own that the store forgets once its window closes, so it
    /// costs the same requests as a known user's). A full ledger is `Locked`, nothing written.
    async fn reserve_reading(
        &self,
        user: &UserId,
        policy: &LockoutPolicy,
        now: OffsetDateTime,
    ) -> Result<(Option<UserRecord>, Reservation), StoreError>;

    /// Starts or restarts enrollment with a new secret; refused when TOTP is already active, and
    /// with `IfPending::Keep` when an enrollment is pending. A store may sweep an enrollment
    /// still pending at `abandoned_after`.
    async fn put_pending_totp(
        &self,
        user: &UserId,
        secret: &SealedSecret,
        abandoned_after: OffsetDateTime,
        if_pending: IfPending,
    ) -> Result<Written, StoreError>;

    /// Counts one code check in an enrolling or enrolled user's attempt ledger, in one
    /// conditional write that is refused when the ledger is full (see
    /// `AttemptLedger::reserve`). `seen` is the ledger the caller read with the record, which
    /// picks the write most likely to apply; `NoRecord` when the record went meanwhile.
    async fn reserve_attempt(
        &self,
        user: &UserId,
        policy: &LockoutPolicy,
        now: OffsetDateTime,
        seen: &AttemptLedger,
    ) -> Result<Reservation, StoreError>;

    /// Activates TOTP with the secret the code was checked against, records the step, the
    /// email and the first set, and clears the ledger. Refused once enrolled, and, adopting the
    /// pending secret, if it changed meanwhile. The pass: see `use_totp_step`.
    async fn activate_totp(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        activation: &Activation<'_>,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// Starts replacing an enrolled user's authenticator, spending their step-up `proof` (a
    /// backup code is marked used at `at`): the current app keeps working until the new one
    /// is confirmed. Replaces any replacement already pending.
    async fn start_replacement(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        replacement: &Replacement,
        at: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// Swaps in the replacement secret the code was checked against, in one write conditional
    /// on it still being the live replacement at `at`; the old app's codes are refused from
    /// then on, and the backup codes stay as they are.
    async fn confirm_replacement(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        checked_secret: &SealedSecret,
        step: u64,
        at: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// Ends the pending replacement, in one write conditional on there being one, live at
    /// `now`. Cancelling only takes power away, so it needs no proof.
    async fn cancel_replacement(
        &self,
        user: &UserId,
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// Records `step` as used and clears the ledger; refused unless it is later than the last
    /// accepted step. With `pass` (a Cognito sign-in's challenge), the same write leaves the
    /// mark the token guard consumes.
    async fn use_totp_step(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        step: u64,
        pass: Option<&SignInPass>,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// Marks the code used and clears the ledger (leaving `pass`,
    /// as `use_totp_step` does); refused when the code was already used or the set was
    /// replaced meanwhile.
    async fn use_backup_code(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        code: &SpentCode<'_>,
        pass: Option<&SignInPass>,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// Makes `to` the enrolled user's address, in one write conditional on the stored one
    /// still being `from` (none stored when `None`): of two changes racing, one applies.
    async fn change_email(
        &self,
        user: &UserId,
        from: Option<&Email>,
        to: &Email,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// The token guard: removes an enrolled user's sign-in pass in one conditional write, when
    /// it is live and was left for `client`. Of two token generations racing for one pass,
    /// exactly one applies; a user with no record, no authenticator or no such pass is
    /// `ConditionFailed`, and nothing is written.
    async fn consume_sign_in_pass(
        &self,
        user: &UserId,
        client: &AppClient,
        now: OffsetDateTime,
    ) -> Result<Written, StoreError>;

    /// Spends the step-up `proof` (a backup code is marked used at `at`) and makes `pending`
    /// the pending set, replacing any pending one; the active set keeps working.
    async fn put_pending_set(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        pending: &PendingSet,
        at: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// Makes the pending set `set_id` the only set, in one write conditional on it still being
    /// the pending one and live at `now` (and, `through_grant`, on that grant being the live
    /// one); the old set dies with it, and any pending download grant and any pending
    /// replacement are cancelled: the owner has just chosen their codes.
    async fn activate_pending_set(
        &self,
        user: &UserId,
        set_id: &str,
        through_grant: Option<&str>,
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// Spends the step-up `proof` and removes the active and any pending set, any pending
    /// download grant and any pending replacement, in the same write.
    async fn remove_code_sets(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// Turns the owner's two-factor off, spending their step-up `proof`: the TOTP secret, the
    /// code sets, any download grant, the ledger and any sign-in pass go in one write, and the
    /// user is as before enrollment (`get_user` finds nothing).
    async fn disable_two_factor(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// The same for an administrator, whose own proof was spent on their record: refused only
    /// when the user has no active TOTP.
    async fn disable_two_factor_for(
        &self,
        user: &UserId,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// An administrator's reset: the enrolled user's set and any pending replacement are removed
    /// and `grant` becomes the only live download, in one write, so the codes never die without
    /// a link to the new ones.
    async fn grant_download(
        &self,
        user: &UserId,
        grant: &DownloadGrant,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;

    /// Holds the grant `claim` names for one redemption and counts it, in one write
    /// conditional on it being the user's live grant, unexpired at `now`, held by no other
    /// redemption and begun fewer than `DownloadGrant::MAX_REDEMPTIONS` times: of N concurrent
    /// redemptions one holds it, and only that one hashes a set. The record as held (for the
    /// user's address), or `None` when refused.
    async fn claim_download(
        &self,
        user: &UserId,
        claim: &GrantClaim,
        now: OffsetDateTime,
    ) -> Result<Option<UserRecord>, StoreError>;

    /// Redeems the grant `claim` holds with a new pending set, in one write conditional on the
    /// claim still holding it and the grant unexpired at `now`: `pending` replaces any pending
    /// set, the claim and any pending replacement go, and the grant stays until the owner
    /// activates the set (or redeems again, or it expires).
    async fn redeem_download(
        &self,
        user: &UserId,
        claim: &GrantClaim,
        now: OffsetDateTime,
        pending: &PendingSet,
        records: &[Recorded],
    ) -> Result<Written, StoreError>;
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

/// A store that also keeps the audit trail and the mail budget, as both of ours do.
pub trait Storage: Store + AuditLog + MailBudget {}

impl<T: Store + AuditLog + MailBudget> Storage for T {}

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

/// What the notifier counts to keep mail within its budget (see `domain::mail_budget`). Each
/// count is one conditional write, so concurrent notifiers never send past a limit.
#[async_trait]
pub trait MailBudget: Send + Sync {
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

    /// Counts one mail of the stack's `day`; with `most`, only when fewer than `most` were.
    async fn take_stack(&self, day: i64, most: Option<u32>) -> Result<bool, StoreError>;

    /// Gives back what `take_user` and `take_stack` counted for a mail that was not sent, so
    /// its retry is counted as the first try was, not held as a repeat.
    async fn give_back(
        &self,
        user: &UserId,
        hour: i64,
        kind: EventKind,
        day: i64,
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

#[derive(Debug, thiserror::Error)]
#[error("the event sink failed")]
pub struct SinkError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Tells a user that an administrator reset their codes, with the signed token that collects
/// the new ones. How the link and the message look is the presentation's business.
#[async_trait]
pub trait ResetNotice: Send + Sync {
    async fn send(
        &self,
        to: &Email,
        token: &str,
        expires_at: OffsetDateTime,
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
