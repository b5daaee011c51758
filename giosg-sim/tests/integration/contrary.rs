//! Profiles: `PUT /_sim/settings/profile/{name}`, and a whole chat against the `contrary`
//! profile, checking every flipped guess on the wire and in the webhooks.

use giosg_sim::{Behaviour, Profile};
use serde_json::{Value, json};

use crate::settings_extra::{fraction_digits, raw};
use crate::support::{Harness, Visitor, id_of};

const HTML: &str = "text/html; charset=utf-8";
const OTHER_ORIGIN: &str = "http://giosg-internal.invalid:8000";

#[tokio::test]
async fn profile_route_replaces_every_setting_and_refuses_unknown_names() {
    let h = Harness::start().await;
    h.control()
        .update_settings(&json!({"max_message_chars": 10}))
        .await
        .unwrap();
    let (status, body) = h
        .call("PUT", "/_sim/settings/profile/contrary", None, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, serde_json::to_value(Behaviour::contrary()).unwrap());
    assert_eq!(h.control().settings().await.unwrap(), Behaviour::contrary());

    let (status, body) = h
        .call("PUT", "/_sim/settings/profile/strict", None, None)
        .await;
    assert_eq!(status, 404);
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("strict") && detail.contains("default, contrary"),
        "{detail}"
    );
    assert_eq!(h.control().settings().await.unwrap(), Behaviour::contrary());

    let back = h.control().set_profile(Profile::Default).await.unwrap();
    assert_eq!(back, Behaviour::default());
    assert_eq!(h.control().settings().await.unwrap(), Behaviour::default());
}

