//! The real-time feed on AWS (spec §1a): the WebSocket routes (`shared::jobs::feed_socket`) and
//! the stream notifier (`shared::jobs::feed_notifier`) on DynamoDB (moto), posting through the
//! real API Gateway adapter (`shared::push::apigateway`) to a stand-in management API that
//! records what each connection received and can answer `410 Gone`; the notifier reads the
//! batches moto's own stream of the table holds.

#[path = "../support/mod.rs"]
mod support;

mod notifier;
mod push;
mod socket;

use aws_sdk_dynamodb::Client;
use reqwest::Method;
use serde_json::{Value, json};
use shared::domain::ChatId;
use shared::domain::connection::{ConnectionId, ConnectionRecord};
use shared::jobs::feed_socket;
use shared::push::apigateway::ApiGatewayPush;
use shared::store::SubscriptionStore;
use shared::store::dynamodb::DynamoStore;
use support::harness::TestEnv;
use support::management::ManagementApi;

/// The WebSocket API's domain and stage in the events below.
pub const DOMAIN: &str = "f1e2d3c4b5.execute-api.eu-west-1.amazonaws.com";
pub const STAGE: &str = "v1";

/// The product on a fresh moto table (webhooks held back, so the tests write alone), the
/// management API stand-in and the adapter posting to it.
pub struct Feed {
    pub env: TestEnv<DynamoStore>,
    pub api: ManagementApi,
    pub pusher: ApiGatewayPush,
    /// Another handle on the table, to look at what the routes stored.
    pub store: DynamoStore,
    pub client: Client,
    pub table: String,
}

impl Feed {
    pub async fn start() -> Self {
        let (client, table) = support::moto::fresh_table_with_stream().await;
        let env = support::harness::start(DynamoStore::new(client.clone(), table.clone())).await;
        env.sim(Method::POST, "/_sim/webhooks/pause", Some(json!({})))
            .await;
        let api = ManagementApi::start().await;
        let pusher = api.pusher().await;
        Self {
            env,
            api,
            pusher,
            store: DynamoStore::new(client.clone(), table.clone()),
            client,
            table,
        }
    }

    /// One WebSocket event through the function's handler: its route response.
    pub async fn route(&self, event: Value) -> Value {
        feed_socket::handle(&self.env.app.service, &self.pusher, &event)
            .await
            .unwrap_or_else(|error| panic!("the invocation failed: {error}"))
    }

    /// `$connect` with the token in the query: the status answered.
    pub async fn connect(&self, connection: &str, token: &str) -> u64 {
        let answer = self
            .route(connect_event(connection, Some(token), None))
            .await;
        answer["statusCode"].as_u64().unwrap()
    }

    /// A `subscribe` request from `connection`.
    pub async fn subscribe(&self, connection: &str, chat: &str, after: Option<&str>) {
        let body = json!({"action": "subscribe", "chat_id": chat, "after": after});
        let answer = self
            .route(message_event(connection, &body.to_string()))
            .await;
        assert_eq!(answer, json!({"statusCode": 200}));
    }

    pub async fn connection(&self, connection: &str) -> Option<ConnectionRecord> {
        self.store
            .get_connection(&ConnectionId::new(connection))
            .await
            .unwrap()
    }

    /// The connections subscribed to `chat`.
    pub async fn subscribers(&self, chat: &str) -> Vec<String> {
        let mut subscribers: Vec<String> = self
            .store
            .subscriptions(&ChatId::new(chat))
            .await
            .unwrap()
            .into_iter()
            .map(|subscription| subscription.connection_id.to_string())
            .collect();
        subscribers.sort();
        subscribers
    }

    pub async fn stop(self) {
        self.env.stop().await;
    }
}

/// An API Gateway WebSocket proxy event for `route` on `connection`.
pub fn ws_event(route: &str, connection: &str) -> Value {
    let event_type = match route {
        "$connect" => "CONNECT",
        "$disconnect" => "DISCONNECT",
        _ => "MESSAGE",
    };
    json!({
        "requestContext": {
            "routeKey": route,
            "eventType": event_type,
            "messageDirection": "IN",
            "extendedRequestId": "Pq1RsGabDoEFq0w=",
            "requestTime": "30/Nov/2026:10:00:00 +0000",
            "stage": STAGE,
            "connectedAt": 1_796_032_800_000_i64,
            "requestTimeEpoch": 1_796_032_800_123_i64,
            "identity": {"sourceIp": "203.0.113.7"},
            "requestId": "Pq1RsGabDoEFq0w=",
            "domainName": DOMAIN,
            "connectionId": connection,
            "apiId": "f1e2d3c4b5"
        },
        "isBase64Encoded": false
    })
}

/// `$connect` with the token in the query and/or a `Sec-WebSocket-Protocol` header.
pub fn connect_event(connection: &str, token: Option<&str>, protocols: Option<&str>) -> Value {
    let mut event = ws_event("$connect", connection);
    let mut headers = json!({"Host": DOMAIN, "Sec-WebSocket-Version": "13",
                             "Origin": "https://www.example.com"});
    if let Some(protocols) = protocols {
        headers["Sec-WebSocket-Protocol"] = json!(protocols);
    }
    event["headers"] = headers;
    if let Some(token) = token {
        event["queryStringParameters"] = json!({"token": token});
    }
    event
}

/// A client message on `connection`.
pub fn message_event(connection: &str, body: &str) -> Value {
    let mut event = ws_event("subscribe", connection);
    event["body"] = json!(body);
    event
}
