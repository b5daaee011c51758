//! `bench realtime`: what delivering a chat to its visitor costs, polling against push, counted
//! on the real store code against moto (DynamoDB), and priced with `../shared/aws-prices.md`.
//!
//! One chat of the reference workload: 10 visitor messages, each answered by an agent, the chat
//! open 10 minutes. The writes (each visitor message stored from Giosg's answer, its webhook
//! echo, the agent's reply) are the same in both modes and counted apart. Polling: the page
//! reads the sync feed every 1.5 s (400 reads). Push: one WebSocket connection (connect,
//! subscribe with its catch-up, disconnect) and, per change stored, one notifier invocation
//! (the stream's batches are taken one change each, the most invocations there can be) that
//! pushes to the subscriber and considers away notifications. Timing is not measured here.

use std::time::Duration;

use serde::Serialize;
use shared::aws::{OperationLog, sdk_config};
use shared::domain::chat::{ChatEvent, ChatOwner};
use shared::domain::connection::ConnectionId;
use shared::domain::feed::FeedCursor;
use shared::domain::message::MessageEvent;
use shared::domain::visitor::{SealedCredentials, VisitorRecord, VisitorToken};
use shared::domain::{
    ChatId, ChatResource, EventAction, Field, GiosgTime, MessageId, MessageResource, MessageType,
    OrgId, RoomId, SenderType, VisitorId,
};
use shared::notify::{AwayNotification, NotifyError, NotifyPort};
use shared::push::{Frame, PushError, PushPort};
use shared::service::{Changes, NoGiosg, Rules, Service};
use shared::store::dynamodb::{DynamoStore, create_table};
use shared::store::{ChatStore, SentMessage, StoreContext};

use crate::emulators::Moto;

const EXCHANGES: usize = 10;
const POLLS: usize = 400;
const CHAT_MINUTES: f64 = 10.0;

/// DynamoDB operations and request units of one step.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Units {
    pub operations: std::collections::BTreeMap<String, u64>,
    /// Read request units: a consistent read of an item up to 4 KB is 1, a batch 1 per key.
    pub read_units: u64,
    /// Write request units: 1 per item up to 1 KB written, 2 per item in a transaction.
    pub write_units: u64,
}

impl Units {
    fn of(operations: std::collections::BTreeMap<String, u64>) -> Self {
        let count = |name: &str| operations.get(name).copied().unwrap_or(0);
        let read_units = count("GetItem") + count("Query") + count("BatchGetItem:items");
        let write_units = count("PutItem")
            + count("UpdateItem")
            + count("DeleteItem")
            + 2 * count("TransactWriteItems:items");
        Self {
            operations,
            read_units,
            write_units,
        }
    }
}

/// One chat's counts, and the price per 1M visitor messages of each mode.
#[derive(Debug, Serialize)]
pub struct Report {
    pub writes: Units,
    pub poll: Units,
    pub push: Units,
    pub push_frames: u64,
    pub poll_invocations: u64,
    pub push_invocations: u64,
    pub cost_per_million_visitor_messages: Costs,
}

#[derive(Debug, Serialize)]
pub struct Costs {
    pub writes: f64,
    pub poll: f64,
    pub push: f64,
    pub prices: &'static str,
}

/// Counts frames; every connection is live.
#[derive(Default)]
struct CountingPusher(std::sync::atomic::AtomicU64);

impl PushPort for CountingPusher {
    async fn post(&self, _: &str, _: &ConnectionId, _: &Frame) -> Result<(), PushError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

struct NoNotifications;

impl NotifyPort for NoNotifications {
    async fn publish(&self, _: &AwayNotification) -> Result<(), NotifyError> {
        Ok(())
    }
}

fn time(seconds: i64) -> GiosgTime {
    GiosgTime::from(chrono::DateTime::from_timestamp(1_900_000_000 + seconds, 0).unwrap())
}

fn message(chat: &ChatId, id: &str, at: i64, sender: SenderType) -> MessageResource {
    MessageResource {
        id: Some(MessageId::new(id)),
        message_type: Field::Value(MessageType::Msg),
        chat_id: Field::Value(chat.clone()),
        room_id: Field::Value(RoomId::new("room")),
        created_at: Field::Value(time(at)),
        sender_type: Field::Value(sender),
        sender_public_name: Field::Value("Agent Smith".into()),
        message: Field::Value("A message of ordinary length, a sentence or two long.".into()),
        attachments: Field::Value(Vec::new()),
        ..MessageResource::default()
    }
}

pub async fn measure(moto_server: Option<std::path::PathBuf>) -> anyhow::Result<Report> {
    let moto = Moto::start(moto_server).await?;
    let sdk = sdk_config(Some(&moto.endpoint)).await;
    let table = format!("realtime-bench-{}", uuid::Uuid::new_v4().simple());
    create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await?;
    let log = OperationLog::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(log.clone())
            .build(),
    );
    let context = StoreContext::new(RoomId::new("room"));
    let rules = Rules {
        org_id: OrgId::new("org"),
        store_context: context.clone(),
        allow_offline_chats: false,
        availability_cache: Duration::from_secs(5),
        send_claim_stale_after: shared::service::SEND_CLAIM_STALE_AFTER,
    };
    let service: Service<DynamoStore, NoGiosg> =
        Service::without_giosg(DynamoStore::new(client, table), rules);
    let store = service.store();

