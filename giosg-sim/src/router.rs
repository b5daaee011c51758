//! The whole HTTP surface: the Giosg API, the control API, the console, and DRF-like answers
//! for unknown paths and methods.
//!
//! Its own module, above the route modules, because they all need `App` and `app` must not need
//! them.

use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::response::IntoResponse;

use crate::app::App;
use crate::error::ApiError;
use crate::{console, control_api, giosg_api};

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
        .with_state(app)
}
