//! The real-time feed's notifier on AWS (spec §1a): the table's DynamoDB stream invokes it with
//! batches of changed items ([`read_stream_batch`] says which chats' feeds moved and which
//! chats changed), and it pushes those changes to each chat's subscribers with
//! [`Service::push_changes`], the implementation the local runner uses too.
//!
//! A store error fails the invocation, and Lambda retries the batch: pushes start from each
//! subscription's stored position, so a retry neither loses nor repeats a change.

use serde_json::{Value, json};

use crate::notify::NotifyPort;
use crate::push::PushPort;
use crate::service::{Changes, NotifyReport, PushReport, Service, ServiceError};
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
    Ok(push_batch(service, pusher, payload).await?.1)
}

async fn push_batch<S, G, P>(
    service: &Service<S, G>,
    pusher: &P,
    payload: &Value,
) -> Result<(Changes, PushReport), NotifierError>
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
    Ok((changes, report))
}

/// Where away notifications go (spec §1b), and whether they carry a preview.
pub struct Away<N> {
    pub notifier: N,
    pub preview: bool,
}

/// [`notify`], then the away notifications for what no live subscription received.
pub async fn notify_and_tell_away<S, G, P, N>(
    service: &Service<S, G>,
    pusher: &P,
    away: &Away<N>,
    payload: &Value,
) -> Result<(PushReport, NotifyReport), NotifierError>
where
    S: ChatStore + SubscriptionStore,
    P: PushPort,
    N: NotifyPort,
{
    let (changes, pushed) = push_batch(service, pusher, payload).await?;
    let told = service
        .notify_away(&changes, &away.notifier, away.preview)
        .await?;
    if told.published > 0 || told.failed > 0 {
        tracing::info!(
            published = told.published,
            failed = told.failed,
            "away notifications"
        );
    }
    Ok((pushed, told))
}

/// What the function answers for a batch (`{"report": ...}`, with `"away"` when notifications
/// are configured), its error as a sentence.
pub async fn handle<S, G, P, N>(
    service: &Service<S, G>,
    pusher: &P,
    away: Option<&Away<N>>,
    payload: &Value,
) -> Result<Value, String>
where
    S: ChatStore + SubscriptionStore,
    P: PushPort,
    N: NotifyPort,
{
    let answer = match away {
        Some(away) => notify_and_tell_away(service, pusher, away, payload)
            .await
            .map(|(report, away)| json!({ "report": report, "away": away })),
        None => notify(service, pusher, payload)
            .await
            .map(|report| json!({ "report": report })),
    };
    answer.map_err(|error| error.to_string())
}
