//! Webhook delivery: order, the delivery log, faults, pause and flush.

use std::time::{Duration, Instant};

use giosg_sim::{WebhookFaultMode, WebhookFaultSpec, WebhookUrls};
use serde_json::json;

use crate::support::{CHAT_HOOK_SECRET, Harness, MESSAGE_HOOK_SECRET, Receiver};

fn fault(mode: WebhookFaultMode, count: u32) -> WebhookFaultSpec {
    WebhookFaultSpec {
        mode,
        count,
        delay_ms: None,
    }
}

fn texts(bodies: &[serde_json::Value]) -> Vec<String> {
    bodies
        .iter()
        .map(|b| b["resource"]["message"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[tokio::test]
async fn webhooks_are_delivered_in_emission_order() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    for text in ["1", "2", "3"] {
        h.send(&visitor, &chat_id, text).await;
    }
    assert_eq!(texts(&h.hooks("messages").await), ["1", "2", "3"]);
    let status = h.control().webhooks().await.unwrap();
    let seqs: Vec<u64> = status.deliveries.iter().map(|d| d.seq).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(seqs, sorted);
}

#[tokio::test]
async fn delivery_log_records_status_and_redacts_the_url_token() {
    let h = Harness::start().await;
    h.receiver.answer_with(500);
    let visitor = h.visitor().await;
    h.start_chat(&visitor).await;
    h.flush().await;
    let status = h.control().webhooks().await.unwrap();
    assert_eq!(status.deliveries.len(), 1);
    let delivery = &status.deliveries[0];
    assert_eq!(delivery.status, Some(500));
    assert_eq!(delivery.attempt, 1);
    assert_eq!(delivery.channel, h.chats_channel());
    assert!(delivery.url.contains("token=REDACTED"), "{}", delivery.url);
    let raw = serde_json::to_string(&status).unwrap();
    assert!(!raw.contains(CHAT_HOOK_SECRET) && !raw.contains(MESSAGE_HOOK_SECRET));
    let config = h.control().info().await.unwrap();
    assert!(!config.chat_webhook_url.unwrap().contains(CHAT_HOOK_SECRET));
    let received = h.receiver.received();
    assert_eq!(
        received[0].query,
        format!("token={CHAT_HOOK_SECRET}"),
        "the real URL is posted to"
    );
}

#[tokio::test]
async fn failed_posts_are_retried_when_configured() {
    let h = Harness::start().await;
    h.receiver.answer_with(503);
    h.control()
        .update_settings(&json!({"webhook_retries": 2}))
        .await
        .unwrap();
    h.visitor_with_chat_logged().await;
    let attempts: Vec<u32> = h
        .control()
        .webhooks()
        .await
        .unwrap()
        .deliveries
        .iter()
        .map(|d| d.attempt)
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
}

#[tokio::test]
async fn unreachable_webhook_records_an_error_and_flush_still_returns() {
    let closed = Receiver::start().await;
    let url = closed.url("chats", "x");
    drop(closed);
    let h = Harness::start_with(|config| config.chat_webhook_url = Some(url)).await;
    h.visitor_with_chat_logged().await;
    let status = h.control().webhooks().await.unwrap();
    assert_eq!(status.deliveries.len(), 1);
    assert_eq!(status.deliveries[0].status, None);
    assert!(status.deliveries[0].error.is_some());
}

#[tokio::test]
async fn without_webhook_urls_nothing_is_posted_but_emissions_are_logged() {
    let h = Harness::start_with(|config| {
        config.chat_webhook_url = None;
        config.message_webhook_url = None;
    })
    .await;
    let (visitor, chat_id) = h.visitor_with_chat_logged().await;
    h.send(&visitor, &chat_id, "hi").await;
    h.flush().await;
    assert!(h.receiver.received().is_empty());
    let status = h.control().webhooks().await.unwrap();
    assert!(status.deliveries.is_empty());
    assert_eq!(status.emitted.len(), 3);
    assert!(status.emitted.iter().all(|e| !e.queued));
}

#[tokio::test]
async fn webhook_urls_can_be_changed_at_run_time() {
    let h = Harness::start_with(|config| config.chat_webhook_url = None).await;
    h.visitor_with_chat().await;
    assert!(h.hooks("chats").await.is_empty());
    let answer = h
        .control()
        .set_webhook_urls(&WebhookUrls {
            chat_webhook_url: Some(h.receiver.url("chats", "new-secret")),
            message_webhook_url: None,
        })
        .await
        .unwrap();
    assert!(!answer.chat_webhook_url.unwrap().contains("new-secret"));
    let visitor = h.visitor().await;
    h.start_chat(&visitor).await;
    assert_eq!(h.hooks("chats").await.len(), 1);
}

#[tokio::test]
async fn duplicate_fault_delivers_the_next_webhooks_twice() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.control()
        .add_webhook_fault(&fault(WebhookFaultMode::Duplicate, 1))
        .await
        .unwrap();
    h.send(&visitor, &chat_id, "once").await;
    let received = h.all_hooks().await;
    let hooks: Vec<&str> = received.iter().map(|r| r.hook.as_str()).collect();
    assert_eq!(hooks, ["messages", "messages", "chats"]);
    assert_eq!(received[0].body, received[1].body);
    let deliveries = h.control().webhooks().await.unwrap().deliveries;
    assert_eq!(deliveries[1].faults, [WebhookFaultMode::Duplicate]);
    assert!(deliveries[2].faults.is_empty());
}

#[tokio::test]
async fn reorder_fault_delivers_the_held_batch_in_reverse() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.control()
        .add_webhook_fault(&fault(WebhookFaultMode::Reorder, 2))
        .await
        .unwrap();
    h.send(&visitor, &chat_id, "first").await;
    let received = h.all_hooks().await;
    let hooks: Vec<&str> = received.iter().map(|r| r.hook.as_str()).collect();
    assert_eq!(
        hooks,
        ["chats", "messages"],
        "chat changed now arrives before the message"
    );
    let deliveries = h.control().webhooks().await.unwrap().deliveries;
    assert!(
        deliveries
            .iter()
            .all(|d| d.faults == [WebhookFaultMode::Reorder])
    );
}

