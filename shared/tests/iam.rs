//! Each function's DynamoDB calls are allowed by its policy in `template.yaml`.
//!
//! The product runs against moto with an SDK interceptor that records the name of every
//! DynamoDB operation; each function's flows run in their own phase (webhooks held back until
//! the webhook phase), the happy paths and the rare ones alike (unknown outcomes, found-out
//! retries, refusals, placement, echo matching), and what a phase called must be among the
//! actions its function's policy grants. A missing `UpdateItem` once hid here: AWS would have
//! answered `AccessDenied` where moto, which checks no policy, answered fine.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::Client;
use reqwest::Method;
use serde_json::json;
use serde_yaml_ng::Value as Yaml;
use shared::aws::OperationLog;
use shared::domain::ChatId;
use shared::domain::input::VisitorRef;
use shared::domain::visitor::VisitorToken;
use shared::push::apigateway::ApiGatewayPush;
use shared::service::ReconcileLimits;
use shared::store::dynamodb::DynamoStore;
use support::harness::{TestEnv, WEBHOOK_SECRET};
use support::management::ManagementApi;

/// The permissions the calls since the last look needed (`dynamodb:Query on index/history`).
fn ops(log: &OperationLog) -> BTreeSet<String> {
    log.take();
    log.take_needs()
}

/// The table resources a statement names: `table` for the table's ARN, `index/<name>` for an
/// index's (other resources, the secret's, are none of the table's).
fn table_resources(resource: &Yaml) -> Vec<String> {
    let one = |value: &Yaml| -> Option<String> {
        let Yaml::Tagged(tagged) = value else {
            return None;
        };
        let text = tagged.value.as_str()?;
        if tagged.tag == "GetAtt" && text == "ChatTable.Arn" {
            return Some("table".into());
        }
        if tagged.tag == "Sub" {
            return text
                .strip_prefix("${ChatTable.Arn}/")
                .map(|rest| rest.trim_end_matches("/*").to_owned());
        }
        None
    };
    match resource {
        Yaml::Sequence(many) => many.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

/// The table permissions each function's policy grants (`dynamodb:Query on index/history`),
/// by cargo binary name.
fn granted() -> BTreeMap<String, BTreeSet<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let template: Yaml = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut granted = BTreeMap::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(binary) = resource["Metadata"]["BuildProperties"]["Binary"].as_str() else {
            continue;
        };
        let mut permissions = BTreeSet::new();
        for policy in resource["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            for statement in policy["Statement"].as_sequence().into_iter().flatten() {
                let actions = match &statement["Action"] {
                    Yaml::String(one) => vec![one.clone()],
                    Yaml::Sequence(many) => many
                        .iter()
                        .filter_map(|a| a.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                };
                let resources = table_resources(&statement["Resource"]);
                for action in actions.iter().filter(|a| a.starts_with("dynamodb:")) {
                    for resource in &resources {
                        permissions.insert(format!("{action} on {resource}"));
                    }
                }
            }
        }
        granted.insert(binary.to_owned(), permissions);
    }
    granted
}

fn check(function: &str, needed: BTreeSet<String>, granted: &BTreeMap<String, BTreeSet<String>>) {
    assert!(
        !needed.is_empty(),
        "{function}: the phase made no DynamoDB call"
    );
    let allowed = &granted[function];
    let missing: Vec<&String> = needed
        .iter()
        .filter(|permission| !allowed.contains(*permission))
        .collect();
    assert!(
        missing.is_empty(),
        "{function} needs {needed:?} but its policy lacks {missing:?} (grants {allowed:?})"
    );
}

async fn fault(env: &TestEnv<DynamoStore>, spec: serde_json::Value) {
    env.sim(Method::POST, "/_sim/faults", Some(spec)).await;
}

/// Ends a chat in the store the way Giosg says so: a chat `changed` webhook.
async fn end_chat(env: &TestEnv<DynamoStore>, chat: &str) {
    let body = json!({"channel": format!("/api/v5/orgs/{}/owned_chats", env.sim.org_id()),
        "action": "changed", "resource_id": chat,
        "resource": {"is_ended": true, "ended_at": "2026-11-30T10:00:00.000Z"}});
    let url = format!("/webhooks/giosg/chats?token={WEBHOOK_SECRET}");
    assert_eq!(post_json(env, &url, None, body).await, 200);
}

