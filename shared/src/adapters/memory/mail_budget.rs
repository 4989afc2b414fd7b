//! The notifier's mail budget in memory, with the same rules as the table's conditional
//! writes (`adapters::dynamodb::mail_budget`).

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;

use super::MemoryStore;
use crate::{
    domain::{
        events::EventKind,
        mail_budget::{DayCount, HeldMail, HourDigest, DIGEST_LISTS_AT_MOST},
        user::{Email, UserId},
    },
    ports::{MailBudget, StoreError},
};

#[derive(Default)]
pub(super) struct Budgets {
    users: HashMap<(UserId, i64), UserHour>,
    days: HashMap<(DayCount, i64), u32>,
    digests: HashMap<i64, BTreeSet<UserId>>,
}

#[derive(Default)]
struct UserHour {
    mails: u32,
    kinds: BTreeSet<EventKind>,
    listed: Vec<HeldMail>,
    held: u64,
    send_to: Option<Email>,
    claimed: bool,
}

impl MemoryStore {
    fn budgets(&self) -> std::sync::MutexGuard<'_, Budgets> {
        self.mail_budget.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl MailBudget for MemoryStore {
    async fn take_user(
        &self,
        user: &UserId,
        hour: i64,
        kind: EventKind,
        most: Option<u32>,
    ) -> Result<bool, StoreError> {
        let mut budgets = self.budgets();
        let counted = budgets.users.entry((user.clone(), hour)).or_default();
        if most.is_some_and(|most| counted.mails >= most || counted.kinds.contains(&kind)) {
            return Ok(false);
        }
        counted.mails += 1;
        counted.kinds.insert(kind);
        Ok(true)
    }

    async fn take_day(
        &self,
        count: &DayCount,
        day: i64,
        most: Option<u32>,
    ) -> Result<bool, StoreError> {
        let mut budgets = self.budgets();
        let mails = budgets.days.entry((count.clone(), day)).or_default();
        if most.is_some_and(|most| *mails >= most) {
            return Ok(false);
        }
        *mails += 1;
        Ok(true)
    }

    async fn give_back_day(&self, count: &DayCount, day: i64) -> Result<(), StoreError> {
        if let Some(mails) = self.budgets().days.get_mut(&(count.clone(), day)) {
            *mails = mails.saturating_sub(1);
        }
        Ok(())
    }

    async fn give_back_user(
        &self,
        user: &UserId,
        hour: i64,
        kind: EventKind,
    ) -> Result<(), StoreError> {
        if let Some(counted) = self.budgets().users.get_mut(&(user.clone(), hour)) {
            counted.mails = counted.mails.saturating_sub(1);
            counted.kinds.remove(&kind);
        }
        Ok(())
    }

    async fn hold(
        &self,
        user: &UserId,
        hour: i64,
        held: &HeldMail,
        to: &Email,
    ) -> Result<(), StoreError> {
        let mut budgets = self.budgets();
        budgets
            .digests
            .entry(hour)
            .or_default()
            .insert(user.clone());
        let digest = budgets.users.entry((user.clone(), hour)).or_default();
        if digest.listed.len() < DIGEST_LISTS_AT_MOST {
            digest.listed.push(held.clone());
        }
        digest.held += 1;
        digest.send_to = Some(to.clone());
        Ok(())
    }

    async fn digests_of(
        &self,
        hours: std::ops::Range<i64>,
    ) -> Result<Vec<(i64, UserId)>, StoreError> {
        let budgets = self.budgets();
        Ok(hours
            .flat_map(|hour| {
                budgets
                    .digests
                    .get(&hour)
                    .into_iter()
                    .flatten()
                    .map(move |user| (hour, user.clone()))
            })
            .collect())
    }

    async fn digest(&self, user: &UserId, hour: i64) -> Result<Option<HourDigest>, StoreError> {
        Ok(self
            .budgets()
            .users
            .get(&(user.clone(), hour))
            .filter(|digest| digest.held > 0)
            .and_then(|digest| {
                Some(HourDigest {
                    to: digest.send_to.clone()?,
                    listed: digest.listed.clone(),
                    held: digest.held,
                    claimed: digest.claimed,
                })
            }))
    }

    async fn claim_digest(
        &self,
        user: &UserId,
        hour: i64,
        claim: bool,
    ) -> Result<bool, StoreError> {
        let mut budgets = self.budgets();
        let Some(digest) = budgets
            .users
            .get_mut(&(user.clone(), hour))
            .filter(|digest| digest.held > 0)
        else {
            return Ok(false);
        };
        if claim && digest.claimed {
            return Ok(false);
        }
        digest.claimed = claim;
        Ok(true)
    }
}
