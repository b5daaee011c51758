//! The store conformance suite: one set of behaviours, written once over `S: ChatStore`, run
//! against every adapter (`memory::*` and `dynamodb::*`, the latter on moto). A few checks of
//! the DynamoDB item layout itself (TTL attributes) are in `dynamodb_items`.
//!
//! One test binary: the fixtures and `for_every_store!` are here, the behaviours are in the
//! topic modules below, each run by `for_every_store!` against both stores.

#[path = "../support/mod.rs"]
mod support;

mod active;
mod chats;
mod connections;
mod dynamodb_items;
mod erasure;
mod feed;
mod messages;
mod ordering;
mod pending;
mod placement;
mod rate;
mod retention;
mod sends;
mod visitors;

use chrono::Utc;
use shared::domain::EventAction;
use shared::domain::chat::{ChatEvent, ChatOwner, ChatRecord};
use shared::domain::cursor::{Cursor, PageRequest};
use shared::domain::message::{MessageEvent, MessageRecord};
use shared::domain::visitor::{SealedCredentials, VisitorKey, VisitorRecord};
use shared::domain::{
    ChatId, ChatResource, Field, GiosgTime, MessageId, MessageResource, MessageType, RoomId,
    SenderType, VisitorId,
};
use shared::store::{Applied, ChatStore, HistoryPage, SentMessage, StoreContext};

// ---------------------------------------------------------------------------------------------
// Fixtures

const ROOM: &str = "room-ours";
const OTHER_ROOM: &str = "room-other";

fn context() -> StoreContext {
    StoreContext::new(RoomId::new(ROOM))
}

/// A whole-second time, `seconds` after a fixed origin.
fn at(seconds: i64) -> GiosgTime {
    GiosgTime::from(chrono::DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap())
}

fn chat_id(id: &str) -> ChatId {
    ChatId::new(id)
}

fn visitor_key(name: &str) -> VisitorKey {
    VisitorKey::from_stored(format!("visitor-key-{name}"))
}

fn visitor(name: &str, display_name: &str) -> VisitorRecord {
    VisitorRecord {
        key: visitor_key(name),
        giosg_visitor_id: VisitorId::new(format!("giosg-{name}")),
        credentials: SealedCredentials::from_stored(format!("sealed-{name}-{display_name}")),
        name: display_name.to_owned(),
        latest_chat_id: None,
        created_at: Utc::now(),
        visitor_ref: None,
        identity: None,
    }
}

/// A full chat snapshot (a webhook `added`), open and in `room`, created at `created`.
fn chat_snapshot(id: &str, room: &str, created: i64) -> ChatResource {
    ChatResource {
        id: Some(chat_id(id)),
        room_id: Field::Value(RoomId::new(room)),
        created_at: Field::Value(at(created)),
        updated_at: Field::Value(at(created)),
        is_ended: Field::Value(false),
        ended_at: Field::Null,
        is_waiting: Field::Value(false),
        ..ChatResource::default()
    }
}

fn chat_added(id: &str, created: i64) -> ChatEvent {
    ChatEvent {
        action: EventAction::Added,
        resource: Some(chat_snapshot(id, ROOM, created)),
        owner: None,
    }
}

/// Giosg's answer to our own start-chat call: a snapshot that names its visitor.
fn chat_started(id: &str, created: i64, owner: &str) -> ChatEvent {
    ChatEvent {
        owner: Some(ChatOwner {
            visitor: visitor_key(owner),
            visitor_name: format!("Name of {owner}"),
        }),
        ..chat_added(id, created)
    }
}

fn chat_changed(resource: ChatResource) -> ChatEvent {
    ChatEvent {
        action: EventAction::Changed,
        resource: Some(resource),
        owner: None,
    }
}

fn chat_removed() -> ChatEvent {
    ChatEvent {
        action: EventAction::Removed,
        resource: None,
        owner: None,
    }
}

