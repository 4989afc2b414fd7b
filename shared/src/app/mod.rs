//! One module per use case. They take parsed inputs and return domain outcomes; the HTTP
//! mapping lives in `crate::http`.

pub mod admin_regenerate;
pub mod audit;
pub mod backup_codes;
pub mod enroll;
pub mod errors;
pub mod events;
pub mod redeem;
pub mod verify;

use std::sync::Arc;

use tracing::warn;

use self::{
    errors::{CheckFailed, Fault, Locked},
    events::Events,
};

use crate::{
    domain::{
        attempts::{AttemptLedger, Reservation, ReservedAttempt},
        codes::{BackupCode, CodeHash, CodeHasher, IssuedCodes, SALT_LEN},
        events::{Actor, EventKind, SecurityEvent, Source},
        link_token::LinkSigner,
        record::UserRecord,
        sealing::SecretSealer,
        totp::TotpCode,
        user::{Email, UserId},
    },
    ports::{Clock, Store},
};

pub use crate::domain::attempts::LockoutPolicy;

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
}

/// How download links are made: signed with these keys, for this long.
#[derive(Clone, Debug)]
pub struct LinkSettings {
    pub signer: LinkSigner,
    pub ttl: time::Duration,
}

/// What every use case works with, built once per cold start and shared by every request.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub hasher: CodeHasher,
    pub settings: Settings,
    pub events: Events,
}

/// `Services` plus the key that opens TOTP secrets: what every use case that checks a second
/// factor takes. Redeeming a download link checks none, so its function is never given the key.
#[derive(Clone)]
pub struct FactorServices {
    pub services: Services,
    pub sealer: SecretSealer,
}

/// A `FactorServices` is used as the `Services` it extends.
impl std::ops::Deref for FactorServices {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl Services {
    pub(crate) fn event(
        &self,
        kind: EventKind,
        user: &UserId,
        actor: Actor,
        source: &Source,
    ) -> SecurityEvent {
        SecurityEvent::new(kind, user, actor, source, self.clock.now())
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
        self.events.emit(event, to).await;
    }

    /// argon2id is deliberately slow; running it off the async workers keeps other requests moving.
    pub(crate) async fn hash_code(
        &self,
        hasher: CodeHasher,
        code: BackupCode,
        salt: [u8; SALT_LEN],
    ) -> Result<CodeHash, Fault> {
        Ok(tokio::task::spawn_blocking(move || hasher.hash(&code, &salt)).await??)
    }

    /// Counts one code check in `user`'s attempt ledger before anything is evaluated. A ledger
    /// already seen full is refused without a write; `None` means there is no record to count
    /// against (the caller then does the same work as for a wrong code, and refuses it).
    pub(crate) async fn reserve_attempt(
        &self,
        user: &UserId,
        record: Option<&UserRecord>,
    ) -> Result<Option<ReservedAttempt>, CheckFailed> {
        let now = self.clock.now();
        let policy = &self.settings.lockout;
        let seen = record.map(|r| &r.ledger);
        let reservation = match seen {
            Some(ledger) if ledger.is_locked(policy, now) => Reservation::Locked {
                until: ledger.window_ends.unwrap_or(now + policy.duration),
            },
            _ => self.store.reserve_attempt(user, policy, now, seen).await?,
        };
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
        Ok(
            tokio::task::spawn_blocking(move || IssuedCodes::generate(&hasher, count, now))
                .await??,
        )
    }
}

impl FactorServices {
    /// Reserves, then checks a TOTP code for an enrolled user: the proof every step-up needs.
    /// A refusal that fills the ledger is the `locked_out` event, caused by `actor`.
    pub(crate) async fn check_totp(
        &self,
        record: &UserRecord,
        code: &str,
        actor: Actor,
        source: &Source,
    ) -> Result<(ReservedAttempt, u64), CheckFailed> {
        let attempt = self
            .reserve_attempt(&record.user_id, Some(record))
            .await?
            .ok_or(CheckFailed::InvalidCode)?;
        let step = match TotpCode::parse(code) {
            Some(code) => self.fresh_totp_step(Some(record), &code)?,
            None => None,
        };
        match step {
            Some(step) => Ok((attempt, step)),
            None => {
                if attempt.is_last() {
                    self.locked_out(&record.user_id, actor, source, record.email.as_ref())
                        .await;
                }
                Err(CheckFailed::InvalidCode)
            }
        }
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
        let secret = self.sealer.open(&record.user_id, &record.totp.secret)?;
        Ok(secret
            .matching_step(code, now)
            .filter(|step| *step > record.totp.last_step))
    }
}
