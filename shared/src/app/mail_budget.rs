//! Mail within a budget. One user cannot make the service mail without bound (their own
//! address, but the team's SES quota and sender reputation): per user and hour, one mail per
//! kind and at most `MAILS_PER_USER_HOUR`; the rest of the hour waits for one digest after
//! it. The whole stack stops ordinary mail at 80% of the SES quota for the day and everything
//! the notifier sends at 95%, so the administrators' reset links (counted, never refused)
//! always find room. Urgent kinds (`is_urgent`) are never held.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::{info, warn};

use crate::{
    domain::{
        events::SecurityEvent,
        mail_budget::{
            day_of, hour_of, hour_start, is_urgent, HeldMail, StackCeiling, DIGEST_LOOKBACK_HOURS,
            MAILS_PER_USER_HOUR,
        },
        user::Email,
    },
    ports::{Clock, EventSink, MailBudget, Mailer, SinkError, StoreError},
    presentation::{digest_mail::digest_mail, event_mail::MailSink},
};

/// The stack's ceiling is reached: an urgent mail waits for the notifier's retry.
#[derive(Debug, thiserror::Error)]
#[error("the stack's mail ceiling for today is reached")]
struct CeilingReached;

/// The user's mail, counted against their hour and the stack's day.
pub struct BudgetedMail {
    pub mail: MailSink,
    pub budget: Arc<dyn MailBudget>,
    pub ceiling: StackCeiling,
    pub clock: Arc<dyn Clock>,
}

fn store_failed(err: StoreError) -> SinkError {
    SinkError(Box::new(err))
}

#[async_trait]
impl EventSink for BudgetedMail {
    fn name(&self) -> &'static str {
        self.mail.name()
    }

    fn takes(&self, event: &SecurityEvent, to: Option<&Email>) -> bool {
        self.mail.takes(event, to)
    }

    async fn publish(&self, event: &SecurityEvent, to: Option<&Email>) -> Result<(), SinkError> {
        let Some(to) = to.filter(|to| self.mail.takes(event, Some(to))) else {
            return Ok(());
        };
        let (user, kind) = (&event.user, event.kind);
        let hour = hour_of(event.at);
        let day = day_of(self.clock.now());
        if is_urgent(kind) {
            let room = self
                .budget
                .take_stack(day, Some(self.ceiling.urgent()))
                .await
                .map_err(store_failed)?;
            if !room {
                warn!(event = %kind, "urgent mail waits: the stack's ceiling for today is reached");
                return Err(SinkError(Box::new(CeilingReached)));
            }
            self.budget
                .take_user(user, hour, kind, None)
                .await
                .map_err(store_failed)?;
            return self.sent_or_given_back(event, to, hour, day).await;
        }
        let within = self
            .budget
            .take_user(user, hour, kind, Some(MAILS_PER_USER_HOUR))
            .await
            .map_err(store_failed)?
            && self
                .budget
                .take_stack(day, Some(self.ceiling.ordinary()))
                .await
                .map_err(store_failed)?;
        if within {
            return self.sent_or_given_back(event, to, hour, day).await;
        }
        info!(event = %kind, "mail held for the user's hourly digest");
        self.budget
            .hold(user, hour, &HeldMail { kind, at: event.at }, to)
            .await
            .map_err(store_failed)
    }
}

impl BudgetedMail {
    fn mailer(&self) -> &dyn Mailer {
        self.mail.mailer.as_ref()
    }

    /// Sends the counted mail; if it fails, the counts go back for the notifier's retry.
    async fn sent_or_given_back(
        &self,
        event: &SecurityEvent,
        to: &Email,
        hour: i64,
        day: i64,
    ) -> Result<(), SinkError> {
        let sent = self.mail.publish(event, Some(to)).await;
        if sent.is_err() {
            if let Err(err) = self
                .budget
                .give_back(&event.user, hour, event.kind, day)
                .await
            {
                warn!(error = %err, "a mail that failed stays counted; its retry may be digested");
            }
        }
        sent
    }

    /// Sends every digest of an hour that has ended (within `DIGEST_LOOKBACK_HOURS`) and is
    /// not sent yet, each once: a claim on it is written before the mail goes, and let go if
    /// the mail fails, for the next sweep. Answers how many went.
    pub async fn send_due_digests(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let current = hour_of(now);
        let mut sent = 0;
        for (hour, user) in self
            .budget
            .digests_of((current - DIGEST_LOOKBACK_HOURS)..current)
            .await?
        {
            let Some(digest) = self.budget.digest(&user, hour).await? else {
                continue;
            };
            if digest.claimed {
                continue;
            }
            if !self.budget.claim_digest(&user, hour, true).await? {
                continue;
            }
            if !self
                .budget
                .take_stack(day_of(now), Some(self.ceiling.urgent()))
                .await?
            {
                self.budget.claim_digest(&user, hour, false).await?;
                warn!("digests wait: the stack's ceiling for today is reached");
                return Ok(sent);
            }
            let mail = digest_mail(&self.mail.product, hour_start(hour), &digest);
            match self.mailer().send(&mail).await {
                Ok(()) => sent += 1,
                Err(err) => {
                    warn!(error = %err, "digest not sent; the next sweep tries again");
                    self.budget.claim_digest(&user, hour, false).await?;
                }
            }
        }
        if sent > 0 {
            info!(sent, "hourly digests sent");
        }
        Ok(sent)
    }
}
