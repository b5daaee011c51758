//! Secrets: no API token, visitor secret, access token or message text in the logs or in any
//! error, across every call and every kind of failure.

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use serde_json::json;
use shared::giosg::{GiosgError, VisitorSession};
use shared::secret::Secret;
use url::Url;

use crate::{Harness, closed_port, log_text};

#[tokio::test]
async fn no_secret_appears_in_logs_or_errors() -> Result<()> {
    let h = Harness::start().await?;
    let mut secrets: Vec<String> = vec![h.sim.api_token().to_owned()];
    let mut errors: Vec<GiosgError> = Vec::new();
    let remember = |secrets: &mut Vec<String>, session: &VisitorSession| {
        secrets.push(session.visitor_secret_id().expose().to_owned());
        secrets.push(session.access_token().expose().to_owned());
    };
    let private_text = "my card number is 4111 1111 1111 1111";

    // Every call, successfully.
    let mut session = h.client.authenticate_visitor(None).await?;
    remember(&mut secrets, &session);
    h.client.join_room(&mut session).await?;
    h.client.set_username(session.visitor_id(), "Ada").await?;
    h.client
        .refresh_presence(&mut session, Duration::from_secs(60))
        .await?;
    h.client.room(&mut session).await?;
    h.client.online_users(&mut session).await?;
    let chat = h.client.start_chat(&mut session).await?.id.context("id")?;
    h.client
        .send_message(&mut session, &chat, private_text)
        .await?;
    h.client.visitor_chats(&mut session).await?;
    h.client.visitor_messages(&mut session, &chat).await?;
    h.client.chat_memberships(&chat).await?;
    h.client.owned_chat(&chat).await?;
    let returning = h
        .client
        .authenticate_visitor(Some(session.visitor_secret_id()))
        .await?;
    remember(&mut secrets, &returning);

    // Token renewal: before expiry, and after a 401.
    let mut near_expiry = VisitorSession::from_parts(
        session.visitor_id().clone(),
        session.visitor_secret_id().clone(),
        session.access_token().clone(),
        Utc::now(),
    );
    h.client.room(&mut near_expiry).await?;
    remember(&mut secrets, &near_expiry);
    h.expire_token(session.visitor_id()).await?;
    h.client.room(&mut session).await?;
    remember(&mut secrets, &session);

    // Every kind of failure.
    h.fault("room", 401, 2).await?;
    errors.push(h.client.room(&mut session).await.expect_err("401 twice"));
    remember(&mut secrets, &session);
    h.fault("room", 503, 100).await?;
    errors.push(h.client.room(&mut session).await.expect_err("503"));
    h.clear_faults().await?;
    h.fault_with(json!({"endpoint": "room", "status": 429, "count": 1, "retry_after": 30}))
        .await?;
    errors.push(h.client.room(&mut session).await.expect_err("429"));
    h.fault("send_message", 500, 1).await?;
    errors.push(
        h.client
            .send_message(&mut session, &chat, private_text)
            .await
            .expect_err("500"),
    );
    h.fault_with(json!({"endpoint": "send_message", "status": 503, "count": 1, "delay_ms": 1000}))
        .await?;
    errors.push(
        h.client
            .send_message(&mut session, &chat, private_text)
            .await
            .expect_err("timeout"),
    );
    h.agent_ends(&chat).await?;
    errors.push(
        h.client
            .send_message(&mut session, &chat, private_text)
            .await
            .expect_err("ended"),
    );
    let forgotten_secret = "cd".repeat(32);
    secrets.push(forgotten_secret.clone());
    let mut forgotten = VisitorSession::from_parts(
        session.visitor_id().clone(),
        Secret::new(forgotten_secret),
        Secret::new("stale-access-token-0123456789abcdef"),
        Utc::now(),
    );
    secrets.push(forgotten.access_token().expose().to_owned());
    errors.push(
        h.client
            .send_message(&mut forgotten, &chat, private_text)
            .await
            .expect_err("replaced"),
    );
    remember(&mut secrets, &forgotten);
    let wrong_token = "wrong-api-token-fedcba9876543210";
    secrets.push(wrong_token.to_owned());
    let wrong = h.other_client(|c| c.api_token = Secret::new(wrong_token))?;
    errors.push(wrong.owned_chat(&chat).await.expect_err("wrong token"));
    let closed = closed_port().await?;
    let nowhere = h.other_client(|c| {
        c.base_url = Url::parse(&format!("http://{closed}/")).expect("url");
    })?;
    errors.push(nowhere.room(&mut session).await.expect_err("unreachable"));

    let logs = log_text();
    assert!(logs.contains("Giosg call succeeded"), "the capture works");
    assert!(
        logs.contains("retrying Giosg call"),
        "the capture sees warnings"
    );
    assert!(!logs.contains(private_text), "message text is never logged");
    let reported: Vec<String> = errors
        .iter()
        .flat_map(|e| [e.to_string(), format!("{e:?}")])
        .collect();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
        for text in &reported {
            assert!(
                !text.contains(secret.as_str()),
                "a secret reached an error: {text}"
            );
        }
    }
    assert!(
        !logs.contains("Bearer "),
        "no Authorization header value is logged"
    );
    Ok(())
}
