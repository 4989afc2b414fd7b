//! A recovery request: a user who lost both their phone and their backup codes asks, after the
//! password, for their two-factor to be reset. Their accounts' admins (or the platform's
//! support) check who is asking through a channel they trust, then approve it, which is the
//! admin reset with its mailed link, or deny it. The rules of its life are here; who may act
//! and how it is kept are the use cases' and the store's.

use time::{Duration, OffsetDateTime};

use super::{
    account::AccountId,
    codes::{random_id, BackupCode},
    display_text,
    events::Source,
    totp::TotpCode,
    user::UserId,
};

/// How long a request stays open without an answer.
pub const REQUEST_LIFETIME: Duration = Duration::days(7);

/// The waiting time between filing and the earliest approval unless `RECOVERY_WAIT_HOURS`
/// says otherwise: a day, so the real user, who is mailed at once, sees the mail and can cancel
/// before anyone acts on a request a thief with their password made. The products this comes
/// from take up to two business days for the same step; a day keeps most of that protection
/// and still lets an admin answer on the next working day.
pub const DEFAULT_WAIT: Duration = Duration::hours(24);

/// How many requests a day may ask any one account's admins: more than a real account needs
/// (a whole team losing its phones at once is a support matter), few enough that nobody can
/// flood an account's admins with mail.
pub const MAX_REQUESTS_PER_ACCOUNT_PER_DAY: u32 = 20;

/// The longest reason a denial may give; it is mailed to the user.
pub const MAX_REASON_CHARS: usize = 500;

/// What a Cognito sign-in's custom challenge is answered with to file a request instead of
/// giving a code. It can never be a code: `_` and `U` are in neither a TOTP code nor Crockford
/// base32, so no code is ever read as a request, nor a request checked as a code.
pub const REQUEST_ANSWER: &str = "RECOVERY_REQUEST_LOST_PHONE_AND_CODES";

/// Where a request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestState {
    Open,
    /// The user said it was not them (the mailed link).
    Cancelled {
        at: OffsetDateTime,
    },
    /// An admin checked who asked and reset the user's codes.
    Approved {
        by: UserId,
        at: OffsetDateTime,
    },
    /// An admin closed it without a reset.
    Denied {
        by: UserId,
        at: OffsetDateTime,
        reason: Option<DenyReason>,
    },
    /// Nobody answered within `REQUEST_LIFETIME`; `at` is when that was recorded.
    Expired {
        at: OffsetDateTime,
    },
}

impl RequestState {
    /// The name the API and the store give it.
    pub fn name(&self) -> &'static str {
        match self {
            RequestState::Open => "open",
            RequestState::Cancelled { .. } => "cancelled",
            RequestState::Approved { .. } => "approved",
            RequestState::Denied { .. } => "denied",
            RequestState::Expired { .. } => "expired",
        }
    }
}

/// A request as kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryRequest {
    /// 32 hex characters (128 random bits).
    pub id: String,
    pub user: UserId,
    pub filed_at: OffsetDateTime,
    /// Where the sign-in that filed it came from, as reported.
    pub source: Source,
    /// The accounts the user belonged to when it was filed: whose admins are asked.
    pub accounts: Vec<AccountId>,
    pub state: RequestState,
}

/// Why a request cannot be approved or denied now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Undecidable {
    /// Approved, denied or cancelled already, or expired.
    Closed,
    /// Filed too recently: no approval before `until` (a denial needs no wait).
    Waiting { until: OffsetDateTime },
}

impl RecoveryRequest {
    pub fn file(
        user: &UserId,
        accounts: Vec<AccountId>,
        source: &Source,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: random_id(),
            user: user.clone(),
            filed_at: now,
            source: source.clone(),
            accounts,
            state: RequestState::Open,
        }
    }

    pub fn expires_at(&self) -> OffsetDateTime {
        self.filed_at + REQUEST_LIFETIME
    }

    /// Open, and not expired at `now`.
    pub fn is_open(&self, now: OffsetDateTime) -> bool {
        self.state == RequestState::Open && now < self.expires_at()
    }

    /// The earliest moment it may be approved, with a waiting time of `wait`.
    pub fn approvable_from(&self, wait: Duration) -> OffsetDateTime {
        self.filed_at + wait
    }

    /// Whether an admin may approve it at `now`.
    pub fn may_approve(&self, now: OffsetDateTime, wait: Duration) -> Result<(), Undecidable> {
        if !self.is_open(now) {
            return Err(Undecidable::Closed);
        }
        let until = self.approvable_from(wait);
        if now < until {
            return Err(Undecidable::Waiting { until });
        }
        Ok(())
    }

    /// Whether an admin may deny it, or its user cancel it, at `now`: at once, while open.
    pub fn may_close(&self, now: OffsetDateTime) -> Result<(), Undecidable> {
        match self.is_open(now) {
            true => Ok(()),
            false => Err(Undecidable::Closed),
        }
    }
}

