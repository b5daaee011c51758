//! The EMF documents, read back as JSON.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::*;

const NAMESPACE: &str = "Test/Bridge";
const FUNCTION_NAME: &str = "stack-SendMessageFunction-abc";

fn run(work: impl FnOnce()) -> Vec<Value> {
    let (metrics, captured) = Metrics::in_memory(NAMESPACE, FUNCTION_NAME);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(metrics.invocation(async { work() }));
    captured
        .lines()
        .iter()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON document"))
        .collect()
}

/// The directive naming `metric` in `document`: (its dimension sets, its unit).
fn directive(document: &Value, metric: &str) -> Option<(Vec<Vec<String>>, String)> {
    document["_aws"]["CloudWatchMetrics"]
        .as_array()?
        .iter()
        .find_map(|directive| {
            let entry = directive["Metrics"]
                .as_array()?
                .iter()
                .find(|entry| entry["Name"] == metric)?;
            assert_eq!(directive["Namespace"], NAMESPACE);
            let sets = serde_json::from_value(directive["Dimensions"].clone()).ok()?;
            Some((sets, entry["Unit"].as_str()?.to_owned()))
        })
}

fn sets(names: &[&[&str]]) -> Vec<Vec<String>> {
    names
        .iter()
        .map(|set| set.iter().map(|name| (*name).to_owned()).collect())
        .collect()
}

#[test]
fn an_invocation_is_one_document_with_the_values_at_the_top_level() {
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let documents = run(|| {
        request("POST /webhooks/giosg/messages", 200);
        webhook(WebhookResult::Duplicate);
        fields_dropped(FieldSource::Webhook, 2);
        store_conflict();
    });
    assert_eq!(documents.len(), 1, "{documents:?}");
    let document = &documents[0];
    let timestamp = document["_aws"]["Timestamp"].as_u64().expect("a number");
    assert!(u128::from(timestamp) >= before.as_millis());

    assert_eq!(
        directive(document, "Requests"),
        Some((
            sets(&[&["Function", "Route"], &["Function", "Status"]]),
            "Count".into()
        ))
    );
    assert_eq!(
        directive(document, "ServerErrors"),
        Some((sets(&[&["Function"]]), "Count".into()))
    );
    assert_eq!(
        directive(document, "Webhooks"),
        Some((sets(&[&["Function", "Result"]]), "Count".into()))
    );
    assert_eq!(
        directive(document, "FieldsDropped"),
        Some((sets(&[&["Function", "Source"]]), "Count".into()))
    );
    assert_eq!(
        directive(document, "StoreConflicts"),
        Some((sets(&[&["Function"]]), "Count".into()))
    );
    assert_eq!(document["Function"], FUNCTION_NAME);
    assert_eq!(document["Route"], "POST /webhooks/giosg/messages");
    assert_eq!(document["Status"], "200");
    assert_eq!(document["Result"], "duplicate");
    assert_eq!(document["Source"], "webhook");
    assert_eq!(document["Requests"], 1.0);
    assert_eq!(document["ServerErrors"], 0.0);
    assert_eq!(document["Webhooks"], 1.0);
    assert_eq!(document["FieldsDropped"], 2.0);
    assert_eq!(document["StoreConflicts"], 1.0);
}

#[test]
fn counts_are_summed_and_latencies_gathered_within_an_invocation() {
    let documents = run(|| {
        for _ in 0..3 {
            store_conflict();
        }
        giosg_call("owned_chat", GiosgOutcome::Ok, Duration::from_millis(120));
        giosg_call("owned_chat", GiosgOutcome::Ok, Duration::from_millis(80));
    });
    assert_eq!(documents.len(), 1, "{documents:?}");
    let document = &documents[0];
    assert_eq!(document["StoreConflicts"], 3.0);
    assert_eq!(document["GiosgCalls"], 2.0);
    assert_eq!(document["Endpoint"], "owned_chat");
    assert_eq!(document["Outcome"], "ok");
    assert_eq!(document["GiosgLatency"], serde_json::json!([120.0, 80.0]));
    assert_eq!(
        directive(document, "GiosgLatency"),
        Some((sets(&[&["Function", "Endpoint"]]), "Milliseconds".into()))
    );
    assert_eq!(
        directive(document, "GiosgCalls"),
        Some((
            sets(&[&["Function", "Endpoint"], &["Function", "Outcome"]]),
            "Count".into()
        ))
    );
}

