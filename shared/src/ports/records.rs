//! The user record's capabilities, one trait each: what an IAM policy would grant, and what a
//! function is wired with. Every method that changes state is a single conditional write, so
//! that concurrent requests serialize on the item and exactly one of two racing writers wins.
//! The `records` a change takes are the events it records: they are kept in the same atomic
//! write (a transaction), so there is no change without its events and no event without its
//! change.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::{
    attempts::{AttemptLedger, LockoutPolicy, Reservation, ReservedAttempt},
    codes::{BackupCodeSet, CodeHash},
    events::Recorded,
    link_token::{DownloadGrant, GrantClaim},
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

capability! {
    /// A user's record as stored.
    pub trait UserRecords {
        async fn get_user(&self, user: &UserId) -> Result<Option<UserRecord>, StoreError>;
    }
}

capability! {
    /// The attempt ledger on the record: every code check is counted here before it is evaluated.
    pub trait Attempts {
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
    }
}

capability! {
    /// Spending a code that checked out: a TOTP step or a backup code, with the ledger cleared.
    pub trait CodeUse {
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
    }
}

capability! {
    /// A first authenticator: started, then confirmed by its first code.
    pub trait Enrollment {
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
    }
}

capability! {
    /// A new authenticator for an enrolled user, and the owner's way to stop one.
    pub trait Replacements {
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
    }
}

capability! {
    /// The address the security mail goes to.
    pub trait Addresses {
        /// Makes `to` the enrolled user's address, in one write conditional on the stored one
        /// still being `from` (none stored when `None`): of two changes racing, one applies.
        async fn change_email(
            &self,
            user: &UserId,
            from: Option<&Email>,
            to: &Email,
            records: &[Recorded],
        ) -> Result<Written, StoreError>;
    }
}

capability! {
    /// The mark a Cognito sign-in's passed challenge leaves for the token guard.
    pub trait SignInPasses {
        /// The token guard: removes an enrolled user's sign-in pass in one conditional write, when
        /// it is live and was left for `client`, and answers the pass it removed. Of two token
        /// generations racing for one pass, exactly one gets it; a user with no record, no
        /// authenticator or no such pass gets `None`, and nothing is written.
        async fn consume_sign_in_pass(
            &self,
            user: &UserId,
            client: &AppClient,
            now: OffsetDateTime,
        ) -> Result<Option<SignInPass>, StoreError>;
    }
}

capability! {
    /// Backup code sets: a new one pending until saved, and removing them.
    pub trait CodeSets {
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
    }
}

capability! {
    /// Turning two-factor off, by its owner or an administrator.
    pub trait TwoFactorOff {
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
    }
}

capability! {
    /// An administrator's reset and the emailed link that collects the new codes.
    pub trait DownloadGrants {
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
}
