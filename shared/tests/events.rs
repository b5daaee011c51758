//! Every recorded event in `events/` goes through the real Lambda entry point
//! (`shared::lambda::invoke` with the function's router) and answers what `events/manifest.json`
//! says.

mod support;

use std::path::PathBuf;

use serde::Deserialize;
use shared::api::{self, function_routes};
use shared::store::memory::MemoryStore;
use support::harness::{Options, start_with};

/// The fixed values the recorded events use (see events/README.md).
const ORG_ID: &str = "6f2b6d0e-0000-4000-8000-000000000001";
const ROOM_ID: &str = "0b2f3c4d-0000-4000-8000-0000000000aa";
const OTHER_ROOM_ID: &str = "0b2f3c4d-0000-4000-8000-0000000000bb";
const WEBHOOK_SECRET: &str = "local-webhook-secret-0123456789";

#[derive(Deserialize)]
struct Entry {
    file: String,
    function: String,
    expected_status: u16,
    #[serde(default)]
    expected_code: Option<String>,
    #[serde(default)]
    expected_result: Option<String>,
}

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recorded_event_answers_its_expected_status() {
    let env = start_with(
        MemoryStore::new(),
        Options {
            ids: Some((ORG_ID.into(), ROOM_ID.into(), OTHER_ROOM_ID.into())),
            webhook_secret: WEBHOOK_SECRET.into(),
            ..Options::default()
        },
    )
    .await;
    let manifest: Vec<Entry> =
        serde_json::from_str(&std::fs::read_to_string(events_dir().join("manifest.json")).unwrap())
            .unwrap();
    assert!(
        manifest.len() >= 20,
        "a recorded event per route and webhook kind"
    );

    // A visitor, a chat and a cursor for the events that act on existing ones.
    let (token, chat_id) = env.new_chat("Event Replay").await;
    let cursor = env.history(&token, &chat_id, "").await.body["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut files_seen = Vec::new();
    for entry in &manifest {
        let raw = std::fs::read_to_string(events_dir().join(&entry.file))
            .unwrap_or_else(|e| panic!("{}: {e}", entry.file));
        let event = raw
            .replace("VISITOR_TOKEN_PLACEHOLDER", &token)
            .replace("CHAT_ID_PLACEHOLDER", &chat_id)
            .replace("CURSOR_PLACEHOLDER", &cursor);
        let request = lambda_http::request::from_str(&event)
            .unwrap_or_else(|e| panic!("{} is not a Lambda HTTP event: {e}", entry.file));
        function_routes::by_name(&entry.function)
            .unwrap_or_else(|| panic!("{}: unknown function {}", entry.file, entry.function));
        // The operator API needs a store that can erase; the others any store.
        let router = match entry.function.as_str() {
            "operator-api" => api::operator_api(env.app.clone()),
            function => api::function_router(function, env.app.clone()).unwrap(),
        };
        let (status, body) = json_answer(shared::lambda::invoke(&router, request).await).await;
        assert_eq!(status, entry.expected_status, "{}: {body}", entry.file);
        let recorded: serde_json::Value = serde_json::from_str(&event).unwrap();
        let method = recorded["requestContext"]["http"]["method"]
            .as_str()
            .unwrap();
        let path = recorded["rawPath"].as_str().unwrap();
        if let Err(problem) =
            support::openapi::openapi().check_response(method, path, status, &body)
        {
            panic!(
                "{}: the answer does not match openapi.yaml: {problem}",
                entry.file
            );
        }
        if let Some(code) = &entry.expected_code {
            assert_eq!(body["error"]["code"], code.as_str(), "{}", entry.file);
        }
        if let Some(result) = &entry.expected_result {
            assert_eq!(body["result"], result.as_str(), "{}", entry.file);
        }
        files_seen.push(entry.file.clone());
    }

    // Every file in events/ is in the manifest, so none goes untested.
    for folder in ["api", "webhooks", "operator"] {
        for file in std::fs::read_dir(events_dir().join(folder)).unwrap() {
            let name = format!("{folder}/{}", file.unwrap().file_name().to_string_lossy());
            assert!(
                files_seen.contains(&name),
                "{name} is not in events/manifest.json"
            );
        }
    }
    env.stop().await;
}

/// A request still waiting on Giosg when the invocation's deadline nears is answered in the
/// API's error shape (503 giosg_unavailable), not cut off by Lambda.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_giosg_is_answered_before_the_invocation_deadline() {
    use lambda_http::RequestExt;

    let env = start_with(MemoryStore::new(), Options::default()).await;
    env.sim(
        reqwest::Method::POST,
        "/_sim/delays",
        Some(serde_json::json!({"endpoint": "start_chat", "delay_ms": 1500, "count": 1})),
    )
    .await;
    let raw =
        std::fs::read_to_string(events_dir().join("api/start-chat-new-visitor.json")).unwrap();
    let mut context = lambda_http::Context::default();
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap();
    // Giosg answers after 1.5 s, within the client's timeout and retry budget (2 s in tests):
    // only the deadline (1.2 s away, less the margin) can turn this into a 503.
    context.deadline = now_ms + 1_200;
    context.request_id = "deadline-test".into();
    let request = lambda_http::request::from_str(&raw)
        .unwrap()
        .with_lambda_context(context);
    let router = api::start_chat(env.app.clone());
    let (status, body) = json_answer(shared::lambda::invoke(&router, request).await).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "giosg_unavailable");
    env.stop().await;
}

