//! Claims in DynamoDB: an idempotency key's or a visitor start's slot, held by one owner at a
//! time through conditional writes (see the table in the module above), and how a send key's
//! item holds its state.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, SecondsFormat, Utc};

use super::DynamoStore;
use super::error::{is_condition_failure, unavailable};
use super::item::{
    Item, ItemKey, SEND_KEY_PREFIX, corrupt, is_expired, number, set_expiry, string,
};
use super::retry::Attempts;
use super::schema::{EXPIRES_AT, PK, SK};
use crate::domain::{ChatId, MessageId};
use crate::store::{Claim, Reservation, SendState, StoreError, StoreResult};

// A send key's item: its state and, by state, since when, whose and for which text, or which
// message.
pub(super) const STATE: &str = "state";
pub(super) const SINCE: &str = "since";
/// Not `owner`: that name is the visitor index's key on chat items.
pub(super) const CLAIMED_BY: &str = "claimed_by";
pub(super) const TEXT_DIGEST: &str = "text_digest";
pub(super) const MESSAGE_ID: &str = "message_id";
pub(super) const IN_FLIGHT: &str = "in_flight";
pub(super) const UNKNOWN: &str = "unknown";
pub(super) const SENT: &str = "sent";

/// A claim is taken when the slot is free (or expired: DynamoDB deletes expired items late)
/// or already ours (an SDK retry of a write that landed must not see a stranger).
pub(super) const FREE_OR_OURS: &str = "attribute_not_exists(#pk) OR #expires_at <= :now \
     OR (#state = :in_flight AND #owner = :owner)";
/// A take-over names the holder it found out about.
pub(super) const FREE_OR_HELD_BY: &str = "attribute_not_exists(#pk) OR #expires_at <= :now \
     OR (#state IN (:in_flight, :unknown) AND #owner = :owner)";

/// A claim to put on a slot: where, whose, until when.
#[derive(Clone, Copy)]
pub(super) struct ClaimWrite<'a> {
    pub(super) key: &'a ItemKey,
    pub(super) claim: &'a Claim,
    pub(super) expires_at: Option<DateTime<Utc>>,
}

impl<'a> ClaimWrite<'a> {
    pub(super) fn new(
        key: &'a ItemKey,
        claim: &'a Claim,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            key,
            claim,
            expires_at,
        }
    }
}

