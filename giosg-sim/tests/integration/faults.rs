//! Injected Giosg API faults and delays, and the request log.

use std::time::{Duration, Instant};

use giosg_sim::{DelaySpec, Endpoint, EndpointSelector, FaultSpec};
use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn fault_fails_the_next_n_calls_then_succeeds_with_retry_after() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.control()
        .add_fault(&FaultSpec {
            endpoint: Endpoint::SendMessage.into(),
            status: 503,
            count: 2,
            retry_after: Some(1),
            delay_ms: None,
            after_effect: false,
        })
        .await
        .unwrap();
    let path = Harness::messages_path(&visitor, &chat_id);
    let body = json!({"type": "msg", "message": "hi"});
    for _ in 0..2 {
        let response = h
            .http
            .post(h.url(&path))
            .bearer_auth(&visitor.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        let answer: serde_json::Value = response.json().await.unwrap();
        assert!(answer["detail"].is_string());
    }
    assert!(
        h.all_hooks().await.is_empty(),
        "a faulted call changes nothing"
    );
    assert_eq!(h.bearer(&visitor, "POST", &path, Some(body)).await.0, 201);
    assert!(
        h.control()
            .add_fault(&FaultSpec {
                endpoint: EndpointSelector::Any,
                status: 200,
                count: 1,
                retry_after: None,
                delay_ms: None,
                after_effect: false,
            })
            .await
            .is_err(),
        "a fault must be an error status"
    );
}

#[tokio::test]
async fn wildcard_fault_hits_whatever_endpoint_comes_next() {
    let h = Harness::start().await;
    let (status, _) = h
        .call(
            "POST",
            "/_sim/faults",
            None,
            Some(json!({"endpoint": "*", "status": 429})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = h.auth(json!({})).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(h.auth(json!({})).await.0, 201, "count defaults to 1");
}

#[tokio::test]
async fn fault_for_an_unknown_endpoint_name_is_refused() {
    let h = Harness::start().await;
    let (status, _) = h
        .call(
            "POST",
            "/_sim/faults",
            None,
            Some(json!({"endpoint": "nope", "status": 500})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn clearing_faults_removes_pending_faults_and_delays() {
    let h = Harness::start().await;
    let control = h.control();
    control
        .add_fault(&FaultSpec {
            endpoint: Endpoint::VisitorAuth.into(),
            status: 500,
            count: 5,
            retry_after: None,
            delay_ms: None,
            after_effect: false,
        })
        .await
        .unwrap();
    control
        .add_delay(&DelaySpec {
            endpoint: EndpointSelector::Any,
            delay_ms: 5000,
            count: None,
        })
        .await
        .unwrap();
    assert_eq!(control.info().await.unwrap().page_size, 3);
    control.clear_faults().await.unwrap();
    let (status, body) = h.call("GET", "/_sim/faults", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"faults": [], "delays": []}));
    assert_eq!(h.auth(json!({})).await.0, 201);
}

#[tokio::test]
async fn delays_slow_the_next_calls_of_an_endpoint() {
    let h = Harness::start().await;
    h.control()
        .add_delay(&DelaySpec {
            endpoint: Endpoint::VisitorAuth.into(),
            delay_ms: 250,
            count: Some(1),
        })
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(h.auth(json!({})).await.0, 201);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let (_, active) = h.call("GET", "/_sim/faults", None, None).await;
    assert_eq!(active["delays"], json!([]), "only one call was delayed");
}

#[tokio::test]
async fn request_log_counts_calls_per_endpoint_and_resets() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.send(&visitor, &chat_id, "hi").await;
    h.call(
        "GET",
        &Harness::messages_path(&visitor, &chat_id),
        None,
        None,
    )
    .await;
    let log = h.control().requests().await.unwrap();
    assert_eq!(log.counts[&Endpoint::VisitorAuth], 1);
    assert_eq!(log.counts[&Endpoint::JoinRoom], 1);
    assert_eq!(log.counts[&Endpoint::StartChat], 1);
    assert_eq!(log.counts[&Endpoint::SendMessage], 1);
    assert_eq!(log.counts[&Endpoint::VisitorMessages], 1);
    assert_eq!(log.total, 5);
    let unauthorized = log.log.last().unwrap();
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.method, "GET");
    assert!(unauthorized.path.ends_with("/messages"));
    let raw: serde_json::Value = h.call("GET", "/_sim/requests", None, None).await.1;
    assert_eq!(raw["counts"]["send_message"], 1);

    h.control().reset_requests().await.unwrap();
    h.control().chats().await.unwrap();
    let log = h.control().requests().await.unwrap();
    assert_eq!(log.total, 0, "control calls are not Giosg calls");
    assert!(log.counts.is_empty());
}

/// `after_effect`: Giosg acts on the call, and only its answer is lost.
#[tokio::test]
async fn an_after_effect_fault_carries_the_call_out_and_loses_the_answer() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.control()
        .add_fault(&FaultSpec {
            endpoint: Endpoint::SendMessage.into(),
            status: 502,
            count: 1,
            retry_after: None,
            delay_ms: None,
            after_effect: true,
        })
        .await
        .unwrap();
    let path = Harness::messages_path(&visitor, &chat_id);
    let body = json!({"type": "msg", "message": "landed anyway"});
    let (status, _) = h.bearer(&visitor, "POST", &path, Some(body)).await;
    assert_eq!(status, 502);
    let (status, listing) = h.bearer(&visitor, "GET", &path, None).await;
    assert_eq!(status, 200);
    let texts: Vec<&str> = listing["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["message"].as_str())
        .collect();
    assert_eq!(texts, ["landed anyway"], "{listing}");
}
