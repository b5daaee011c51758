//! The real-time feed (spec §1a): connections opened with a visitor token, subscriptions to the
//! visitor's chats, and pushes. A push is a page of the sync feed after the position the
//! subscription was last pushed to, so push and poll share cursors: whatever a push did not
//! bring (a post that failed, a connection that dropped), the client's next sync or the next
//! push does, and nothing is skipped.

use std::collections::BTreeSet;

use chrono::Utc;
use serde::Serialize;
use tracing::Instrument;

use super::{Service, ServiceError};
use crate::domain::ChatId;
use crate::domain::connection::{
    CONNECTION_TTL, ConnectionId, ConnectionRecord, SubscriptionRecord,
};
use crate::domain::feed::FeedCursor;
use crate::domain::visitor::VisitorToken;
use crate::metrics;
use crate::push::{Frame, PushError, PushPort};
use crate::store::{ChatStore, FeedEntry, SubscriptionStore};

/// Messages per pushed frame (the feed's largest page).
const PUSH_PAGE: usize = 100;

/// The largest frame pushed, in bytes of JSON: API Gateway refuses to post more than 128 KB to
/// a connection (`PayloadTooLargeException`), and a frame it refuses would be retried forever.
const MAX_FRAME_BYTES: usize = 120 * 1024;

/// The `messages` frame of the longest start of `page` that fits in [`MAX_FRAME_BYTES`] (at
/// least one message), and the feed position it goes up to; `None` for an empty page. The
/// rest of the page comes in the next frame, from that position.
fn fitted_frame(chat_id: &ChatId, page: &[FeedEntry]) -> Option<(Frame, u64)> {
    let mut count = page.len();
    loop {
        let last = page.get(count.checked_sub(1)?)?.position;
        let frame = Frame::Messages {
            chat_id: chat_id.clone(),
            messages: page[..count]
                .iter()
                .map(|entry| entry.message.view())
                .collect(),
            next_cursor: FeedCursor::at(last).encode(),
        };
        let size = frame.to_json().len();
        if count == 1 || size <= MAX_FRAME_BYTES {
            return Some((frame, last));
        }
        // Shrink in proportion to the overshoot, by at least one message.
        count = (count * MAX_FRAME_BYTES / size).clamp(1, count - 1);
    }
}

/// What pushing a chat's changes did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PushReport {
    pub subscriptions: usize,
    /// Frames posted.
    pub frames: usize,
    /// Subscriptions that received the chat's newest changes (or had nothing to receive).
    pub up_to_date: usize,
    /// Connections found gone (forgotten).
    pub gone: usize,
    /// Posts that failed otherwise (the subscription keeps its position).
    pub failed: usize,
}

/// What was stored, as the notifier learns it (from the table's stream on AWS, from the
/// store's own announcements locally): the chats whose sync feed moved, and the chats whose
/// state (status, end) may have changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub feeds: BTreeSet<ChatId>,
    pub chats: BTreeSet<ChatId>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.feeds.is_empty() && self.chats.is_empty()
    }
}

impl PushReport {
    /// A frame posted (counted in the metrics too, as are the two below).
    fn count_sent(&mut self) {
        self.frames += 1;
        metrics::push_sent();
    }

    fn count_gone(&mut self) {
        self.gone += 1;
        metrics::connection_gone();
    }

    fn count_failed(&mut self) {
        self.failed += 1;
        metrics::push_failed();
    }

    fn add(&mut self, other: &PushReport) {
        self.subscriptions += other.subscriptions;
        self.frames += other.frames;
        self.up_to_date += other.up_to_date;
        self.gone += other.gone;
        self.failed += other.failed;
    }
}

/// How one subscription's push ended.
enum Pushed {
    UpToDate,
    Gone,
    Failed,
}

