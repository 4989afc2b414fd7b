//! One module per use case. They take parsed inputs and return domain outcomes; the HTTP
//! mapping lives in `crate::http`.

pub mod admin_regenerate;
pub mod backup_codes;
pub mod enroll;
pub mod redeem;
pub mod verify;

use std::sync::Arc;

use crate::{
    domain::{
        codes::{BackupCode, CodeHash, CodeHasher, HashingFailed, IssuedCodes, SALT_LEN},
        link_token::LinkSigner,
        sealing::{SecretSealer, UnsealError},
        totp::TotpSecret,
    },
    ports::{Clock, MailError, Mailer, Store, StoreError, UserRecord},
};

/// After `threshold` refused verifies in a row, verifies of that user are refused for
/// `duration`, whatever the code. `threshold` 0 turns lockout off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub threshold: u32,
    pub duration: time::Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            threshold: 10,
            duration: time::Duration::minutes(15),
        }
    }
}

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
}

/// How download links are made: signed with these keys, under this base URL, for this long.
#[derive(Clone, Debug)]
pub struct LinkSettings {
    pub signer: LinkSigner,
    /// Where links point; `None` means the public address the admin's request came through.
    pub base_url: Option<String>,
    pub ttl: time::Duration,
}

/// Everything a use case may need, built once per cold start and shared by every request.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub hasher: CodeHasher,
    pub sealer: SecretSealer,
    pub settings: Settings,
    /// Only the functions that make or redeem download links have these.
    pub links: Option<LinkSettings>,
    pub mailer: Option<Arc<dyn Mailer>>,
}

/// The outcomes a use case can end in other than success.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the code is not valid")]
    InvalidCode,
    #[error("a current TOTP code is required")]
    TotpRequired,
    #[error("TOTP is already enrolled for this user")]
    AlreadyEnrolled,
    #[error("there is no pending TOTP enrollment to confirm")]
    NoPendingEnrollment,
    #[error("TOTP is not enrolled for this user")]
    NotEnrolled,
    #[error("the caller is not an administrator")]
    NotAdmin,
    #[error("the target user has not enrolled TOTP")]
    UserNotEnrolled,
    #[error("the target user has no email address on file")]
    UserHasNoEmail,
    #[error("the download link is no longer valid")]
    LinkInvalid,
    #[error("the email could not be sent")]
    EmailFailed(#[source] MailError),
    #[error("this function is not configured for {0}")]
    NotConfigured(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a stored TOTP secret could not be opened")]
    Unseal(#[from] UnsealError),
    #[error(transparent)]
    Hashing(#[from] HashingFailed),
    #[error("a hashing task did not finish")]
    Task(#[from] tokio::task::JoinError),
}

impl Services {
    /// argon2id is deliberately slow; running it off the async workers keeps other requests moving.
    pub(crate) async fn hash_code(
        &self,
        code: BackupCode,
        salt: [u8; SALT_LEN],
    ) -> Result<CodeHash, AppError> {
        let hasher = self.hasher.clone();
        Ok(tokio::task::spawn_blocking(move || hasher.hash(&code, &salt)).await??)
    }

    pub(crate) async fn issue_codes(&self) -> Result<IssuedCodes, AppError> {
        let hasher = self.hasher.clone();
        let count = self.settings.code_count;
        let now = self.clock.now();
        Ok(
            tokio::task::spawn_blocking(move || IssuedCodes::generate(&hasher, count, now))
                .await??,
        )
    }

    /// The step a fresh TOTP code proves for an enrolled user, if it is valid and not a replay.
    pub(crate) fn fresh_totp_step(
        &self,
        record: &UserRecord,
        code: &crate::domain::totp::TotpCode,
    ) -> Result<Option<u64>, AppError> {
        let secret: TotpSecret = self.sealer.open(&record.user_id, &record.totp.secret)?;
        Ok(secret
            .matching_step(code, self.clock.now())
            .filter(|step| *step > record.totp.last_step))
    }
}