/// On Lambda, anonymous starts are limited by the address API Gateway saw
/// (`requestContext.http.sourceIp` of the recorded event), not by whoever delivered the event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_start_is_limited_by_its_source_ip() {
    let mut options = Options::default();
    options.env.extend([
        ("ANONYMOUS_START_RATE_PER_MINUTE", "1".to_owned()),
        ("ANONYMOUS_START_BURST", "1".to_owned()),
    ]);
    let env = start_with(MemoryStore::new(), options).await;
    let raw =
        std::fs::read_to_string(events_dir().join("api/start-chat-new-visitor.json")).unwrap();
    let router = api::start_chat(env.app.clone());
    let first = shared::lambda::invoke(&router, lambda_http::request::from_str(&raw).unwrap());
    assert_eq!(first.await.status(), 201);
    let again = shared::lambda::invoke(&router, lambda_http::request::from_str(&raw).unwrap());
    let again = again.await;
    assert_eq!(again.headers()["retry-after"], "60");
    let (status, body) = json_answer(again).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (429, &serde_json::json!("rate_limited"))
    );
    // From another address (this test's own, over HTTP): a bucket of its own.
    env.new_chat("Ada").await;
    env.stop().await;
}

/// The status and JSON body of an answer, which must say it is JSON.
async fn json_answer(response: axum::response::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "JSON expected"
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// The reconciler's events (the schedule's, and the manual invokes for one chat and a wider
/// window) go through the handler its function runs, `shared::jobs::handle`, and a payload it
/// does not understand fails the invocation with a sentence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reconciler_event_runs_through_its_handler() {
    use shared::service::ReconcileLimits;

    let env = start_with(MemoryStore::new(), Options::default()).await;
    let (_, chat_id) = env.new_chat("Event Replay").await;
    let limits = ReconcileLimits::default();
    let expected = [
        ("reconciler/scheduled.json", "run"),
        ("reconciler/one-chat.json", "chat"),
        ("reconciler/wider-window.json", "run"),
    ];
    for (file, answer) in expected {
        let raw = std::fs::read_to_string(events_dir().join(file)).unwrap();
        let payload: serde_json::Value =
            serde_json::from_str(&raw.replace("CHAT_ID_PLACEHOLDER", &chat_id)).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let answered = shared::jobs::handle(&env.app.service, &limits, &payload, Some(deadline))
            .await
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        assert!(answered[answer].is_object(), "{file}: {answered}");
    }
    let scheduled = shared::jobs::handle(
        &env.app.service,
        &limits,
        &serde_json::from_str(
            &std::fs::read_to_string(events_dir().join("reconciler/scheduled.json")).unwrap(),
        )
        .unwrap(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(scheduled["run"]["chats_active"], 1, "{scheduled}");
    let refused = shared::jobs::handle(
        &env.app.service,
        &limits,
        &serde_json::json!({"reconcile": "everything"}),
        None,
    )
    .await
    .unwrap_err();
    assert!(refused.contains("not a reconciler invocation"), "{refused}");
    let files = std::fs::read_dir(events_dir().join("reconciler"))
        .unwrap()
        .count();
    assert_eq!(
        files,
        expected.len(),
        "every reconciler event is replayed here"
    );
    env.stop().await;
}

/// The real-time feed's events go through the handlers their functions run, on DynamoDB
/// (moto), posting through the API Gateway adapter to moto's management API: the WebSocket
/// routes (`shared::jobs::feed_socket::handle`, events/feed-socket/) and a stream batch
/// (`shared::jobs::feed_notifier::notify`, events/feed-notifier/).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_feed_event_runs_through_its_handler() {
    use serde_json::{Value, json};
    use shared::jobs::{feed_notifier, feed_socket};
    use shared::push::apigateway::ApiGatewayPush;
    use shared::store::SubscriptionStore;
    use shared::store::dynamodb::DynamoStore;

    let (client, table) = support::moto::fresh_table().await;
    let env = start_with(
        DynamoStore::new(client.clone(), table.clone()),
        Options::default(),
    )
    .await;
    let store = DynamoStore::new(client, table);
    let pusher =
        ApiGatewayPush::new(&shared::aws::sdk_config(Some(support::moto::endpoint())).await);
    let (token, chat_id) = env.new_chat("Event Replay").await;
    let event = |file: &str| -> Value {
        let raw = std::fs::read_to_string(events_dir().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        serde_json::from_str(
            &raw.replace("VISITOR_TOKEN_PLACEHOLDER", &token)
                .replace("CHAT_ID_PLACEHOLDER", &chat_id),
        )
        .unwrap()
    };
    let route = async |file: &str| {
        feed_socket::handle(&env.app.service, &pusher, &event(file))
            .await
            .unwrap_or_else(|error| panic!("{file}: {error}"))
    };
    let mut replayed = Vec::new();
    let expected = [
        ("feed-socket/connect.json", json!({"statusCode": 200})),
        (
            "feed-socket/connect-subprotocol.json",
            json!({"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "bearer"}}),
        ),
        ("feed-socket/subscribe.json", json!({"statusCode": 200})),
    ];
    for (file, answer) in expected {
        assert_eq!(route(file).await, answer, "{file}");
        replayed.push(file);
    }
    let chat = shared::domain::ChatId::new(chat_id.as_str());
    assert_eq!(store.subscriptions(&chat).await.unwrap().len(), 1);

    // A message stored after the subscription: the batch (a feed entry, the chat's end)
    // pushes it and the chat to the subscriber.
    assert_eq!(
        env.send(&token, &chat_id, "after subscribing").await.status,
        201
    );
    let file = "feed-notifier/stream-batch.json";
    let report = feed_notifier::notify(&env.app.service, &pusher, &event(file))
        .await
        .unwrap_or_else(|error| panic!("{file}: {error}"));
    assert_eq!(
        (
            report.subscriptions,
            report.frames,
            report.gone,
            report.failed
        ),
        (2, 2, 0, 0),
        "{file}: {report:?}"
    );
    replayed.push(file);

    assert_eq!(
        route("feed-socket/disconnect.json").await,
        json!({"statusCode": 200})
    );
    replayed.push("feed-socket/disconnect.json");
    assert!(store.subscriptions(&chat).await.unwrap().is_empty());

    // Unsubstituted, the placeholder is no token: the connection is refused.
    let raw = std::fs::read_to_string(events_dir().join("feed-socket/connect.json")).unwrap();
    let refused = feed_socket::handle(
        &env.app.service,
        &pusher,
        &serde_json::from_str(&raw).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(refused, json!({"statusCode": 401}));
    // Not a stream batch: the invocation fails with a sentence.
    let refused = feed_notifier::handle(
        &env.app.service,
        &pusher,
        None::<&feed_notifier::Away<shared::notify::LogNotifier>>,
        &json!({"chat_id": "c"}),
    )
    .await;
    assert!(refused.unwrap_err().contains("not a DynamoDB stream batch"));

    for folder in ["feed-socket", "feed-notifier"] {
        for file in std::fs::read_dir(events_dir().join(folder)).unwrap() {
            let name = format!("{folder}/{}", file.unwrap().file_name().to_string_lossy());
            assert!(
                replayed.contains(&name.as_str()),
                "{name} is not replayed here"
            );
        }
    }
    env.stop().await;
}
