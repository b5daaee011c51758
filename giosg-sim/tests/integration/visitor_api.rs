//! The visitor side of the Giosg API: auth, rooms, chats, messages, pagination.

use serde_json::{Value, json};

use crate::support::{Harness, Visitor, id_of};

fn is_hex(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

#[tokio::test]
async fn new_visitor_auth_answers_201_with_a_32_hex_visitor_id_and_a_token() {
    let h = Harness::start().await;
    for body in [json!({}), json!({"visitor_secret_id": null})] {
        let (status, auth) = h.auth(body).await;
        assert_eq!(status, 201);
        let visitor_id = auth["visitor_id"].as_str().unwrap();
        assert_eq!(visitor_id.len(), 32);
        assert!(is_hex(visitor_id));
        let secret = auth["visitor_secret_id"].as_str().unwrap();
        assert!(secret.len() > 32 && is_hex(secret));
        assert_eq!(auth["organization_id"], h.org());
        assert!(auth["access_token"].is_string());
        assert_eq!(auth["expires_in"], 1800);
        assert!(auth["expires_at"].as_str().unwrap().ends_with('Z'));
        assert!(auth["socket_url"].is_string());
    }
}

#[tokio::test]
async fn returning_visitor_keeps_the_visitor_id_and_gets_a_new_token_with_200() {
    let h = Harness::start().await;
    let visitor = h.visitor().await;
    let (status, auth) = h.auth(json!({"visitor_secret_id": visitor.secret})).await;
    assert_eq!(status, 200);
    assert_eq!(auth["visitor_id"], visitor.id.as_str());
    assert_eq!(auth["visitor_secret_id"], visitor.secret.as_str());
    assert_ne!(auth["access_token"], visitor.token.as_str());
    let old_token_still_works = h.start_chat(&visitor).await;
    assert!(old_token_still_works["id"].is_string());
}

#[tokio::test]
async fn unknown_secret_silently_makes_a_new_visitor_by_default() {
    let h = Harness::start().await;
    let (status, auth) = h.auth(json!({"visitor_secret_id": "f00d"})).await;
    assert_eq!(status, 201);
    assert_ne!(auth["visitor_secret_id"], "f00d");
}

#[tokio::test]
async fn unknown_secret_is_a_400_when_so_configured() {
    let h = Harness::start().await;
    h.control()
        .update_settings(&json!({"unknown_visitor_secret": "error"}))
        .await
        .unwrap();
    let (status, body) = h.auth(json!({"visitor_secret_id": "f00d"})).await;
    assert_eq!(status, 400);
    assert!(body["visitor_secret_id"][0].is_string(), "{body}");
}

#[tokio::test]
async fn auth_status_settings_apply() {
    let h = Harness::start().await;
    h.control()
        .update_settings(&json!({"auth_status": 200}))
        .await
        .unwrap();
    assert_eq!(h.auth(json!({})).await.0, 200);
}

#[tokio::test]
async fn auth_for_an_unknown_org_is_404() {
    let h = Harness::start().await;
    let (status, body) = h
        .call(
            "POST",
            "/api/v5/public/orgs/nope/auth",
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"detail": "Not found."}));
}

#[tokio::test]
async fn malformed_json_is_a_400_with_detail() {
    let h = Harness::start().await;
    let response = h
        .http
        .post(h.url(&format!("/api/v5/public/orgs/{}/auth", h.org())))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error")
    );
}

fn join_path(h: &Harness, room: &str) -> String {
    format!("/api/v5/public/orgs/{}/rooms/{room}/visitors", h.org())
}

