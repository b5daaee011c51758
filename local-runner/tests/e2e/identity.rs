//! The "signed in as" demo: with `IDENTITY_SECRET` the runner mints identity tokens for the
//! visitor page, and two browsers signed in as one user share the chat; without it, neither the
//! demo nor `identity_token` is accepted.

use reqwest::Method;
use serde_json::json;

use crate::runner::Runner;

async fn demo_token(runner: &Runner, user_id: &str) -> (u16, serde_json::Value) {
    runner
        .api(
            Method::POST,
            "/local/identity-token",
            None,
            Some(json!({"user_id": user_id, "name": "Ada"})),
        )
        .await
}

#[tokio::test]
async fn signed_in_browsers_share_one_chat_with_identity_secret_only() {
    let secret = "an-identity-secret-of-the-e2e-test-0123456789";
    let runner = Runner::start_with_env(&[], &[("IDENTITY_SECRET", secret)]);
    let (status, body) = runner.api(Method::GET, "/local/identity", None, None).await;
    assert_eq!((status, &body["demo"]), (200, &json!(true)), "{body}");
    let mut tokens = Vec::new();
    let mut chats = Vec::new();
    for _browser in 0..2 {
        let (status, minted) = demo_token(&runner, "customer-42").await;
        assert_eq!(status, 200, "{minted}");
        let (status, started) = runner
            .api(
                Method::POST,
                "/v1/chats",
                None,
                Some(
                    json!({"visitor_name": "Visitor", "identity_token": minted["identity_token"]}),
                ),
            )
            .await;
        assert!(status == 200 || status == 201, "{started}");
        assert_eq!(started["chat"]["visitor_name"], "Ada");
        tokens.push(started["visitor_token"].as_str().unwrap().to_owned());
        chats.push(started["chat"]["id"].clone());
    }
    assert_ne!(tokens[0], tokens[1], "each browser has its own token");
    assert_eq!(chats[0], chats[1], "one chat for the user");
    let (status, listed) = runner
        .api(Method::GET, "/v1/chats", Some(&tokens[1]), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["chats"][0]["id"], chats[0]);
    let (status, body) = demo_token(&runner, "").await;
    assert_eq!(status, 400, "{body}");
    drop(runner);

    let without = Runner::start(&[]);
    let (status, _) = without
        .api(Method::GET, "/local/identity", None, None)
        .await;
    assert_eq!(status, 404, "no demo without IDENTITY_SECRET");
    let (status, body) = demo_token(&without, "customer-42").await;
    assert_eq!(status, 404, "{body}");
}