    // The chat and its visitor (not counted: the same in both modes).
    let token = VisitorToken::generate();
    let chat = ChatId::new("chat-1");
    store
        .put_visitor(
            &VisitorRecord {
                key: token.key(),
                giosg_visitor_id: VisitorId::new("v-1"),
                credentials: SealedCredentials::from_stored("sealed".into()),
                name: "Ada".into(),
                latest_chat_id: Some(chat.clone()),
                created_at: chrono::Utc::now(),
                visitor_ref: Some("user-1".into()),
                identity: None,
            },
            &context,
        )
        .await?;
    let started = ChatEvent {
        action: EventAction::Added,
        resource: Some(ChatResource {
            id: Some(chat.clone()),
            room_id: Field::Value(RoomId::new("room")),
            created_at: Field::Value(time(0)),
            ..ChatResource::default()
        }),
        owner: Some(ChatOwner {
            visitor: token.key(),
            visitor_name: "Ada".into(),
        }),
    };
    store.apply_chat_event(&chat, &started, &context).await?;
    log.take();

    // Polling: the page's reads, every 1.5 s, with the exchanges spread over the 10 minutes.
    let mut writes = std::collections::BTreeMap::new();
    let mut poll = std::collections::BTreeMap::new();
    let mut cursor = FeedCursor::start();
    for p in 0..POLLS {
        if p % (POLLS / EXCHANGES) == 0 {
            let i = p / (POLLS / EXCHANGES);
            let visitor = visitor_sends(store, &chat, &context, i).await?;
            echo_and_reply(store, &chat, &context, i, visitor).await?;
            merge(&mut writes, log.take());
        }
        cursor = service.feed(&token, &chat, cursor, 100).await?.next_cursor;
        merge(&mut poll, log.take());
    }

    // Push, on a second chat with the same exchanges (its writes are the same; not counted again).
    let chat = ChatId::new("chat-2");
    let started = ChatEvent {
        resource: Some(ChatResource {
            id: Some(chat.clone()),
            ..started.resource.clone().unwrap_or_default()
        }),
        ..started.clone()
    };
    store.apply_chat_event(&chat, &started, &context).await?;
    log.take();
    let pusher = CountingPusher::default();
    let mut push = std::collections::BTreeMap::new();
    let connection = ConnectionId::new("connection-1");
    service
        .open_connection(&token, connection.clone(), String::new())
        .await?;
    service
        .subscribe(&connection, &chat, FeedCursor::start(), &pusher)
        .await?;
    merge(&mut push, log.take());
    let changes = Changes {
        feeds: [chat.clone()].into(),
        chats: Default::default(),
    };
    let mut notifier_invocations = 0;
    for i in 0..EXCHANGES {
        let visitor = visitor_sends(store, &chat, &context, i).await?;
        log.take();
        // The visitor message's change: one notifier invocation.
        service.push_changes(&changes, &pusher).await?;
        service
            .notify_away(&changes, &NoNotifications, false)
            .await?;
        notifier_invocations += 1;
        merge(&mut push, log.take());
        echo_and_reply(store, &chat, &context, i, visitor).await?;
        log.take();
        // The agent reply's change: another.
        service.push_changes(&changes, &pusher).await?;
        service
            .notify_away(&changes, &NoNotifications, false)
            .await?;
        notifier_invocations += 1;
        merge(&mut push, log.take());
    }
    service.close_connection(&connection).await?;
    merge(&mut push, log.take());

