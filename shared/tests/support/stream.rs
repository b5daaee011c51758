//! A table's DynamoDB stream on moto, read the way Lambda's event source reads it: the records
//! written since the last read, as a stream batch (`{"Records": [...]}`), so the notifier is
//! tested on the images the store's real writes produce. Called over moto's DynamoDB Streams
//! JSON API with reqwest (moto checks no signature), which spares the tests another SDK crate.

use aws_sdk_dynamodb::Client;
use serde_json::{Value, json};

use super::moto::endpoint;

pub struct TableStream {
    http: reqwest::Client,
    iterator: String,
}

async fn call(http: &reqwest::Client, operation: &str, body: Value) -> Value {
    let response = http
        .post(endpoint())
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "x-amz-target",
            format!("DynamoDBStreams_20120810.{operation}"),
        )
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|error| panic!("moto's {operation}: {error}"));
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "moto's {operation}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

impl TableStream {
    /// The table's stream from now on (what is written after this call).
    pub async fn from_now(client: &Client, table: &str) -> Self {
        let described = client.describe_table().table_name(table).send().await;
        let arn = described
            .unwrap()
            .table()
            .and_then(|table| table.latest_stream_arn())
            .expect("the table has a stream")
            .to_owned();
        let http = reqwest::Client::new();
        let stream = call(&http, "DescribeStream", json!({"StreamArn": arn})).await;
        let shard = stream["StreamDescription"]["Shards"][0]["ShardId"]
            .as_str()
            .expect("the stream has a shard")
            .to_owned();
        let iterator = call(
            &http,
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "LATEST"}),
        )
        .await["ShardIterator"]
            .as_str()
            .unwrap()
            .to_owned();
        Self { http, iterator }
    }

    /// The records written since the last read, as a Lambda stream batch.
    pub async fn batch(&mut self) -> Value {
        let records = call(
            &self.http,
            "GetRecords",
            json!({"ShardIterator": self.iterator}),
        )
        .await;
        if let Some(next) = records["NextShardIterator"].as_str() {
            self.iterator = next.to_owned();
        }
        json!({"Records": records["Records"].clone()})
    }
}
