//! One chat's messages in the memory store: by id, in history order, and in the sync feed; the
//! history's pages and the feed's are read here.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::Expiring;
use crate::domain::MessageId;
use crate::domain::cursor::PageRequest;
use crate::domain::feed::changes_feed;
use crate::domain::message::{MessageRecord, OrderKey};
use crate::store::{FeedEntry, HistoryPage, StoreContext};

#[derive(Default)]
pub(super) struct ChatMessages {
    pub(super) by_id: HashMap<MessageId, Expiring<MessageRecord>>,
    /// History order: only messages with a `created_at`.
    pub(super) order: BTreeMap<OrderKey, MessageId>,
    /// The sync feed: each message at the position of its latest visible change.
    feed: BTreeMap<u64, MessageId>,
    /// The last feed position handed out.
    position: u64,
    /// When the position would expire in DynamoDB (the `FEED` item's TTL): no sooner than
    /// any entry it counted. Read, it never expires (it must not go back).
    pub(super) position_expires_at: Option<DateTime<Utc>>,
}

impl ChatMessages {
    pub(super) fn get(&self, id: &MessageId) -> Option<&MessageRecord> {
        self.by_id.get(id).and_then(Expiring::live)
    }

    /// Stores a record; a change history shows takes the next feed position. Returns the
    /// record as stored.
    pub(super) fn put(
        &mut self,
        mut record: MessageRecord,
        expires_at: Option<DateTime<Utc>>,
        context: &StoreContext,
    ) -> MessageRecord {
        if changes_feed(self.get(&record.id), &record) {
            self.position += 1;
            record.feed_seq = Some(self.position);
            self.position_expires_at = context
                .retained(None)
                .map(|retained| expires_at.map_or(retained, |at| at.max(retained)));
        }
        self.restore(record.clone(), expires_at);
        record
    }

    /// Stores a record as it was stored before (a snapshot), feed position included.
    pub(super) fn restore(&mut self, record: MessageRecord, expires_at: Option<DateTime<Utc>>) {
        self.remove(&record.id);
        if let Some(key) = record.order_key() {
            self.order.insert(key, record.id.clone());
        }
        if let Some(position) = record.feed_seq {
            self.feed.insert(position, record.id.clone());
            self.position = self.position.max(position);
        }
        self.by_id
            .insert(record.id.clone(), Expiring { record, expires_at });
    }

    pub(super) fn remove(&mut self, id: &MessageId) {
        if let Some(old) = self.by_id.remove(id) {
            if let Some(key) = old.record.order_key() {
                self.order.remove(&key);
            }
            if let Some(position) = old.record.feed_seq {
                self.feed.remove(&position);
            }
        }
    }

    pub(super) fn position(&self) -> u64 {
        self.position
    }

    /// The chat's feed entries: their positions and when each expires (as its message).
    pub(super) fn feed_entries(&self) -> impl Iterator<Item = (u64, Option<DateTime<Utc>>)> + '_ {
        self.feed.iter().map(|(position, id)| {
            let expires_at = self.by_id.get(id).and_then(|message| message.expires_at);
            (*position, expires_at)
        })
    }

    pub(super) fn feed_page(&self, after: u64, upto: u64, limit: usize) -> Vec<FeedEntry> {
        if after >= upto {
            return Vec::new();
        }
        self.feed
            .range(after + 1..=upto)
            .filter_map(|(position, id)| {
                self.get(id).map(|message| FeedEntry {
                    position: *position,
                    message: message.clone(),
                })
            })
            .take(limit)
            .collect()
    }

    /// One page of the chat's history, oldest first (see [`crate::store::ChatStore::history_page`]).
    pub(super) fn history_page(&self, request: &PageRequest) -> HistoryPage {
        let live = |id: &MessageId| self.get(id).cloned();
        let limit = request.limit();
        let (page, has_older) = match request {
            PageRequest::Latest { .. } => {
                let mut newest: Vec<MessageRecord> = self
                    .order
                    .values()
                    .rev()
                    .filter_map(live)
                    .take(limit + 1)
                    .collect();
                let has_older = newest.len() > limit;
                newest.truncate(limit);
                newest.reverse();
                (newest, has_older)
            }
            PageRequest::Before { cursor, .. } => {
                let mut older: Vec<MessageRecord> = self
                    .order
                    .range(..cursor.key().clone())
                    .rev()
                    .map(|(_, id)| id)
                    .filter_map(live)
                    .take(limit + 1)
                    .collect();
                let has_older = older.len() > limit;
                older.truncate(limit);
                older.reverse();
                (older, has_older)
            }
            PageRequest::After { cursor, .. } => {
                let newer: Vec<MessageRecord> = self
                    .order
                    .range((
                        std::ops::Bound::Excluded(cursor.key().clone()),
                        std::ops::Bound::Unbounded,
                    ))
                    .map(|(_, id)| id)
                    .filter_map(live)
                    .take(limit)
                    .collect();
                (newer, !cursor.is_start())
            }
        };
        HistoryPage {
            messages: page,
            has_older,
        }
    }
}