impl<S: ChatStore + SubscriptionStore, G> Service<S, G> {
    /// `$connect`: the token must name a visitor; the connection is kept under it.
    pub async fn open_connection(
        &self,
        token: &VisitorToken,
        id: ConnectionId,
        endpoint: String,
    ) -> Result<(), ServiceError> {
        let visitor = token.key();
        self.store
            .get_visitor(&visitor)
            .await?
            .ok_or(ServiceError::UnknownVisitor)?;
        let connection = ConnectionRecord {
            id,
            visitor,
            endpoint,
            chats: Vec::new(),
            expires_at: Utc::now() + CONNECTION_TTL,
        };
        self.store.put_connection(&connection).await?;
        Ok(())
    }

    /// `subscribe`: the chat must be the connection's visitor's. The subscription starts at
    /// `after` and is caught up at once with what the sync feed has since (posted to the
    /// connection); later changes are pushed as they are stored.
    pub async fn subscribe<P: PushPort>(
        &self,
        id: &ConnectionId,
        chat_id: &ChatId,
        after: FeedCursor,
        pusher: &P,
    ) -> Result<PushReport, ServiceError> {
        let mut connection = self
            .store
            .get_connection(id)
            .await?
            .ok_or(ServiceError::UnknownVisitor)?;
        let (visitor, chat, _) = self
            .store
            .get_visitor_chat_and_feed(&connection.visitor, chat_id)
            .await?;
        let owner = visitor.ok_or(ServiceError::UnknownVisitor)?.chat_owner();
        chat.filter(|chat| chat.is_visible_to(&owner))
            .ok_or(ServiceError::ChatNotFound)?;
        let subscription = SubscriptionRecord {
            chat_id: chat_id.clone(),
            connection_id: id.clone(),
            endpoint: connection.endpoint.clone(),
            position: after.position(),
            expires_at: connection.expires_at,
        };
        // Subscribed before catching up: a change stored meanwhile is pushed, not lost.
        self.store.put_subscription(&subscription).await?;
        if !connection.chats.contains(chat_id) {
            connection.chats.push(chat_id.clone());
            self.store.put_connection(&connection).await?;
        }
        let upto = self.store.feed_position(chat_id).await?;
        let mut report = PushReport {
            subscriptions: 1,
            ..PushReport::default()
        };
        self.push_one(subscription, upto, pusher, &mut report)
            .await?;
        Ok(report)
    }

    /// `$disconnect`: forgets the connection and its subscriptions.
    pub async fn close_connection(&self, id: &ConnectionId) -> Result<(), ServiceError> {
        if let Some(connection) = self.store.get_connection(id).await? {
            for chat in &connection.chats {
                self.store.delete_subscription(chat, id).await?;
            }
        }
        self.store.delete_connection(id).await?;
        Ok(())
    }

    /// The notifier: pushes what changed to the subscribers of each chat it concerns. One
    /// implementation for the Lambda notifier and the local runner.
    pub async fn push_changes<P: PushPort>(
        &self,
        changes: &Changes,
        pusher: &P,
    ) -> Result<PushReport, ServiceError> {
        let mut total = PushReport::default();
        for chat in &changes.chats {
            total.add(&self.push_chat_state(chat, pusher).await?);
        }
        for chat in &changes.feeds {
            total.add(&self.push_chat(chat, pusher).await?);
        }
        Ok(total)
    }

    /// Pushes a chat's changes to every subscription: each gets the sync feed after the
    /// position it was pushed to.
    pub async fn push_chat<P: PushPort>(
        &self,
        chat_id: &ChatId,
        pusher: &P,
    ) -> Result<PushReport, ServiceError> {
        let subscriptions = self.store.subscriptions(chat_id).await?;
        let mut report = PushReport {
            subscriptions: subscriptions.len(),
            ..PushReport::default()
        };
        if subscriptions.is_empty() {
            return Ok(report);
        }
        let upto = self.store.feed_position(chat_id).await?;
        for subscription in subscriptions {
            self.push_one(subscription, upto, pusher, &mut report)
                .await?;
        }
        Ok(report)
    }

