//! Each account's own item, `account#<id>`: its two-factor rule (`two_factor`, absent until an
//! admin sets one) and its admins (`admins`, a string set the membership writes keep).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::{item::Item, request_failed_with, s, DynamoStore, PARTITION_KEY};
use crate::{
    domain::{
        account::{AccountId, AccountSettings, TwoFactorRule},
        events::Recorded,
        user::UserId,
    },
    ports::{AccountRecords, RuleWrites, StoreError, Written},
};

/// The account item's set of admins.
pub(super) const ADMINS: &str = "admins";
const TWO_FACTOR: &str = "two_factor";

/// Nothing else starts `account#`: a user's accounts item is `accounts#`, whose ninth
/// character is `s`, never `#`.
pub(super) fn account_key(account: &AccountId) -> AttributeValue {
    s(format!("account#{account}"))
}

fn parse_settings(item: Option<&Item>) -> Result<AccountSettings, StoreError> {
    let Some(item) = item else {
        return Ok(AccountSettings::default());
    };
    let rule = match item.get(TWO_FACTOR) {
        None => TwoFactorRule::Optional,
        Some(value) => value
            .as_s()
            .ok()
            .and_then(|raw| TwoFactorRule::parse(raw))
            .ok_or_else(|| StoreError::Corrupt("an account's two-factor rule".to_owned()))?,
    };
    let mut admins = match item.get(ADMINS) {
        None => vec![],
        Some(AttributeValue::Ss(ids)) => ids
            .iter()
            .map(|id| UserId::parse(id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| StoreError::Corrupt("an account's admins".to_owned()))?,
        Some(_) => return Err(StoreError::Corrupt("an account's admins".to_owned())),
    };
    admins.sort();
    Ok(AccountSettings { rule, admins })
}

#[async_trait]
impl AccountRecords for DynamoStore {
    async fn account_settings(&self, account: &AccountId) -> Result<AccountSettings, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, account_key(account))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| request_failed_with("read an account's settings", e))?;
        parse_settings(out.item.as_ref())
    }

    async fn settings_of(
        &self,
        accounts: &[AccountId],
    ) -> Result<Vec<AccountSettings>, StoreError> {
        let keys = accounts
            .iter()
            .map(|account| [(PARTITION_KEY.to_owned(), account_key(account))].into())
            .collect();
        let items = self.batch_get(keys, "read accounts' settings").await?;
        accounts
            .iter()
            .map(|account| {
                let key = account_key(account);
                parse_settings(
                    items
                        .iter()
                        .find(|item| item.get(PARTITION_KEY) == Some(&key)),
                )
            })
            .collect()
    }
}

#[async_trait]
impl RuleWrites for DynamoStore {
    async fn set_rule(
        &self,
        account: &AccountId,
        rule: TwoFactorRule,
        seen: TwoFactorRule,
        records: &[Recorded],
    ) -> Result<Written, StoreError> {
        const OPERATION: &str = "set an account's two-factor rule";
        // Never set is optional: the condition accepts an absent rule for `Optional`.
        let condition = match seen {
            TwoFactorRule::Optional => "attribute_not_exists(#rule) OR #rule = :seen",
            TwoFactorRule::Required => "#rule = :seen",
        };
        let update = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, account_key(account))
            .update_expression("SET #rule = :rule")
            .condition_expression(condition)
            .expression_attribute_names("#rule", TWO_FACTOR)
            .expression_attribute_values(":rule", s(rule.as_str()))
            .expression_attribute_values(":seen", s(seen.as_str()))
            .build()
            .map_err(|e| request_failed_with(OPERATION, e))?;
        let items = vec![TransactWriteItem::builder().update(update).build()];
        self.transact(items, records, OPERATION).await
    }
}
