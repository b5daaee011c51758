//! The metrics the running handlers write, read back as EMF documents: webhook results,
//! requests by route and status, Giosg calls by endpoint and outcome with their latency, and a
//! conditional-write conflict on DynamoDB (moto). Every document is checked against the
//! metrics' one list: no metric, unit or dimension that is not declared there.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use reqwest::Method;
use serde_json::{Value, json};
use shared::domain::RoomId;
use shared::domain::webhook::parse_chat_webhook;
use shared::metrics::Metrics;
use shared::service::ReconcileLimits;
use shared::store::dynamodb::DynamoStore;
use shared::store::memory::MemoryStore;
use shared::store::{Applied, ChatStore, StoreContext};
use support::emf::{documents, sum, with};
use support::harness::{Options, TestEnv, WEBHOOK_SECRET, start_with};

const NAMESPACE: &str = "Test/GiosgBridge";

async fn start(function: &str) -> (TestEnv<MemoryStore>, shared::metrics::Captured) {
    let (metrics, captured) = Metrics::in_memory(NAMESPACE, function);
    let env = start_with(
        MemoryStore::new(),
        Options {
            metrics: Some(metrics),
            ..Options::default()
        },
    )
    .await;
    (env, captured)
}

fn chat_added(org: &str, room: &str, chat: &str) -> Value {
    json!({
        "channel": format!("/api/v5/orgs/{org}/owned_chats"),
        "action": "added",
        "resource_id": chat,
        "resource": {"id": chat, "room_id": room, "created_at": "2026-11-24T10:00:00.000Z",
                     "updated_at": "2026-11-24T10:00:00.000Z", "is_ended": false, "is_waiting": false}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_are_counted_by_result() {
    let (env, captured) = start("giosg-webhooks").await;
    let org = env.sim.org_id().to_owned();
    let room = env.sim.room_id().to_owned();
    let chat = "22222222-0000-4000-8000-000000000001";
    let ours = chat_added(&org, &room, chat);
    let others = chat_added("33333333-0000-4000-8000-000000000003", &room, chat);
    let with_token = format!("/webhooks/giosg/chats?token={WEBHOOK_SECRET}");
    let cases = [
        (&with_token, ours.clone(), 200, "stored"),
        (&with_token, ours.clone(), 200, "duplicate"),
        (&with_token, others, 200, "ignored"),
        (
            &"/webhooks/giosg/chats?token=wrong-secret-wrong-secret".to_owned(),
            ours,
            401,
            "refused",
        ),
        (&with_token, json!({"not": "an envelope"}), 400, "refused"),
    ];
    for (path, body, status, result) in cases {
        let before = captured.lines().len();
        let reply = env.call(Method::POST, path, None, Some(body)).await;
        assert_eq!(reply.status, status, "{}", reply.body);
        let all = documents(&captured, NAMESPACE);
        let written = &all[before..];
        // One request, one invocation: one line.
        assert_eq!(written.len(), 1, "{written:?}");
        let document = &written[0];
        assert_eq!(document["Function"], "giosg-webhooks");
        assert_eq!(document["Webhooks"], 1.0, "{document}");
        assert_eq!(document["Result"], result, "{document}");
        assert_eq!(document["Requests"], 1.0);
        assert_eq!(document["Route"], "POST /webhooks/giosg/chats");
        assert_eq!(document["Status"], status.to_string());
        assert_eq!(document["ServerErrors"], 0.0);
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_counted_by_route_and_status() {
    let (env, captured) = start("every-route").await;
    env.call(Method::GET, "/v1/availability", None, None).await;
    env.call(Method::GET, "/v1/chats", None, None)
        .await
        .assert_error(401, "unauthorized");
    // Not in openapi.yaml, so past the harness's check of documented answers.
    let unknown = env
        .http
        .get(format!("{}/v1/nothing-here", env.api))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let all = documents(&captured, NAMESPACE);
    let requests = with(&all, "Requests", None);
    let count = |route: &str, status: &str| {
        let matching: Vec<&Value> = requests
            .iter()
            .copied()
            .filter(|document| document["Route"] == route && document["Status"] == status)
            .collect();
        sum(&matching, "Requests")
    };
    assert_eq!(count("GET /v1/availability", "200"), 1.0, "{all:?}");
    assert_eq!(count("GET /v1/chats", "401"), 1.0, "{all:?}");
    assert_eq!(count("unmatched", "404"), 1.0, "{all:?}");
    assert_eq!(sum(&requests, "Requests"), 3.0);
    assert_eq!(sum(&requests, "ServerErrors"), 0.0);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giosg_calls_are_counted_by_endpoint_and_outcome_with_their_latency() {
    let (env, captured) = start("send-message").await;
    let (token, chat) = env.new_chat("Ada").await;
    assert_eq!(env.send(&token, &chat, "hello").await.status, 201);

    let all = documents(&captured, NAMESPACE);
    let sends = with(&all, "GiosgCalls", Some(("Endpoint", "send_message")));
    assert_eq!(sends.len(), 1, "{all:?}");
    assert_eq!(sends[0]["Outcome"], "ok");
    assert_eq!(sends[0]["GiosgCalls"], 1.0);
    assert!(sends[0]["GiosgLatency"].as_f64().is_some_and(|ms| ms > 0.0));
    // The send's request is in the same line: one invocation, one line.
    assert_eq!(sends[0]["Route"], "POST /v1/chats/{chat_id}/messages");
    assert_eq!(sends[0]["Status"], "201");
    // Starting the chat called Giosg's visitor endpoints, each counted with its latency.
    let auth = with(&all, "GiosgCalls", Some(("Endpoint", "visitor_auth")));
    assert!(sum(&auth, "GiosgCalls") >= 1.0, "{all:?}");
    assert!(sum(&with(&all, "GiosgLatency", None), "GiosgLatency") > 0.0);

    // Giosg down: the send is counted unavailable, and the request as a 5xx.
    env.sim(
        Method::POST,
        "/_sim/faults",
        Some(json!({"endpoint": "*", "status": 503, "count": 1000})),
    )
    .await;
    let before = captured.lines().len();
    env.send(&token, &chat, "anyone?")
        .await
        .assert_error(503, "giosg_unavailable");
    let all = documents(&captured, NAMESPACE);
    let written = &all[before..];
    let failed = with(written, "GiosgCalls", Some(("Endpoint", "send_message")));
    assert_eq!(failed.len(), 1, "{written:?}");
    assert_eq!(failed[0]["Outcome"], "unavailable");
    let requests = with(written, "Requests", Some(("Status", "503")));
    assert_eq!(sum(&requests, "ServerErrors"), 1.0, "{written:?}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciler_repairs_and_failures_are_counted() {
    let (env, captured) = start("giosg-reconciler").await;
    let (_, chat) = env.new_chat("Ada").await;
    env.flush_webhooks().await;
    // The agent's message and what it changes reach Giosg but not the bridge.
    env.sim(
        Method::POST,
        "/_sim/webhooks/faults",
        Some(json!({"mode": "drop", "count": 10})),
    )
    .await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/messages"),
        Some(json!({"text": "lost on the way"})),
    )
    .await;
    env.flush_webhooks().await;
    let limits = ReconcileLimits::default();
    let run = || {
        env.app
            .metrics()
            .invocation(env.app.service.reconcile_active(&limits))
    };

    let before = captured.lines().len();
    let report = run().await.unwrap();
    assert_eq!(report.chats_repaired, 1, "{report:?}");
    let all = documents(&captured, NAMESPACE);
    let written = &all[before..];
    assert_eq!(
        sum(&with(written, "ReconcileRepairs", None), "ReconcileRepairs"),
        1.0
    );
    assert_eq!(
        sum(
            &with(written, "ReconcileFailures", None),
            "ReconcileFailures"
        ),
        0.0
    );
    assert!(
        !with(written, "ReconcileFailures", None).is_empty(),
        "0 is written too"
    );
    assert!(!with(written, "GiosgCalls", Some(("Endpoint", "owned_chat"))).is_empty());

    // Nothing left to repair.
    let before = captured.lines().len();
    run().await.unwrap();
    let all = documents(&captured, NAMESPACE);
    assert!(with(&all[before..], "ReconcileRepairs", None).is_empty());

    // Giosg down: the run stops at the chat, a failure.
    env.sim(
        Method::POST,
        "/_sim/faults",
        Some(json!({"endpoint": "*", "status": 503, "count": 1000})),
    )
    .await;
    let before = captured.lines().len();
    let report = run().await.unwrap();
    let all = documents(&captured, NAMESPACE);
    let failures = sum(
        &with(&all[before..], "ReconcileFailures", None),
        "ReconcileFailures",
    );
    assert_eq!(failures, report.failures as f64);
    assert!(failures >= 1.0, "{report:?}");
    env.stop().await;
}

/// Turns the first conditional `PutItem` of a new item into one that fails its condition, as
/// if another writer had put the item between the store's read and its write.
#[derive(Debug, Default)]
struct ConcurrentWriter {
    done: AtomicBool,
}

impl Intercept for ConcurrentWriter {
    fn name(&self) -> &'static str {
        "ConcurrentWriter"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let is_put = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|target| target.ends_with(".PutItem"));
        let Some(body) = request.body().bytes().map(<[u8]>::to_vec) else {
            return Ok(());
        };
        let text = String::from_utf8(body)?;
        let condition = "attribute_not_exists(#pk)";
        if is_put && text.contains(condition) && !self.done.swap(true, Ordering::SeqCst) {
            // The same length, so the request's Content-Length still holds.
            let failing = text.replacen(condition, "attribute_exists(#pk)    ", 1);
            *request.body_mut() = SdkBody::from(failing);
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_write_conflict_is_counted() {
    let (_, table) = support::moto::fresh_table().await;
    let writer = Arc::new(ConcurrentWriter::default());
    let sdk = shared::aws::sdk_config(Some(support::moto::endpoint())).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(SharedWriter(Arc::clone(&writer)))
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table);
    let room = "44444444-0000-4000-8000-000000000004";
    let envelope = chat_added("55555555-0000-4000-8000-000000000005", room, "c-conflict");
    let hook = parse_chat_webhook(envelope.to_string().as_bytes()).unwrap();
    let context = StoreContext::new(RoomId::new(room));

    let (metrics, captured) = Metrics::in_memory(NAMESPACE, "giosg-webhooks");
    let (applied, _) = metrics
        .invocation(store.apply_chat_event(&hook.chat_id, &hook.event, &context))
        .await
        .unwrap();
    assert!(
        writer.done.load(Ordering::SeqCst),
        "the write was contested"
    );
    // Read again, folded again, written: the delivery is stored all the same.
    assert_eq!(applied, Applied::Stored);
    assert!(store.get_chat(&hook.chat_id).await.unwrap().is_some());
    let all = documents(&captured, NAMESPACE);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["StoreConflicts"], 1.0, "{all:?}");

    // Uncontested, a redelivery counts none.
    let (metrics, captured) = Metrics::in_memory(NAMESPACE, "giosg-webhooks");
    metrics
        .invocation(store.apply_chat_event(&hook.chat_id, &hook.event, &context))
        .await
        .unwrap();
    let all = documents(&captured, NAMESPACE);
    assert!(with(&all, "StoreConflicts", None).is_empty(), "{all:?}");
}

/// The interceptor, shared so that the test can see whether it acted.
#[derive(Debug)]
struct SharedWriter(Arc<ConcurrentWriter>);

impl Intercept for SharedWriter {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.modify_before_signing(context, components, cfg)
    }
}
