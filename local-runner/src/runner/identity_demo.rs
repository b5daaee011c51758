//! The visitor page's "signed in as" demo: with `IDENTITY_SECRET` set, the runner plays the
//! company's backend and mints an HS256 identity token for a user id the page names, so that
//! one person's chats can be followed across browsers. Only a local demo: anyone who reaches
//! these routes can be anyone, which is why they exist only in the local runner, and only with
//! `IDENTITY_SECRET`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::json;
use shared::secret::Secret;

/// How long a demo token is valid.
const LIFETIME_SECONDS: i64 = 600;

#[derive(Deserialize)]
struct DemoRequest {
    user_id: String,
    name: Option<String>,
}

/// `GET /local/identity` (whether the demo is on) and `POST /local/identity-token`
/// `{"user_id", "name"?}` -> `{"identity_token"}`. Merge it before the API router.
pub(super) fn router(secret: Secret) -> Router {
    Router::new()
        .route(
            "/local/identity",
            get(|| async { Json(json!({"demo": true})) }),
        )
        .route("/local/identity-token", post(mint))
        .with_state(Arc::new(secret))
}

async fn mint(State(secret): State<Arc<Secret>>, Json(request): Json<DemoRequest>) -> Response {
    let user_id = request.user_id.trim();
    if user_id.is_empty() || user_id.chars().count() > shared::identity::MAX_SUBJECT_CHARS {
        let message = "user_id must be 1 to 128 characters";
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "invalid_request", "message": message}})),
        )
            .into_response();
    }
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({"sub": user_id, "iat": now, "exp": now + LIFETIME_SECONDS});
    if let Some(name) = request.name.filter(|name| !name.trim().is_empty()) {
        claims["name"] = json!(name.trim());
    }
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .expect("HS256 signing of a small JSON object cannot fail");
    Json(json!({"identity_token": token})).into_response()
}