/// Every timestamp-valued field of a JSON object, recursively.
fn stamps(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                match value.as_str() {
                    Some(text) if key.ends_with("_at") => found.push(text.to_owned()),
                    _ => stamps(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| stamps(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn a_whole_chat_against_the_contrary_profile() {
    let h = Harness::start_with(|config| {
        config.behaviour = Profile::parse("contrary").unwrap().behaviour();
    })
    .await;
    let mut answers: Vec<Value> = Vec::new();

    // Visitor auth: 200 for a new visitor, 201 for a returning one; unknown secret is an error.
    let (status, auth) = h.auth(json!({"visitor_secret_id": null})).await;
    assert_eq!(status, 200, "{auth}");
    let visitor = Visitor {
        id: auth["visitor_id"].as_str().unwrap().to_owned(),
        secret: auth["visitor_secret_id"].as_str().unwrap().to_owned(),
        token: auth["access_token"].as_str().unwrap().to_owned(),
    };
    assert_eq!(
        h.auth(json!({"visitor_secret_id": visitor.secret})).await.0,
        201
    );
    let auth_path = format!("/api/v5/public/orgs/{}/auth", h.org());
    let unknown = json!({"visitor_secret_id": "f00d"});
    let (status, content_type, page) = raw(&h, "POST", &auth_path, None, Some(unknown)).await;
    assert_eq!((status, content_type.as_str()), (400, HTML), "{page}");
    assert!(page.contains("<h1>Bad Request</h1>"), "{page}");
    let bearer = Some(format!("Bearer {}", visitor.token));

    // The room must be joined before a chat starts.
    let start = h.start_chat_path(&visitor);
    let (status, content_type, _) = raw(&h, "POST", &start, bearer.clone(), None).await;
    assert_eq!((status, content_type.as_str()), (403, HTML));
    let join = format!(
        "/api/v5/public/orgs/{}/rooms/{}/visitors",
        h.org(),
        h.sim.room_id()
    );
    let (status, _) = h
        .bearer(&visitor, "POST", &join, Some(json!({"id": visitor.id})))
        .await;
    assert_eq!(status, 201);

    // Start (200), send (200): no room_id on the message, the chat keeps its own.
    let (status, chat) = h.bearer(&visitor, "POST", &start, None).await;
    assert_eq!(status, 200, "{chat}");
    let chat_id = id_of(&chat);
    assert_eq!(chat["room_id"], h.sim.room_id());
    let messages = Harness::messages_path(&visitor, &chat_id);
    let hello = json!({"type": "msg", "message": "Hello?"});
    let (status, sent) = h.bearer(&visitor, "POST", &messages, Some(hello)).await;
    assert_eq!(status, 200, "{sent}");
    assert!(sent.get("room_id").is_none(), "{sent}");
    assert_eq!(sent["chat_id"], chat_id.as_str());
    answers.extend([chat, sent]);

    // An agent joins and replies; the reply is edited.
    let reply = h
        .control()
        .agent_message(&chat_id, "Hi, Smith here")
        .await
        .unwrap();
    h.control()
        .edit_message(&chat_id, &reply.id, "Hi, Smith here!")
        .await
        .unwrap();

    // The visitor reads the transcript: other-origin links, rules' messages, no room_id.
    let (_, first) = h.bearer(&visitor, "GET", &messages, None).await;
    let next = first["next"].as_str().unwrap();
    let rest = next
        .strip_prefix(OTHER_ORIGIN)
        .unwrap_or_else(|| panic!("{next}"));
    let (_, second) = h.bearer(&visitor, "GET", rest, None).await;
    assert!(
        second["previous"]
            .as_str()
            .unwrap()
            .starts_with(OTHER_ORIGIN)
    );
    let transcript: Vec<Value> = [&first, &second]
        .iter()
        .flat_map(|page| page["results"].as_array().unwrap().clone())
        .collect();
    let shape: Vec<(&str, &str)> = transcript
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap(),
                m["sender_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("autosuggest", "rule"),
            ("msg", "visitor"),
            ("join", "user"),
            ("system", "rule"),
            ("msg", "user"),
        ]
    );
    assert!(transcript.iter().all(|m| m.get("room_id").is_none()));
    assert_eq!(transcript[3]["message"], "Smith joined the chat");
    answers.extend(transcript);

    // The visitor ends the chat; sending again is a 400 HTML page.
    let chat_path = format!("/api/v5/public/visitors/{}/chats/{chat_id}", visitor.id);
    let (status, ended) = h
        .bearer(
            &visitor,
            "PATCH",
            &chat_path,
            Some(json!({"is_ended": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(ended["is_ended"], true);
    assert_eq!(
        ended["is_waiting"], false,
        "visitor messages never made it wait"
    );
    answers.push(ended);
    let late = json!({"type": "msg", "message": "still there?"});
    let (status, content_type, page) = raw(&h, "POST", &messages, bearer, Some(late)).await;
    assert_eq!((status, content_type.as_str()), (400, HTML), "{page}");

    // The webhooks: no echo of the visitor's message, rules' messages, partial resources with
    // ids and chat ids, bot credentials on every envelope.
    let received = h.all_hooks().await;
    let summary: Vec<(&str, &str, &str)> = received
        .iter()
        .map(|r| {
            let kind = r.body["resource"]["type"].as_str().unwrap_or("-");
            (r.hook.as_str(), r.body["action"].as_str().unwrap(), kind)
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("chats", "added", "-"),
            ("messages", "added", "autosuggest"),
            ("chats", "changed", "-"),
            ("chats", "changed", "-"),
            ("messages", "added", "join"),
            ("messages", "added", "system"),
            ("chats", "changed", "-"),
            ("messages", "added", "msg"),
            ("chats", "changed", "-"),
            ("messages", "changed", "-"),
            ("chats", "changed", "-"),
        ]
    );
    for hook in &received {
        let (body, resource) = (&hook.body, &hook.body["resource"]);
        assert_eq!(body["app_user_auth"]["token_type"], "Bearer", "{body}");
        if hook.hook == "messages" {
            assert!(resource.get("room_id").is_none(), "{body}");
            assert_eq!(resource["chat_id"], chat_id.as_str(), "{body}");
        }
        if body["action"] == "changed" {
            assert_eq!(resource["id"], body["resource_id"], "{body}");
            assert!(resource.get("is_waiting").is_none_or(|w| w == false));
        }
    }
    assert_eq!(received[7].body["resource"]["sender_type"], "user");
    assert_eq!(received[9].body["resource"]["message"], "Hi, Smith here!");
    assert_eq!(received[10].body["resource"]["is_ended"], true);

    // Every timestamp has microseconds; both the Z and the offset-less forms occur.
    let mut found = Vec::new();
    for value in answers.iter().chain(received.iter().map(|r| &r.body)) {
        stamps(value, &mut found);
    }
    assert!(found.len() > 20, "{found:?}");
    for stamp in &found {
        assert_eq!(fraction_digits(stamp), 6, "{stamp}");
    }
    let with_z = found.iter().filter(|s| s.ends_with('Z')).count();
    assert!(with_z > 0 && with_z < found.len(), "{found:?}");
}
