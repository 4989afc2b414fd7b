//! Reading stored items back into the domain's records: every attribute parsed strictly, and a
//! malformed one a `StoreError::Corrupt` naming it.
//!
//! By hand rather than through `serde_dynamo` (which turns the stream's images into items): a user
//! item is never written whole, only by conditional update expressions on named attributes
//! (`expressions.rs`), so a serde struct would be a second description of it for reading alone.
//! Its two sets share field names under a prefix, its code map is keyed by hash, and each number
//! is a timestamp or a count with its own rule (a pass with no client admits no one): a derive
//! would still need every one of these conversions after it.

use std::collections::HashMap;

use aws_sdk_dynamodb::{primitives::Blob, types::AttributeValue};
use time::OffsetDateTime;

use super::{
    ACTIVE, PENDING, SIGN_IN_PASS, SIGN_IN_PASS_CLIENT, SIGN_IN_PASS_CODES, SIGN_IN_PASS_METHOD,
};
use crate::{
    domain::{
        attempts::AttemptLedger,
        codes::{BackupCodeSet, CodeHash, HashCost, StoredCode, SALT_LEN},
        events::{Source, UserAgent},
        link_token::{DownloadGrant, GrantClaim},
        record::{EnrollmentState, PendingSet, Replacement, TotpEnrollment, UserRecord},
        sealing::SealedSecret,
        sign_in::{AppClient, SignInMethod, SignInPass},
        user::{Email, UserId},
    },
    ports::StoreError,
};

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

pub(super) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

pub(super) fn get_b<'a>(item: &'a Item, name: &str) -> Option<&'a [u8]> {
    item.get(name)?.as_b().ok().map(Blob::as_ref)
}

pub(super) fn timestamp(seconds: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| corrupt("timestamp out of range"))
}

pub(super) fn parse_record(user: &UserId, item: &Item) -> Result<UserRecord, StoreError> {
    let state = match get_s(item, "totp_state") {
        Some(PENDING) => EnrollmentState::Pending,
        Some(ACTIVE) => EnrollmentState::Active,
        _ => return Err(corrupt("totp_state")),
    };
    let secret = get_b(item, "totp_secret").ok_or_else(|| corrupt("totp_secret"))?;
    let last_step = get_n(item, "totp_last_step").ok_or_else(|| corrupt("totp_last_step"))?;
    let codes = parse_set(item, "")?;
    let pending_codes = match (
        parse_set(item, "pending_")?,
        get_n(item, "pending_set_expires_at"),
    ) {
        (Some(set), Some(expires)) => Some(PendingSet {
            set,
            expires_at: timestamp(expires)?,
        }),
        _ => None,
    };
    let grant = match (get_s(item, "grant_id"), get_n(item, "grant_expires_at")) {
        (Some(id), Some(expires)) => Some(DownloadGrant {
            id: id.to_owned(),
            expires_at: timestamp(expires)?,
        }),
        _ => None,
    };
    let grant_claim = match (
        &grant,
        get_s(item, "grant_claim"),
        get_n(item, "grant_claim_until"),
    ) {
        (Some(grant), Some(id), Some(until)) => Some(GrantClaim {
            grant_id: grant.id.clone(),
            id: id.to_owned(),
            until: timestamp(until)?,
        }),
        _ => None,
    };
    let ledger = parse_ledger(item)?;
    Ok(UserRecord {
        ledger,
        user_id: user.clone(),
        totp: TotpEnrollment {
            state,
            secret: SealedSecret(secret.to_vec()),
            last_step: u64::try_from(last_step).map_err(|_| corrupt("totp_last_step"))?,
            since: get_n(item, "totp_since").map(timestamp).transpose()?,
            replacement: match (
                get_b(item, "replacement_secret"),
                get_n(item, "replacement_expires_at"),
            ) {
                (Some(secret), Some(expires)) => Some(Replacement {
                    secret: SealedSecret(secret.to_vec()),
                    started_at: get_n(item, "replacement_started_at")
                        .map(timestamp)
                        .transpose()?,
                    started_from: Source::seen(
                        get_s(item, "replacement_ip").and_then(|ip| ip.parse().ok()),
                        get_s(item, "replacement_agent").and_then(UserAgent::from_header),
                    ),
                    expires_at: timestamp(expires)?,
                }),
                _ => None,
            },
        },
        email: get_s(item, "email").and_then(Email::parse),
        codes,
        pending_codes,
        grant,
        grant_claim,
        grant_redemptions: get_n(item, "grant_redemptions")
            .map(|count| u32::try_from(count).map_err(|_| corrupt("grant_redemptions")))
            .transpose()?
            .unwrap_or(0),
        sign_in_pass: parse_pass(item)?,
    })
}

