//! Secrets from Secrets Manager (moto): read at start-up with clear failures, cached, and a
//! rotation taken into use after the refresh interval without a restart.

mod support;

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use shared::aws::sdk_config;
use shared::config::{ConfigError, SecretSource, SecretsCache};
use shared::store::memory::MemoryStore;
use support::harness::Options;

async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&sdk_config(Some(support::moto::endpoint())).await)
}

fn unique(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4())
}

async fn create_secret(client: &aws_sdk_secretsmanager::Client, name: &str, value: &str) {
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("moto creates the secret");
}

#[tokio::test]
async fn a_missing_secret_fails_start_up_with_a_clear_message() {
    let client = secrets_client().await;
    let error = SecretsCache::load(
        SecretSource::SecretsManager {
            client,
            secret_id: "no-such-secret".into(),
        },
        Duration::from_secs(300),
    )
    .await
    .err()
    .expect("start-up fails");
    assert!(matches!(error, ConfigError::SecretUnavailable { .. }));
    assert!(error.to_string().contains("no-such-secret"), "{error}");
}

#[tokio::test]
async fn a_secret_without_a_key_names_the_key_and_never_the_values() {
    let client = secrets_client().await;
    let name = unique("incomplete");
    create_secret(
        &client,
        &name,
        r#"{"giosg_api_token": "tok-very-secret-value"}"#,
    )
    .await;
    let error = SecretsCache::load(
        SecretSource::SecretsManager {
            client,
            secret_id: name,
        },
        Duration::from_secs(300),
    )
    .await
    .err()
    .expect("start-up fails");
    let message = error.to_string();
    assert!(message.contains("webhook_secret"), "{message}");
    assert!(!message.contains("tok-very-secret-value"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_webhook_secret_and_api_token_are_used_without_a_restart() {
    let client = secrets_client().await;
    let name = unique("rotating");
    let sim_token = "simulator-api-token-0123456789";
    let old = "old-webhook-secret-0123456789";
    create_secret(
        &client,
        &name,
        &json!({"giosg_api_token": sim_token, "webhook_secret": old}).to_string(),
    )
    .await;
    let env = support::harness::start_with(
        MemoryStore::new(),
        Options {
            env: vec![
                ("SECRETS_REFRESH_SECONDS", "0".into()),
                ("AVAILABILITY_CACHE_SECONDS", "0".into()),
            ],
            webhook_secret: old.into(),
            api_token: Some(sim_token.into()),
            secrets: Some(SecretSource::SecretsManager {
                client: client.clone(),
                secret_id: name.clone(),
            }),
            ..Options::default()
        },
    )
    .await;
    let (token, chat) = env.new_chat("Ada").await;
    let hook = |secret: &str| format!("/webhooks/giosg/chats?token={secret}");
    let body = json!({"channel": format!("/api/v5/orgs/{}/owned_chats", env.sim.org_id()),
                      "action": "changed", "resource_id": chat,
                      "resource": {"is_waiting": true, "updated_at": "2099-01-01T00:00:00.000Z"}});
    let new = "new-webhook-secret-9876543210";
    assert_eq!(
        env.call(Method::POST, &hook(old), None, Some(body.clone()))
            .await
            .status,
        200
    );
    assert_eq!(
        env.call(Method::POST, &hook(new), None, Some(body.clone()))
            .await
            .status,
        401
    );

    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(
            json!({"giosg_api_token": "rotated-api-token", "webhook_secret": new}).to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        env.call(Method::POST, &hook(new), None, Some(body.clone()))
            .await
            .status,
        200
    );
    assert_eq!(
        env.call(Method::POST, &hook(old), None, Some(body))
            .await
            .status,
        401
    );
    // The Giosg client now sends the rotated organization token, which this simulator does not
    // know: setting the visitor's name (an org call) is refused.
    let renamed = env
        .call(
            Method::POST,
            "/v1/chats",
            Some(&token),
            Some(json!({"visitor_name": "Ada L."})),
        )
        .await;
    renamed.assert_error(502, "giosg_unavailable");
    env.stop().await;
}

/// A rotation with an overlap: the secret carries the previous webhook secret and when it was
/// rotated out; Giosg's webhooks with the previous one are accepted until
/// `WEBHOOK_SECRET_OVERLAP_SECONDS` after that, the current one always, a wrong one never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_webhook_secret_is_accepted_only_within_the_overlap() {
    let client = secrets_client().await;
    let name = unique("overlapping");
    let sim_token = "simulator-api-token-0123456789";
    let old = "old-webhook-secret-0123456789";
    let new = "new-webhook-secret-9876543210";
    create_secret(
        &client,
        &name,
        &json!({"giosg_api_token": sim_token, "webhook_secret": old}).to_string(),
    )
    .await;
    let env = support::harness::start_with(
        MemoryStore::new(),
        Options {
            env: vec![
                ("SECRETS_REFRESH_SECONDS", "0".into()),
                ("WEBHOOK_SECRET_OVERLAP_SECONDS", "3600".into()),
            ],
            webhook_secret: old.into(),
            api_token: Some(sim_token.into()),
            secrets: Some(SecretSource::SecretsManager {
                client: client.clone(),
                secret_id: name.clone(),
            }),
            ..Options::default()
        },
    )
    .await;
    let (_, chat) = env.new_chat("Ada").await;
    let body = json!({"channel": format!("/api/v5/orgs/{}/owned_chats", env.sim.org_id()),
                      "action": "changed", "resource_id": chat,
                      "resource": {"is_waiting": true, "updated_at": "2099-01-01T00:00:00.000Z"}});
    let status = |secret: &'static str| {
        let body = body.clone();
        let env = &env;
        async move {
            let path = format!("/webhooks/giosg/chats?token={secret}");
            env.call(Method::POST, &path, None, Some(body)).await.status
        }
    };
    let rotate = |rotated_minutes_ago: i64| {
        let rotated_at = chrono::Utc::now() - chrono::Duration::minutes(rotated_minutes_ago);
        let value = json!({"giosg_api_token": sim_token, "webhook_secret": new,
                           "previous_webhook_secret": old,
                           "webhook_secret_rotated_at": rotated_at.to_rfc3339()});
        client
            .put_secret_value()
            .secret_id(&name)
            .secret_string(value.to_string())
            .send()
    };

    rotate(10).await.unwrap();
    assert_eq!(status(new).await, 200, "the current secret");
    assert_eq!(
        status(old).await,
        200,
        "the previous one, 10 minutes after the rotation"
    );
    assert_eq!(status("wrong-webhook-secret-000000").await, 401);
    // The header is checked by the same rule.
    let with_header = env
        .http
        .post(format!("{}/webhooks/giosg/chats", env.api))
        .header("X-Webhook-Token", old)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), 200);

    rotate(61).await.unwrap();
    assert_eq!(status(old).await, 401, "61 minutes after the rotation");
    assert_eq!(status(new).await, 200);
    env.stop().await;
}

