//! The real-time feed's connections and subscriptions in DynamoDB:
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | connection | `CONN#<connection id>` | `CONN` | `record`, `expires_at` |
//! | a visitor's connection, noted | `VISITOR#<visitor key>` | `CONN#<connection id>` | `expires_at` (the connection's) |
//! | subscription | `CHAT#<chat id>` | `SUB#<connection id>` | `connection_id` (S), `endpoint` (S), `position` (N), `expires_at` (N) |
//! | away notifications considered | `CHAT#<chat id>` | `NOTIFY` | `position` (N); `expires_at` with retention |
//! | a message notified | `CHAT#<chat id>` | `NOTIFIED#<message id>` | `expires_at` with retention |
//!
//! A subscription lives in its chat's partition, so the notifier finds a chat's subscribers
//! with one `Query`; its position is its own attribute, moved forward by an `UpdateItem`
//! conditioned on it being behind. A connection is put together with its note in the
//! visitor's partition (one `TransactWriteItems`), so that erasing a visitor finds its
//! connections without a scan; the note is left to expire with the connection when it closes.
//! The notification bookkeeping lives as long as the chat ([`StoreContext::retained`]); like the
//! feed position, the notifications' position never reads as absent before it expires.

use chrono::{DateTime, Utc};

use super::DynamoStore;
use super::error::{is_condition_failure, unavailable};
use super::item::{Item, ItemKey, SUBSCRIPTION_PREFIX, is_expired, number, set_expiry, string};
use super::records::{RECORD, decode_record, encode_record};
use super::schema::{EXPIRES_AT, PK};
use crate::domain::connection::{ConnectionId, ConnectionRecord, SubscriptionRecord};
use crate::domain::{ChatId, MessageId};
use crate::store::{StoreContext, StoreError, StoreResult, SubscriptionStore};

const CONNECTION_ID: &str = "connection_id";
const ENDPOINT: &str = "endpoint";
const POSITION: &str = "position";

fn text<'a>(item: &'a Item, name: &str) -> StoreResult<&'a String> {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("a subscription has no {name}")))
}

fn whole(item: &Item, name: &str) -> StoreResult<i64> {
    item.get(name)
        .and_then(|value| value.as_n().ok())
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("a subscription has no {name}")))
}

fn decode_subscription(chat: &ChatId, item: &Item) -> StoreResult<SubscriptionRecord> {
    let expires_at = DateTime::<Utc>::from_timestamp(whole(item, EXPIRES_AT)?, 0)
        .ok_or_else(|| StoreError::Corrupt("a subscription has no expiry".into()))?;
    Ok(SubscriptionRecord {
        chat_id: chat.clone(),
        connection_id: ConnectionId::new(text(item, CONNECTION_ID)?.as_str()),
        endpoint: text(item, ENDPOINT)?.clone(),
        position: u64::try_from(whole(item, POSITION)?)
            .map_err(|_| StoreError::Corrupt("a subscription's position is negative".into()))?,
        expires_at,
    })
}

impl SubscriptionStore for DynamoStore {
    async fn put_connection(&self, connection: &ConnectionRecord) -> StoreResult<()> {
        let expires_at = Some(connection.expires_at);
        let mut item = ItemKey::connection(connection.id.as_str()).attributes();
        item.insert(RECORD.into(), encode_record(connection, "connection")?);
        set_expiry(&mut item, expires_at);
        let mut note =
            ItemKey::visitor_connection(&connection.visitor, connection.id.as_str()).attributes();
        set_expiry(&mut note, expires_at);
        self.put_all(vec![item, note]).await
    }

    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<ConnectionRecord>> {
        let Some(item) = self.get_item(&ItemKey::connection(id.as_str())).await? else {
            return Ok(None);
        };
        if is_expired(&item, "connection")? {
            return Ok(None);
        }
        decode_record(item, "connection").map(Some)
    }

