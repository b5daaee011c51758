//! Who may call what: Bearer tokens for visitor endpoints, the API token for org endpoints.

use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn visitor_endpoints_without_a_bearer_token_are_401_with_detail() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let path = Harness::messages_path(&visitor, &chat_id);
    let token = format!("Token {}", h.sim.api_token());
    for authorization in [None, Some(token), Some("Bearer ".to_owned())] {
        let response = h
            .http
            .get(h.url(&path))
            .headers(match &authorization {
                Some(value) => {
                    let mut headers = reqwest::header::HeaderMap::new();
                    headers.insert("authorization", value.parse().unwrap());
                    headers
                }
                None => reqwest::header::HeaderMap::new(),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{authorization:?}");
        assert!(response.headers().get("www-authenticate").is_some());
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"detail": "Authentication credentials were not provided."})
        );
    }
}

#[tokio::test]
async fn unknown_bearer_token_is_401() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let path = Harness::messages_path(&visitor, &chat_id);
    let (status, body) = h.call("GET", &path, Some("Bearer nope".into()), None).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"detail": "Invalid token."}));
}

#[tokio::test]
async fn expired_tokens_are_401_until_the_visitor_authenticates_again() {
    let h = Harness::start().await;
    let (mut visitor, chat_id) = h.visitor_with_chat().await;
    let expired = h.control().expire_tokens(&visitor.id).await.unwrap();
    assert_eq!(expired.expired, 1);
    let path = Harness::messages_path(&visitor, &chat_id);
    let body = json!({"type": "msg", "message": "hi"});
    let (status, answer) = h.bearer(&visitor, "POST", &path, Some(body.clone())).await;
    assert_eq!(status, 401);
    assert_eq!(answer, json!({"detail": "Token has expired."}));
    assert!(
        h.all_hooks().await.is_empty(),
        "a refused call changes nothing"
    );

    let (_, auth) = h.auth(json!({"visitor_secret_id": visitor.secret})).await;
    visitor.token = auth["access_token"].as_str().unwrap().to_owned();
    assert_eq!(h.bearer(&visitor, "POST", &path, Some(body)).await.0, 201);
}

#[tokio::test]
async fn tokens_expire_after_their_ttl() {
    let h = Harness::start_with(|config| config.access_token_ttl_secs = 1).await;
    let visitor = h.visitor().await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _) = h
        .bearer(&visitor, "POST", &h.start_chat_path(&visitor), None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn another_visitors_chat_is_404_by_default_and_403_when_configured() {
    let h = Harness::start().await;
    let (_owner, chat_id) = h.visitor_with_chat().await;
    let intruder = h.visitor().await;
    let send = Harness::messages_path(&intruder, &chat_id);
    let body = json!({"type": "msg", "message": "hi"});
    let (status, answer) = h.bearer(&intruder, "POST", &send, Some(body.clone())).await;
    assert_eq!(status, 404);
    assert_eq!(answer, json!({"detail": "Not found."}));
    assert_eq!(h.bearer(&intruder, "GET", &send, None).await.0, 404);
    let end = format!("/api/v5/public/visitors/{}/chats/{chat_id}", intruder.id);
    assert_eq!(
        h.bearer(&intruder, "PATCH", &end, Some(json!({"is_ended": true})))
            .await
            .0,
        404
    );

    h.control()
        .update_settings(&json!({"foreign_chat_status": 403}))
        .await
        .unwrap();
    assert_eq!(h.bearer(&intruder, "POST", &send, Some(body)).await.0, 403);
    assert!(h.all_hooks().await.is_empty());
}

#[tokio::test]
async fn a_path_visitor_id_that_is_not_the_tokens_visitor_is_403() {
    let h = Harness::start().await;
    let (owner, chat_id) = h.visitor_with_chat().await;
    let intruder = h.visitor().await;
    let path = Harness::messages_path(&owner, &chat_id);
    let (status, body) = h.bearer(&intruder, "GET", &path, None).await;
    assert_eq!(status, 403);
    assert!(body["detail"].is_string());
    assert_eq!(
        h.bearer(&intruder, "POST", &h.start_chat_path(&owner), None)
            .await
            .0,
        403
    );
    let chats = format!("/api/v5/public/visitors/{}/chats", owner.id);
    assert_eq!(h.bearer(&intruder, "GET", &chats, None).await.0, 403);
}

#[tokio::test]
async fn org_endpoints_require_the_api_token() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let paths = [
        format!("/api/v5/orgs/{}/owned_chats/{chat_id}", h.org()),
        format!("/api/v5/orgs/{}/owned_chats/{chat_id}/memberships", h.org()),
    ];
    for path in &paths {
        for authorization in [
            None,
            Some("Token wrong".to_owned()),
            Some(format!("Bearer {}", visitor.token)),
        ] {
            let (status, body) = h.call("GET", path, authorization.clone(), None).await;
            assert_eq!(status, 401, "{path} {authorization:?}");
            assert!(body["detail"].is_string());
        }
        assert_eq!(h.org_call("GET", path, None).await.0, 200);
    }
    let variables = format!(
        "/api/v5/orgs/{}/rooms/{}/visitors/{}/variables",
        h.org(),
        h.sim.room_id(),
        visitor.id
    );
    let body = json!({"key": "username", "value": "Ann"});
    let (status, _) = h.bearer(&visitor, "POST", &variables, Some(body)).await;
    assert_eq!(status, 401, "a visitor token cannot set variables");
}

#[tokio::test]
async fn org_endpoints_of_another_org_are_404() {
    let h = Harness::start().await;
    let (_visitor, chat_id) = h.visitor_with_chat().await;
    let path = format!("/api/v5/orgs/00000000-0000-4000-8000-000000000000/owned_chats/{chat_id}");
    assert_eq!(h.org_call("GET", &path, None).await.0, 404);
}
