//! Handler cost without I/O: webhook parsing and merging, and history page building, against the
//! in-memory store. `cargo bench -p shared`. The recorded events in `events/` are the inputs.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use chrono::Utc;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::Value;
use shared::api::{self, Api};
use shared::config::{SecretSource, Secrets, SecretsCache, Settings, lookup_in};
use shared::domain::EventAction;
use shared::domain::chat::{ChatEvent, ChatOwner};
use shared::domain::cursor::PageRequest;
use shared::domain::message::apply_message_event;
use shared::domain::visitor::{GiosgCredentials, SealedCredentials, VisitorRecord, VisitorToken};
use shared::domain::webhook::{parse_chat_webhook, parse_message_webhook};
use shared::domain::{ChatId, RoomId, VisitorId};
use shared::secret::Secret;
use shared::service::{Rules, Service};
use shared::store::ChatStore;
use shared::store::memory::MemoryStore;
use tower::ServiceExt;

const ORG_ID: &str = "6f2b6d0e-0000-4000-8000-000000000001";
const ROOM_ID: &str = "0b2f3c4d-0000-4000-8000-0000000000aa";
const WEBHOOK_SECRET: &str = "local-webhook-secret-0123456789";

/// A recorded Lambda event's body, as Giosg (or a frontend) sent it.
fn recorded_body(file: &str) -> String {
    let path = format!("{}/../events/{file}", env!("CARGO_MANIFEST_DIR"));
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}")),
    )
    .expect("events are JSON");
    event["body"]
        .as_str()
        .expect("the event has a body")
        .to_owned()
}

/// The recorded message `added` envelope about message `id` in chat `chat`, created at `second`.
fn message_added(template: &str, chat: &str, id: &str, second: i64) -> String {
    let mut body: Value = serde_json::from_str(template).unwrap();
    body["channel"] = format!("/api/v5/orgs/{ORG_ID}/owned_chats/{chat}/messages").into();
    body["resource_id"] = id.into();
    body["resource"]["id"] = id.into();
    body["resource"]["chat_id"] = chat.into();
    let created_at = chrono::DateTime::from_timestamp(1_741_774_504 + second, 0).unwrap();
    body["resource"]["created_at"] = created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        .into();
    body.to_string()
}

