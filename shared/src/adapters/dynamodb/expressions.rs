//! The pieces the store's update expressions are built from: the values a set is written
//! with, the reservation an accepting write holds, a step-up proof spent, a sign-in pass left.

use aws_sdk_dynamodb::{
    operation::update_item::builders::UpdateItemFluentBuilder, types::AttributeValue,
};
use time::OffsetDateTime;

use super::{b, n, s, SIGN_IN_PASS, SIGN_IN_PASS_CLIENT, SIGN_IN_PASS_CODES, SIGN_IN_PASS_METHOD};
use crate::domain::{
    attempts::ReservedAttempt, codes::BackupCodeSet, proof::Proof, record::PendingSet,
    sign_in::SignInPass,
};

/// Adds the values that store a whole set; `SET_CLAUSE` names them.
pub(super) fn with_set(
    request: UpdateItemFluentBuilder,
    set: &BackupCodeSet,
) -> UpdateItemFluentBuilder {
    // Sets are only ever written when generated, and a generated set knows its cost.
    let cost = set.cost.map_or_else(String::new, |c| c.encode());
    request
        .expression_attribute_values(":set_id", s(&set.id))
        .expression_attribute_values(":set_salt", b(&set.salt))
        .expression_attribute_values(":set_cost", s(cost))
        .expression_attribute_values(":set_at", n(set.generated_at.unix_timestamp()))
        .expression_attribute_values(":codes", codes_map(set))
        .expression_attribute_values(":code_lines", code_lines(set))
}

pub(super) const SET_CLAUSE: &str =
    "set_id = :set_id, set_salt = :set_salt, set_cost = :set_cost, \
     set_generated_at = :set_at, codes = :codes, code_lines = :code_lines";

/// Adds the values that store a pending set; `PENDING_SET_CLAUSE` names them.
pub(super) fn with_pending_set(
    request: UpdateItemFluentBuilder,
    pending: &PendingSet,
) -> UpdateItemFluentBuilder {
    let set = &pending.set;
    let cost = set.cost.map_or_else(String::new, |c| c.encode());
    request
        .expression_attribute_values(":pending_id", s(&set.id))
        .expression_attribute_values(":pending_salt", b(&set.salt))
        .expression_attribute_values(":pending_cost", s(cost))
        .expression_attribute_values(":pending_at", n(set.generated_at.unix_timestamp()))
        .expression_attribute_values(":pending_codes", codes_map(set))
        .expression_attribute_values(":pending_lines", code_lines(set))
        .expression_attribute_values(":pending_expires", n(pending.expires_at.unix_timestamp()))
}

pub(super) const PENDING_SET_CLAUSE: &str =
    "pending_set_id = :pending_id, pending_set_salt = :pending_salt, \
     pending_set_cost = :pending_cost, pending_set_generated_at = :pending_at, \
     pending_codes = :pending_codes, pending_code_lines = :pending_lines, \
     pending_set_expires_at = :pending_expires";

/// Adds the values of `HOLDS_RESERVATION`.
pub(super) fn holding(
    request: UpdateItemFluentBuilder,
    attempt: &ReservedAttempt,
) -> UpdateItemFluentBuilder {
    request
        .expression_attribute_values(":ledger_one", n(1))
        .expression_attribute_values(":ledger_max", n(attempt.threshold()))
}

/// What spending a step-up proof adds to a write: the SET clause (empty, or starting with a
/// comma) and the condition that it is unspent. `kept`: the write keeps the active set, so a
/// backup code is marked used at that time; otherwise it leaves with its set.
pub(super) fn spending(
    request: UpdateItemFluentBuilder,
    proof: &Proof,
    kept: Option<OffsetDateTime>,
) -> (UpdateItemFluentBuilder, &'static str, &'static str) {
    match proof {
        Proof::Totp { step } => (
            request.expression_attribute_values(":step", n(step)),
            ", totp_last_step = :step",
            "totp_last_step < :step",
        ),
        Proof::BackupCode { set_id, hash } => {
            let request = request
                .expression_attribute_names("#proof", hash.to_hex())
                .expression_attribute_values(":proof_set", s(set_id))
                .expression_attribute_values(":unused", n(0));
            let condition = "set_id = :proof_set AND codes.#proof = :unused";
            match kept {
                Some(at) => (
                    request
                        .expression_attribute_values(":proof_used", n(at.unix_timestamp().max(1))),
                    ", codes.#proof = :proof_used",
                    condition,
                ),
                None => (request, "", condition),
            }
        }
    }
}

/// The SET clause that leaves a sign-in pass, with its value; empty without one.
pub(super) fn leaving(
    request: UpdateItemFluentBuilder,
    pass: Option<&SignInPass>,
) -> (UpdateItemFluentBuilder, String) {
    match pass {
        Some(pass) => (
            request
                .expression_attribute_values(":pass", n(pass.until.unix_timestamp()))
                .expression_attribute_values(":pass_client", s(pass.client.as_str()))
                .expression_attribute_values(":pass_method", s(pass.method.name()))
                .expression_attribute_values(":pass_codes", n(pass.remaining_codes)),
            format!(
                ", {SIGN_IN_PASS} = :pass, {SIGN_IN_PASS_CLIENT} = :pass_client, \
                 {SIGN_IN_PASS_METHOD} = :pass_method, {SIGN_IN_PASS_CODES} = :pass_codes"
            ),
        ),
        None => (request, String::new()),
    }
}

/// Each code's line on the user's sheet, in the order of its hash's hex form: a map has no
/// order, and ten small numbers cost less than a second copy of the hashes. Only generated
/// sets are written, and they are always numbered (0 would read back as corrupt).
pub(super) fn code_lines(set: &BackupCodeSet) -> AttributeValue {
    let mut codes: Vec<_> = set.codes.iter().collect();
    codes.sort_by_key(|c| c.hash.to_hex());
    AttributeValue::L(
        codes
            .into_iter()
            .map(|c| n(c.number.unwrap_or_default()))
            .collect(),
    )
}

pub(super) fn codes_map(set: &BackupCodeSet) -> AttributeValue {
    AttributeValue::M(
        set.codes
            .iter()
            .map(|c| {
                let used = c.used_at.map_or(0, |t| t.unix_timestamp());
                (c.hash.to_hex(), n(used))
            })
            .collect(),
    )
}