/// `WEBHOOK_SECRET_OVERLAP_SECONDS=0`: the previous secret is refused from the rotation on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_overlap_the_previous_webhook_secret_is_refused_at_once() {
    use shared::config::{PreviousWebhookSecret, Secrets};
    use shared::secret::Secret;

    let old = "old-webhook-secret-0123456789";
    let new = "new-webhook-secret-9876543210";
    let sim_token = "simulator-api-token-0123456789";
    let env = support::harness::start_with(
        MemoryStore::new(),
        Options {
            env: vec![("WEBHOOK_SECRET_OVERLAP_SECONDS", "0".into())],
            webhook_secret: new.into(),
            api_token: Some(sim_token.into()),
            secrets: Some(SecretSource::Static(Secrets {
                giosg_api_token: Secret::new(sim_token),
                webhook_secret: Secret::new(new),
                previous_webhook_secret: Some(PreviousWebhookSecret {
                    secret: Secret::new(old),
                    rotated_at: chrono::Utc::now(),
                }),
                identity_secret: None,
            })),
            ..Options::default()
        },
    )
    .await;
    let (_, chat) = env.new_chat("Ada").await;
    let body = json!({"channel": format!("/api/v5/orgs/{}/owned_chats", env.sim.org_id()),
                      "action": "changed", "resource_id": chat,
                      "resource": {"is_waiting": true, "updated_at": "2099-01-01T00:00:00.000Z"}});
    for (secret, expected) in [(old, 401), (new, 200)] {
        let path = format!("/webhooks/giosg/chats?token={secret}");
        let reply = env
            .call(Method::POST, &path, None, Some(body.clone()))
            .await;
        assert_eq!(reply.status, expected, "{secret}: {}", reply.body);
    }
    env.stop().await;
}

