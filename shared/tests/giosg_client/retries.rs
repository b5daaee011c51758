//! Retries: which statuses and timeouts are retried for reads and for non-idempotent calls,
//! `Retry-After`, and giving up after the attempts or the time budget.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;
use shared::domain::SenderType;
use shared::giosg::budget;

use crate::{Harness, texts_from};

#[tokio::test]
async fn retries_503_then_succeeds() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault("room", 503, 2).await?;
    h.client.room(&mut session).await?;
    let statuses: Vec<u16> = h.calls_of("room").await?.iter().map(|c| c.0).collect();
    assert_eq!(statuses, [503, 503, 200]);
    Ok(())
}

#[tokio::test]
async fn idempotent_read_is_retried_after_500_502_and_504() -> Result<()> {
    let h = Harness::start().await?;
    let (_, chat) = h.visitor_with_chat().await?;
    for status in [500, 502, 504] {
        h.fault("owned_chat", status, 1).await?;
    }
    h.client.owned_chat(&chat).await?;
    let statuses: Vec<u16> = h
        .calls_of("owned_chat")
        .await?
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(statuses, [500, 502, 504, 200]);
    Ok(())
}

#[tokio::test]
async fn retries_429_honouring_retry_after() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault_with(json!({"endpoint": "room", "status": 429, "count": 1, "retry_after": 1}))
        .await?;
    h.client.room(&mut session).await?;
    let calls = h.calls_of("room").await?;
    assert_eq!(calls.iter().map(|c| c.0).collect::<Vec<_>>(), [429, 200]);
    let waited = calls[1].1 - calls[0].1;
    assert!(
        waited >= chrono::Duration::milliseconds(900),
        "Retry-After: 1 was honoured, not the 10-50 ms backoff (waited {waited})"
    );
    Ok(())
}

#[tokio::test]
async fn retry_after_beyond_the_budget_gives_up_at_once() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault_with(json!({"endpoint": "room", "status": 429, "count": 1, "retry_after": 30}))
        .await?;
    let started = Instant::now();
    let error = h.client.room(&mut session).await.expect_err("budget");
    assert!(error.is_unavailable());
    assert_eq!(error.status(), Some(429));
    assert!(started.elapsed() < Duration::from_secs(2), "did not sleep");
    assert_eq!(h.count("room").await?, 1);
    Ok(())
}

#[tokio::test]
async fn gives_up_as_unavailable_after_max_attempts() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault("room", 503, 100).await?;
    let error = h.client.room(&mut session).await.expect_err("always 503");
    assert!(error.is_unavailable(), "{error:?}");
    assert_eq!(error.status(), Some(503));
    assert_eq!(h.count("room").await?, 4, "max_attempts");
    Ok(())
}

#[tokio::test]
async fn gives_up_as_unavailable_when_5xx_outlasts_the_budget() -> Result<()> {
    let h = Harness::start_with(
        |_| {},
        |c| {
            c.max_attempts = 1000;
            c.retry_budget = Duration::from_millis(600);
            c.backoff_base = Duration::from_millis(40);
            c.backoff_max = Duration::from_millis(80);
        },
    )
    .await?;
    let mut session = h.visitor().await?;
    h.fault("room", 500, 1000).await?;
    let started = Instant::now();
    let error = h.client.room(&mut session).await.expect_err("always 500");
    assert!(error.is_unavailable(), "{error:?}");
    assert_eq!(error.status(), Some(500));
    assert!(error.to_string().contains("budget"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let calls = h.count("room").await?;
    assert!(
        (2..1000).contains(&calls),
        "retried within the budget: {calls}"
    );
    Ok(())
}

#[tokio::test]
async fn non_idempotent_send_is_not_retried_after_500() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    h.fault("send_message", 500, 1).await?;
    let error = h
        .client
        .send_message(&mut session, &chat, "once only")
        .await
        .expect_err("500");
    assert!(error.is_unavailable(), "{error:?}");
    assert!(
        error.may_have_acted(),
        "a 500 on a send leaves its outcome unknown"
    );
    assert_eq!(error.status(), Some(500));
    assert_eq!(h.count("send_message").await?, 1);
    Ok(())
}

#[tokio::test]
async fn non_idempotent_start_chat_is_not_retried_after_502_or_504() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    for status in [502, 504] {
        h.fault("start_chat", status, 1).await?;
        let error = h.client.start_chat(&mut session).await.expect_err("5xx");
        assert!(error.is_unavailable(), "{error:?}");
        assert_eq!(error.status(), Some(status));
    }
    assert_eq!(h.count("start_chat").await?, 2, "one attempt each");
    Ok(())
}

