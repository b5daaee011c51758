//! One invocation's metrics and their EMF documents
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>):
//!
//! ```json
//! {"_aws": {"Timestamp": 1764500000000, "CloudWatchMetrics": [{"Namespace": "GiosgBridge",
//!    "Dimensions": [["Function", "Route"], ["Function", "Status"]],
//!    "Metrics": [{"Name": "Requests", "Unit": "Count"}]}]},
//!  "Function": "start-chat", "Route": "POST /v1/chats", "Status": "201", "Requests": 1}
//! ```
//!
//! A document holds one value per top-level key, so a metric recorded under two values of a
//! dimension (two Giosg endpoints) needs two documents: the batch packs its metrics into as few
//! documents as their dimension values allow.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Dimension, FUNCTION, Metric, Unit};

/// The most values EMF takes for one metric in one document.
const MAX_VALUES: usize = 100;

/// A metric and the values of its dimensions (besides `Function`).
type Key = (Metric, Vec<(Dimension, String)>);

/// What one invocation recorded: counts summed, samples (latencies) kept, per metric and
/// dimension values.
#[derive(Debug, Default)]
pub struct Batch {
    entries: BTreeMap<Key, Vec<f64>>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a value. `labels` must name exactly the metric's dimensions; anything else is a
    /// mistake in the code and is left out (with a debug assertion).
    pub fn add(&mut self, metric: Metric, labels: &[(Dimension, &str)], value: f64) {
        let mut labels: Vec<(Dimension, String)> = labels
            .iter()
            .map(|(dimension, value)| (*dimension, (*value).to_owned()))
            .collect();
        labels.sort();
        let declared: Vec<Dimension> = {
            let mut declared = metric.dimensions().to_vec();
            declared.sort();
            declared
        };
        let named: Vec<Dimension> = labels.iter().map(|(dimension, _)| *dimension).collect();
        debug_assert_eq!(
            named,
            declared,
            "{} recorded with other dimensions",
            metric.name()
        );
        if named != declared || !value.is_finite() {
            return;
        }
        let values = self.entries.entry((metric, labels)).or_default();
        match (metric.unit(), values.first_mut()) {
            (Unit::Count, Some(sum)) => *sum += value,
            _ => values.push(value),
        }
    }

    /// The EMF documents of the batch, for `function` in `namespace`, stamped `timestamp_ms`.
    pub fn documents(&self, namespace: &str, function: &str, timestamp_ms: u64) -> Vec<Value> {
        let mut documents: Vec<Document> = Vec::new();
        for ((metric, labels), values) in &self.entries {
            for chunk in values.chunks(MAX_VALUES) {
                let value = match chunk {
                    [single] => json!(single),
                    many => json!(many),
                };
                let fits = documents
                    .iter()
                    .position(|document| document.fits(*metric, labels));
                let document = match fits {
                    Some(index) => &mut documents[index],
                    None => {
                        documents.push(Document::default());
                        documents.last_mut().expect("just pushed")
                    }
                };
                document.put(*metric, labels, value);
            }
        }
        documents
            .into_iter()
            .map(|document| document.render(namespace, function, timestamp_ms))
            .collect()
    }
}

/// A document being packed: its dimension values and its metrics' values.
#[derive(Default)]
struct Document {
    labels: BTreeMap<Dimension, String>,
    metrics: BTreeMap<Metric, Value>,
}

impl Document {
    /// Whether `metric` can join: not in it yet, and no dimension of it with another value.
    fn fits(&self, metric: Metric, labels: &[(Dimension, String)]) -> bool {
        !self.metrics.contains_key(&metric)
            && labels.iter().all(|(dimension, value)| {
                self.labels
                    .get(dimension)
                    .is_none_or(|present| present == value)
            })
    }

    fn put(&mut self, metric: Metric, labels: &[(Dimension, String)], value: Value) {
        for (dimension, label) in labels {
            self.labels.insert(*dimension, label.clone());
        }
        self.metrics.insert(metric, value);
    }

    fn render(self, namespace: &str, function: &str, timestamp_ms: u64) -> Value {
        // One directive per distinct list of dimension sets, naming its metrics.
        let mut directives: BTreeMap<Vec<Vec<&str>>, Vec<Value>> = BTreeMap::new();
        for metric in self.metrics.keys() {
            directives
                .entry(metric.dimension_sets())
                .or_default()
                .push(json!({"Name": metric.name(), "Unit": metric.unit().as_str()}));
        }
        let directives: Vec<Value> = directives
            .into_iter()
            .map(|(dimensions, metrics)| {
                json!({"Namespace": namespace, "Dimensions": dimensions, "Metrics": metrics})
            })
            .collect();
        let mut document = Map::new();
        document.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
        );
        document.insert(FUNCTION.into(), json!(function));
        for (dimension, label) in self.labels {
            document.insert(dimension.name().into(), json!(label));
        }
        for (metric, value) in self.metrics {
            document.insert(metric.name().into(), value);
        }
        Value::Object(document)
    }
}
