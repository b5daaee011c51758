//! Secrets from Secrets Manager (moto): read at start-up with clear failures, cached, and a
//! rotation taken into use after the refresh interval without a restart.

mod support;

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
