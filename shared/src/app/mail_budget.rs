//! Mail within a budget. One user cannot make the service mail without bound (their own
//! address, but the team's SES quota and sender reputation): per user and hour, one mail per
//! kind and at most `MAILS_PER_USER_HOUR`; the rest of the hour waits for one digest after
//! it. The members of one customer account together stop getting ordinary mail at the
//! account's share of the day's SES quota, so one account's flood never holds another's. The
//! whole stack stops ordinary mail at 80% of the quota and everything the notifier sends at
//! 95%, so the administrators' reset links (counted, never refused) always find room. Urgent
//! kinds (`is_urgent`) are never held.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::{info, warn};

use crate::{
    domain::{
        account::AccountId,
        events::SecurityEvent,
        mail_budget::{
            day_of, hour_of, hour_start, is_urgent, DayCount, HeldMail, MailCeilings,
            DIGEST_LOOKBACK_HOURS, MAILS_PER_USER_HOUR,
        },
        user::{Email, UserId},
    },
    ports::{Clock, EventSink, MailBudget, Mailer, Memberships, SinkError, StoreError},
    presentation::{digest_mail::digest_mail, event_mail::MailSink},
};

/// The stack's ceiling is reached: an urgent mail waits for the notifier's retry.
#[derive(Debug, thiserror::Error)]
#[error("the stack's mail ceiling for today is reached")]
struct CeilingReached;

crate::ports::view! {
    /// What mail is counted in: the budget's items, and the user's accounts, whose days each
    /// of their mails counts against.
    pub trait MailCounts: MailBudget, Memberships
}

/// The user's mail, counted against their hour, their accounts' days and the stack's day.
pub struct BudgetedMail {
    pub mail: MailSink,
    pub budget: Arc<dyn MailCounts>,
    pub ceilings: MailCeilings,
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
                .take_day(&DayCount::Stack, day, Some(self.ceilings.urgent()))
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
            let accounts = self.accounts_of(user).await.map_err(store_failed)?;
            for account in &accounts {
                self.budget
                    .take_day(account, day, None)
                    .await
                    .map_err(store_failed)?;
            }
            return self.sent_or_given_back(event, to, &accounts, day).await;
        }
        // The user's accounts are read only for a mail the user's own hour has room for: a
        // flood's held mails cost no read.
        if self
            .budget
            .take_user(user, hour, kind, Some(MAILS_PER_USER_HOUR))
            .await
            .map_err(store_failed)?
        {
            let accounts = self.accounts_of(user).await.map_err(store_failed)?;
            if self
                .take_ordinary(&accounts, day)
                .await
                .map_err(store_failed)?
            {
                return self.sent_or_given_back(event, to, &accounts, day).await;
            }
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

    /// The day counts a mail to `user` goes into besides the stack's: one per account.
    async fn accounts_of(&self, user: &UserId) -> Result<Vec<DayCount>, StoreError> {
        Ok(self
            .budget
            .accounts_of(user)
            .await?
            .into_iter()
            .map(|(account, _): (AccountId, _)| DayCount::Account(account))
            .collect())
    }

    /// Counts an ordinary mail in each account's day and the stack's, each below its ceiling;
    /// if one has no room, what was counted for this mail is given back and it waits.
    async fn take_ordinary(&self, accounts: &[DayCount], day: i64) -> Result<bool, StoreError> {
        let mut taken = vec![];
        for account in accounts {
            if !self
                .budget
                .take_day(account, day, Some(self.ceilings.account()))
                .await?
            {
                info!("an account's ordinary mail for today is used up");
                return self.given_back(&taken, day).await.map(|()| false);
            }
            taken.push(account.clone());
        }
        if self
            .budget
            .take_day(&DayCount::Stack, day, Some(self.ceilings.ordinary()))
            .await?
        {
            return Ok(true);
        }
        self.given_back(&taken, day).await.map(|()| false)
    }

    async fn given_back(&self, counts: &[DayCount], day: i64) -> Result<(), StoreError> {
        for count in counts {
            self.budget.give_back_day(count, day).await?;
        }
        Ok(())
    }

    /// Sends the counted mail; if it fails, the counts go back for the notifier's retry.
    async fn sent_or_given_back(
        &self,
        event: &SecurityEvent,
        to: &Email,
        accounts: &[DayCount],
        day: i64,
    ) -> Result<(), SinkError> {
        let sent = self.mail.publish(event, Some(to)).await;
        if sent.is_err() {
            let counted = std::iter::once(DayCount::Stack)
                .chain(accounts.iter().cloned())
                .collect::<Vec<_>>();
            let given_back = match self
                .budget
                .give_back_user(&event.user, hour_of(event.at), event.kind)
                .await
            {
                Ok(()) => self.given_back(&counted, day).await,
                Err(err) => Err(err),
            };
            if let Err(err) = given_back {
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
                .take_day(&DayCount::Stack, day_of(now), Some(self.ceilings.urgent()))
                .await?
            {
                self.budget.claim_digest(&user, hour, false).await?;
                warn!("digests wait: the stack's ceiling for today is reached");
                return Ok(sent);
            }
            let mail = digest_mail(&self.mail.product, hour_start(hour), &digest);
            match self.mailer().send(&mail).await {
                Ok(()) => {
                    sent += 1;
                    // Counted, never refused: the digest is what the account's ceiling held.
                    for account in self.accounts_of(&user).await? {
                        self.budget.take_day(&account, day_of(now), None).await?;
                    }
                }
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
