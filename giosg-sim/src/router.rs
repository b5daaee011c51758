//! The whole HTTP surface: the Giosg API, the control API, the console, and DRF-like answers
//! for unknown paths and methods.
//!
//! Its own module, above the route modules, because they all need `App` and `app` must not need
//! them.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::config::ErrorBody;
use crate::error::{ApiError, html_error};
use crate::{console, control_api, giosg_api};

/// Paths of the simulator's own API, whose errors are always JSON.
const CONTROL_PREFIX: &str = "/_sim/";

/// The whole HTTP surface: the Giosg API, the control API under `/_sim/`, and DRF-like
/// answers for unknown paths and methods.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(giosg_api::routes(Arc::clone(&app)))
        .merge(control_api::routes())
        .merge(console::routes())
        .fallback(|| async { ApiError::NotFound("Not found.".to_owned()) })
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::Status {
                status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
                detail: format!("Method \"{method}\" not allowed."),
            }
            .into_response()
        })
        .layer(from_fn_with_state(Arc::clone(&app), error_body))
        .with_state(app)
}

/// Rewrites the error answers of everything but the control API as HTML pages while the
/// `error_body` setting is `text`.
async fn error_body(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let giosg_path = !request.uri().path().starts_with(CONTROL_PREFIX);
    let response = next.run(request).await;
    if giosg_path && app.state().behaviour.error_body == ErrorBody::Text {
        html_error(response)
    } else {
        response
    }
}
