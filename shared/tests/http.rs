//! The HTTP surface around the handlers, on the routers themselves (no server): each function's
//! router answers exactly its routes, CORS reaches only allowed origins and never the webhooks,
//! and bodies over the limit are refused in the error shape before any handler runs.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::Value;
use shared::api::{self, Api, MAX_BODY_BYTES, MAX_WEBHOOK_BODY_BYTES, RouteKind, function_routes};
use shared::config::{SecretSource, Secrets, SecretsCache, Settings, lookup_in};
use shared::giosg::{GiosgClient, GiosgConfig};
use shared::secret::Secret;
use shared::service::{Rules, Service};
use shared::store::memory::MemoryStore;
use tower::ServiceExt;

const ORIGIN: &str = "https://app.example.com";
const WEBHOOK_SECRET: &str = "http-test-webhook-secret-0123";

/// The API over the in-memory store and a Giosg nobody listens at (these tests never get that
/// far, except availability, which then answers 503).
async fn api() -> Arc<Api<MemoryStore, GiosgClient>> {
    let env: HashMap<String, String> = [
        ("TABLE_NAME", "in-memory"),
        ("GIOSG_BASE_URL", "http://127.0.0.1:9"),
        ("GIOSG_ORG_ID", "org"),
        ("GIOSG_ROOM_ID", "room"),
        ("SECRET_ID", "local"),
        ("ALLOWED_ORIGINS", ORIGIN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = Settings::from_lookup(lookup_in(&env)).unwrap();
    let secrets = SecretsCache::load(
        SecretSource::Static(Secrets {
            giosg_api_token: Secret::new("token"),
            webhook_secret: Secret::new(WEBHOOK_SECRET),
            previous_webhook_secret: None,
            identity_secret: None,
        }),
        settings.secrets_refresh,
    )
    .await
    .unwrap();
    let mut config = GiosgConfig::from_settings(&settings, Secret::new("token"));
    config.retry_budget = std::time::Duration::from_millis(200);
    let giosg = GiosgClient::new(config).unwrap();
    let service = Service::new(MemoryStore::new(), giosg, Rules::from_settings(&settings));
    Arc::new(Api::new(service, &settings).with_webhook_secrets(Arc::new(secrets)))
}

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

fn request(method: Method, path: &str) -> http::request::Builder {
    Request::builder().method(method).uri(path)
}

#[tokio::test]
async fn each_function_router_answers_exactly_its_routes() {
    let api = api().await;
    for function in [
        "start-chat",
        "send-message",
        "chat-history",
        "giosg-webhooks",
    ] {
        let router = api::function_router(function, Arc::clone(&api)).unwrap();
        let serves = function_routes::by_name(function).unwrap();
        for kind in RouteKind::ALL {
            let path = kind.path().replace("{chat_id}", "chat-1");
            let (status, _, body) = call(
                &router,
                request(kind.method(), &path)
                    .header("content-type", "application/json")
                    .body(Body::from("{}"))
                    .unwrap(),
            )
            .await;
            if serves.contains(kind) {
                // Unauthenticated, so a served route answers 400, 401 or (availability, with
                // no Giosg to ask) 503: never the 404 of a route it does not serve.
                assert_ne!(
                    status,
                    StatusCode::NOT_FOUND,
                    "{function}: {kind:?}: {body}"
                );
            } else {
                assert_eq!(status, StatusCode::NOT_FOUND, "{function}: {kind:?}");
                assert_eq!(body["error"]["code"], "not_found");
            }
        }
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_other_methods_405_in_the_error_shape() {
    let router = api::all_routes(api().await);
    let (status, _, body) = call(
        &router,
        request(Method::GET, "/v2/chats")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _, body) = call(
        &router,
        request(Method::DELETE, "/v1/chats")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let (status, _, body) = call(
        &router,
        request(Method::GET, "/webhooks/giosg/chats")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let (status, _, body) = call(
        &router,
        request(Method::GET, "/v1/chats/..%2f")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an id we never issue");
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn cors_answers_only_allowed_origins_and_never_on_webhooks() {
    let router = api::all_routes(api().await);
    let (status, headers, _) = call(
        &router,
        request(Method::GET, "/v1/chats")
            .header("origin", ORIGIN)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert!(headers["vary"].to_str().unwrap().contains("origin"));

    let (_, headers, _) = call(
        &router,
        request(Method::GET, "/v1/chats")
            .header("origin", "https://evil.example.com")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(!headers.contains_key("access-control-allow-origin"));

    let (status, headers, _) = call(
        &router,
        request(Method::OPTIONS, "/v1/chats/chat-1/messages")
            .header("origin", ORIGIN)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, idempotency-key",
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(status.is_success(), "preflight: {status}");
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    for header in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed.contains(header), "{allowed}");
    }
    assert_eq!(headers["access-control-max-age"], "600");

    let (status, headers, _) = call(
        &router,
        request(Method::POST, "/webhooks/giosg/chats")
            .header("origin", ORIGIN)
            .header("x-webhook-token", WEBHOOK_SECRET)
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_before_any_handler() {
    let router = api::all_routes(api().await);
    let over = |limit: usize| "x".repeat(limit + 1);
    for (path, body) in [
        ("/v1/chats", over(MAX_BODY_BYTES)),
        ("/webhooks/giosg/messages", over(MAX_WEBHOOK_BODY_BYTES)),
    ] {
        // No token and no webhook secret: only the size can answer first.
        let (status, _, body) = call(
            &router,
            request(Method::POST, path)
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(body["error"]["code"], "payload_too_large");
    }
}

/// Giosg's envelopes up to 1 MB are judged by their content, not their size: a big one reaches
/// the caller check and the parser instead of a 413.
#[tokio::test]
async fn webhook_bodies_up_to_1_mb_are_judged_by_content() {
    let router = api::all_routes(api().await);
    let big = format!("{{\"padding\": \"{}\"}}", "x".repeat(MAX_BODY_BYTES * 10));
    assert!(big.len() > MAX_BODY_BYTES && big.len() < MAX_WEBHOOK_BODY_BYTES);
    let (status, _, body) = call(
        &router,
        request(Method::POST, "/webhooks/giosg/messages")
            .header("content-type", "application/json")
            .header("x-webhook-token", WEBHOOK_SECRET)
            .body(Body::from(big))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request", "not an envelope");
}
