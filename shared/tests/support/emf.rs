//! Reading the metrics' EMF lines back, and checking each against the metrics' one list.

use serde_json::Value;
use shared::metrics::{Captured, FUNCTION, Metric};

/// Every EMF document written so far, each checked with [`check`].
pub fn documents(captured: &Captured, namespace: &str) -> Vec<Value> {
    captured
        .lines()
        .iter()
        .map(|line| {
            let document: Value =
                serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
            check(&document, namespace);
            document
        })
        .collect()
}

/// The structure EMF requires, and no metric, unit or dimension the code does not declare:
/// `_aws.Timestamp` (epoch milliseconds), `_aws.CloudWatchMetrics[]` with `Namespace`,
/// `Dimensions` (each set `Function` and at most one more, as [`Metric::dimension_sets`] says)
/// and `Metrics[]` (`Name`, `Unit`); every dimension and every metric's value at the top level.
pub fn check(document: &Value, namespace: &str) {
    let aws = &document["_aws"];
    assert!(aws["Timestamp"].as_u64().is_some(), "Timestamp: {document}");
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .unwrap_or_else(|| panic!("CloudWatchMetrics: {document}"));
    assert!(!directives.is_empty(), "{document}");
    assert!(document[FUNCTION].is_string(), "Function: {document}");
    for directive in directives {
        assert_eq!(directive["Namespace"], namespace, "{document}");
        let sets: Vec<Vec<String>> = serde_json::from_value(directive["Dimensions"].clone())
            .unwrap_or_else(|_| panic!("Dimensions: {document}"));
        for set in &sets {
            assert!(
                set.len() <= 2 && set.first().map(String::as_str) == Some(FUNCTION),
                "dimension set {set:?} in {document}"
            );
            for dimension in set {
                assert!(document[dimension].is_string(), "{dimension} in {document}");
            }
        }
        for entry in directive["Metrics"].as_array().expect("Metrics") {
            let name = entry["Name"].as_str().expect("Name");
            let metric = Metric::named(name)
                .unwrap_or_else(|| panic!("{name} is not in Metric::ALL: {document}"));
            assert_eq!(entry["Unit"], metric.unit().as_str(), "{document}");
            let declared: Vec<Vec<String>> = metric
                .dimension_sets()
                .into_iter()
                .map(|set| set.into_iter().map(str::to_owned).collect())
                .collect();
            assert_eq!(sets, declared, "{name}'s dimensions in {document}");
            let value = &document[name];
            let numbers = match value {
                Value::Array(values) => values.iter().all(Value::is_number) && values.len() <= 100,
                other => other.is_number(),
            };
            assert!(numbers, "{name}'s value {value} in {document}");
        }
    }
}

/// The documents that have `metric`, with `dimension` = `value` where given.
pub fn with<'a>(
    documents: &'a [Value],
    metric: &str,
    dimension: Option<(&str, &str)>,
) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|document| !document[metric].is_null())
        .filter(|document| dimension.is_none_or(|(name, value)| document[name] == value))
        .collect()
}

/// The sum of `metric` over `documents` (arrays count their values' sum).
pub fn sum(documents: &[&Value], metric: &str) -> f64 {
    documents
        .iter()
        .map(|document| match &document[metric] {
            Value::Array(values) => values.iter().filter_map(Value::as_f64).sum(),
            other => other.as_f64().unwrap_or_default(),
        })
        .sum()
}
