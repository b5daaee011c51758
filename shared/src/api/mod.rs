//! The HTTP surface: the frontend API (`/v1/...`) and Giosg's webhooks (`/webhooks/giosg/...`)
//! as axum routers, one per Lambda function and one with every route for the local runner. The
//! handlers parse a request, call one flow of the [`Service`] and map the result; CORS, the body
//! limit and the request log are tower layers (`layers`). The Lambda functions serve these
//! routers through `lambda_http::run` ([`crate::lambda`]), the local runner through
//! `axum::serve`: the same code either way.

mod admin;
mod chats;
mod error;
mod extract;
pub mod feed_socket;
mod layers;
mod messages;
mod routes;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use http::header;
use serde::Serialize;

pub use admin::{OperatorAccess, OperatorCaller, OperatorStore};
pub use error::{ApiError, ErrorBody};
pub use extract::ClientAddress;
pub use layers::{Deadline, MAX_BODY_BYTES, MAX_WEBHOOK_BODY_BYTES, RequestId};
pub use routes::{
    RouteKind, all_routes, chat_history, function_router, function_routes, giosg_webhooks,
    local_routes, operator_api, send_message, start_chat,
};
pub use webhooks::WEBHOOK_TOKEN_HEADER;

use crate::config::{SecretsCache, Settings};
use crate::identity::IdentityVerifier;
use crate::metrics::Metrics;
use crate::service::{NoGiosg, Service};

/// What the handlers share: the service, and what only the HTTP edge needs (the webhook
/// secret, the CORS origins, where each request's metrics go). Built once per process.
pub struct Api<S, G = NoGiosg> {
    pub service: Service<S, G>,
    /// Where the webhook secret comes from; only the webhook routes read it.
    webhook_secrets: Option<Arc<SecretsCache>>,
    /// How long a rotated-out webhook secret is still accepted.
    webhook_secret_overlap: Duration,
    /// Checks `identity_token`s at start; `None`: the field is refused.
    identity: Option<Arc<IdentityVerifier>>,
    allowed_origins: Vec<String>,
    metrics: Metrics,
}

impl<S, G> Api<S, G> {
    pub fn new(service: Service<S, G>, settings: &Settings) -> Self {
        Self {
            service,
            webhook_secrets: None,
            webhook_secret_overlap: settings.webhook_secret_overlap,
            identity: None,
            allowed_origins: settings.allowed_origins.clone(),
            metrics: Metrics::new(settings.metrics.clone()),
        }
    }

    /// Each request's metrics go to `metrics` instead of where the settings say (tests).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Where each request's (and the local runner's jobs') metrics go.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Accepts signed identities at start, checked by `verifier`.
    pub fn with_identity(mut self, verifier: Arc<IdentityVerifier>) -> Self {
        self.identity = Some(verifier);
        self
    }

    /// The secrets the webhook routes check callers against.
    pub fn with_webhook_secrets(mut self, secrets: Arc<SecretsCache>) -> Self {
        self.webhook_secrets = Some(secrets);
        self
    }
}

/// The state every handler receives.
type State<S, G> = axum::extract::State<Arc<Api<S, G>>>;

fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).expect("response bodies serialize");
    http::Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(axum::body::Body::from(Bytes::from(bytes)))
        .expect("static response parts are valid")
}