    /// Pushes the chat itself (its status changed) to every subscription.
    pub async fn push_chat_state<P: PushPort>(
        &self,
        chat_id: &ChatId,
        pusher: &P,
    ) -> Result<PushReport, ServiceError> {
        let subscriptions = self.store.subscriptions(chat_id).await?;
        let mut report = PushReport {
            subscriptions: subscriptions.len(),
            ..PushReport::default()
        };
        let Some(chat) = self.store.get_chat(chat_id).await? else {
            return Ok(report);
        };
        let frame = Frame::Chat { chat: chat.view() };
        for subscription in subscriptions {
            // A chat's way is followed by its id.
            let span = push_span(&subscription, chat_id.as_str());
            let pushed = async {
                match pusher
                    .post(&subscription.endpoint, &subscription.connection_id, &frame)
                    .await
                {
                    Ok(()) => {
                        report.count_sent();
                        report.up_to_date += 1;
                        tracing::info!("chat frame pushed");
                        Ok(())
                    }
                    Err(error) => self
                        .after_failed_post(&subscription, error, &mut report)
                        .await
                        .map(|_| ()),
                }
            };
            pushed.instrument(span).await?;
        }
        Ok(report)
    }

    /// Posts the feed after the subscription's position up to `upto`, page by page, moving
    /// the position after each page posted.
    async fn push_one<P: PushPort>(
        &self,
        mut subscription: SubscriptionRecord,
        upto: u64,
        pusher: &P,
        report: &mut PushReport,
    ) -> Result<(), ServiceError> {
        let pushed = loop {
            let page = self
                .store
                .feed_page(
                    &subscription.chat_id,
                    subscription.position,
                    upto,
                    PUSH_PAGE,
                )
                .await?;
            let Some((frame, last)) = fitted_frame(&subscription.chat_id, &page) else {
                break Pushed::UpToDate;
            };
            // The frame's newest feed entry names the message whose way this push is on.
            let newest = match &frame {
                Frame::Messages { messages, .. } => messages.last().map(|m| m.id.to_string()),
                _ => None,
            };
            let span = push_span(&subscription, newest.as_deref().unwrap_or_default());
            let posted = async {
                match pusher
                    .post(&subscription.endpoint, &subscription.connection_id, &frame)
                    .await
                {
                    Ok(()) => {
                        report.count_sent();
                        self.store
                            .advance_subscription(
                                &subscription.chat_id,
                                &subscription.connection_id,
                                last,
                            )
                            .await?;
                        tracing::info!(position = last, "feed frame pushed");
                        Ok(None)
                    }
                    Err(error) => Ok::<_, ServiceError>(Some(
                        self.after_failed_post(&subscription, error, report).await?,
                    )),
                }
            };
            match posted.instrument(span).await? {
                None => subscription.position = last,
                Some(ended) => break ended,
            }
        };
        if let Pushed::UpToDate = pushed {
            report.up_to_date += 1;
        }
        Ok(())
    }

    async fn after_failed_post(
        &self,
        subscription: &SubscriptionRecord,
        error: PushError,
        report: &mut PushReport,
    ) -> Result<Pushed, ServiceError> {
        match error {
            PushError::Gone => {
                report.count_gone();
                self.store
                    .delete_subscription(&subscription.chat_id, &subscription.connection_id)
                    .await?;
                self.store
                    .delete_connection(&subscription.connection_id)
                    .await?;
                Ok(Pushed::Gone)
            }
            PushError::Failed(reason) => {
                report.count_failed();
                tracing::warn!(
                    chat_id = %subscription.chat_id,
                    connection_id = %subscription.connection_id,
                    %reason,
                    "a push failed; the subscription keeps its position"
                );
                Ok(Pushed::Failed)
            }
        }
    }
}

/// The span a post to one subscription runs in: its chat, its connection, and the correlation
/// id of what it carries (see [`crate::correlation`]).
fn push_span(subscription: &SubscriptionRecord, correlation_id: &str) -> tracing::Span {
    tracing::info_span!(
        "push",
        chat_id = %subscription.chat_id,
        connection_id = %subscription.connection_id,
        correlation_id
    )
}