async fn post_json(
    env: &TestEnv<DynamoStore>,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> u16 {
    env.call(Method::POST, path, token, Some(body)).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_calls_only_what_its_policy_grants() {
    let (client, table) = support::moto::fresh_table().await;
    let recorder = OperationLog::default();
    let recorded = Client::from_conf(
        client
            .config()
            .to_builder()
            .interceptor(recorder.clone())
            .build(),
    );
    // The limits against floods at their defaults: starts and sends read and write buckets.
    let options = support::harness::Options {
        env: vec![("AVAILABILITY_CACHE_SECONDS", "0".into())],
        ..support::harness::Options::default()
    };
    let env = support::harness::start_with(DynamoStore::new(recorded, table), options).await;
    let granted = granted();
    env.sim(Method::POST, "/_sim/webhooks/pause", Some(json!({})))
        .await;
    ops(&recorder);

    // start-chat: availability, a new visitor, a resume, a start after the chat ended, one
    // whose answer was lost and its found-out retry.
    env.call(Method::GET, "/v1/availability", None, None).await;
    let (token, first) = env.new_chat("Ada").await;
    let again = json!({"visitor_name": "Ada B."});
    assert_eq!(
        post_json(&env, "/v1/chats", Some(&token), again.clone()).await,
        200
    );
    let mut start_chat = ops(&recorder);
    end_chat(&env, &first).await;
    let mut giosg_webhooks = ops(&recorder);
    let second = env
        .call(Method::POST, "/v1/chats", Some(&token), Some(again.clone()))
        .await;
    assert_eq!(second.status, 201);
    start_chat.append(&mut ops(&recorder));
    end_chat(&env, second.body["chat"]["id"].as_str().unwrap()).await;
    giosg_webhooks.append(&mut ops(&recorder));
    fault(
        &env,
        json!({"endpoint": "start_chat", "status": 502, "after_effect": true}),
    )
    .await;
    assert_eq!(
        post_json(&env, "/v1/chats", Some(&token), again.clone()).await,
        503
    );
    let third = env
        .call(Method::POST, "/v1/chats", Some(&token), Some(again))
        .await;
    assert_eq!(third.status, 201);
    let chat = third.body["chat"]["id"].as_str().unwrap().to_owned();
    start_chat.append(&mut ops(&recorder));
    check("start-chat", start_chat, &granted);

    // send-message: with a key and its replay, without a key, a lost answer and its retry, a
    // refusal in an open chat.
    let path = format!("/v1/chats/{chat}/messages");
    let keyed = json!({"text": "one", "client_message_id": "k1"});
    assert_eq!(
        post_json(&env, &path, Some(&token), keyed.clone()).await,
        201
    );
    assert_eq!(post_json(&env, &path, Some(&token), keyed).await, 200);
    assert_eq!(
        post_json(&env, &path, Some(&token), json!({"text": "two"})).await,
        201
    );
    fault(
        &env,
        json!({"endpoint": "send_message", "status": 502, "after_effect": true}),
    )
    .await;
    let lost = json!({"text": "three", "client_message_id": "k3"});
    assert_eq!(
        post_json(&env, &path, Some(&token), lost.clone()).await,
        503
    );
    assert_eq!(post_json(&env, &path, Some(&token), lost).await, 200);
    fault(
        &env,
        json!({"endpoint": "send_message", "status": 504, "after_effect": true}),
    )
    .await;
    let echoed = json!({"text": "four", "client_message_id": "k4"});
    assert_eq!(post_json(&env, &path, Some(&token), echoed).await, 503);
    fault(&env, json!({"endpoint": "send_message", "status": 403})).await;
    let refused = json!({"text": "five", "client_message_id": "k5"});
    assert!(post_json(&env, &path, Some(&token), refused).await >= 400);
    check("send-message", ops(&recorder), &granted);

    // chat-history: the list, one chat, the history view and the feed.
    env.call(Method::GET, "/v1/chats", Some(&token), None).await;
    env.call(
        Method::GET,
        &format!("/v1/chats/{chat}"),
        Some(&token),
        None,
    )
    .await;
    let latest = env.history(&token, &chat, "?limit=2").await;
    let prev = latest.body["prev_cursor"].as_str().unwrap().to_owned();
    let next = latest.body["next_cursor"].as_str().unwrap().to_owned();
    env.history(&token, &chat, &format!("?before={prev}")).await;
    env.history(&token, &chat, &format!("?after={next}")).await;
    let start = shared::domain::feed::FeedCursor::start().encode();
    let feed = env.history(&token, &chat, &format!("?after={start}")).await;
    assert!(!feed.body["messages"].as_array().unwrap().is_empty());
    check("chat-history", ops(&recorder), &granted);

    // giosg-webhooks: everything held back (chat added, messages, the echo that settles the
    // lost send "four"), a message that waits for its chat and the chat that places it, a
    // removal.
    env.sim(Method::POST, "/_sim/webhooks/resume", Some(json!({})))
        .await;
    env.flush_webhooks().await;
    let org = env.sim.org_id().to_owned();
    let room = env.sim.room_id().to_owned();
    let early = "99999999-0000-4000-8000-0000000000ee";
    let waiting = "c0ffee00-0000-4000-8000-0000000000c1";
    let hooks = [
        (
            "messages",
            json!({"channel": format!("/api/v5/orgs/{org}/owned_chats/{waiting}/messages"),
            "action": "added", "resource_id": early,
            "resource": {"id": early, "type": "msg", "sender_type": "user", "message": "early",
                         "created_at": "2026-11-30T10:00:01.000Z"}}),
        ),
        (
            "chats",
            json!({"channel": format!("/api/v5/orgs/{org}/owned_chats"),
            "action": "added", "resource_id": waiting,
            "resource": {"id": waiting, "room_id": room, "created_at": "2026-11-30T10:00:00.000Z",
                         "is_ended": false}}),
        ),
        (
            "messages",
            json!({"channel": format!("/api/v5/orgs/{org}/owned_chats/{waiting}/messages"),
            "action": "removed", "resource_id": early}),
        ),
    ];
    for (kind, body) in hooks {
        let url = format!("/webhooks/giosg/{kind}?token={WEBHOOK_SECRET}");
        assert_eq!(post_json(&env, &url, None, body).await, 200);
    }
    giosg_webhooks.append(&mut ops(&recorder));
    check("giosg-webhooks", giosg_webhooks, &granted);

    // giosg-reconciler: lost webhooks (an agent's reply, a removal) repaired, a run cut short
    // by its budget (the sweep cursor kept) and the next one (the cursor cleared).
    env.sim(
        Method::POST,
        "/_sim/webhooks/faults",
        Some(json!({"mode": "drop", "count": 100})),
    )
    .await;
    let reply = env
        .sim(
            Method::POST,
            &format!("/_sim/chats/{chat}/messages"),
            Some(json!({"text": "lost reply"})),
        )
        .await;
    let reply = reply["id"].as_str().unwrap();
    env.sim(
        Method::DELETE,
        &format!("/_sim/chats/{chat}/messages/{reply}"),
        None,
    )
    .await;
    env.flush_webhooks().await;
    ops(&recorder);
    let cut_short = ReconcileLimits {
        max_giosg_calls: 2,
        concurrency: 1,
        ..ReconcileLimits::default()
    };
    let run = env.app.service.reconcile_active(&cut_short).await.unwrap();
    assert!(!run.sweep_complete, "{run:?}");
    let run = env
        .app
        .service
        .reconcile_active(&ReconcileLimits::default())
        .await
        .unwrap();
    assert!(run.sweep_complete, "{run:?}");
    env.app
        .service
        .reconcile_chat(&ChatId::new(chat.as_str()))
        .await
        .unwrap();
    check("giosg-reconciler", ops(&recorder), &granted);

    // feed-socket: connections refused and opened (token in the query, and as the subprotocol),
    // a subscription with its catch-up, one refused (another visitor's chat), one whose
    // catch-up finds the connection gone, a disconnect.
    let management = ManagementApi::start().await;
    let pusher = management.pusher().await;
    let (stranger, strangers_chat) = env.new_chat("Bob").await;
    ops(&recorder);
    let unknown = VisitorToken::generate();
    assert_eq!(
        route(&env, &pusher, connect("conn-x", unknown.expose())).await,
        401
    );
    assert_eq!(route(&env, &pusher, connect("conn-1", &token)).await, 200);
    let mut by_protocol = connect("conn-2", "-");
    by_protocol["headers"] = json!({"Sec-WebSocket-Protocol": format!("bearer, {stranger}")});
    assert_eq!(route(&env, &pusher, by_protocol).await, 200);
    subscribe(&env, &pusher, "conn-1", &chat).await;
    subscribe(&env, &pusher, "conn-1", &strangers_chat).await;
    management.mark_gone("conn-2");
    subscribe(&env, &pusher, "conn-2", &strangers_chat).await;
    assert_eq!(route(&env, &pusher, connect("conn-3", &token)).await, 200);
    subscribe(&env, &pusher, "conn-3", &chat).await;
    assert_eq!(
        route(&env, &pusher, ws_event("$disconnect", "conn-3")).await,
        200
    );
    check("feed-socket", ops(&recorder), &granted);

    // feed-notifier: a stream batch (a feed entry, the chat changed) pushed to the chat's
    // subscribers, one of them gone.
    assert_eq!(route(&env, &pusher, connect("conn-4", &token)).await, 200);
    subscribe(&env, &pusher, "conn-4", &chat).await;
    management.mark_gone("conn-4");
    // Every subscriber gone: the agent's reply below is told to the away visitor.
    management.mark_gone("conn-1");
    assert_eq!(env.send(&token, &chat, "pushed").await.status, 201);
    // An agent's reply, so that the away notifications have one to claim.
    let reply = json!({
        "channel": format!("/api/v5/orgs/{}/owned_chats/{chat}/messages", env.sim.org_id()),
        "action": "added", "resource_id": "agent-reply-1",
        "resource": {"id": "agent-reply-1", "chat_id": chat, "room_id": env.sim.room_id(),
            "type": "msg", "created_at": "2030-01-01T00:00:00.000Z", "sender_type": "user",
            "message": "an answer"}});
    let url = format!("/webhooks/giosg/messages?token={WEBHOOK_SECRET}");
    assert_eq!(post_json(&env, &url, None, reply).await, 200);
    ops(&recorder);
    let batch = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/feed-notifier/stream-batch.json"
    ))
    .unwrap()
    .replace("CHAT_ID_PLACEHOLDER", &chat);
    let away = shared::jobs::feed_notifier::Away {
        notifier: shared::notify::LogNotifier,
        preview: false,
    };
    let (report, told) = shared::jobs::feed_notifier::notify_and_tell_away(
        &env.app.service,
        &pusher,
        &away,
        &serde_json::from_str(&batch).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(told.published, 1, "{told:?}");
    assert_eq!((report.gone, report.failed), (2, 0), "{report:?}");
    check("feed-notifier", ops(&recorder), &granted);

    // operator-api: a chat's export, its erasure (a live subscriber's connection and its
    // visitor's latest chat updated), a person's erasure by visitor_ref.
    let eve = json!({"visitor_name": "Eve", "visitor_ref": "eve-1"});
    assert_eq!(post_json(&env, "/v1/chats", None, eve).await, 201);
    assert_eq!(route(&env, &pusher, connect("conn-5", &token)).await, 200);
    subscribe(&env, &pusher, "conn-5", &chat).await;
    ops(&recorder);
    let chat_id = ChatId::new(chat.as_str());
    let export = env.app.service.export_chat(&chat_id).await.unwrap();
    assert!(!export.messages.is_empty());
    let erased = env.app.service.erase_chat(&chat_id).await.unwrap();
    assert!(erased.subscriptions >= 1, "{erased:?}");
    let eve = VisitorRef::parse(Some("eve-1".into())).unwrap().unwrap();
    let person = env.app.service.erase_person(&eve).await.unwrap();
    assert_eq!(person.visitors_found, 1, "{person:?}");
    check("operator-api", ops(&recorder), &granted);
    env.stop().await;
}

/// An API Gateway WebSocket event for `route` on `connection`.
fn ws_event(route: &str, connection: &str) -> serde_json::Value {
    let event_type = match route {
        "$connect" => "CONNECT",
        "$disconnect" => "DISCONNECT",
        _ => "MESSAGE",
    };
    json!({"requestContext": {"routeKey": route, "eventType": event_type,
        "connectionId": connection, "domainName": "f1e2d3c4b5.execute-api.eu-west-1.amazonaws.com",
        "stage": "v1", "apiId": "f1e2d3c4b5", "connectedAt": 1_796_032_800_000_i64,
        "requestTimeEpoch": 1_796_032_800_100_i64}, "isBase64Encoded": false})
}

fn connect(connection: &str, token: &str) -> serde_json::Value {
    let mut event = ws_event("$connect", connection);
    event["queryStringParameters"] = json!({"token": token});
    event
}

/// Runs one WebSocket event through feed-socket's handler: the status it answers.
async fn route(
    env: &TestEnv<DynamoStore>,
    pusher: &ApiGatewayPush,
    event: serde_json::Value,
) -> u64 {
    let answer = shared::jobs::feed_socket::handle(&env.app.service, pusher, &event)
        .await
        .unwrap();
    answer["statusCode"].as_u64().unwrap()
}

async fn subscribe(
    env: &TestEnv<DynamoStore>,
    pusher: &ApiGatewayPush,
    connection: &str,
    chat: &str,
) {
    let mut event = ws_event("subscribe", connection);
    event["body"] = json!({"action": "subscribe", "chat_id": chat, "after": null})
        .to_string()
        .into();
    assert_eq!(route(env, pusher, event).await, 200);
}
