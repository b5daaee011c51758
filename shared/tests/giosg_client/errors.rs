//! Refused vs Unavailable: how a failure is classified (a 4xx, a wrong API token, nothing
//! listening, a 2xx that is not JSON), and that a refusal is never retried.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use chrono::Utc;
use shared::domain::{ChatId, VisitorId};
use shared::giosg::{GiosgClient, GiosgError, VisitorSession};
use shared::secret::Secret;

use crate::{Harness, canned_client, canned_server, closed_port, fast_config};

#[tokio::test]
async fn sending_into_an_ended_chat_is_refused_with_its_status() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    h.agent_ends(&chat).await?;
    let error = h
        .client
        .send_message(&mut session, &chat, "anyone there?")
        .await
        .expect_err("ended chat");
    assert!(error.is_refused() && !error.is_unavailable(), "{error:?}");
    assert_eq!(error.status(), Some(403));
    match &error {
        GiosgError::Refused { message, .. } => assert!(!message.is_empty()),
        other => bail!("expected Refused, got {other:?}"),
    }
    assert_eq!(h.count("send_message").await?, 1, "a 4xx is never retried");
    Ok(())
}

#[tokio::test]
async fn starting_a_chat_while_offline_is_refused() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.set_room_online(false).await?;
    let error = h
        .client
        .start_chat(&mut session)
        .await
        .expect_err("offline");
    assert!(error.is_refused(), "{error:?}");
    assert_eq!(error.status(), Some(403));
    assert_eq!(h.count("start_chat").await?, 1);
    Ok(())
}

#[tokio::test]
async fn other_4xx_is_refused_without_retry() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault("room", 404, 1).await?;
    let error = h.client.room(&mut session).await.expect_err("404");
    assert!(error.is_refused());
    assert_eq!(error.status(), Some(404));
    assert_eq!(h.count("room").await?, 1);
    Ok(())
}

#[tokio::test]
async fn wrong_api_token_is_refused_without_retry() -> Result<()> {
    let h = Harness::start().await?;
    let (_, chat) = h.visitor_with_chat().await?;
    let wrong = h.other_client(|c| c.api_token = Secret::new("wrong-api-token-0000000000"))?;
    let error = wrong.owned_chat(&chat).await.expect_err("wrong token");
    assert!(error.is_refused());
    assert_eq!(error.status(), Some(401));
    assert_eq!(h.count("owned_chat").await?, 1);
    Ok(())
}

#[tokio::test]
async fn unreachable_giosg_is_unavailable() -> Result<()> {
    let addr = closed_port().await?;
    let client = GiosgClient::new(fast_config(
        &format!("http://{addr}"),
        "org",
        "room",
        "api-token-for-nowhere-0123456789",
    ))?;
    let mut session = VisitorSession::from_parts(
        VisitorId::new("0123456789abcdef0123456789abcdef"),
        Secret::new("secret-for-nowhere-0123456789abcdef"),
        Secret::new("token-for-nowhere-0123456789abcdef"),
        Utc::now() + chrono::Duration::minutes(30),
    );
    let started = Instant::now();
    let error = client
        .send_message(&mut session, &ChatId::new("c"), "hello")
        .await
        .expect_err("nothing listens");
    assert!(error.is_unavailable(), "{error:?}");
    assert_eq!(error.status(), None);
    assert!(error.to_string().contains("could not connect"), "{error}");
    assert!(
        error.to_string().contains("after 4 attempts"),
        "a refused connection never reached Giosg, so even a send is retried: {error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    Ok(())
}

#[tokio::test]
async fn unparseable_answer_is_an_invalid_response() -> Result<()> {
    let (addr, hits) = canned_server(200, "<html>not json</html>".into()).await?;
    let client = canned_client(addr)?;
    let error = client
        .owned_chat(&ChatId::new("c"))
        .await
        .expect_err("not json");
    assert!(
        matches!(
            error,
            GiosgError::InvalidResponse {
                endpoint: "owned_chat",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "a bad 2xx body is not retried"
    );
    Ok(())
}

/// The tolerant reader on Giosg's answers: fields of an unexpected type are left out with a
/// warning naming them, and the rest of the answer is used.
#[tokio::test]
async fn answer_fields_of_an_unexpected_type_are_left_out() -> Result<()> {
    crate::captured_logs();
    let body = serde_json::json!({
        "id": "c", "is_ended": true, "room_id": "room",
        "message_count": "seven", "is_private": "no", "created_at": 17,
        "brand_new": {"nested": [1, 2]}
    });
    let (addr, _) = canned_server(200, body.to_string()).await?;
    let chat = canned_client(addr)?.owned_chat(&ChatId::new("c")).await?;
    assert_eq!(chat.is_ended.value(), Some(&true));
    assert!(chat.message_count.is_absent() && chat.created_at.is_absent());
    let logs = crate::log_text();
    assert!(
        logs.contains("message_count") && logs.contains("owned_chat"),
        "the warning names the endpoint and the field: {logs}"
    );
    Ok(())
}