/// A function whose secret cannot be read at cold start (Secrets Manager unreachable, or the
/// secret not there yet) still starts: the routes that need the secret answer `503` in the
/// API's error shape (never the platform's bare 5xx), and once the secret can be read it is
/// used without a restart. Wired as the functions' `main`s wire it, fed recorded events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_outage_at_cold_start_is_answered_in_the_error_shape_and_heals() {
    use shared::api::{self, Api};
    use shared::config::{Settings, lookup_in};
    use shared::lambda::ColdStart;
    use shared::service::Service;

    let client = secrets_client().await;
    let name = unique("late");
    let env = [
        ("TABLE_NAME", "unused"),
        ("GIOSG_BASE_URL", "http://127.0.0.1:9"),
        ("GIOSG_ORG_ID", "6f2b6d0e-0000-4000-8000-000000000001"),
        ("GIOSG_ROOM_ID", "0b2f3c4d-0000-4000-8000-0000000000aa"),
        ("SECRET_ID", name.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let cold = ColdStart {
        settings: Settings::from_lookup(lookup_in(&env)).unwrap(),
        sdk: sdk_config(Some(support::moto::endpoint())).await,
    };
    let secrets = cold.secrets().await;
    let giosg = cold
        .giosg(&secrets)
        .await
        .expect("starts without the secret");
    let start_chat = api::start_chat(Arc::new(Api::new(
        Service::new(MemoryStore::new(), giosg, cold.rules()),
        &cold.settings,
    )));
    let webhooks = api::giosg_webhooks(Arc::new(
        Api::new(
            Service::without_giosg(MemoryStore::new(), cold.rules()),
            &cold.settings,
        )
        .with_webhook_secrets(secrets),
    ));

    let (status, body) = invoke(&webhooks, "webhooks/chat-added.json").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "giosg_unavailable");
    let (status, body) = invoke(&start_chat, "api/start-chat-new-visitor.json").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "giosg_unavailable");
    assert_eq!(body.as_object().unwrap().len(), 1, "only `error`: {body}");

    create_secret(
        &client,
        &name,
        r#"{"giosg_api_token": "tok", "webhook_secret": "local-webhook-secret-0123456789"}"#,
    )
    .await;
    // A secret never read is asked for again at most once a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = invoke(&webhooks, "webhooks/chat-added.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "stored");
}

/// The status and JSON body of the answer to a recorded Lambda event.
async fn invoke(router: &axum::Router, event: &str) -> (u16, serde_json::Value) {
    let path = format!("{}/../events/{event}", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read_to_string(path).unwrap();
    let request = lambda_http::request::from_str(&raw).unwrap();
    let response = shared::lambda::invoke(router, request).await;
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    // Every answer, the outage's included, is one openapi.yaml documents.
    let recorded: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let method = recorded["requestContext"]["http"]["method"]
        .as_str()
        .unwrap();
    let route = recorded["rawPath"].as_str().unwrap();
    if let Err(problem) = support::openapi::openapi().check_response(method, route, status, &body) {
        panic!("{event}: the answer does not match openapi.yaml: {problem}");
    }
    (status, body)
}