fn message_snapshot(chat: &str, id: &str, created: i64, text: &str) -> MessageResource {
    MessageResource {
        id: Some(MessageId::new(id)),
        message_type: Field::Value(MessageType::Msg),
        chat_id: Field::Value(chat_id(chat)),
        room_id: Field::Value(RoomId::new(ROOM)),
        created_at: Field::Value(at(created)),
        sender_type: Field::Value(SenderType::User),
        sender_public_name: Field::Value("Agent Smith".into()),
        message: Field::Value(text.into()),
        attachments: Field::Value(Vec::new()),
        ..MessageResource::default()
    }
}

fn message_added(chat: &str, id: &str, created: i64, text: &str) -> MessageEvent {
    MessageEvent {
        action: EventAction::Added,
        resource: Some(message_snapshot(chat, id, created, text)),
        client_message_id: None,
    }
}

fn message_changed(resource: MessageResource) -> MessageEvent {
    MessageEvent {
        action: EventAction::Changed,
        resource: Some(resource),
        client_message_id: None,
    }
}

/// A visitor's message as Giosg answers our send call (and as its `added` echo carries it).
fn visitor_message(chat: &str, id: &str, created: i64, text: &str) -> MessageResource {
    MessageResource {
        sender_type: Field::Value(SenderType::Visitor),
        sender_public_name: Field::Value("Ada".into()),
        ..message_snapshot(chat, id, created, text)
    }
}

fn sent_message(
    chat: &str,
    id: &str,
    created: i64,
    key: Option<&str>,
    visitor: Option<VisitorRecord>,
) -> SentMessage {
    SentMessage {
        chat_id: chat_id(chat),
        message_id: MessageId::new(id),
        event: MessageEvent {
            action: EventAction::Added,
            resource: Some(visitor_message(chat, id, created, "hello from Ada")),
            client_message_id: key.map(str::to_owned),
        },
        idempotency_key: key.map(str::to_owned),
        visitor,
    }
}

async fn apply_chat<S: ChatStore>(
    store: &S,
    id: &str,
    event: ChatEvent,
) -> (Applied, Option<ChatRecord>) {
    store
        .apply_chat_event(&chat_id(id), &event, &context())
        .await
        .expect("chat event applies")
}

async fn apply_message<S: ChatStore>(
    store: &S,
    chat: &str,
    id: &str,
    event: MessageEvent,
) -> (Applied, Option<MessageRecord>) {
    store
        .apply_message_event(&chat_id(chat), &MessageId::new(id), &event, &context())
        .await
        .expect("message event applies")
}

async fn history<S: ChatStore>(store: &S, chat: &str, request: PageRequest) -> HistoryPage {
    store
        .history_page(&chat_id(chat), &request)
        .await
        .expect("history reads")
}

fn ids(page: &HistoryPage) -> Vec<&str> {
    page.messages.iter().map(|m| m.id.as_str()).collect()
}

fn cursor_at(message: &MessageRecord) -> Cursor {
    Cursor::at(
        message
            .order_key()
            .expect("a message in history has an order key"),
    )
}

/// Stores messages `m01..=m{count}` of chat `c1`, created one second apart, in a shuffled order.
async fn seed_history<S: ChatStore>(store: &S, count: usize) -> Vec<String> {
    let ids: Vec<String> = (1..=count).map(|i| format!("m{i:02}")).collect();
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&i| (i * 7919) % count.max(1));
    for i in order {
        let created = i64::try_from(i).unwrap() + 100;
        apply_message(
            store,
            "c1",
            &ids[i],
            message_added("c1", &ids[i], created, "hi"),
        )
        .await;
    }
    ids
}

fn strs(ids: &[String]) -> Vec<&str> {
    ids.iter().map(String::as_str).collect()
}

// ---------------------------------------------------------------------------------------------
// Every behaviour, for every store

macro_rules! conformance_tests {
    ($new_store:expr; $($module:ident::$behaviour:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $behaviour() {
                super::$module::$behaviour($new_store).await;
            }
        )+
    };
}

