//! The real-time feed's notifier on AWS (spec §1a): the table's DynamoDB stream invokes it with
//! batches of changed items ([`read_stream_batch`] says which chats' feeds moved and which
//! chats changed), and it pushes those changes to each chat's subscribers with
//! [`Service::push_changes`], the implementation the local runner uses too.
//!
//! A store error fails the invocation, and Lambda retries the batch: pushes start from each
//! subscription's stored position, so a retry neither loses nor repeats a change.

use serde_json::{Value, json};

use crate::push::PushPort;
use crate::service::{Changes, PushReport, Service, ServiceError};
use crate::store::dynamodb::{NotAStreamBatch, StreamChange, read_stream_batch};
use crate::store::{ChatStore, SubscriptionStore};

/// Why a batch was not pushed.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    NotABatch(#[from] NotAStreamBatch),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// The changes a stream batch announces.
pub fn changes_of(payload: &Value) -> Result<Changes, NotAStreamBatch> {
    let batch = read_stream_batch(payload)?;
    if batch.unreadable > 0 {
        tracing::warn!(
            records = batch.records,
            unreadable = batch.unreadable,
            "stream records of an unknown shape were skipped"
        );
    }
    let mut changes = Changes::default();
    for change in batch.changes {
        match change {
            StreamChange::Feed(chat) => changes.feeds.insert(chat),
            StreamChange::Chat(chat) => changes.chats.insert(chat),
        };
    }
    Ok(changes)
}

/// Pushes what a stream batch announces: what the feed-notifier function runs for each batch,
/// and what the tests feed recorded batches to. One log line with what the push did.
pub async fn notify<S, G, P>(
    service: &Service<S, G>,
    pusher: &P,
    payload: &Value,
) -> Result<PushReport, NotifierError>
where
    S: ChatStore + SubscriptionStore,
    P: PushPort,
{
    let changes = changes_of(payload)?;
    let report = if changes.is_empty() {
        PushReport::default()
    } else {
        service.push_changes(&changes, pusher).await?
    };
    tracing::info!(
        feeds = changes.feeds.len(),
        chats = changes.chats.len(),
        subscriptions = report.subscriptions,
        frames = report.frames,
        up_to_date = report.up_to_date,
        gone = report.gone,
        failed = report.failed,
        "stream batch pushed"
    );
    Ok(report)
}

/// [`notify`] with its answer as JSON (`{"report": ...}`) and its error as a sentence, as the
/// function answers.
pub async fn handle<S, G, P>(
    service: &Service<S, G>,
    pusher: &P,
    payload: &Value,
) -> Result<Value, String>
where
    S: ChatStore + SubscriptionStore,
    P: PushPort,
{
    notify(service, pusher, payload)
        .await
        .map(|report| json!({ "report": report }))
        .map_err(|error| error.to_string())
}
