//! The webhook endpoints: the secret, other rooms and garbage, removed and purged content,
//! reordered and duplicated deliveries, and message types we do not know.

use reqwest::Method;
use serde_json::{Value, json};
use shared::store::ChatStore;

use crate::support::harness::{TestEnv, WEBHOOK_SECRET};
use crate::{messages, support};

fn chat_added(org: &str, room: &str, chat: &str) -> Value {
    json!({
        "channel": format!("/api/v5/orgs/{org}/owned_chats"),
        "action": "added",
        "resource_id": chat,
        "resource": {"id": chat, "room_id": room, "created_at": "2026-11-24T10:00:00.000Z",
                     "updated_at": "2026-11-24T10:00:00.000Z", "is_ended": false, "is_waiting": false}
    })
}

async fn post_webhook<S: ChatStore>(
    env: &TestEnv<S>,
    path_and_query: &str,
    body: &Value,
) -> support::harness::Reply {
    env.call(Method::POST, path_and_query, None, Some(body.clone()))
        .await
}

pub(crate) async fn webhooks_require_the_secret<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let org = env.sim.org_id().to_owned();
    let room = env.sim.room_id().to_owned();
    let body = chat_added(&org, &room, "11111111-0000-4000-8000-000000000001");
    for path in [
        "/webhooks/giosg/chats",
        "/webhooks/giosg/chats?token=wrong-secret-wrong-secret",
        "/webhooks/giosg/chats?token=",
    ] {
        post_webhook(&env, path, &body)
            .await
            .assert_error(401, "unauthorized");
    }
    let chat_id = shared::domain::ChatId::new("11111111-0000-4000-8000-000000000001");
    assert!(
        env.app
            .service
            .store()
            .get_chat(&chat_id)
            .await
            .unwrap()
            .is_none(),
        "nothing written"
    );
    // The header works as well as the query parameter.
    let response = env
        .http
        .post(format!("{}/webhooks/giosg/chats", env.api))
        .header("X-Webhook-Token", WEBHOOK_SECRET)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        env.app
            .service
            .store()
            .get_chat(&chat_id)
            .await
            .unwrap()
            .is_some()
    );
    let again = post_webhook(
        &env,
        &format!("/webhooks/giosg/chats?token={WEBHOOK_SECRET}"),
        &body,
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["result"], "duplicate");
    env.stop().await;
}

pub(crate) async fn webhooks_ignore_other_rooms_and_refuse_garbage<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    // A website-widget chat in another room of the organization, through the simulator.
    env.sim(
        Method::POST,
        "/_sim/other_room/chats",
        Some(json!({"visitor_name": "Widget", "message": "hello from the website"})),
    )
    .await;
    env.flush_webhooks().await;
    let log = env.sim(Method::GET, "/_sim/webhooks", None).await;
    let deliveries = log["deliveries"].as_array().expect("delivery log");
    assert!(!deliveries.is_empty());
    assert!(
        deliveries.iter().all(|d| d["status"] == 200),
        "other-room webhooks are acknowledged: {log}"
    );
    let chats = env.sim(Method::GET, "/_sim/chats", None).await;
    let widget_chat = chats.as_array().unwrap()[0]["chat"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = env
        .app
        .service
        .store()
        .get_chat(&shared::domain::ChatId::new(widget_chat))
        .await
        .unwrap();
    let ours = shared::domain::RoomId::new(env.sim.room_id());
    assert!(
        stored.is_none_or(|chat| chat.room_id.as_ref() != Some(&ours) && chat.owner.is_none()),
        "another room's chat is not stored as ours"
    );
    let url = format!("/webhooks/giosg/messages?token={WEBHOOK_SECRET}");
    for garbage in [
        json!("just a string"),
        json!({"channel": "/api/v5/orgs/x/owned_chats", "action": "added", "resource_id": "m", "resource": {}}),
        json!({"action": "added"}),
    ] {
        post_webhook(&env, &url, &garbage)
            .await
            .assert_error(400, "invalid_request");
    }
    env.stop().await;
}

pub(crate) async fn removed_chat_is_not_found_and_removed_message_is_deleted<S: ChatStore>(
    store: S,
) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    let sent = env.send(&token, &chat, "delete me").await;
    let message_id = sent.body["message"]["id"].as_str().unwrap().to_owned();
    env.sim(
        Method::DELETE,
        &format!("/_sim/chats/{chat}/messages/{message_id}"),
        None,
    )
    .await;
    env.flush_webhooks().await;
    let history = env.history(&token, &chat, "").await;
    let deleted = messages(&history)
        .into_iter()
        .find(|m| m["id"] == message_id.as_str())
        .expect("a removed message is returned as deleted");
    assert_eq!(deleted["deleted"], true);
    assert!(deleted["text"].is_null());
    env.sim(Method::DELETE, &format!("/_sim/chats/{chat}"), None)
        .await;
    env.flush_webhooks().await;
    env.call(
        Method::GET,
        &format!("/v1/chats/{chat}"),
        Some(&token),
        None,
    )
    .await
    .assert_error(404, "not_found");
    env.history(&token, &chat, "")
        .await
        .assert_error(404, "not_found");
    env.stop().await;
}

