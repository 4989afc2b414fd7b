//! The authenticator's life: enrollment, a replacement, the address, and two-factor turned off.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{
    b, conditional,
    expressions::{holding, leaving, spending, with_set, SET_CLAUSE},
    n, s, written, DynamoStore, ACTIVE, FACTOR_ATTRIBUTES, HOLDS_RESERVATION, LEDGER_ATTRIBUTES,
    NEVER_SWEPT, PENDING, REPLACEMENT_ATTRIBUTES, TTL_ATTRIBUTE,
};
use crate::{
    domain::{
        attempts::ReservedAttempt,
        events::Recorded,
        proof::Proof,
        record::Replacement,
        sealing::SealedSecret,
        user::{Email, UserId},
    },
    ports::{
        Activation, Addresses, Adopting, Enrollment, IfPending, Replacements, StoreError,
        TwoFactorOff, Written,
    },
};

#[async_trait]
impl Enrollment for DynamoStore {
    async fn put_pending_totp(
        &self,
        user: &UserId,
        secret: &SealedSecret,
        abandoned_after: OffsetDateTime,
        if_pending: IfPending,
    ) -> Result<Written, StoreError> {
        let condition = match if_pending {
            IfPending::Replace => "attribute_not_exists(totp_state) OR totp_state = :pending",
            IfPending::Keep => "attribute_not_exists(totp_state)",
        };
        let request = self
            .update(user)
            .update_expression(format!(
                "SET totp_state = :pending, totp_secret = :secret, \
                 totp_last_step = if_not_exists(totp_last_step, :zero), {TTL_ATTRIBUTE} = :expires"
            ))
            .expression_attribute_values(":expires", n(abandoned_after.unix_timestamp()))
            .condition_expression(condition)
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":secret", b(&secret.0))
            .expression_attribute_values(":zero", n(0));
        Ok(written(
            conditional(request, "start a TOTP enrollment").await?,
        ))
    }

    async fn activate_totp(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        activation: &Activation<'_>,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let Activation {
            adopting,
            step,
            email,
            first_set,
            pass,
            at,
        } = *activation;
        let (request, pass_clause) = leaving(holding(self.update(user), attempt), pass);
        let mut request = request.expression_attribute_values(":since", n(at.unix_timestamp()));
        let still_pending = match adopting {
            Adopting::Pending(_) => "totp_secret = :checked AND ",
            Adopting::SignInsOwn(_) => "",
        };
        let mut expression = format!(
            "SET totp_state = :active, totp_secret = :checked, totp_last_step = :step, \
             totp_since = :since, {TTL_ATTRIBUTE} = :never{pass_clause}"
        );
        let mut removed = vec![LEDGER_ATTRIBUTES];
        match email {
            Some(email) => {
                expression.push_str(", email = :email");
                request = request.expression_attribute_values(":email", s(email.as_str()));
            }
            None => removed.push("email"),
        }
        if let Some(set) = first_set {
            expression.push_str(&format!(", {SET_CLAUSE}"));
            request = with_set(request, set);
        }
        expression.push_str(&format!(" REMOVE {}", removed.join(", ")));
        let request = request
            .update_expression(expression)
            .condition_expression(format!(
                "totp_state = :pending AND {still_pending}totp_last_step < :step AND {HOLDS_RESERVATION}"
            ))
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":never", n(NEVER_SWEPT))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":checked", b(&adopting.secret().0))
            .expression_attribute_values(":step", n(step));
        self.change(request, records, "activate TOTP").await
    }
}