impl DynamoStore {
    /// `owner`'s claim on `key`, in flight, becomes an unknown outcome (nothing if not held).
    pub(super) async fn mark_unknown(&self, key: &ItemKey, owner: &str) -> StoreResult<()> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.attributes()))
            .update_expression("SET #state = :unknown")
            .condition_expression("#state = :in_flight AND #owner = :owner")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#owner", CLAIMED_BY)
            .expression_attribute_values(":unknown", string(UNKNOWN))
            .expression_attribute_values(":in_flight", string(IN_FLIGHT))
            .expression_attribute_values(":owner", string(owner))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Ok(()),
            Err(error) => Err(unavailable("UpdateItem", &error)),
        }
    }

    /// Deletes `owner`'s claim on `key` unless it is done or someone else's.
    pub(super) async fn release_claim(&self, key: &ItemKey, owner: &str) -> StoreResult<()> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.attributes()))
            .condition_expression("#state IN (:in_flight, :unknown) AND #owner = :owner")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#owner", CLAIMED_BY)
            .expression_attribute_values(":in_flight", string(IN_FLIGHT))
            .expression_attribute_values(":unknown", string(UNKNOWN))
            .expression_attribute_values(":owner", string(owner))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Ok(()),
            Err(error) => Err(unavailable("DeleteItem", &error)),
        }
    }

    /// The chat's send keys still in flight or with an unknown outcome (one `Query`).
    pub(super) async fn open_sends(&self, chat: &ChatId) -> StoreResult<Vec<(String, SendState)>> {
        let mut open = Vec::new();
        for item in self.query_prefix(chat, SEND_KEY_PREFIX).await? {
            if is_expired(&item, "send key")? {
                continue;
            }
            let state = decode_send_state(&item)?;
            if matches!(state, SendState::Sent { .. }) {
                continue;
            }
            let key = item
                .get(SK)
                .and_then(|sk| sk.as_s().ok())
                .and_then(|sk| sk.strip_prefix(SEND_KEY_PREFIX))
                .ok_or_else(|| StoreError::Corrupt("a send key item has no key".into()))?;
            open.push((key.to_owned(), state));
        }
        Ok(open)
    }

    /// Puts a claim in flight on its slot under `condition` (which may name `#pk`,
    /// `#expires_at`, `#state`, `#owner`, `:now`, `:in_flight`, `:unknown` and `:owner` =
    /// `owner`); when the condition fails, the holder's state (returned with the failure, or
    /// read) is the answer.
    pub(super) async fn put_claim(
        &self,
        write: ClaimWrite<'_>,
        condition: &str,
        owner: &str,
    ) -> StoreResult<Reservation> {
        let key = write.key;
        let mut attempts = Attempts::new();
        while attempts.another().await {
            let request = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(in_flight_item(key, write.claim, write.expires_at)))
                .condition_expression(condition)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#expires_at", EXPIRES_AT)
                .expression_attribute_names("#state", STATE)
                .expression_attribute_names("#owner", CLAIMED_BY)
                .expression_attribute_values(":now", number(Utc::now().timestamp()))
                .expression_attribute_values(":in_flight", string(IN_FLIGHT))
                .expression_attribute_values(":owner", string(owner))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            let request = if condition == FREE_OR_HELD_BY {
                request.expression_attribute_values(":unknown", string(UNKNOWN))
            } else {
                request
            };
            let error = match request.send().await {
                Ok(_) => return Ok(Reservation::Reserved),
                Err(error) if is_condition_failure(&error) => error,
                Err(error) => return Err(unavailable("PutItem", &error)),
            };
            let holder = match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => failed.item.clone(),
                _ => None,
            };
            let holder = match holder {
                Some(item) if !item.is_empty() => Some(item),
                _ => self.get_item(key).await?,
            };
            // Released (or expired) between our write and our read: try again.
            if let Some(item) = holder
                && !is_expired(&item, "claim")?
            {
                return Ok(Reservation::Taken(decode_send_state(&item)?));
            }
        }
        Err(StoreError::Contention)
    }
}

pub(super) fn decode_send_state(item: &Item) -> StoreResult<SendState> {
    let text = |name| item.get(name).and_then(|value| value.as_s().ok());
    let claimed = || -> StoreResult<(DateTime<Utc>, Claim)> {
        let since = text(SINCE)
            .and_then(|since| DateTime::parse_from_rfc3339(since).ok())
            .ok_or_else(|| corrupt("send key", "has an unreadable time"))?;
        let claim = Claim {
            owner: text(CLAIMED_BY).cloned().unwrap_or_default(),
            text_digest: text(TEXT_DIGEST).cloned().unwrap_or_default(),
        };
        Ok((since.with_timezone(&Utc), claim))
    };
    match text(STATE).map(String::as_str) {
        Some(IN_FLIGHT) => {
            let (since, claim) = claimed()?;
            Ok(SendState::InFlight { since, claim })
        }
        Some(UNKNOWN) => {
            let (since, claim) = claimed()?;
            Ok(SendState::Unknown { since, claim })
        }
        Some(SENT) => {
            let message_id =
                text(MESSAGE_ID).ok_or_else(|| corrupt("send key", "has no message id"))?;
            Ok(SendState::Sent {
                message_id: MessageId::new(message_id.as_str()),
            })
        }
        _ => Err(corrupt("send key", "has an unknown state")),
    }
}

/// A send key's item in flight for `claim`, claimed now.
pub(super) fn in_flight_item(
    key: &ItemKey,
    claim: &Claim,
    expires_at: Option<DateTime<Utc>>,
) -> Item {
    let mut item = key.attributes();
    item.insert(STATE.into(), string(IN_FLIGHT));
    item.insert(SINCE.into(), string(fixed_width_time(Utc::now())));
    item.insert(CLAIMED_BY.into(), string(&claim.owner));
    item.insert(TEXT_DIGEST.into(), string(&claim.text_digest));
    set_expiry(&mut item, expires_at);
    item
}

/// RFC 3339 with nanoseconds, always the same width, so that string order is time order.
pub(super) fn fixed_width_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}