pub(crate) async fn purged_message_has_no_text<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    let sent = env.send(&token, &chat, "my card number").await;
    let message_id = sent.body["message"]["id"].as_str().unwrap().to_owned();
    env.flush_webhooks().await;
    env.sim(
        Method::PATCH,
        &format!("/_sim/chats/{chat}/messages/{message_id}"),
        Some(json!({"purge": true})),
    )
    .await;
    env.flush_webhooks().await;
    let history = env.history(&token, &chat, "").await;
    let purged = messages(&history)
        .into_iter()
        .find(|m| m["id"] == message_id.as_str())
        .unwrap();
    assert!(purged["text"].is_null(), "{purged}");
    env.stop().await;
}

pub(crate) async fn webhook_order_and_duplicates_do_not_matter<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    env.sim(
        Method::POST,
        "/_sim/webhooks/faults",
        Some(json!({"mode": "reorder", "count": 6})),
    )
    .await;
    env.sim(
        Method::POST,
        "/_sim/webhooks/faults",
        Some(json!({"mode": "duplicate", "count": 6})),
    )
    .await;
    env.send(&token, &chat, "one").await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/messages"),
        Some(json!({"text": "two"})),
    )
    .await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/end"),
        Some(json!({})),
    )
    .await;
    env.flush_webhooks().await;
    let history = env.history(&token, &chat, "").await;
    let texts: Vec<Value> = messages(&history)
        .iter()
        .filter(|m| m["type"] == "msg")
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, vec![json!("one"), json!("two")], "{}", history.body);
    assert_eq!(history.body["chat"]["status"], "ended");
    env.stop().await;
}

pub(crate) async fn unknown_message_types_pass_through<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    let body = json!({
        "channel": format!("/api/v5/orgs/{}/owned_chats/{chat}/messages", env.sim.org_id()),
        "action": "added",
        "resource_id": "99999999-0000-4000-8000-000000000001",
        "resource": {
            "id": "99999999-0000-4000-8000-000000000001", "chat_id": chat,
            "room_id": env.sim.room_id(), "type": "carousel", "sender_type": "user",
            "sender_name": "Bot (internal)", "sender_public_name": "Helper Bot",
            "created_at": "2099-01-01T00:00:00.000Z", "message": null,
            "attachments": [{"id": "a1", "title": "Pick one", "actions": [
                {"id": "b1", "text": "Yes", "type": "button", "value": "yes"}]}]
        }
    });
    let url = format!("/webhooks/giosg/messages?token={WEBHOOK_SECRET}");
    assert_eq!(post_webhook(&env, &url, &body).await.status, 200);
    let history = env.history(&token, &chat, "").await;
    let carousel = messages(&history)
        .into_iter()
        .find(|m| m["type"] == "carousel")
        .expect("an unknown type is kept with its Giosg type");
    assert_eq!(carousel["sender"]["name"], "Helper Bot");
    assert_eq!(carousel["attachments"][0]["actions"][0]["text"], "Yes");
    env.stop().await;
}

/// The tolerant reader: fields of the wrong type are left out of the event, the rest is stored;
/// a time beyond year 9999 is refused with a 400 and changes nothing.
pub(crate) async fn unreadable_fields_are_left_out_not_the_message<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    let channel = format!(
        "/api/v5/orgs/{}/owned_chats/{chat}/messages",
        env.sim.org_id()
    );
    let url = format!("/webhooks/giosg/messages?token={WEBHOOK_SECRET}");
    let id = "99999999-0000-4000-8000-0000000000aa";
    let body = json!({
        "channel": channel, "action": "added", "resource_id": id,
        "resource": {
            "id": id, "chat_id": chat, "type": "msg", "sender_type": "user",
            "sender_public_name": "Anna", "created_at": "2099-01-01T00:00:00.000Z",
            "message": "still here",
            "is_encrypted": "no", "sender_avatar": 42, "attachments": "not a list",
            "sensitive_data_purged_at": 1234, "response_to_message_id": {"x": 1}
        }
    });
    let reply = post_webhook(&env, &url, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let history = env.history(&token, &chat, "").await;
    let kept = messages(&history)
        .into_iter()
        .find(|m| m["id"] == id)
        .expect("the message is stored without its unreadable fields");
    assert_eq!(kept["text"], "still here");
    assert_eq!(kept["sender"]["name"], "Anna");
    assert_eq!(kept["attachments"], json!([]));

    let far = "99999999-0000-4000-8000-0000000000ab";
    let body = json!({
        "channel": channel, "action": "added", "resource_id": far,
        "resource": {"id": far, "chat_id": chat, "type": "msg", "sender_type": "user",
                     "created_at": "10000-01-01T00:00:00.000Z", "message": "from the future"}
    });
    let reply = post_webhook(&env, &url, &body).await;
    reply.assert_error(400, "invalid_request");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("created_at"),
        "{}",
        reply.body
    );
    let history = env.history(&token, &chat, "").await;
    assert!(messages(&history).iter().all(|m| m["id"] != far));
    env.stop().await;
}

