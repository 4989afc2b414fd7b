//! Memberships: both directions under one lock, as DynamoDB writes the membership and the
//! user's list of accounts in one transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::MemoryStore;
use crate::{
    domain::{
        account::{
            AccountId, AccountSettings, Role, TwoFactorRule, MAX_ACCOUNTS_PER_USER,
            MAX_ADMINS_PER_ACCOUNT,
        },
        events::Recorded,
        user::UserId,
    },
    ports::{
        AccountRecords, MemberLists, MemberPage, MembershipWrites, Memberships, RuleWrites,
        StoreError, Written,
    },
};

/// Who belongs to which account, kept both ways.
#[derive(Default)]
pub(super) struct Members {
    by_account: BTreeMap<AccountId, BTreeMap<UserId, Role>>,
    by_user: BTreeMap<UserId, BTreeMap<AccountId, Role>>,
    /// Each account's rule and admins, under the same lock, as DynamoDB changes the account
    /// item in the membership's transaction.
    settings: BTreeMap<AccountId, AccountSettings>,
}

impl Members {
    fn role(&self, account: &AccountId, user: &UserId) -> Option<Role> {
        self.by_user.get(user)?.get(account).copied()
    }

    fn set_admin(&mut self, account: &AccountId, user: &UserId, admin: bool) {
        let admins = &mut self.settings.entry(account.clone()).or_default().admins;
        admins.retain(|a| a != user);
        if admin {
            admins.push(user.clone());
            admins.sort();
        }
    }
}

impl MemoryStore {
    fn with_members<T>(&self, f: impl FnOnce(&mut Members) -> T) -> T {
        // Each closure decides first and mutates last, so a poisoned lock still holds
        // consistent data.
        let mut guard = self.members.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

#[async_trait]
impl Memberships for MemoryStore {
    async fn role_in(
        &self,
        account: &AccountId,
        user: &UserId,
    ) -> Result<Option<Role>, StoreError> {
        Ok(self.with_members(|members| members.role(account, user)))
    }

    async fn accounts_of(&self, user: &UserId) -> Result<Vec<(AccountId, Role)>, StoreError> {
        Ok(self.with_members(|members| {
            members
                .by_user
                .get(user)
                .map(|accounts| accounts.iter().map(|(a, r)| (a.clone(), *r)).collect())
                .unwrap_or_default()
        }))
    }
}

#[async_trait]
impl MembershipWrites for MemoryStore {
    async fn put_membership(
        &self,
        account: &AccountId,
        user: &UserId,
        role: Role,
        seen: Option<Role>,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_members(|members| {
                let joins = seen.is_none();
                let full = members
                    .by_user
                    .get(user)
                    .is_some_and(|accounts| accounts.len() >= MAX_ACCOUNTS_PER_USER);
                let becomes_admin = role == Role::Admin && seen != Some(Role::Admin);
                let admins_full = members
                    .settings
                    .get(account)
                    .is_some_and(|s| s.admins.len() >= MAX_ADMINS_PER_ACCOUNT);
                if members.role(account, user) != seen
                    || (joins && full)
                    || (becomes_admin && admins_full)
                {
                    return Written::ConditionFailed;
                }
                members.set_admin(account, user, role == Role::Admin);
                members
                    .by_account
                    .entry(account.clone())
                    .or_default()
                    .insert(user.clone(), role);
                members
                    .by_user
                    .entry(user.clone())
                    .or_default()
                    .insert(account.clone(), role);
                Written::Applied
            }),
        ))
    }

    async fn remove_membership(
        &self,
        account: &AccountId,
        user: &UserId,
        seen: Role,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_members(|members| {
                if members.role(account, user) != Some(seen) {
                    return Written::ConditionFailed;
                }
                members.set_admin(account, user, false);
                if let Some(users) = members.by_account.get_mut(account) {
                    users.remove(user);
                    if users.is_empty() {
                        members.by_account.remove(account);
                    }
                }
                if let Some(accounts) = members.by_user.get_mut(user) {
                    accounts.remove(account);
                    if accounts.is_empty() {
                        members.by_user.remove(user);
                    }
                }
                Written::Applied
            }),
        ))
    }
}

#[async_trait]
impl MemberLists for MemoryStore {
    async fn members(
        &self,
        account: &AccountId,
        limit: usize,
        after: Option<&UserId>,
    ) -> Result<MemberPage, StoreError> {
        Ok(self.with_members(|members| {
            let Some(users) = members.by_account.get(account) else {
                return MemberPage {
                    members: vec![],
                    next: None,
                };
            };
            let mut page: Vec<(UserId, Role)> = users
                .iter()
                .filter(|(user, _)| after.is_none_or(|after| *user > after))
                .take(limit + 1)
                .map(|(user, role)| (user.clone(), *role))
                .collect();
            let more = page.len() > limit;
            page.truncate(limit);
            let next = more
                .then(|| page.last().map(|(user, _)| user.clone()))
                .flatten();
            MemberPage {
                members: page,
                next,
            }
        }))
    }
}

#[async_trait]
impl AccountRecords for MemoryStore {
    async fn account_settings(&self, account: &AccountId) -> Result<AccountSettings, StoreError> {
        Ok(self.with_members(|members| members.settings.get(account).cloned().unwrap_or_default()))
    }

    async fn settings_of(
        &self,
        accounts: &[AccountId],
    ) -> Result<Vec<AccountSettings>, StoreError> {
        Ok(self.with_members(|members| {
            accounts
                .iter()
                .map(|account| members.settings.get(account).cloned().unwrap_or_default())
                .collect()
        }))
    }
}

#[async_trait]
impl RuleWrites for MemoryStore {
    async fn set_rule(
        &self,
        account: &AccountId,
        rule: TwoFactorRule,
        seen: TwoFactorRule,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        Ok(self.recording(
            records,
            self.with_members(|members| {
                let settings = members.settings.entry(account.clone()).or_default();
                if settings.rule != seen {
                    return Written::ConditionFailed;
                }
                settings.rule = rule;
                Written::Applied
            }),
        ))
    }
}