#[tokio::test]
async fn non_idempotent_send_is_retried_after_503_and_429() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    h.fault("send_message", 503, 1).await?;
    h.fault("send_message", 429, 1).await?;
    h.client
        .send_message(&mut session, &chat, "turned away twice")
        .await?;
    let statuses: Vec<u16> = h
        .calls_of("send_message")
        .await?
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(statuses, [503, 429, 201]);
    let messages = h.client.visitor_messages(&mut session, &chat).await?;
    assert_eq!(
        texts_from(&messages, SenderType::Visitor),
        ["turned away twice"]
    );
    Ok(())
}

#[tokio::test]
async fn non_idempotent_send_is_not_retried_after_a_timeout() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    // The first attempt hangs past the client's timeout; a (wrong) retry would be answered
    // at once and create the message.
    h.fault_with(json!({"endpoint": "send_message", "status": 503, "count": 1, "delay_ms": 1000}))
        .await?;
    let error = h
        .client
        .send_message(&mut session, &chat, "maybe sent")
        .await
        .expect_err("timeout");
    assert!(error.is_unavailable(), "{error:?}");
    assert_eq!(error.status(), None);
    assert!(error.to_string().contains("timed out"), "{error}");
    assert!(
        error.may_have_acted(),
        "a timeout on a send leaves its outcome unknown"
    );
    let messages = h.client.visitor_messages(&mut session, &chat).await?;
    assert!(texts_from(&messages, SenderType::Visitor).is_empty());
    Ok(())
}

#[tokio::test]
async fn idempotent_read_is_retried_after_a_timeout() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault_with(json!({"endpoint": "room", "status": 503, "count": 1, "delay_ms": 1000}))
        .await?;
    let room = h.client.room(&mut session).await?;
    assert!(room.is_online);
    Ok(())
}

/// One budget for the whole request: calls made inside `budget::within` end by its deadline,
/// retries included, and once it has passed Giosg is not called at all.
#[tokio::test]
async fn calls_inside_a_request_budget_end_by_its_deadline() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    // Without a budget, two slow attempts (each timing out) are followed by a quick success.
    h.fault_with(json!({"endpoint": "room", "status": 503, "count": 2, "delay_ms": 600}))
        .await?;
    let room = h.client.room(&mut session).await?;
    assert!(room.is_online);

    // Inside a budget shorter than one slow attempt, the same call gives up: no retry fits.
    h.fault_with(json!({"endpoint": "room", "status": 503, "count": 2, "delay_ms": 600}))
        .await?;
    let deadline = Instant::now() + Duration::from_millis(300);
    let error = budget::within(deadline, h.client.room(&mut session))
        .await
        .expect_err("the budget ends first");
    assert!(
        error.is_unavailable() && !error.may_have_acted(),
        "{error:?}"
    );

    // Once the budget has passed, Giosg is not called.
    let spent = Instant::now();
    let error = budget::within(spent, h.client.visitor_chats(&mut session))
        .await
        .expect_err("no time left");
    assert!(error.to_string().contains("used up"), "{error}");
    assert_eq!(h.count("visitor_chats").await?, 0);
    Ok(())
}