#[async_trait]
impl Replacements for DynamoStore {
    async fn start_replacement(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        replacement: &Replacement,
        at: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let (request, spend, unspent) =
            spending(holding(self.update(user), attempt), proof, Some(at));
        // Where it was started replaces what an earlier replacement said, absent parts too.
        let mut set = String::from(
            "SET replacement_secret = :replacement, replacement_expires_at = :expires, \
             replacement_started_at = :started",
        );
        let mut removed = vec![LEDGER_ATTRIBUTES];
        let mut request = request.expression_attribute_values(
            ":started",
            n(replacement.started_at.unwrap_or(at).unix_timestamp()),
        );
        let from = &replacement.started_from;
        match from.ip {
            Some(ip) => {
                set.push_str(", replacement_ip = :ip");
                request = request.expression_attribute_values(":ip", s(ip.to_string()));
            }
            None => removed.push("replacement_ip"),
        }
        match &from.user_agent {
            Some(agent) => {
                set.push_str(", replacement_agent = :agent");
                request = request.expression_attribute_values(":agent", s(agent.as_str()));
            }
            None => removed.push("replacement_agent"),
        }
        let request = request
            .update_expression(format!("{set}{spend} REMOVE {}", removed.join(", ")))
            .condition_expression(format!(
                "totp_state = :active AND {unspent} AND {HOLDS_RESERVATION}"
            ))
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":replacement", b(&replacement.secret.0))
            .expression_attribute_values(":expires", n(replacement.expires_at.unix_timestamp()));
        self.change(request, records, "start replacing an authenticator")
            .await
    }

    async fn confirm_replacement(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        checked_secret: &SealedSecret,
        step: u64,
        at: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let request = holding(self.update(user), attempt)
            .update_expression(format!(
                "SET totp_secret = :checked, totp_last_step = :step, totp_since = :at \
                 REMOVE {REPLACEMENT_ATTRIBUTES}, {LEDGER_ATTRIBUTES}"
            ))
            .condition_expression(format!(
                "totp_state = :active AND replacement_secret = :checked \
                 AND replacement_expires_at > :at AND totp_last_step < :step AND {HOLDS_RESERVATION}"
            ))
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":checked", b(&checked_secret.0))
            .expression_attribute_values(":step", n(step))
            .expression_attribute_values(":at", n(at.unix_timestamp()));
        self.change(request, records, "confirm a replacement authenticator")
            .await
    }

    async fn cancel_replacement(
        &self,
        user: &UserId,
        now: OffsetDateTime,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let request = self
            .update(user)
            .update_expression(format!("REMOVE {REPLACEMENT_ATTRIBUTES}"))
            .condition_expression("totp_state = :active AND replacement_expires_at > :now")
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":now", n(now.unix_timestamp()));
        self.change(request, records, "cancel a replacement authenticator")
            .await
    }
}

#[async_trait]
impl Addresses for DynamoStore {
    async fn change_email(
        &self,
        user: &UserId,
        from: Option<&Email>,
        to: &Email,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let request = self
            .update(user)
            .update_expression("SET email = :to")
            .expression_attribute_values(":active", s(ACTIVE))
            .expression_attribute_values(":to", s(to.as_str()));
        let request = match from {
            Some(from) => request
                .condition_expression("totp_state = :active AND email = :from")
                .expression_attribute_values(":from", s(from.as_str())),
            None => {
                request.condition_expression("totp_state = :active AND attribute_not_exists(email)")
            }
        };
        self.change(request, records, "change a user's address")
            .await
    }
}

#[async_trait]
impl TwoFactorOff for DynamoStore {
    async fn disable_two_factor(
        &self,
        user: &UserId,
        attempt: &ReservedAttempt,
        proof: &Proof,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        // Whatever the proof is, it goes with the factor it belonged to: only its condition.
        let (request, _, unspent) = spending(holding(self.update(user), attempt), proof, None);
        let request = request
            .update_expression(format!("REMOVE {FACTOR_ATTRIBUTES}"))
            .condition_expression(format!(
                "totp_state = :active AND {unspent} AND {HOLDS_RESERVATION}"
            ))
            .expression_attribute_values(":active", s(ACTIVE));
        self.change(request, records, "turn two-factor off").await
    }

    async fn disable_two_factor_for(
        &self,
        user: &UserId,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        let request = self
            .update(user)
            .update_expression(format!("REMOVE {FACTOR_ATTRIBUTES}"))
            .condition_expression("totp_state = :active")
            .expression_attribute_values(":active", s(ACTIVE));
        self.change(request, records, "turn a user's two-factor off")
            .await
    }
}
