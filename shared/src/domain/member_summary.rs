//! What an account's administrator sees of each member on their Users page: enough to help
//! them (enrolled, codes left, the last code accepted and how, a link waiting), never a code
//! or a secret.

use time::OffsetDateTime;

use super::{account::Role, record::UserRecord, totp::STEP_SECONDS, user::UserId};

/// How a code was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeMethod {
    Totp,
    BackupCode,
}

impl CodeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeMethod::Totp => "totp",
            CodeMethod::BackupCode => "backup_code",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSummary {
    pub user: UserId,
    pub role: Role,
    pub enrolled: bool,
    /// Unused backup codes; 0 when not enrolled.
    pub remaining_codes: usize,
    /// The last code accepted for this member (a sign-in, or a proof they gave for a change):
    /// when, and of which kind. A TOTP code is dated by the start of its 30 s step.
    pub last_code: Option<(OffsetDateTime, CodeMethod)>,
    /// When the download link an administrator mailed them stops working, while it still works.
    pub pending_link_until: Option<OffsetDateTime>,
}

impl MemberSummary {
    /// `record`: the member's, when they have a factor at all.
    pub fn of(user: UserId, role: Role, record: Option<&UserRecord>, now: OffsetDateTime) -> Self {
        let Some(record) = record.filter(|r| r.is_enrolled()) else {
            return Self {
                user,
                role,
                enrolled: false,
                remaining_codes: 0,
                last_code: None,
                pending_link_until: None,
            };
        };
        let totp = (record.totp.last_step > 0)
            .then(|| record.totp.last_step.saturating_mul(STEP_SECONDS))
            .and_then(|seconds| i64::try_from(seconds).ok())
            .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
            .map(|at| (at, CodeMethod::Totp));
        let backup = record
            .codes
            .iter()
            .flat_map(|set| set.codes.iter())
            .filter_map(|code| code.used_at)
            .max()
            .map(|at| (at, CodeMethod::BackupCode));
        Self {
            user,
            role,
            enrolled: true,
            remaining_codes: record.codes.as_ref().map_or(0, |set| set.remaining()),
            last_code: totp.into_iter().chain(backup).max_by_key(|(at, _)| *at),
            pending_link_until: record
                .grant
                .as_ref()
                .map(|grant| grant.expires_at)
                .filter(|until| *until > now),
        }
    }
}
