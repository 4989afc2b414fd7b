//! One module per use case. They take parsed inputs and return domain outcomes; the HTTP
//! mapping lives in `crate::http`.

pub mod account_admin;
pub mod account_rules;
pub mod address;
pub mod admin_regenerate;
pub mod audit;
pub mod backup_codes;
pub mod enroll;
pub mod errors;
pub mod hashing;
pub mod mail_budget;
pub mod memberships;
pub mod notify;
pub mod recovery;
pub mod recovery_answers;
pub mod redeem;
pub mod sinks;
pub mod two_factor;
pub mod verify;

use std::sync::Arc;

use tracing::warn;

use self::{
    errors::{AdminResetError, CheckFailed, Fault, Locked},
    hashing::HashingPool,
};

use crate::{
    domain::{
        access::Admin,
        attempts::{AttemptLedger, Reservation, ReservedAttempt},
        codes::{BackupCode, BackupCodeSet, CodeHash, CodeHasher, IssuedCodes, SALT_LEN},
        events::{Actor, EventKind, Recorded, SecurityEvent, Source},
        link_token::LinkSigner,
        proof::{Proof, StepUp},
        record::UserRecord,
        sealing::{SealedSecret, SecretSealer},
        totp::TotpCode,
        user::{Email, UserId},
    },
    ports::{Attempts, AuditLog, Clock, CodeUse, SpentCode, StoreError, UserRecords, Written},
};

pub use crate::domain::attempts::LockoutPolicy;

/// How many times `Services::accept` sends a valid code's write that keeps losing to other
/// requests' changes of the ledger: each try is one request, reserved anew.
const ACCEPT_TRIES: usize = 3;

/// Settings that shape behaviour, read once at cold start.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Codes per set.
    pub code_count: usize,
    /// The name authenticator apps show next to the account.
    pub issuer: String,
    /// The product's name in emails, pages and the codes file.
    pub product: String,
    pub lockout: LockoutPolicy,
    /// This many codes left, or fewer, is "running low".
    pub low_codes_threshold: usize,
    /// A change of the factor ends the user's sessions (`USER_POOL_ID` is set), so the screens
    /// tell them to sign in again after one.
    pub sessions_end_on_change: bool,
}

/// How download links are made: signed with these keys, for this long.
#[derive(Clone, Debug)]
pub struct LinkSettings {
    pub signer: LinkSigner,
    pub ttl: time::Duration,
}

crate::ports::view! {
    /// What checking a second factor and spending it takes of the store: the record, its attempt
    /// ledger, and the code's use. Every function that asks for a code is wired with it.
    pub trait FactorChecks: UserRecords, Attempts, CodeUse
}

/// What every use case works with, built once per cold start and shared by every request.
/// `S` is the store as this function sees it: only the capabilities it is wired with (see
/// `wiring`), so a use case that needs another does not compile into it.
pub struct Services<S: ?Sized> {
    pub store: Arc<S>,
    /// The audit trail, for the events that record no change of their own (a refusal).
    pub audit: Arc<dyn AuditLog>,
    pub clock: Arc<dyn Clock>,
    pub hasher: CodeHasher,
    pub settings: Settings,
    /// How long the trail keeps an event.
    pub retention: time::Duration,
}

impl<S: ?Sized> Clone for Services<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            audit: self.audit.clone(),
            clock: self.clock.clone(),
            hasher: self.hasher.clone(),
            settings: self.settings.clone(),
            retention: self.retention,
        }
    }
}

/// What a code check accepts as proof.
#[derive(Clone, Copy)]
enum Accept<'a> {
    /// Only a code of this authenticator's secret (the enrolled one, or one being confirmed).
    TotpOf(&'a SealedSecret),
    /// A code of the enrolled authenticator, or an unused backup code.
    TotpOrBackupCode,
}

/// `Services` plus the key that opens TOTP secrets: what every use case that checks a second
/// factor takes. Redeeming a download link checks none, so its function is never given the key.
pub struct FactorServices<S: ?Sized> {
    pub services: Services<S>,
    pub sealer: SecretSealer,
}

impl<S: ?Sized> Clone for FactorServices<S> {
    fn clone(&self) -> Self {
        Self {
            services: self.services.clone(),
            sealer: self.sealer.clone(),
        }
    }
}

/// A `FactorServices` is used as the `Services` it extends.
impl<S: ?Sized> std::ops::Deref for FactorServices<S> {
    type Target = Services<S>;

    fn deref(&self) -> &Services<S> {
        &self.services
    }
}

impl<S: UserRecords + ?Sized> Services<S> {
    /// `user`'s record, when they have an authenticator; `None` for anyone else (unknown, or
    /// enrolling), whom the callers refuse each in their own words.
    pub(crate) async fn enrolled_record(
        &self,
        user: &UserId,
    ) -> Result<Option<UserRecord>, StoreError> {
        Ok(self
            .store
            .get_user(user)
            .await?
            .filter(UserRecord::is_enrolled))
    }
}