    async fn delete_connection(&self, id: &ConnectionId) -> StoreResult<()> {
        let key = ItemKey::connection(id.as_str());
        let Some(item) = self.get_item(&key).await? else {
            return Ok(());
        };
        let connection: ConnectionRecord = decode_record(item, "connection")?;
        let note = ItemKey::visitor_connection(&connection.visitor, id.as_str());
        self.delete_all_atomically(&[key, note]).await
    }

    async fn put_subscription(&self, subscription: &SubscriptionRecord) -> StoreResult<()> {
        let mut item =
            ItemKey::subscription(&subscription.chat_id, subscription.connection_id.as_str())
                .attributes();
        item.insert(
            CONNECTION_ID.into(),
            string(subscription.connection_id.as_str()),
        );
        item.insert(ENDPOINT.into(), string(&subscription.endpoint));
        item.insert(POSITION.into(), number(subscription.position));
        item.insert(
            EXPIRES_AT.into(),
            number(subscription.expires_at.timestamp()),
        );
        self.put(item, "PutItem").await
    }

    async fn subscriptions(&self, chat: &ChatId) -> StoreResult<Vec<SubscriptionRecord>> {
        let mut subscriptions = Vec::new();
        for item in self.query_prefix(chat, SUBSCRIPTION_PREFIX).await? {
            if !is_expired(&item, "subscription")? {
                subscriptions.push(decode_subscription(chat, &item)?);
            }
        }
        Ok(subscriptions)
    }

    async fn advance_subscription(
        &self,
        chat: &ChatId,
        connection: &ConnectionId,
        to: u64,
    ) -> StoreResult<()> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(
                ItemKey::subscription(chat, connection.as_str()).attributes(),
            ))
            .update_expression("SET #position = :to")
            .condition_expression("attribute_exists(#pk) AND #position < :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#position", POSITION)
            .expression_attribute_values(":to", number(to))
            .send()
            .await;
        match updated {
            // Gone, or already further: nothing to move.
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Ok(()),
            Err(error) => Err(unavailable("UpdateItem", &error)),
        }
    }

    async fn delete_subscription(
        &self,
        chat: &ChatId,
        connection: &ConnectionId,
    ) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(
                ItemKey::subscription(chat, connection.as_str()).attributes(),
            ))
            .send()
            .await
            .map_err(|error| unavailable("DeleteItem", &error))?;
        Ok(())
    }

    async fn notify_position(&self, chat: &ChatId) -> StoreResult<u64> {
        let item = self.get_item(&ItemKey::notify_position(chat)).await?;
        Ok(match item {
            Some(item) => u64::try_from(whole(&item, POSITION)?)
                .map_err(|_| StoreError::Corrupt("a notify position is negative".into()))?,
            None => 0,
        })
    }

    async fn advance_notify_position(
        &self,
        chat: &ChatId,
        to: u64,
        context: &StoreContext,
    ) -> StoreResult<()> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ItemKey::notify_position(chat).attributes()))
            .condition_expression("attribute_not_exists(#position) OR #position < :to")
            .expression_attribute_names("#position", POSITION)
            .expression_attribute_values(":to", number(to));
        let request = match context.retained(None) {
            Some(expires_at) => request
                .update_expression("SET #position = :to, #expires_at = :expires_at")
                .expression_attribute_names("#expires_at", EXPIRES_AT)
                .expression_attribute_values(":expires_at", number(expires_at.timestamp())),
            None => request.update_expression("SET #position = :to"),
        };
        let updated = request.send().await;
        match updated {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Ok(()),
            Err(error) => Err(unavailable("UpdateItem", &error)),
        }
    }

    async fn claim_notification(
        &self,
        chat: &ChatId,
        message: &MessageId,
        context: &StoreContext,
    ) -> StoreResult<bool> {
        let mut item = ItemKey::notified(chat, message).attributes();
        set_expiry(&mut item, context.retained(None));
        let claimed = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match claimed {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(unavailable("PutItem", &error)),
        }
    }
}
