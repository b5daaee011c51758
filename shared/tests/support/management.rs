//! A stand-in for API Gateway's management API (`POST /@connections/{id}`), for what moto cannot
//! show: moto accepts posts to any connection, keeps what was posted out of reach, and never
//! answers `410 GoneException`. This one records every frame posted to each connection and
//! answers `410` (with `x-amzn-ErrorType: GoneException`, as API Gateway does) for the
//! connections marked gone.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use shared::aws::sdk_config;
use shared::push::apigateway::ApiGatewayPush;

#[derive(Default)]
struct Connections {
    posts: Mutex<Vec<(String, Value)>>,
    gone: Mutex<HashSet<String>>,
}

pub struct ManagementApi {
    pub url: String,
    connections: Arc<Connections>,
    server: tokio::task::JoinHandle<()>,
}

async fn post_to_connection(
    State(connections): State<Arc<Connections>>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    if connections.gone.lock().unwrap().contains(&id) {
        return (
            StatusCode::GONE,
            [("x-amzn-ErrorType", "GoneException")],
            r#"{"message": null}"#,
        )
            .into_response();
    }
    let frame = serde_json::from_str(&body).expect("a JSON frame is posted");
    connections.posts.lock().unwrap().push((id, frame));
    StatusCode::OK.into_response()
}

impl ManagementApi {
    pub async fn start() -> Self {
        let connections = Arc::new(Connections::default());
        let router = Router::new()
            .route("/@connections/{id}", post(post_to_connection))
            .with_state(Arc::clone(&connections));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            url,
            connections,
            server,
        }
    }

    /// The real adapter, posting here (as it posts to `AWS_ENDPOINT_URL` when that is set).
    pub async fn pusher(&self) -> ApiGatewayPush {
        ApiGatewayPush::new(&sdk_config(Some(&self.url)).await)
    }

    /// From now on, posts to `connection` answer `410 GoneException`.
    pub fn mark_gone(&self, connection: &str) {
        self.connections
            .gone
            .lock()
            .unwrap()
            .insert(connection.to_owned());
    }

    /// The frames posted to `connection` so far, in order.
    pub fn frames(&self, connection: &str) -> Vec<Value> {
        self.connections
            .posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(to, _)| to == connection)
            .map(|(_, frame)| frame.clone())
            .collect()
    }
}

impl Drop for ManagementApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}