impl<S: ?Sized> Services<S> {
    pub(crate) fn event(
        &self,
        kind: EventKind,
        user: &UserId,
        actor: Actor,
        source: &Source,
    ) -> SecurityEvent {
        SecurityEvent::new(kind, user, actor, source, self.clock.now())
    }

    /// `event` as the trail keeps it; `to` is the address its mail goes to.
    pub(crate) fn record(&self, event: SecurityEvent, to: Option<&Email>) -> Recorded {
        Recorded {
            expires_at: event.at + self.retention,
            event,
            to: to.cloned(),
        }
    }

    /// An event that records no change (a refusal): the trail keeps it on its own. A trail
    /// that fails is logged and counted, never the request's failure: the refusal stands.
    pub(crate) async fn recorded_alone(&self, event: SecurityEvent, to: Option<&Email>) {
        let record = self.record(event, to);
        if let Err(err) = self.audit.append(&record).await {
            sinks::failed("audit", &record.event, &err);
        }
    }

    /// A repeated refusal (see `SecurityEvent::repeated`): the trail counts it on one item,
    /// which the notifier sees once, when the window's first repeat makes it.
    pub(crate) async fn counted(&self, event: SecurityEvent) {
        if let Err(err) = self.audit.count(&event, event.at + self.retention).await {
            sinks::failed("audit", &event, &err);
        }
    }

    /// The trail's record that a response (an admin reset, a new set, the sets removed, a
    /// redeemed link) also ended the replacement `record` had pending, which its write removes.
    pub(crate) fn replacement_ended(
        &self,
        record: &UserRecord,
        actor: Actor,
        source: &Source,
    ) -> Option<Recorded> {
        record.live_replacement(self.clock.now())?;
        let event = self.event(
            EventKind::ReplacementCancelled,
            &record.user_id,
            actor,
            source,
        );
        Some(self.record(event, record.email.as_ref()))
    }

    pub(crate) fn is_low(&self, remaining: usize) -> bool {
        remaining <= self.settings.low_codes_threshold
    }

    /// The refusal that filled `user`'s ledger: from now until the window closes, checks are
    /// refused. Only one reservation per window is the last, so this happens once a window.
    pub(crate) async fn locked_out(
        &self,
        user: &UserId,
        actor: Actor,
        source: &Source,
        to: Option<&Email>,
    ) {
        let event = self
            .event(EventKind::LockedOut, user, actor, source)
            .with_locked_until(self.clock.now() + self.settings.lockout.duration);
        self.recorded_alone(event, to).await;
    }

    /// argon2id is deliberately slow: it runs on the hashing pool, off the async workers, in
    /// the pool thread's reused memory.
    pub(crate) async fn hash_code(
        &self,
        hasher: CodeHasher,
        code: BackupCode,
        salt: [u8; SALT_LEN],
    ) -> Result<CodeHash, Fault> {
        Ok(HashingPool::shared()
            .run(move |memory| hasher.hash_in(&code, &salt, memory))
            .await??)
    }
}

impl<S: UserRecords + Attempts + ?Sized> Services<S> {
    /// Counts one code check in the ledger `seen` on `user`'s record before anything is
    /// evaluated. A ledger already seen full is refused without a write. `None`: the check was
    /// not counted (the record went meanwhile); the caller refuses it as a wrong code.
    pub(crate) async fn reserve_attempt(
        &self,
        user: &UserId,
        seen: &AttemptLedger,
    ) -> Result<Option<ReservedAttempt>, CheckFailed> {
        let now = self.clock.now();
        let policy = &self.settings.lockout;
        let reservation = if seen.is_locked(policy, now) {
            Reservation::Locked {
                until: seen.window_ends.unwrap_or(now + policy.duration),
            }
        } else {
            self.store.reserve_attempt(user, policy, now, seen).await?
        };
        self.reserved(user, reservation)
    }