    let frames = pusher.0.load(std::sync::atomic::Ordering::Relaxed);
    let writes = Units::of(writes);
    let poll = Units::of(poll);
    let push = Units::of(push);
    let poll_invocations = POLLS as u64;
    // $connect, subscribe, $disconnect, and the notifier's.
    let push_invocations = 3 + notifier_invocations;
    let costs = price(
        &writes,
        &poll,
        &push,
        poll_invocations,
        push_invocations,
        frames,
    );
    Ok(Report {
        writes,
        poll,
        push,
        push_frames: frames,
        poll_invocations,
        push_invocations,
        cost_per_million_visitor_messages: costs,
    })
}

/// The visitor's message `i`, stored from Giosg's answer to the send (with its key).
async fn visitor_sends(
    store: &DynamoStore,
    chat: &ChatId,
    context: &StoreContext,
    i: usize,
) -> anyhow::Result<MessageResource> {
    let at = i64::try_from(i).unwrap_or(0) * 60;
    let visitor = message(chat, &format!("v-{i}"), at, SenderType::Visitor);
    let sent = SentMessage {
        chat_id: chat.clone(),
        message_id: MessageId::new(format!("v-{i}")),
        event: MessageEvent {
            action: EventAction::Added,
            resource: Some(visitor.clone()),
            client_message_id: Some(format!("key-{i}")),
        },
        idempotency_key: Some(format!("key-{i}")),
        visitor: None,
    };
    store.record_sent_message(&sent, context).await?;
    Ok(visitor)
}

/// The visitor message's webhook echo, then the agent's reply by webhook.
async fn echo_and_reply(
    store: &DynamoStore,
    chat: &ChatId,
    context: &StoreContext,
    i: usize,
    visitor: MessageResource,
) -> anyhow::Result<()> {
    let echo = MessageEvent {
        action: EventAction::Added,
        resource: Some(visitor),
        client_message_id: None,
    };
    store
        .apply_message_event(chat, &MessageId::new(format!("v-{i}")), &echo, context)
        .await?;
    let at = i64::try_from(i).unwrap_or(0) * 60;
    let reply = MessageEvent {
        action: EventAction::Added,
        resource: Some(message(chat, &format!("a-{i}"), at + 30, SenderType::User)),
        client_message_id: None,
    };
    store
        .apply_message_event(chat, &MessageId::new(format!("a-{i}")), &reply, context)
        .await?;
    Ok(())
}

fn merge(
    total: &mut std::collections::BTreeMap<String, u64>,
    more: std::collections::BTreeMap<String, u64>,
) {
    for (name, count) in more {
        *total.entry(name).or_default() += count;
    }
}

// ../shared/aws-prices.md (us-east-1, as of its dates): dollars per unit.
const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
/// 128 MB for 10 ms, billed: an assumption (this bench does not time), stated in the report.
const LAMBDA_INVOCATION_DURATION: f64 = 0.000_013_333_4 * 0.125 * 0.010;
const HTTP_REQUEST: f64 = 1.00 / 1e6;
const WEBSOCKET_MESSAGE: f64 = 1.00 / 1e6;
const CONNECTION_MINUTE: f64 = 0.25 / 1e6;
const WRITE_UNIT: f64 = 0.625 / 1e6;
const READ_UNIT: f64 = 0.125 / 1e6;

/// Dollars per 1M visitor messages: the reference workload is 100,000 such chats.
fn price(
    writes: &Units,
    poll: &Units,
    push: &Units,
    poll_invocations: u64,
    push_invocations: u64,
    frames: u64,
) -> Costs {
    let chats = 1e6 / EXCHANGES as f64;
    let dynamo =
        |units: &Units| units.read_units as f64 * READ_UNIT + units.write_units as f64 * WRITE_UNIT;
    let invocation = LAMBDA_REQUEST + LAMBDA_INVOCATION_DURATION;
    let poll_chat = dynamo(poll) + poll_invocations as f64 * (invocation + HTTP_REQUEST);
    // Messages: the subscribe request, the frames pushed, connect and disconnect.
    let push_chat = dynamo(push)
        + push_invocations as f64 * invocation
        + (frames + 3) as f64 * WEBSOCKET_MESSAGE
        + CHAT_MINUTES * CONNECTION_MINUTE;
    Costs {
        writes: dynamo(writes) * chats,
        poll: poll_chat * chats,
        push: push_chat * chats,
        prices: "../shared/aws-prices.md (us-east-1): Lambda $0.20/1M requests, arm64 $0.0000133334/GB-s \
                 (each invocation taken as 128 MB for 10 ms), HTTP API $1.00/1M, WebSocket $1.00/1M \
                 messages and $0.25/1M connection-minutes, DynamoDB on-demand $0.625/1M WRU and \
                 $0.125/1M RRU",
    }
}
