//! The accounts a team's customers are, and who belongs to them: written only by the team's
//! backend, never from a caller's word.

use super::{StoreError, Written};
use crate::domain::{
    account::{AccountId, AccountSettings, Role, TwoFactorRule},
    events::Recorded,
    record::UserRecord,
    user::UserId,
};
use async_trait::async_trait;

capability! {
    /// Who belongs to which account, as the team's backend wrote it: read consistently, so a
    /// removed member or a demoted admin has lost their rights by their next request.
    pub trait Memberships {
        /// `user`'s role in `account`; `None` when they do not belong to it.
        async fn role_in(
            &self,
            account: &AccountId,
            user: &UserId,
        ) -> Result<Option<Role>, StoreError>;

        /// Every account `user` belongs to, with their role in it (at most
        /// `MAX_ACCOUNTS_PER_USER`), sorted by account.
        async fn accounts_of(&self, user: &UserId) -> Result<Vec<(AccountId, Role)>, StoreError>;
    }
}

capability! {
    /// The team's backend's writes of memberships. Each is one transaction over the membership,
    /// the user's list of accounts and the events it records, conditional on the role the
    /// caller read (`seen`): of two writes racing on one membership, one applies and the other
    /// reads again, so no change is lost or recorded wrongly.
    pub trait MembershipWrites {
        /// Makes `user` a member of `account` with `role`, when their role there is still
        /// `seen` (`None`: not a member) and, joining a new account, they belong to fewer than
        /// `MAX_ACCOUNTS_PER_USER`.
        async fn put_membership(
            &self,
            account: &AccountId,
            user: &UserId,
            role: Role,
            seen: Option<Role>,
            records: &[Recorded],
        ) -> Result<Written, StoreError>;

        /// Takes `user` out of `account`, when their role there is still `seen`.
        async fn remove_membership(
            &self,
            account: &AccountId,
            user: &UserId,
            seen: Role,
            records: &[Recorded],
        ) -> Result<Written, StoreError>;
    }
}

capability! {
    /// An account's member list, read page by page (a `Query` on the members index, never a
    /// `Scan`; like any index, it may lag a write by a moment).
    pub trait MemberLists {
        /// Up to `limit` members of `account` with their roles, by user id, after `after`.
        async fn members(
            &self,
            account: &AccountId,
            limit: usize,
            after: Option<&UserId>,
        ) -> Result<MemberPage, StoreError>;
    }
}

capability! {
    /// Each account's own settings: its two-factor rule, and its admins (kept by the
    /// membership writes, in their transaction). An account nobody configured is `Optional`
    /// with no admins.
    pub trait AccountRecords {
        async fn account_settings(&self, account: &AccountId)
            -> Result<AccountSettings, StoreError>;

        /// The settings of each of `accounts` (at most `MAX_ACCOUNTS_PER_USER`), read
        /// consistently in one batch, in the order given.
        async fn settings_of(
            &self,
            accounts: &[AccountId],
        ) -> Result<Vec<AccountSettings>, StoreError>;
    }
}

capability! {
    /// An account admin's change of the account's two-factor rule.
    pub trait RuleWrites {
        /// Sets `account`'s rule to `rule` when it is still `seen`, with `records`.
        async fn set_rule(
            &self,
            account: &AccountId,
            rule: TwoFactorRule,
            seen: TwoFactorRule,
            records: &[Recorded],
        ) -> Result<Written, StoreError>;
    }
}

capability! {
    /// Many users' records at once: what a page of an account's members shows of each.
    pub trait MemberRecords {
        /// The records of `users` (at most `MAX_RECORDS_AT_ONCE`), read consistently, each as
        /// `UserRecords::get_user` reads it; users without a factor are left out. In no order.
        async fn get_users(&self, users: &[UserId]) -> Result<Vec<UserRecord>, StoreError>;
    }
}

/// The most records one `get_users` reads: one DynamoDB `BatchGetItem`.
pub const MAX_RECORDS_AT_ONCE: usize = 100;

/// A page of an account's members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberPage {
    pub members: Vec<(UserId, Role)>,
    /// The last member of this page, when another page may follow.
    pub next: Option<UserId>,
}