/// A denial's reason as the user is shown it: at most `MAX_REASON_CHARS`, nothing hidden.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DenyReason(String);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DenyReasonError {
    #[error("must be at most {MAX_REASON_CHARS} characters")]
    TooLong,
    #[error("must not contain control or invisible characters")]
    Hidden,
}

impl DenyReason {
    /// `None` for a reason that is only spaces: no reason given.
    pub fn parse(raw: &str) -> Result<Option<Self>, DenyReasonError> {
        if raw.chars().count() > MAX_REASON_CHARS {
            return Err(DenyReasonError::TooLong);
        }
        display_text::check(raw).map_err(|_| DenyReasonError::Hidden)?;
        let trimmed = raw.trim();
        Ok((!trimmed.is_empty()).then(|| Self(trimmed.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a challenge answer asks for recovery rather than giving a code.
pub fn is_request_answer(answer: &str) -> bool {
    answer == REQUEST_ANSWER
}

/// True when `answer` could be checked as a code: the request's answer never is.
pub fn could_be_a_code(answer: &str) -> bool {
    TotpCode::parse(answer).is_some() || BackupCode::parse(answer).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
    }

    fn filed() -> RecoveryRequest {
        let user = UserId::parse("ana").unwrap();
        RecoveryRequest::file(&user, vec![], &Source::default(), at(0))
    }

    #[test]
    fn a_request_waits_then_may_be_approved_until_it_expires() {
        let request = filed();
        let day = DEFAULT_WAIT;
        assert_eq!(
            request.may_approve(at(60), day),
            Err(Undecidable::Waiting { until: at(86_400) })
        );
        assert_eq!(request.may_close(at(60)), Ok(()), "a denial needs no wait");
        assert_eq!(request.may_approve(at(86_400), day), Ok(()));
        assert_eq!(
            request.may_approve(at(0), Duration::ZERO),
            Ok(()),
            "no wait"
        );
        let week = REQUEST_LIFETIME.whole_seconds();
        assert_eq!(request.may_approve(at(week - 1), day), Ok(()));
        assert_eq!(request.may_approve(at(week), day), Err(Undecidable::Closed));
        assert_eq!(request.may_close(at(week)), Err(Undecidable::Closed));
    }

    #[test]
    fn a_closed_request_is_decided_no_more() {
        let admin = UserId::parse("ada").unwrap();
        for state in [
            RequestState::Cancelled { at: at(5) },
            RequestState::Approved {
                by: admin.clone(),
                at: at(5),
            },
            RequestState::Denied {
                by: admin.clone(),
                at: at(5),
                reason: None,
            },
        ] {
            let request = RecoveryRequest {
                state: state.clone(),
                ..filed()
            };
            assert_eq!(
                request.may_approve(at(90_000), Duration::ZERO),
                Err(Undecidable::Closed),
                "{state:?}"
            );
            assert_eq!(request.may_close(at(10)), Err(Undecidable::Closed));
        }
    }

    #[test]
    fn the_request_answer_is_never_a_code_and_no_code_is_the_request() {
        assert!(is_request_answer(REQUEST_ANSWER));
        assert!(!could_be_a_code(REQUEST_ANSWER));
        for code in ["123456", "123 456", "k3m9q-2x7tv", "K3M9Q2X7TV"] {
            assert!(could_be_a_code(code), "{code}");
            assert!(!is_request_answer(code), "{code}");
        }
        assert!(!is_request_answer("recovery_request_lost_phone_and_codes"));
    }

    #[test]
    fn a_reason_is_short_plain_text_or_none() {
        assert_eq!(DenyReason::parse("  "), Ok(None));
        assert_eq!(
            DenyReason::parse(" Call us first ")
                .unwrap()
                .unwrap()
                .as_str(),
            "Call us first"
        );
        assert_eq!(
            DenyReason::parse(&"x".repeat(MAX_REASON_CHARS + 1)),
            Err(DenyReasonError::TooLong)
        );
        for hidden in ["a\u{202e}b", "a\u{200b}b", "a\nb"] {
            assert_eq!(
                DenyReason::parse(hidden),
                Err(DenyReasonError::Hidden),
                "{hidden:?}"
            );
        }
    }

    #[test]
    fn each_request_has_its_own_id() {
        assert_ne!(filed().id, filed().id);
        assert_eq!(filed().id.len(), 32);
    }
}
