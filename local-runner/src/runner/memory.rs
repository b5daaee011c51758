//! The in-memory store, optionally kept in `--data-file`: loading it, and ending the chats a
//! previous run left open, which the simulator (new on every run) would never end.

use std::path::Path;

use anyhow::Context as _;
use chrono::Utc;
use shared::api::Api;
use shared::domain::EventAction;
use shared::domain::chat::ChatEvent;
use shared::domain::{ChatId, ChatResource, Field, GiosgTime};
use shared::store::ChatStore;
use shared::store::memory::MemoryStore;

use crate::data_file;

/// Loads the data file; also returns the chats it left open.
pub(super) fn load_memory_store(path: &Path) -> anyhow::Result<(MemoryStore, Vec<ChatId>)> {
    let Some(snapshot) = data_file::load(path)? else {
        tracing::info!(path = %path.display(), "no data file yet: starting empty");
        return Ok((MemoryStore::new(), Vec::new()));
    };
    let open: Vec<ChatId> = snapshot
        .chats()
        .filter(|chat| chat.is_ended.is_unset() && chat.removed.is_unset())
        .map(|chat| chat.id.clone())
        .collect();
    tracing::info!(
        path = %path.display(),
        chats = snapshot.chats().count(),
        messages = snapshot.message_count(),
        "loaded the store from the data file"
    );
    Ok((MemoryStore::from_snapshot(snapshot), open))
}

/// The simulator starts empty on every run, so chats a previous run left open can never get an
/// answer or an end from it: end them, as Giosg's own `changed` would, so that their visitors
/// are offered a new chat instead of writing into the void.
pub(super) async fn end_chats_the_simulator_forgot<S: ChatStore, G>(
    app: &Api<S, G>,
    chats: &[ChatId],
) -> anyhow::Result<()> {
    let now = GiosgTime::from(Utc::now());
    let event = ChatEvent {
        action: EventAction::Changed,
        resource: Some(ChatResource {
            is_ended: Field::Value(true),
            ended_at: Field::Value(now),
            is_waiting: Field::Value(false),
            updated_at: Field::Value(now),
            ..ChatResource::default()
        }),
        owner: None,
    };
    for chat in chats {
        app.service
            .store()
            .apply_chat_event(chat, &event, &app.service.rules().store_context)
            .await
            .context("cannot update the loaded store")?;
    }
    tracing::info!(
        chats = chats.len(),
        "the simulator starts empty on every run: chats the previous run left open are now ended"
    );
    Ok(())
}