#[test]
fn another_value_of_a_dimension_takes_another_document() {
    let documents = run(|| {
        giosg_call("visitor_auth", GiosgOutcome::Ok, Duration::from_millis(5));
        giosg_call(
            "send_message",
            GiosgOutcome::Unavailable,
            Duration::from_millis(900),
        );
        request("POST /v1/chats/{chat_id}/messages", 503);
    });
    assert_eq!(documents.len(), 2, "{documents:?}");
    let by_endpoint = |endpoint: &str| {
        documents
            .iter()
            .find(|document| document["Endpoint"] == endpoint)
            .unwrap_or_else(|| panic!("no document for {endpoint}: {documents:?}"))
    };
    let auth = by_endpoint("visitor_auth");
    assert_eq!(auth["Outcome"], "ok");
    assert_eq!(auth["GiosgCalls"], 1.0);
    let send = by_endpoint("send_message");
    assert_eq!(send["Outcome"], "unavailable");
    assert_eq!(send["GiosgLatency"], 900.0);
    // The request's metrics went into the first document that had room: exactly once.
    let server_errors: Vec<&Value> = documents
        .iter()
        .filter_map(|document| document.get("ServerErrors"))
        .collect();
    assert_eq!(server_errors, [&serde_json::json!(1.0)]);
    for document in &documents {
        assert_eq!(document["Function"], FUNCTION_NAME);
        for (name, value) in document.as_object().unwrap() {
            if let Some(metric) = Metric::named(name) {
                let (declared, unit) = directive(document, name).expect("declared");
                assert_eq!(declared, sets_of(metric), "{name}");
                assert_eq!(unit, metric.unit().as_str());
                assert!(value.is_number() || value.is_array(), "{name}: {value}");
            }
        }
    }
}

fn sets_of(metric: Metric) -> Vec<Vec<String>> {
    metric
        .dimension_sets()
        .into_iter()
        .map(|set| set.into_iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn more_than_a_hundred_latencies_are_split_across_documents() {
    let documents = run(|| {
        for _ in 0..150 {
            giosg_call("room", GiosgOutcome::Ok, Duration::from_millis(1));
        }
    });
    let latencies: Vec<usize> = documents
        .iter()
        .filter_map(|document| document["GiosgLatency"].as_array().map(Vec::len))
        .collect();
    assert_eq!(latencies.iter().sum::<usize>(), 150, "{latencies:?}");
    assert!(latencies.iter().all(|count| *count <= 100), "{latencies:?}");
    let calls: f64 = documents
        .iter()
        .filter_map(|document| document["GiosgCalls"].as_f64())
        .sum();
    assert_eq!(calls, 150.0);
}

#[test]
fn every_metric_has_function_and_at_most_one_more_dimension_per_set() {
    for metric in Metric::ALL {
        for set in metric.dimension_sets() {
            assert_eq!(set.first(), Some(&FUNCTION), "{metric:?}");
            assert!(set.len() <= 2, "{metric:?}: {set:?}");
        }
        assert_eq!(Metric::named(metric.name()), Some(*metric));
    }
}

#[test]
fn nothing_is_written_for_an_empty_invocation_and_nothing_recorded_outside_one() {
    // No invocation: recording is a no-op, not a panic.
    store_conflict();
    assert!(run(|| {}).is_empty());
}

#[test]
fn namespaces_are_checked() {
    assert!(MetricsConfig::check_namespace("GiosgBridge").is_ok());
    assert!(MetricsConfig::check_namespace("Company/Chat bridge:prod").is_ok());
    assert!(MetricsConfig::check_namespace("").is_err());
    assert!(MetricsConfig::check_namespace("AWS/Lambda").is_err());
    assert!(MetricsConfig::check_namespace("bad$name").is_err());
    assert!(MetricsConfig::check_namespace(&"n".repeat(256)).is_err());
}

#[test]
fn outputs_are_read_from_their_names() {
    assert!(matches!(Output::parse("emf"), Some(Output::Stdout)));
    assert!(matches!(Output::parse("LOG"), Some(Output::Log)));
    assert!(matches!(Output::parse("off"), Some(Output::Off)));
    assert!(Output::parse("loud").is_none());
}