#[tokio::test]
async fn join_room_answers_201_then_200_and_refuses_other_ids_and_rooms() {
    let h = Harness::start().await;
    let (_, auth) = h.auth(json!({})).await;
    let visitor = Visitor {
        id: auth["visitor_id"].as_str().unwrap().to_owned(),
        secret: String::new(),
        token: auth["access_token"].as_str().unwrap().to_owned(),
    };
    let path = join_path(&h, h.sim.room_id());
    let body = json!({"id": visitor.id, "presence_expires_in": 120});
    let (status, joined) = h.bearer(&visitor, "POST", &path, Some(body.clone())).await;
    assert_eq!(status, 201);
    assert_eq!(
        joined,
        json!({"id": visitor.id, "room_id": h.sim.room_id(), "presence_expires_in": 120})
    );
    assert_eq!(h.bearer(&visitor, "POST", &path, Some(body)).await.0, 200);

    let other = json!({"id": "0123456789abcdef0123456789abcdef"});
    assert_eq!(h.bearer(&visitor, "POST", &path, Some(other)).await.0, 403);
    let (status, body) = h.bearer(&visitor, "POST", &path, Some(json!({}))).await;
    assert_eq!(
        (status, body),
        (400, json!({"id": ["This field is required."]}))
    );
    let unknown_room = join_path(&h, "7b0c3d1e-0000-4000-8000-000000000000");
    let (status, _) = h
        .bearer(
            &visitor,
            "POST",
            &unknown_room,
            Some(json!({"id": visitor.id})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn refresh_presence_updates_a_joined_visitor_and_404s_otherwise() {
    let h = Harness::start().await;
    let visitor = h.visitor().await;
    let path = format!("{}/{}", join_path(&h, h.sim.room_id()), visitor.id);
    let (status, body) = h
        .bearer(
            &visitor,
            "PATCH",
            &path,
            Some(json!({"presence_expires_in": 30})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["presence_expires_in"], 30);
    let other_room = format!("{}/{}", join_path(&h, h.sim.other_room_id()), visitor.id);
    assert_eq!(
        h.bearer(&visitor, "PATCH", &other_room, Some(json!({})))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn room_reports_whether_it_is_online() {
    let h = Harness::start().await;
    let visitor = h.visitor().await;
    let path = format!("/api/v5/public/orgs/{}/rooms/{}", h.org(), h.sim.room_id());
    let (status, room) = h.bearer(&visitor, "GET", &path, None).await;
    assert_eq!(status, 200);
    let mut fields: Vec<&String> = room.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(
        fields,
        ["brand", "display_name", "id", "is_online", "language_code"]
    );
    assert_eq!(room["is_online"], true);
    h.control().set_room_online(false).await.unwrap();
    assert_eq!(
        h.bearer(&visitor, "GET", &path, None).await.1["is_online"],
        false
    );
}

#[tokio::test]
async fn online_users_paginate_across_pages_and_empty_when_offline() {
    let h = Harness::start().await;
    let visitor = h.visitor().await;
    let path = format!(
        "/api/v5/public/orgs/{}/rooms/{}/online_users",
        h.org(),
        h.sim.room_id()
    );
    let (status, first) = h.bearer(&visitor, "GET", &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(first["results"].as_array().unwrap().len(), 3);
    assert_eq!(first["previous"], Value::Null);
    let next = first["next"].as_str().unwrap();
    assert!(next.starts_with(&h.sim.base_url()), "absolute URL: {next}");
    let (_, second) = h.bearer(&visitor, "GET", next, None).await;
    assert_eq!(second["results"].as_array().unwrap().len(), 1);
    assert_eq!(second["next"], Value::Null);
    let user = &second["results"][0];
    assert!(user["id"].is_string() && user["public_name"].is_string());
    assert!(user.get("avatar").is_some());

    h.control().set_room_online(false).await.unwrap();
    let (_, offline) = h.bearer(&visitor, "GET", &path, None).await;
    assert_eq!(offline["results"], json!([]));
}

#[tokio::test]
async fn starting_a_chat_in_an_offline_room_is_refused_with_the_configured_status() {
    let h = Harness::start().await;
    let visitor = h.visitor().await;
    h.control().set_room_online(false).await.unwrap();
    let path = h.start_chat_path(&visitor);
    let (status, body) = h.bearer(&visitor, "POST", &path, None).await;
    assert_eq!(status, 403);
    assert!(body["detail"].is_string());
    h.control()
        .update_settings(&json!({"offline_start_status": 409}))
        .await
        .unwrap();
    assert_eq!(h.bearer(&visitor, "POST", &path, None).await.0, 409);
    assert!(h.hooks("chats").await.is_empty());
}

#[tokio::test]
async fn starting_a_chat_without_joining_is_refused_only_when_required() {
    let h = Harness::start().await;
    let (_, auth) = h.auth(json!({})).await;
    let visitor = Visitor {
        id: auth["visitor_id"].as_str().unwrap().to_owned(),
        secret: String::new(),
        token: auth["access_token"].as_str().unwrap().to_owned(),
    };
    h.control()
        .update_settings(&json!({"require_room_join": true}))
        .await
        .unwrap();
    assert_eq!(
        h.bearer(&visitor, "POST", &h.start_chat_path(&visitor), None)
            .await
            .0,
        403
    );
    h.control()
        .update_settings(&json!({"require_room_join": false}))
        .await
        .unwrap();
    assert_eq!(
        h.bearer(&visitor, "POST", &h.start_chat_path(&visitor), None)
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn sending_into_an_ended_chat_is_refused_with_the_configured_status() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.control().end_chat(&chat_id).await.unwrap();
    let path = Harness::messages_path(&visitor, &chat_id);
    let body = json!({"type": "msg", "message": "still there?"});
    let (status, answer) = h.bearer(&visitor, "POST", &path, Some(body.clone())).await;
    assert_eq!(status, 403);
    assert!(answer["detail"].is_string());
    h.control()
        .update_settings(&json!({"ended_chat_send_status": 400}))
        .await
        .unwrap();
    assert_eq!(h.bearer(&visitor, "POST", &path, Some(body)).await.0, 400);
}

#[tokio::test]
async fn message_length_is_limited_to_2000_characters() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let path = Harness::messages_path(&visitor, &chat_id);
    let longest = "é".repeat(2000);
    let body = json!({"type": "msg", "message": longest});
    assert_eq!(h.bearer(&visitor, "POST", &path, Some(body)).await.0, 201);
    let too_long = json!({"type": "msg", "message": "x".repeat(2001)});
    let (status, body) = h.bearer(&visitor, "POST", &path, Some(too_long)).await;
    assert_eq!(status, 400);
    assert!(body["message"][0].as_str().unwrap().contains("2000"));
}

#[tokio::test]
async fn invalid_message_bodies_are_field_errors() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let path = Harness::messages_path(&visitor, &chat_id);
    for (body, field) in [
        (json!({"type": "msg"}), "message"),
        (json!({"type": "msg", "message": "  "}), "message"),
        (json!({"type": "join", "message": "x"}), "type"),
    ] {
        let (status, answer) = h.bearer(&visitor, "POST", &path, Some(body)).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer[field][0].is_string(), "{answer}");
    }
    assert!(h.hooks("messages").await.is_empty());
}

#[tokio::test]
async fn visitor_messages_paginate_in_creation_order_both_ways() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    for i in 1..=7 {
        h.send(&visitor, &chat_id, &format!("m{i}")).await;
    }
    let mut url = Harness::messages_path(&visitor, &chat_id);
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    loop {
        let (status, page) = h.bearer(&visitor, "GET", &url, None).await;
        assert_eq!(status, 200, "{page}");
        for message in page["results"].as_array().unwrap() {
            seen.push(message["message"].as_str().unwrap().to_owned());
        }
        pages.push(page.clone());
        match page["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
    assert_eq!(pages.len(), 3);
    let previous = pages[2]["previous"].as_str().unwrap();
    let (_, back) = h.bearer(&visitor, "GET", previous, None).await;
    assert_eq!(back["results"], pages[1]["results"]);
    let bad = format!(
        "{}?cursor=garbage!",
        Harness::messages_path(&visitor, &chat_id)
    );
    assert_eq!(h.bearer(&visitor, "GET", &bad, None).await.0, 404);
}

#[tokio::test]
async fn visitor_chats_lists_only_the_visitors_own_chats() {
    let h = Harness::start().await;
    let visitor = h.visitor().await;
    let other = h.visitor().await;
    let mine = [
        id_of(&h.start_chat(&visitor).await),
        id_of(&h.start_chat(&visitor).await),
    ];
    h.start_chat(&other).await;
    let path = format!("/api/v5/public/visitors/{}/chats", visitor.id);
    let (status, page) = h.bearer(&visitor, "GET", &path, None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, mine);
}

#[tokio::test]
async fn reopening_an_ended_chat_is_refused() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let path = format!("/api/v5/public/visitors/{}/chats/{chat_id}", visitor.id);
    assert_eq!(
        h.bearer(&visitor, "PATCH", &path, Some(json!({"is_ended": true})))
            .await
            .0,
        200
    );
    let (status, body) = h
        .bearer(&visitor, "PATCH", &path, Some(json!({"is_ended": false})))
        .await;
    assert_eq!(status, 400);
    assert!(body["is_ended"].is_array());
}

#[tokio::test]
async fn timestamps_follow_the_configured_format() {
    let h = Harness::start().await;
    h.control()
        .update_settings(&json!({"timestamp_format": "no_offset"}))
        .await
        .unwrap();
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let message = h.send(&visitor, &chat_id, "hi").await;
    let created = message["created_at"].as_str().unwrap();
    assert_eq!(created.len(), "2015-02-13T11:31:36.042".len(), "{created}");
    assert!(!created.ends_with('Z'));

    h.control()
        .update_settings(&json!({"timestamp_format": "mixed"}))
        .await
        .unwrap();
    let path = format!("/api/v5/public/visitors/{}/chats/{chat_id}", visitor.id);
    let (_, chat) = h.bearer(&visitor, "GET", &path, None).await;
    let stamps = [
        &chat["created_at"],
        &chat["updated_at"],
        &chat["waiting_started_at"],
    ];
    let with_z = stamps
        .iter()
        .filter(|s| s.as_str().unwrap().ends_with('Z'))
        .count();
    assert!(with_z > 0 && with_z < stamps.len(), "{chat}");
}
