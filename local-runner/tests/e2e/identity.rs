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

/// With `IDENTITY_JWKS_URL` the runner checks identities as start-chat does with a JWKS: keys
/// fetched from that URL, HS256 refused, and no demo (it mints HS256 tokens).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_url_is_used_as_on_aws_and_turns_the_demo_off() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let fetches = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&fetches);
    let router = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { axum::Json(json!({"keys": []})) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let secret = "an-identity-secret-of-the-e2e-test-0123456789";
    let runner = Runner::start_with_env(
        &[],
        &[("IDENTITY_SECRET", secret), ("IDENTITY_JWKS_URL", &url)],
    );
    let (status, _) = runner.api(Method::GET, "/local/identity", None, None).await;
    assert_eq!(status, 404, "no HS256 demo with a JWKS");
    let start = |identity_token: String| {
        runner.api(
            Method::POST,
            "/v1/chats",
            None,
            Some(json!({"visitor_name": "Visitor", "identity_token": identity_token})),
        )
    };
    let claims = json!({"sub": "customer-42", "exp": chrono::Utc::now().timestamp() + 600});
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let (status, body) = start(hs256).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wrong algorithm"),
        "{body}"
    );
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        0,
        "refused before any key is fetched"
    );
    // An ES256 token naming a key: the runner asks the JWKS, which has no such key.
    let encode = |value: serde_json::Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let es256 = format!(
        "{}.{}.c2lnbmF0dXJl",
        encode(json!({"alg": "ES256", "kid": "key-1"})),
        encode(claims)
    );
    let (status, body) = start(es256).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bad signature"),
        "{body}"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    server.abort();
}