#[tokio::test]
async fn flush_releases_a_partial_reorder_batch() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.control()
        .add_webhook_fault(&fault(WebhookFaultMode::Reorder, 10))
        .await
        .unwrap();
    for text in ["1", "2", "3"] {
        h.send(&visitor, &chat_id, text).await;
    }
    let messages = h.hooks("messages").await;
    assert_eq!(texts(&messages), ["3", "2", "1"]);
    let status = h.control().webhooks().await.unwrap();
    assert_eq!(status.held, 0);
    assert!(status.faults.is_empty(), "the partial batch ends the fault");
}

#[tokio::test]
async fn drop_fault_skips_delivery_and_logs_it() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.control()
        .add_webhook_fault(&fault(WebhookFaultMode::Drop, 1))
        .await
        .unwrap();
    h.send(&visitor, &chat_id, "lost echo").await;
    let received = h.all_hooks().await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].hook, "chats");
    let deliveries = h.control().webhooks().await.unwrap().deliveries;
    assert_eq!(deliveries[0].faults, [WebhookFaultMode::Drop]);
    assert_eq!(deliveries[0].status, None);
    assert_eq!(
        deliveries[0].envelope.resource.as_ref().unwrap()["message"],
        "lost echo"
    );
}

#[tokio::test]
async fn delay_fault_holds_delivery_and_keeps_order() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.control()
        .add_webhook_fault(&WebhookFaultSpec {
            mode: WebhookFaultMode::Delay,
            count: 1,
            delay_ms: Some(300),
        })
        .await
        .unwrap();
    let started = Instant::now();
    h.send(&visitor, &chat_id, "slow").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(h.receiver.received().is_empty(), "still delayed");
    let received = h.all_hooks().await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    let hooks: Vec<&str> = received.iter().map(|r| r.hook.as_str()).collect();
    assert_eq!(hooks, ["messages", "chats"]);
}

#[tokio::test]
async fn delay_fault_without_delay_ms_is_refused() {
    let h = Harness::start().await;
    let (status, body) = h
        .call(
            "POST",
            "/_sim/webhooks/faults",
            None,
            Some(json!({"mode": "delay", "count": 1})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["delay_ms"].is_array(), "{body}");
}

#[tokio::test]
async fn pause_holds_webhooks_until_resume() {
    let h = Harness::start().await;
    h.control().pause_webhooks().await.unwrap();
    let visitor = h.visitor().await;
    h.start_chat(&visitor).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(h.receiver.received().is_empty());
    let (status, body) = h.call("POST", "/_sim/webhooks/flush", None, None).await;
    assert_eq!(
        status, 409,
        "flushing a paused queue would never end: {body}"
    );
    assert_eq!(h.control().webhooks().await.unwrap().pending, 1);
    h.control().resume_webhooks().await.unwrap();
    assert_eq!(h.hooks("chats").await.len(), 1);
}

#[tokio::test]
async fn clearing_webhook_faults_and_log_forgets_them() {
    let h = Harness::start().await;
    h.control()
        .add_webhook_fault(&fault(WebhookFaultMode::Drop, 5))
        .await
        .unwrap();
    h.control().clear_webhook_faults().await.unwrap();
    h.visitor_with_chat_logged().await;
    assert_eq!(
        h.control().webhooks().await.unwrap().deliveries[0].status,
        Some(200)
    );
    h.control().clear_webhook_log().await.unwrap();
    let status = h.control().webhooks().await.unwrap();
    assert!(status.deliveries.is_empty() && status.emitted.is_empty());
}
