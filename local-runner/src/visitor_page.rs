//! The visitor chat page: plain HTML, CSS and JavaScript embedded at build time (no build step),
//! served next to the API on the same origin. It uses only the public `/v1` API, so it is also
//! the reference frontend for API users. `chat-client.js` is the page's API client, an ES module
//! any frontend can copy (its API is documented at its top).

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{self, HeaderName};
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX_HTML: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");
const CHAT_CLIENT_JS: &str = include_str!("../static/chat-client.js");
const APP_CSS: &str = include_str!("../static/app.css");

/// Only this origin's scripts, styles and API: the page needs nothing else. `connect-src 'self'`
/// also allows the same origin's `ws:` feed (CSP Level 3; the browser test checks it).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// `GET /`, `/app.js`, `/chat-client.js` and `/app.css`. Merge it with the API router (whose
/// fallback takes every other path).
pub fn router() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/chat-client.js",
            get(|| async { asset("text/javascript; charset=utf-8", CHAT_CLIENT_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    let headers: [(HeaderName, HeaderValue); 5] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        // Always the current build's files while developing.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    (headers, body)
}
