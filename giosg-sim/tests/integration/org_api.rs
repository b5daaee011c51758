//! The organization side: owned chats, memberships, visitor variables.

use serde_json::{Value, json};

use crate::support::{Harness, Visitor};

fn variables_path(h: &Harness, visitor: &Visitor) -> String {
    format!(
        "/api/v5/orgs/{}/rooms/{}/visitors/{}/variables",
        h.org(),
        h.sim.room_id(),
        visitor.id
    )
}

#[tokio::test]
async fn owned_chat_returns_chats_of_either_room() {
    let h = Harness::start().await;
    let (_visitor, chat_id) = h.visitor_with_chat().await;
    let (status, chat) = h
        .org_call(
            "GET",
            &format!("/api/v5/orgs/{}/owned_chats/{chat_id}", h.org()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(chat["id"], chat_id.as_str());
    let widget = h
        .control()
        .start_widget_chat(&Default::default())
        .await
        .unwrap();
    let path = format!("/api/v5/orgs/{}/owned_chats/{}", h.org(), widget.chat.id);
    let (status, other) = h.org_call("GET", &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(other["room_id"], h.sim.other_room_id());
    let missing = format!("/api/v5/orgs/{}/owned_chats/nope", h.org());
    assert_eq!(
        h.org_call("GET", &missing, None).await,
        (404, json!({"detail": "Not found."}))
    );
}

#[tokio::test]
async fn memberships_list_the_visitor_and_agents_across_pages() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    for agent in ["Smith", "Jones", "Brown"] {
        h.control().join(&chat_id, Some(agent)).await.unwrap();
    }
    h.control().leave(&chat_id, Some("Jones")).await.unwrap();
    let mut url = format!("/api/v5/orgs/{}/owned_chats/{chat_id}/memberships", h.org());
    let mut members: Vec<Value> = Vec::new();
    let mut pages = 0;
    loop {
        let (status, page) = h.org_call("GET", &url, None).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        members.extend(page["results"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(members.len(), 4);
    let visitor_member = &members[0];
    assert_eq!(visitor_member["member_type"], "visitor");
    assert_eq!(visitor_member["member_id"], visitor.id.as_str());
    assert_eq!(visitor_member["chat_id"], chat_id.as_str());
    let jones = members
        .iter()
        .find(|m| m["member_public_name"] == "Jones")
        .unwrap();
    assert_eq!(jones["member_type"], "user");
    assert_eq!(jones["member_name"], "Agent Jones (internal)");
    assert_eq!(jones["is_participating"], false);
    assert_eq!(jones["member_avatar"], Value::Null);
}

#[tokio::test]
async fn username_variable_is_the_visitors_name_in_messages_and_memberships() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let body = json!({"key": "username", "value": "Ann Example"});
    let (status, answer) = h
        .org_call("POST", &variables_path(&h, &visitor), Some(body))
        .await;
    assert_eq!(status, 201);
    assert_eq!(answer, json!({"key": "username", "value": "Ann Example"}));
    let message = h.send(&visitor, &chat_id, "hi").await;
    assert_eq!(message["sender_name"], "Ann Example");
    assert_eq!(message["sender_public_name"], "Ann Example");
    let path = format!("/api/v5/orgs/{}/owned_chats/{chat_id}/memberships", h.org());
    let (_, page) = h.org_call("GET", &path, None).await;
    assert_eq!(page["results"][0]["member_name"], "Ann Example");
    let visitors = h.control().visitors().await.unwrap();
    let seen = visitors
        .iter()
        .find(|v| v.visitor_id == visitor.id)
        .unwrap();
    assert_eq!(seen.name.as_deref(), Some("Ann Example"));
}

#[tokio::test]
async fn set_variable_validates_its_body_and_visitor() {
    let h = Harness::start().await;
    let visitor = h.visitor().await;
    let path = variables_path(&h, &visitor);
    let (status, body) = h.org_call("POST", &path, Some(json!({"value": "x"}))).await;
    assert_eq!(
        (status, body),
        (400, json!({"key": ["This field is required."]}))
    );
    let (status, body) = h.org_call("POST", &path, Some(json!({"key": "k"}))).await;
    assert_eq!(
        (status, body),
        (400, json!({"value": ["This field is required."]}))
    );
    let unknown = Visitor {
        id: "00".repeat(16),
        secret: String::new(),
        token: String::new(),
    };
    let body = json!({"key": "k", "value": "v"});
    assert_eq!(
        h.org_call("POST", &variables_path(&h, &unknown), Some(body))
            .await
            .0,
        404
    );
}
