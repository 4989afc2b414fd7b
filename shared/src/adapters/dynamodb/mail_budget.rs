//! The notifier's mail budget on the table: one small item per user and hour
//! (`pk = mail#user#<hour>#<user>`: the count, the kinds mailed, the events held for the
//! digest), one per hour and shard naming the users with a digest (`mail#digests#<hour>#<n>`),
//! and one per UTC day counting the stack's mails (`mail#day#<day>`) and one per day and
//! customer account counting its members' (`mail#day#<day>#account#<account>`). None carries
//! `audit_user`, so the stream's filter never hands them to the notifier; the TTL sweeps them.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::{
    conditional, n, request_failed_with, s, DynamoStore, Item, PARTITION_KEY, TTL_ATTRIBUTE,
};
use crate::{
    domain::{
        events::EventKind,
        mail_budget::{
            digest_shard, hour_start, DayCount, HeldMail, HourDigest, DIGEST_LISTS_AT_MOST,
            DIGEST_SHARDS, KEPT_FOR,
        },
        user::{Email, UserId},
    },
    ports::{MailBudget, StoreError},
};

fn user_hour(user: &UserId, hour: i64) -> AttributeValue {
    s(format!("mail#user#{hour}#{}", user.as_str()))
}

fn day_key(count: &DayCount, day: i64) -> AttributeValue {
    match count {
        DayCount::Stack => s(format!("mail#day#{day}")),
        DayCount::Account(account) => s(format!("mail#day#{day}#account#{}", account.as_str())),
    }
}

fn digests_key(hour: i64, shard: u8) -> AttributeValue {
    s(format!("mail#digests#{hour}#{shard}"))
}

fn sweep_at(hour: i64) -> AttributeValue {
    n((hour_start(hour) + KEPT_FOR).unix_timestamp())
}

impl DynamoStore {
    fn budget_update(
        &self,
        key: AttributeValue,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, key)
    }
}

