//! Memberships on the table. Each is an item of its own, keyed by account and user, whose
//! `member_of` and `member_user` put it in the members index (what an account's list is read
//! from); each user's accounts are attributes of one more item, `accounts#<user>`, which a
//! request reads with one consistent `GetItem`. A write changes both (and, for an admin, the
//! account item's set of admins), and keeps its events, in one transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};

use super::{
    account_settings::{account_key, ADMINS},
    n, request_failed_with, s, DynamoStore, PARTITION_KEY,
};
use crate::{
    domain::{
        account::{AccountId, Role, MAX_ACCOUNTS_PER_USER, MAX_ADMINS_PER_ACCOUNT},
        events::Recorded,
        user::UserId,
    },
    ports::{MemberLists, MemberPage, MembershipWrites, Memberships, StoreError, Written},
};

/// The index an account's members are read from.
pub const MEMBERS_INDEX: &str = "members";
/// Its partition key: the account's id.
pub const MEMBER_OF: &str = "member_of";
/// Its sort key: the member's user id.
pub const MEMBER_USER: &str = "member_user";
const ROLE: &str = "role";
const ACCOUNT_COUNT: &str = "account_count";
/// A user's role in an account is the attribute `account:<id>` of their accounts item.
const ACCOUNT_PREFIX: &str = "account:";

/// A membership's key. The account's length comes first, so no pair of ids can make another
/// pair's key whatever `#` they hold (`a#b` + `c` and `a` + `b#c` differ).
fn membership_key(account: &AccountId, user: &UserId) -> AttributeValue {
    s(format!(
        "member#{}#{}#{}",
        account.as_str().len(),
        account,
        user
    ))
}

fn accounts_key(user: &UserId) -> AttributeValue {
    s(format!("accounts#{user}"))
}

fn parse_role(value: &AttributeValue) -> Result<Role, StoreError> {
    value
        .as_s()
        .ok()
        .and_then(|raw| Role::parse(raw))
        .ok_or_else(|| StoreError::Corrupt("membership role".to_owned()))
}