macro_rules! for_every_store {
    ($($module:ident::$behaviour:ident),+ $(,)?) => {
        mod memory {
            conformance_tests!(shared::store::memory::MemoryStore::new(); $($module::$behaviour),+);
        }

        mod dynamodb {
            conformance_tests!(crate::support::moto::fresh_store().await; $($module::$behaviour),+);
        }
    };
}

for_every_store!(
    chats::changed_merges_only_the_fields_it_carries,
    chats::is_ended_never_reverts,
    chats::stale_changed_does_not_undo_a_newer_one,
    chats::removed_chat_stays_removed_after_a_late_added,
    chats::another_rooms_chat_is_ignored_and_not_stored,
    chats::redelivered_added_is_unchanged,
    chats::concurrent_changes_converge_to_the_newest,
    chats::record_started_chat_stores_the_chat_and_its_visitor,
    chats::record_started_chat_merges_a_webhook_that_came_first,
    visitors::visitor_is_stored_read_back_and_replaced,
    visitors::visitor_chats_are_newest_first_and_only_the_owners,
    visitors::combined_reads_return_what_was_stored,
    messages::message_before_its_chat_is_kept_and_shows_in_history,
    messages::purged_text_never_comes_back_after_a_later_edit,
    messages::removed_message_loses_its_text_and_a_late_added_does_not_restore_it,
    messages::oversized_attachments_are_trimmed_and_flagged,
    ordering::history_is_in_created_at_order_with_ties_by_id,
    ordering::latest_page_is_the_newest_limit_with_has_older,
    ordering::before_pages_walk_back_to_the_start,
    ordering::after_pages_return_only_what_came_later,
    ordering::start_cursor_returns_everything_from_the_beginning,
    ordering::microsecond_times_keep_redeliveries_unchanged_and_cursors_exact,
    pending::changed_for_an_unknown_chat_is_pending_until_its_added,
    pending::pending_chat_is_not_visible_and_expires,
    pending::pending_chat_whose_added_names_another_room_is_deleted,
    pending::pending_message_without_created_at_is_not_in_history,
    placement::a_message_without_room_id_is_placed_by_its_known_chat,
    placement::a_message_without_room_id_before_its_chat_is_placed_when_the_chat_arrives,
    placement::a_change_for_a_message_not_seen_yet_is_in_no_history,
    placement::a_started_chat_places_the_messages_that_raced_ahead,
    sends::a_send_key_has_one_owner_whose_own_retry_is_not_a_stranger,
    sends::an_unknown_outcome_is_kept_until_taken_over_by_name,
    sends::sent_key_is_final,
    active::active_chats_are_the_visible_open_and_recently_ended,
    active::the_reconcile_cursor_is_kept_and_cleared,
    active::moved_counters_are_flagged_until_checked,
    feed::each_visible_change_takes_the_next_position,
    feed::pending_records_take_no_position_until_shown,
    feed::a_sent_message_takes_a_position_and_its_echo_none,
    feed::concurrent_writers_each_get_their_own_position,
    connections::connections_and_subscriptions_are_kept_and_forgotten,
    connections::notifications_are_claimed_once,
    sends::open_send_claims_are_the_chats_unsettled_keys,
    sends::a_visitor_start_is_claimed_by_one_request_at_a_time,
    sends::release_frees_an_in_flight_key,
    sends::record_sent_message_stores_message_marks_key_sent_and_saves_visitor,
    sends::sent_message_merges_with_an_echo_that_arrived_first,
    sends::echo_after_a_sent_message_is_not_duplicated,
    erasure::erasing_a_chat_deletes_its_items_and_nothing_else,
    erasure::erasing_a_visitor_deletes_its_record_claim_connections_and_buckets,
    erasure::a_persons_visitors_and_chats_are_found,
    retention::with_retention_every_item_expires,
    retention::without_retention_only_transient_items_expire,
    retention::expired_visitors_and_send_keys_read_as_absent,
    rate::a_state_is_written_only_on_its_condition,
    rate::concurrent_takers_never_overdraw_a_bucket,
);
