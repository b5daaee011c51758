//! A plain HTTP server in front of the shared handlers, for the local runner and the tests: the
//! same [`api::handle`] the Lambda functions run, behind axum instead of `lambda_http`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;

use crate::api::{self, ApiError, App, MAX_BODY_BYTES, RouteKind};
use crate::store::ChatStore;

/// A router that hands every request to the shared handlers (all routes).
pub fn router<S: ChatStore>(app: Arc<App<S>>) -> axum::Router {
    axum::Router::new().fallback(move |request: Request| {
        let app = Arc::clone(&app);
        async move { serve(&app, request).await }
    })
}

async fn serve<S: ChatStore>(app: &App<S>, request: Request) -> Response {
    let request_id = format!("{:016x}", rand::random::<u64>());
    let (parts, body) = request.into_parts();
    let response = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => {
            api::handle(
                app,
                http::Request::from_parts(parts, bytes),
                &request_id,
                RouteKind::ALL,
            )
            .await
        }
        Err(_) => api::error_response(&ApiError::PayloadTooLarge(format!(
            "The request body is larger than {MAX_BODY_BYTES} bytes."
        ))),
    };
    response.map(Body::from)
}