#[async_trait]
impl MailBudget for DynamoStore {
    async fn take_user(
        &self,
        user: &UserId,
        hour: i64,
        kind: EventKind,
        most: Option<u32>,
    ) -> Result<bool, StoreError> {
        let request = self
            .budget_update(user_hour(user, hour))
            .update_expression(format!(
                "ADD mails :one, kinds :kind SET {TTL_ATTRIBUTE} = :sweep"
            ))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":kind", AttributeValue::Ss(vec![kind.name().to_owned()]))
            .expression_attribute_values(":sweep", sweep_at(hour));
        let request = match most {
            Some(most) => request
                .condition_expression(
                    "(attribute_not_exists(mails) OR mails < :most) \
                     AND NOT contains(kinds, :kind_name)",
                )
                .expression_attribute_values(":most", n(most))
                .expression_attribute_values(":kind_name", s(kind.name())),
            None => request,
        };
        Ok(conditional(request, "count a user's mail").await?.is_some())
    }

    async fn take_day(
        &self,
        count: &DayCount,
        day: i64,
        most: Option<u32>,
    ) -> Result<bool, StoreError> {
        let request = self
            .budget_update(day_key(count, day))
            .update_expression(format!("ADD mails :one SET {TTL_ATTRIBUTE} = :sweep"))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":sweep", n(day * 86_400 + KEPT_FOR.whole_seconds()));
        let request = match most {
            Some(most) => request
                .condition_expression("attribute_not_exists(mails) OR mails < :most")
                .expression_attribute_values(":most", n(most)),
            None => request,
        };
        Ok(conditional(request, "count a day's mail").await?.is_some())
    }

    async fn give_back_day(&self, count: &DayCount, day: i64) -> Result<(), StoreError> {
        let day_count = self
            .budget_update(day_key(count, day))
            .update_expression("ADD mails :less")
            .condition_expression("mails > :none")
            .expression_attribute_values(":less", n(-1))
            .expression_attribute_values(":none", n(0));
        conditional(day_count, "give back a day's mail").await?;
        Ok(())
    }

    async fn give_back_user(
        &self,
        user: &UserId,
        hour: i64,
        kind: EventKind,
    ) -> Result<(), StoreError> {
        let user_count = self
            .budget_update(user_hour(user, hour))
            .update_expression("ADD mails :less DELETE kinds :kind")
            .condition_expression("mails > :none")
            .expression_attribute_values(":less", n(-1))
            .expression_attribute_values(":none", n(0))
            .expression_attribute_values(":kind", AttributeValue::Ss(vec![kind.name().to_owned()]));
        conditional(user_count, "give back a user's mail").await?;
        Ok(())
    }

    async fn hold(
        &self,
        user: &UserId,
        hour: i64,
        held: &HeldMail,
        to: &Email,
    ) -> Result<(), StoreError> {
        // The index first: a sweep that finds the user before the event is kept sends nothing
        // yet, where the other order could keep an event no sweep ever finds.
        let index = self
            .budget_update(digests_key(hour, digest_shard(user)))
            .update_expression(format!(
                "ADD digest_users :user SET {TTL_ATTRIBUTE} = :sweep"
            ))
            .expression_attribute_values(
                ":user",
                AttributeValue::Ss(vec![user.as_str().to_owned()]),
            )
            .expression_attribute_values(":sweep", sweep_at(hour));
        conditional(index, "name a user in the digest index").await?;
        let entry = AttributeValue::M(
            [
                ("kind".to_owned(), s(held.kind.name())),
                ("at".to_owned(), n(held.at.unix_timestamp())),
            ]
            .into(),
        );
        let listed = self
            .budget_update(user_hour(user, hour))
            .update_expression(format!(
                "ADD held :one SET listed = list_append(if_not_exists(listed, :none), :entry), \
                 send_to = :to, {TTL_ATTRIBUTE} = :sweep"
            ))
            .condition_expression("attribute_not_exists(listed) OR size(listed) < :most")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":none", AttributeValue::L(vec![]))
            .expression_attribute_values(":entry", AttributeValue::L(vec![entry]))
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":most", n(DIGEST_LISTS_AT_MOST))
            .expression_attribute_values(":sweep", sweep_at(hour));
        if conditional(listed, "hold an event for a digest")
            .await?
            .is_none()
        {
            // The list is full: the digest counts this one without naming it.
            let counted = self
                .budget_update(user_hour(user, hour))
                .update_expression("ADD held :one SET send_to = :to")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":to", s(to.as_str()));
            conditional(counted, "count an event for a digest").await?;
        }
        Ok(())
    }

    async fn digests_of(
        &self,
        hours: std::ops::Range<i64>,
    ) -> Result<Vec<(i64, UserId)>, StoreError> {
        // 24 hours of 4 shards: 96 keys, one BatchGetItem (it takes up to 100).
        let keys: Vec<Item> = hours
            .flat_map(|hour| (0..DIGEST_SHARDS).map(move |shard| digests_key(hour, shard)))
            .map(|key| [(PARTITION_KEY.to_owned(), key)].into())
            .collect();
        let mut users = vec![];
        for item in self.batch_get(keys, "read the digest index").await? {
            let hour = item
                .get(PARTITION_KEY)
                .and_then(|key| key.as_s().ok())
                .and_then(|key| key.strip_prefix("mail#digests#"))
                .and_then(|rest| rest.split('#').next())
                .and_then(|hour| hour.parse::<i64>().ok());
            if let (Some(hour), Some(AttributeValue::Ss(names))) = (hour, item.get("digest_users"))
            {
                users.extend(
                    names
                        .iter()
                        .filter_map(|name| UserId::parse(name).ok())
                        .map(|user| (hour, user)),
                );
            }
        }
        Ok(users)
    }

    async fn digest(&self, user: &UserId, hour: i64) -> Result<Option<HourDigest>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, user_hour(user, hour))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| request_failed_with("read a digest", e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let held = item
            .get("held")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let Some(to) = item
            .get("send_to")
            .and_then(|v| v.as_s().ok())
            .and_then(|v| Email::parse(v))
        else {
            return Ok(None);
        };
        if held == 0 {
            return Ok(None);
        }
        let listed = match item.get("listed") {
            Some(AttributeValue::L(entries)) => entries
                .iter()
                .filter_map(|entry| {
                    let entry = entry.as_m().ok()?;
                    Some(HeldMail {
                        kind: entry.get("kind")?.as_s().ok()?.parse().ok()?,
                        at: OffsetDateTime::from_unix_timestamp(
                            entry.get("at")?.as_n().ok()?.parse().ok()?,
                        )
                        .ok()?,
                    })
                })
                .collect(),
            _ => vec![],
        };
        Ok(Some(HourDigest {
            to,
            listed,
            held,
            claimed: item.contains_key("digest_claimed"),
        }))
    }

    async fn claim_digest(
        &self,
        user: &UserId,
        hour: i64,
        claim: bool,
    ) -> Result<bool, StoreError> {
        let request = self.budget_update(user_hour(user, hour));
        let request = if claim {
            request
                .update_expression("SET digest_claimed = :yes")
                .condition_expression(
                    "attribute_exists(held) AND attribute_not_exists(digest_claimed)",
                )
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
        } else {
            request
                .update_expression("REMOVE digest_claimed")
                .condition_expression("attribute_exists(held)")
        };
        Ok(conditional(request, "claim a digest").await?.is_some())
    }
}