    /// Sends the accepting write of a code that checked out. The write is conditional on the
    /// ledger still holding `attempt`, and any other accepted code of the user clears the ledger
    /// at the same moment: that alone must never make this valid code "wrong". So when the
    /// write loses and the fresh record shows the code still `stands` (unspent, and what the
    /// write acts on unchanged), the check is reserved again, through the ledger, and the write
    /// sent again. A code spent meanwhile is `ConditionFailed`; a ledger that changed under
    /// every try is `Contended`, which tells the client to send the same request again.
    pub(crate) async fn accept<F>(
        &self,
        user: &UserId,
        attempt: ReservedAttempt,
        stands: impl Fn(&UserRecord) -> bool,
        mut write: impl FnMut(ReservedAttempt) -> F,
    ) -> Result<Written, CheckFailed>
    where
        F: std::future::Future<Output = Result<Written, StoreError>>,
    {
        let mut attempt = attempt;
        for _ in 0..ACCEPT_TRIES {
            if write(attempt).await? == Written::Applied {
                return Ok(Written::Applied);
            }
            let fresh = self.store.get_user(user).await?;
            let Some(fresh) = fresh.filter(|r| stands(r)) else {
                return Ok(Written::ConditionFailed);
            };
            attempt = match self.reserve_attempt(user, &fresh.ledger).await? {
                Some(next) => next,
                None => return Ok(Written::ConditionFailed),
            };
        }
        warn!(%user, "a valid code's write lost to the ledger at every try");
        Err(CheckFailed::Contended)
    }
}

impl<S: ?Sized> Services<S> {
    /// What a reservation means for the check: go on (`None` when nothing was counted) or
    /// refuse it as locked.
    pub(crate) fn reserved(
        &self,
        user: &UserId,
        reservation: Reservation,
    ) -> Result<Option<ReservedAttempt>, CheckFailed> {
        let now = self.clock.now();
        match reservation {
            Reservation::Reserved(attempt) => Ok(Some(attempt)),
            Reservation::NoRecord => Ok(None),
            Reservation::Locked { until } => {
                warn!(%user, until = %until, "code check refused: attempt ledger is full");
                Err(CheckFailed::Locked(Locked {
                    retry_after_seconds: AttemptLedger::retry_after(until, now),
                }))
            }
        }
    }

    pub(crate) async fn issue_codes(&self) -> Result<IssuedCodes, Fault> {
        let hasher = self.hasher.clone();
        let count = self.settings.code_count;
        let now = self.clock.now();
        Ok(HashingPool::shared()
            .run(move |memory| IssuedCodes::generate_in(&hasher, count, now, memory))
            .await??)
    }
}

impl<S: FactorChecks + ?Sized> FactorServices<S> {
    /// Reserves, then checks a TOTP code of `secret` for `record`'s user: what confirming an
    /// authenticator needs (its first enrollment, or a replacement), since only the new app's
    /// code proves the new secret.
    pub(crate) async fn check_totp(
        &self,
        record: &UserRecord,
        secret: &SealedSecret,
        code: &str,
        source: &Source,
    ) -> Result<(ReservedAttempt, u64), CheckFailed> {
        let (attempt, proof) = self
            .check(record, code, Actor::User, source, Accept::TotpOf(secret))
            .await?;
        match proof {
            Proof::Totp { step } => Ok((attempt, step)),
            // `TotpOf` never yields one; refusing keeps this total without a panic.
            Proof::BackupCode { .. } => Err(CheckFailed::InvalidCode),
        }
    }

    /// Reserves, then checks the proof every step-up needs: a current TOTP code or an unused
    /// backup code of the enrolled `record`. The caller's write must spend the proof.
    pub(crate) async fn check_step_up(
        &self,
        record: &UserRecord,
        code: &str,
        actor: Actor,
        source: &Source,
    ) -> Result<(ReservedAttempt, Proof), CheckFailed> {
        self.check(record, code, actor, source, Accept::TotpOrBackupCode)
            .await
    }

    /// A refusal that fills the ledger is the `locked_out` event, caused by `actor`.
    async fn check(
        &self,
        record: &UserRecord,
        code: &str,
        actor: Actor,
        source: &Source,
        accept: Accept<'_>,
    ) -> Result<(ReservedAttempt, Proof), CheckFailed> {
        let attempt = self
            .reserve_attempt(&record.user_id, &record.ledger)
            .await?
            .ok_or(CheckFailed::InvalidCode)?;
        let proof = match (TotpCode::parse(code), accept) {
            (Some(totp), Accept::TotpOf(secret)) => self
                .fresh_step_of(record, secret, &totp)?
                .map(|step| Proof::Totp { step }),
            (Some(totp), Accept::TotpOrBackupCode) => self
                .fresh_totp_step(Some(record), &totp)?
                .map(|step| Proof::Totp { step }),
            (None, Accept::TotpOrBackupCode) => match BackupCode::parse(code) {
                Some(code) => self.unused_backup_code(record.codes.as_ref(), code).await?,
                None => None,
            },
            (None, Accept::TotpOf(_)) => None,
        };
        match proof {
            Some(proof) => Ok((attempt, proof)),
            None => {
                if attempt.is_last() {
                    self.locked_out(&record.user_id, actor, source, record.email.as_ref())
                        .await;
                }
                Err(CheckFailed::InvalidCode)
            }
        }
    }