/// A sign-in pass, on a record or as its consuming write removed it. One without its client or
/// its method (left before passes named them) admits no one.
pub(super) fn parse_pass(item: &Item) -> Result<Option<SignInPass>, StoreError> {
    let Some(until) = get_n(item, SIGN_IN_PASS).map(timestamp).transpose()? else {
        return Ok(None);
    };
    let client = get_s(item, SIGN_IN_PASS_CLIENT).and_then(AppClient::parse);
    let method = get_s(item, SIGN_IN_PASS_METHOD).and_then(SignInMethod::parse);
    let remaining_codes = get_n(item, SIGN_IN_PASS_CODES)
        .map(|count| usize::try_from(count).map_err(|_| corrupt(SIGN_IN_PASS_CODES)))
        .transpose()?;
    Ok(client
        .zip(method)
        .zip(remaining_codes)
        .map(|((client, method), remaining_codes)| SignInPass {
            until,
            client,
            method,
            remaining_codes,
        }))
}

/// The attempt ledger, on a record or on an unknown user's item.
pub(super) fn parse_ledger(item: &Item) -> Result<AttemptLedger, StoreError> {
    Ok(AttemptLedger {
        attempts: get_n(item, "attempts").map_or(0, |c| u32::try_from(c).unwrap_or(u32::MAX)),
        window_ends: get_n(item, "attempts_until").map(timestamp).transpose()?,
    })
}

/// The set stored under attributes named with `prefix` (`""` the active set, `"pending_"` the
/// pending one); its code map is `codes` or `pending_codes`.
pub(super) fn parse_set(item: &Item, prefix: &str) -> Result<Option<BackupCodeSet>, StoreError> {
    let name = |field: &str| format!("{prefix}{field}");
    let Some(id) = get_s(item, &name("set_id")) else {
        return Ok(None);
    };
    let salt: [u8; SALT_LEN] = get_b(item, &name("set_salt"))
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| corrupt("set_salt"))?;
    let generated_at = timestamp(
        get_n(item, &name("set_generated_at")).ok_or_else(|| corrupt("set_generated_at"))?,
    )?;
    let codes = parse_codes(
        item.get(&name("codes")).ok_or_else(|| corrupt("codes"))?,
        item.get(&name("code_lines")),
    )?;
    let cost = match get_s(item, &name("set_cost")) {
        None => None,
        Some(text) => Some(HashCost::decode(text).ok_or_else(|| corrupt("set_cost"))?),
    };
    Ok(Some(BackupCodeSet {
        id: id.to_owned(),
        salt,
        cost,
        generated_at,
        codes,
    }))
}

/// The code map and, in its hashes' hex order, each code's line (see `code_lines`): a set's
/// lines are exactly 1 to its size, each once, or the item is corrupt. A set stored before
/// sets kept their lines has none, and its codes no number.
fn parse_codes(
    value: &AttributeValue,
    lines: Option<&AttributeValue>,
) -> Result<Vec<StoredCode>, StoreError> {
    let map = value.as_m().map_err(|_| corrupt("codes"))?;
    let mut by_hex: Vec<_> = map.iter().collect();
    by_hex.sort_by_key(|(hex, _)| *hex);
    let lines: Vec<Option<usize>> = match lines {
        None => vec![None; by_hex.len()],
        Some(lines) => {
            let lines = lines
                .as_l()
                .map_err(|_| corrupt("code_lines"))?
                .iter()
                .map(|line| line.as_n().ok().and_then(|v| v.parse::<usize>().ok()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| corrupt("code_lines"))?;
            let mut sorted = lines.clone();
            sorted.sort_unstable();
            if sorted != (1..=by_hex.len()).collect::<Vec<_>>() {
                return Err(corrupt("code_lines"));
            }
            lines.into_iter().map(Some).collect()
        }
    };
    by_hex
        .into_iter()
        .zip(lines)
        .map(|((hex, used), number)| {
            let hash = CodeHash::from_hex(hex).ok_or_else(|| corrupt("code hash"))?;
            let used: i64 = used
                .as_n()
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| corrupt("code used_at"))?;
            let used_at = if used == 0 {
                None
            } else {
                Some(timestamp(used)?)
            };
            Ok(StoredCode {
                hash,
                number,
                used_at,
            })
        })
        .collect()
}
