//! What every request goes through around its handler: CORS for the frontend routes, the body
//! limit, and one log line (request id, correlation id, route, status, duration; never a
//! token, a secret or message text) with the request's metrics.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, request::Parts};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

use super::{ApiError, RouteKind};
use crate::metrics::{self, Metrics};

/// The largest body of a frontend request (a 2000-character message in JSON is far smaller).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The largest webhook body: any Giosg envelope up to 1 MB is judged by its content, never by
/// its size (a bot card with many attachments is a normal message).
pub const MAX_WEBHOOK_BODY_BYTES: usize = 1024 * 1024;

/// The id a request is logged with: the Lambda invocation's, when the Lambda adapter puts it
/// in the request's extensions; a random one otherwise.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// CORS for the frontend routes: an origin in `allowed` (or any, for `*`) is reflected; others
/// get no CORS headers. Credentialed calls, so never a literal `*`.
pub(super) fn cors(allowed: &[String]) -> CorsLayer {
    let allowed = allowed.to_vec();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(
            move |origin: &HeaderValue, _: &Parts| {
                origin.to_str().is_ok_and(|origin| {
                    allowed
                        .iter()
                        .any(|allowed| allowed == origin || allowed == "*")
                })
            },
        ))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Buffers a frontend request's body up to [`MAX_BODY_BYTES`]; a larger one is
/// `413 payload_too_large` before any handler runs.
pub(super) async fn limit_api_body(request: Request, next: Next) -> Response {
    limit_body(MAX_BODY_BYTES, request, next, || {}).await
}

/// [`limit_api_body`] for Giosg's deliveries, up to [`MAX_WEBHOOK_BODY_BYTES`]; one refused
/// for its size counts as a refused delivery (the handler never sees it).
pub(super) async fn limit_webhook_body(request: Request, next: Next) -> Response {
    limit_body(MAX_WEBHOOK_BODY_BYTES, request, next, || {
        metrics::webhook(metrics::WebhookResult::Refused)
    })
    .await
}

async fn limit_body(limit: usize, request: Request, next: Next, refused: fn()) -> Response {
    let too_large = || {
        refused();
        ApiError::PayloadTooLarge(format!("The request body is larger than {limit} bytes."))
            .into_response()
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => too_large(),
    }
}

/// One log line per request, in a span with the request id and the correlation id (the
/// request id until a flow names the message: [`crate::correlation`]) for everything logged
/// meanwhile; the request's metrics, written when it is answered. A route the router does not
/// serve is logged as `unmatched`.
pub(super) async fn log_request(
    serves: &'static [RouteKind],
    metrics: Metrics,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()));
    // Handlers read it too (the owner of an idempotency claim).
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|path| RouteKind::matching(&method, path.as_str()))
        .filter(|kind| serves.contains(kind))
        .map_or("unmatched", RouteKind::template);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        route,
        correlation_id = %request_id
    );
    metrics
        .invocation(async {
            let response = next.run(request).instrument(span.clone()).await;
            let status = response.status().as_u16();
            metrics::request(route, status);
            span.in_scope(|| {
                tracing::info!(
                    request_id,
                    method = %method,
                    route,
                    status,
                    duration_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "request"
                )
            });
            response
        })
        .await
}

/// When a request must be answered by (the Lambda invocation's deadline, less a margin), put
/// in the request's extensions by the Lambda adapter.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub Instant);

/// Time kept after the request's last Giosg call for the writes that record its outcome.
const ROOM_AFTER_GIOSG: std::time::Duration = std::time::Duration::from_millis(1500);

/// A request still running at its [`Deadline`] is answered `503 giosg_unavailable` in the API's
/// error shape, instead of being cut off by the platform with a bare 5xx. Only slow Giosg calls
/// (retries within their budget) can take that long.
pub(super) async fn answer_before_deadline(request: Request, next: Next) -> Response {
    let Some(Deadline(deadline)) = request.extensions().get::<Deadline>().copied() else {
        return next.run(request).await;
    };
    // Giosg's calls end early enough to leave room for the writes that follow them, so that a
    // Giosg success is stored (or its outcome marked unknown) before the deadline.
    let giosg_deadline = deadline.checked_sub(ROOM_AFTER_GIOSG).unwrap_or(deadline);
    let serve = crate::giosg::budget::within(giosg_deadline, next.run(request));
    match tokio::time::timeout_at(deadline.into(), serve).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("request deadline reached");
            ApiError::GiosgUnavailable {
                status: http::StatusCode::SERVICE_UNAVAILABLE,
            }
            .into_response()
        }
    }
}