    /// An administrator's own step-up proof, checked through their ledger and spent on their
    /// own record, before anything about the user they act on is looked at.
    pub(crate) async fn admin_proof(
        &self,
        admin: &Admin,
        code: Option<&str>,
        authorised: StepUp,
        source: &Source,
    ) -> Result<(), AdminResetError> {
        let code = code.ok_or(AdminResetError::TotpRequired)?;
        let record = self
            .enrolled_record(admin.user())
            .await?
            .ok_or(AdminResetError::InvalidCode)?;
        let (attempt, proof) = self
            .check_step_up(&record, code, Actor::User, source)
            .await?;
        let records: Vec<_> = self
            .proof_record(&record, &proof, authorised, source)
            .into_iter()
            .collect();
        if !self
            .spend_proof(admin.user(), attempt, &proof, &records)
            .await?
        {
            return Err(AdminResetError::InvalidCode);
        }
        Ok(())
    }

    /// Spends `proof` on `user`'s own record in a write of its own, for a change made to
    /// someone else's record (an administrator's). `false`: a concurrent request spent it.
    pub(crate) async fn spend_proof(
        &self,
        user: &UserId,
        attempt: ReservedAttempt,
        proof: &Proof,
        records: &[Recorded],
    ) -> Result<bool, CheckFailed> {
        let now = self.clock.now();
        let stands = |r: &UserRecord| r.is_enrolled() && proof.is_unspent_in(r);
        let written = self
            .accept(user, attempt, stands, |attempt| async move {
                match proof {
                    Proof::Totp { step } => {
                        self.store
                            .use_totp_step(user, &attempt, *step, None, records)
                            .await
                    }
                    Proof::BackupCode { set_id, hash } => {
                        self.store
                            .use_backup_code(
                                user,
                                &attempt,
                                &SpentCode {
                                    set_id,
                                    hash,
                                    at: now,
                                },
                                None,
                                records,
                            )
                            .await
                    }
                }
            })
            .await?;
        Ok(written == Written::Applied)
    }
}

impl<S: ?Sized> FactorServices<S> {
    /// `code` as an unused backup code of the active `set`: hashed once, with the set's salt
    /// and cost. With no set (an unknown user, or none made yet) it is hashed all the same, so
    /// such a user costs the work any other does and gets the same answer.
    pub(crate) async fn unused_backup_code(
        &self,
        set: Option<&BackupCodeSet>,
        code: BackupCode,
    ) -> Result<Option<Proof>, Fault> {
        let salt = set.map_or([0u8; SALT_LEN], |s| s.salt);
        let hash = self.hash_code(self.hasher.for_set(set), code, salt).await?;
        let set = set.filter(|s| s.find(&hash).is_some_and(|c| c.used_at.is_none()));
        Ok(set.map(|set| Proof::BackupCode {
            set_id: set.id.clone(),
            hash,
        }))
    }

    /// The trail's record of a backup code spent as a step-up proof: `backup_code_used`,
    /// naming what it authorised, and mailed like any use; kept by the write that spends it.
    /// A TOTP proof leaves no event.
    pub(crate) fn proof_record(
        &self,
        record: &UserRecord,
        proof: &Proof,
        authorised: StepUp,
        source: &Source,
    ) -> Option<Recorded> {
        let Proof::BackupCode { .. } = proof else {
            return None;
        };
        let mut event = self
            .event(
                EventKind::BackupCodeUsed,
                &record.user_id,
                Actor::User,
                source,
            )
            .with_authorised(authorised)
            .with_code_number(proof.code_number(record));
        event.remaining_codes = match authorised.removes_the_codes() {
            true => Some(0),
            false => record
                .codes
                .as_ref()
                .map(|set| set.remaining().saturating_sub(1)),
        };
        Some(self.record(event, record.email.as_ref()))
    }

    /// The step a fresh TOTP code proves for `record`, if it is valid and not a replay. With no
    /// record, the same unseal and HMAC work is done on a decoy, and the answer is `None`.
    pub(crate) fn fresh_totp_step(
        &self,
        record: Option<&UserRecord>,
        code: &TotpCode,
    ) -> Result<Option<u64>, Fault> {
        let now = self.clock.now();
        let Some(record) = record else {
            let decoy = self.sealer.open_decoy()?;
            std::hint::black_box(decoy.matching_step(code, now));
            return Ok(None);
        };
        self.fresh_step_of(record, &record.totp.secret, code)
    }

    /// The step a fresh code of `secret` proves for `record`'s user: later than the last step
    /// that user had accepted, whichever app it came from.
    fn fresh_step_of(
        &self,
        record: &UserRecord,
        secret: &SealedSecret,
        code: &TotpCode,
    ) -> Result<Option<u64>, Fault> {
        let secret = self.sealer.open(&record.user_id, secret)?;
        Ok(secret
            .matching_step(code, self.clock.now())
            .filter(|step| *step > record.totp.last_step))
    }
}