fn message_id(n: u64) -> String {
    format!("7a1b2c3d-0000-4000-8000-{n:012x}")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The service with the in-memory store, configured like events/README.md says, without Giosg
/// (these routes never call it), as chat-history and giosg-webhooks build it.
fn app(runtime: &tokio::runtime::Runtime) -> Arc<Api<MemoryStore>> {
    let env = [
        ("TABLE_NAME", "in-memory"),
        ("GIOSG_BASE_URL", "http://127.0.0.1:9"),
        ("GIOSG_ORG_ID", ORG_ID),
        ("GIOSG_ROOM_ID", ROOM_ID),
        ("SECRET_ID", "local"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = Settings::from_lookup(lookup_in(&env)).unwrap();
    let secrets = runtime
        .block_on(SecretsCache::load(
            SecretSource::Static(Secrets {
                giosg_api_token: Secret::new("unused"),
                webhook_secret: Secret::new(WEBHOOK_SECRET),
                previous_webhook_secret: None,
                identity_secret: None,
            }),
            settings.secrets_refresh,
        ))
        .unwrap();
    let service = Service::without_giosg(MemoryStore::new(), Rules::from_settings(&settings));
    Arc::new(Api::new(service, &settings).with_webhook_secrets(Arc::new(secrets)))
}

fn webhook_request(body: String) -> http::Request<Body> {
    http::Request::builder()
        .method("POST")
        .uri(format!("/webhooks/giosg/messages?token={WEBHOOK_SECRET}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

fn webhooks(c: &mut Criterion) {
    let message = recorded_body("webhooks/message-added-visitor.json");
    let chat = recorded_body("webhooks/chat-added.json");
    let changed = recorded_body("webhooks/message-changed.json");
    let room = RoomId::new(ROOM_ID);
    let mut group = c.benchmark_group("webhook");

    group.bench_function("parse message added", |b| {
        b.iter(|| parse_message_webhook(black_box(message.as_bytes())).unwrap())
    });
    group.bench_function("parse chat added", |b| {
        b.iter(|| parse_chat_webhook(black_box(chat.as_bytes())).unwrap())
    });
    let hook = parse_message_webhook(message.as_bytes()).unwrap();
    group.bench_function("fold message added into nothing", |b| {
        b.iter(|| {
            apply_message_event(
                None,
                black_box(&hook.chat_id),
                &hook.message_id,
                &hook.event,
                &room,
            )
        })
    });

    let runtime = runtime();
    let app = app(&runtime);
    let router = api::giosg_webhooks(Arc::clone(&app));
    let mut n = 0u64;
    group.bench_function("handle message added (new message, in-memory store)", |b| {
        b.iter_batched(
            || {
                n += 1;
                let body = message_added(
                    &message,
                    "5d9e8f7a-0000-4000-8000-0000000000c1",
                    &message_id(n),
                    n as i64,
                );
                webhook_request(body)
            },
            |request| runtime.block_on(router.clone().oneshot(request)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("handle message added (redelivery)", |b| {
        b.iter_batched(
            || webhook_request(message.clone()),
            |request| runtime.block_on(router.clone().oneshot(request)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("handle message changed (merge)", |b| {
        b.iter_batched(
            || webhook_request(changed.clone()),
            |request| runtime.block_on(router.clone().oneshot(request)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// A visitor with one chat of `messages` messages; returns (token, chat id).
fn chat_with_history(
    runtime: &tokio::runtime::Runtime,
    app: &Api<MemoryStore>,
    messages: u64,
) -> (VisitorToken, ChatId) {
    let token = VisitorToken::generate();
    let chat_hook =
        parse_chat_webhook(recorded_body("webhooks/chat-added.json").as_bytes()).unwrap();
    let chat_id = chat_hook.chat_id.clone();
    let visitor = VisitorRecord {
        key: token.key(),
        giosg_visitor_id: VisitorId::new("3f0c9e1a2b4d4c6e8a0b1c2d3e4f5a6b"),
        credentials: SealedCredentials::seal(
            &GiosgCredentials {
                visitor_secret_id: Secret::new("visitor-secret"),
                access_token: Secret::new("access-token"),
                access_token_expires_at: Utc::now(),
            },
            &token,
        ),
        name: "Ada".into(),
        latest_chat_id: Some(chat_id.clone()),
        created_at: Utc::now(),
        visitor_ref: None,
        identity: None,
    };
    let template = recorded_body("webhooks/message-added-visitor.json");
    runtime.block_on(async {
        app.service
            .store()
            .put_visitor(&visitor, &app.service.rules().store_context)
            .await
            .unwrap();
        let event = ChatEvent {
            action: EventAction::Added,
            resource: chat_hook.event.resource.clone(),
            owner: Some(ChatOwner {
                visitor: token.key(),
                visitor_name: "Ada".into(),
            }),
        };
        app.service
            .store()
            .apply_chat_event(&chat_id, &event, &app.service.rules().store_context)
            .await
            .unwrap();
        for n in 0..messages {
            let body = message_added(
                &template,
                chat_id.as_str(),
                &message_id(1 << 40 | n),
                n as i64,
            );
            let hook = parse_message_webhook(body.as_bytes()).unwrap();
            app.service
                .store()
                .apply_message_event(
                    &hook.chat_id,
                    &hook.message_id,
                    &hook.event,
                    &app.service.rules().store_context,
                )
                .await
                .unwrap();
        }
    });
    (token, chat_id)
}

fn history(c: &mut Criterion) {
    let runtime = runtime();
    let app = app(&runtime);
    let (token, chat_id) = chat_with_history(&runtime, &app, 200);
    let router = api::chat_history(Arc::clone(&app));
    let bearer = format!("Bearer {}", token.expose());
    let get = |uri: &str| {
        http::Request::builder()
            .method("GET")
            .uri(uri)
            .header("authorization", bearer.as_str())
            .body(Body::empty())
            .unwrap()
    };
    let mut group = c.benchmark_group("history of a 200-message chat");

    for limit in [20usize, 100] {
        group.bench_function(format!("store page, newest {limit}"), |b| {
            b.iter(|| {
                runtime
                    .block_on(
                        app.service
                            .store()
                            .history_page(&chat_id, &PageRequest::Latest { limit }),
                    )
                    .unwrap()
            })
        });
        let uri = format!("/v1/chats/{}/messages?limit={limit}", chat_id.as_str());
        let request = || get(&uri);
        let response = runtime.block_on(router.clone().oneshot(request())).unwrap();
        assert_eq!(response.status(), 200);
        group.bench_function(
            format!("handle GET, newest {limit} (auth, query, JSON)"),
            |b| {
                b.iter_batched(
                    &request,
                    |request| runtime.block_on(router.clone().oneshot(request)).unwrap(),
                    BatchSize::SmallInput,
                )
            },
        );
        if limit == 100 {
            let bytes = runtime
                .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
                .unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            let cursor = body["next_cursor"].as_str().unwrap().to_owned();
            let token = token.clone();
            let uri = format!("/v1/chats/{}/messages?after={cursor}", chat_id.as_str());
            group.bench_function(
                "handle GET after the newest cursor (polling, empty page)",
                |b| {
                    b.iter_batched(
                        || {
                            http::Request::builder()
                                .method("GET")
                                .uri(uri.as_str())
                                .header("authorization", format!("Bearer {}", token.expose()))
                                .body(Body::empty())
                                .unwrap()
                        },
                        |request| runtime.block_on(router.clone().oneshot(request)).unwrap(),
                        BatchSize::SmallInput,
                    )
                },
            );
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = webhooks, history
}
criterion_main!(benches);