/// An id no store can key (over 512 bytes, control characters, empty) is `400 invalid_request`
/// naming the problem, so that Giosg does not retry a delivery that can never succeed; nothing
/// is stored.
pub(crate) async fn unkeyable_ids_are_refused_and_nothing_is_stored<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    let org = env.sim.org_id().to_owned();
    let room = env.sim.room_id().to_owned();
    let url = format!("/webhooks/giosg/messages?token={WEBHOOK_SECRET}");
    let message = |chat: &str, id: &str| {
        json!({
            "channel": format!("/api/v5/orgs/{org}/owned_chats/{chat}/messages"),
            "action": "added", "resource_id": id,
            "resource": {"id": id, "room_id": room, "type": "msg",
                         "created_at": "2099-01-01T00:00:00.000Z", "message": "poison"}
        })
    };
    for (body, what) in [
        (message(&chat, &"x".repeat(513)), "longer than 512 bytes"),
        (message(&chat, "a\u{1}b"), "control characters"),
        (message("c\u{7f}", "m1"), "control characters"),
    ] {
        let reply = post_webhook(&env, &url, &body).await;
        reply.assert_error(400, "invalid_request");
        let text = reply.body["error"]["message"].as_str().unwrap();
        assert!(text.contains(what), "{text}");
    }
    let mut unnamed = chat_added(&org, &room, "");
    unnamed["resource"]["id"] = json!("");
    let chats_url = format!("/webhooks/giosg/chats?token={WEBHOOK_SECRET}");
    post_webhook(&env, &chats_url, &unnamed)
        .await
        .assert_error(400, "invalid_request");
    let history = env.history(&token, &chat, "").await;
    assert!(
        messages(&history).iter().all(|m| m["text"] != "poison"),
        "nothing stored: {}",
        history.body
    );
    env.stop().await;
}

/// A bot card of 150 buttons (a 125 KB envelope) is stored whole; one too big for a storage
/// item is stored with attachments dropped from the end and `attachments_truncated: true`,
/// never refused (Giosg would not resend it).
pub(crate) async fn big_bot_cards_are_stored_and_oversized_ones_trimmed<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    let org = env.sim.org_id().to_owned();
    let room = env.sim.room_id().to_owned();
    let url = format!("/webhooks/giosg/messages?token={WEBHOOK_SECRET}");
    let card = |id: &str, second: u32, title_len: usize| {
        let attachments: Vec<Value> = (0..150)
            .map(|n| json!({"id": format!("card-{n}"), "title": "x".repeat(title_len),
                            "actions": [{"id": format!("b{n}"), "text": "Choose", "type": "button"}]}))
            .collect();
        json!({
            "channel": format!("/api/v5/orgs/{org}/owned_chats/{chat}/messages"),
            "action": "added", "resource_id": id,
            "resource": {"id": id, "chat_id": chat, "room_id": room, "type": "msg",
                         "sender_type": "user", "message": "Pick one",
                         "created_at": format!("2099-01-01T00:00:0{second}.000Z"),
                         "attachments": attachments}
        })
    };
    let normal = card("m-card", 1, 700);
    assert!(normal.to_string().len() > 100 * 1024);
    post_webhook(&env, &url, &normal).await;
    let oversized = card("m-huge", 2, 3000);
    assert!(oversized.to_string().len() > 400 * 1024);
    let reply = post_webhook(&env, &url, &oversized).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let history = env.history(&token, &chat, "").await;
    let stored = messages(&history);
    let card = stored.iter().find(|m| m["id"] == "m-card").unwrap();
    assert_eq!(card["attachments"].as_array().unwrap().len(), 150);
    assert!(card.get("attachments_truncated").is_none());
    let huge = stored.iter().find(|m| m["id"] == "m-huge").unwrap();
    let kept = huge["attachments"].as_array().unwrap().len();
    assert!(kept > 0 && kept < 150, "{kept} kept");
    assert_eq!(huge["attachments_truncated"], true);
    env.stop().await;
}