#[async_trait]
impl Memberships for DynamoStore {
    async fn role_in(
        &self,
        account: &AccountId,
        user: &UserId,
    ) -> Result<Option<Role>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, membership_key(account, user))
            .projection_expression("#role")
            .expression_attribute_names("#role", ROLE)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| request_failed_with("read a membership", e))?;
        item.item()
            .and_then(|item| item.get(ROLE))
            .map(parse_role)
            .transpose()
    }

    async fn accounts_of(&self, user: &UserId) -> Result<Vec<(AccountId, Role)>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, accounts_key(user))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| request_failed_with("read a user's accounts", e))?;
        let mut accounts = item
            .item()
            .into_iter()
            .flatten()
            .filter_map(|(name, value)| Some((name.strip_prefix(ACCOUNT_PREFIX)?, value)))
            .map(|(account, value)| {
                let account = AccountId::parse(account)
                    .map_err(|_| StoreError::Corrupt("account id".to_owned()))?;
                Ok((account, parse_role(value)?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        accounts.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(accounts)
    }
}

impl DynamoStore {
    /// The account item's set of admins, `user` added (within `MAX_ADMINS_PER_ACCOUNT`) or
    /// taken out: part of the membership write's transaction.
    fn admins_change(
        &self,
        account: &AccountId,
        user: &UserId,
        joins: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let change = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, account_key(account))
            .expression_attribute_names("#admins", ADMINS)
            .expression_attribute_values(":user", AttributeValue::Ss(vec![user.to_string()]));
        let change = match joins {
            true => change
                .update_expression("ADD #admins :user")
                .condition_expression("attribute_not_exists(#admins) OR size(#admins) < :most")
                .expression_attribute_values(":most", n(MAX_ADMINS_PER_ACCOUNT)),
            false => change.update_expression("DELETE #admins :user"),
        };
        let change = change
            .build()
            .map_err(|e| request_failed_with("change an account's admins", e))?;
        Ok(TransactWriteItem::builder().update(change).build())
    }
}

#[async_trait]
impl MembershipWrites for DynamoStore {
    async fn put_membership(
        &self,
        account: &AccountId,
        user: &UserId,
        role: Role,
        seen: Option<Role>,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        const OPERATION: &str = "write a membership";
        let fail = |e| request_failed_with(OPERATION, e);
        let mut membership = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, membership_key(account, user))
            .update_expression("SET #role = :role, #of = :account, #user = :user")
            .expression_attribute_names("#role", ROLE)
            .expression_attribute_names("#of", MEMBER_OF)
            .expression_attribute_names("#user", MEMBER_USER)
            .expression_attribute_values(":role", s(role.as_str()))
            .expression_attribute_values(":account", s(account.as_str()))
            .expression_attribute_values(":user", s(user.as_str()));
        membership = match seen {
            None => {
                membership.condition_expression(format!("attribute_not_exists({PARTITION_KEY})"))
            }
            Some(seen) => membership
                .condition_expression("#role = :seen")
                .expression_attribute_values(":seen", s(seen.as_str())),
        };
        let mut listed = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, accounts_key(user))
            .expression_attribute_names("#account", format!("{ACCOUNT_PREFIX}{account}"))
            .expression_attribute_values(":role", s(role.as_str()));
        listed = match seen {
            // Joining counts the account, within the limit.
            None => listed
                .update_expression("SET #account = :role ADD #count :one")
                .condition_expression("attribute_not_exists(#count) OR #count < :most")
                .expression_attribute_names("#count", ACCOUNT_COUNT)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":most", n(MAX_ACCOUNTS_PER_USER)),
            Some(_) => listed.update_expression("SET #account = :role"),
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .update(membership.build().map_err(fail)?)
                .build(),
            TransactWriteItem::builder()
                .update(listed.build().map_err(fail)?)
                .build(),
        ];
        let was_admin = seen == Some(Role::Admin);
        match (role, was_admin) {
            (Role::Admin, false) => items.push(self.admins_change(account, user, true)?),
            (Role::Member, true) => items.push(self.admins_change(account, user, false)?),
            _ => {}
        }
        self.transact(items, records, OPERATION).await
    }

    async fn remove_membership(
        &self,
        account: &AccountId,
        user: &UserId,
        seen: Role,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        const OPERATION: &str = "remove a membership";
        let fail = |e| request_failed_with(OPERATION, e);
        let membership = Delete::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, membership_key(account, user))
            .condition_expression("#role = :seen")
            .expression_attribute_names("#role", ROLE)
            .expression_attribute_values(":seen", s(seen.as_str()))
            .build()
            .map_err(fail)?;
        let listed = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, accounts_key(user))
            .update_expression("REMOVE #account ADD #count :minus_one")
            .expression_attribute_names("#account", format!("{ACCOUNT_PREFIX}{account}"))
            .expression_attribute_names("#count", ACCOUNT_COUNT)
            .expression_attribute_values(":minus_one", n(-1))
            .build()
            .map_err(fail)?;
        let mut items = vec![
            TransactWriteItem::builder().delete(membership).build(),
            TransactWriteItem::builder().update(listed).build(),
        ];
        if seen == Role::Admin {
            items.push(self.admins_change(account, user, false)?);
        }
        self.transact(items, records, OPERATION).await
    }
}

#[async_trait]
impl MemberLists for DynamoStore {
    async fn members(
        &self,
        account: &AccountId,
        limit: usize,
        after: Option<&UserId>,
    ) -> Result<MemberPage, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(MEMBERS_INDEX)
            .key_condition_expression("#of = :account")
            .expression_attribute_names("#of", MEMBER_OF)
            .expression_attribute_values(":account", s(account.as_str()))
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
        if let Some(after) = after {
            query = query
                .exclusive_start_key(MEMBER_OF, s(account.as_str()))
                .exclusive_start_key(MEMBER_USER, s(after.as_str()))
                .exclusive_start_key(PARTITION_KEY, membership_key(account, after));
        }
        let found = query
            .send()
            .await
            .map_err(|e| request_failed_with("list an account's members", e))?;
        let mut members = found
            .items()
            .iter()
            .map(|item| {
                let user = item
                    .get(MEMBER_USER)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|raw| UserId::parse(raw).ok())
                    .ok_or_else(|| StoreError::Corrupt("member user id".to_owned()))?;
                let role = parse_role(
                    item.get(ROLE)
                        .ok_or_else(|| StoreError::Corrupt("membership role".to_owned()))?,
                )?;
                Ok((user, role))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // One more than asked says a next page exists; so does a read DynamoDB cut short.
        let more = members.len() > limit || found.last_evaluated_key().is_some();
        members.truncate(limit);
        let next = if more {
            members.last().map(|(user, _)| user.clone())
        } else {
            None
        };
        Ok(MemberPage { members, next })
    }
}
