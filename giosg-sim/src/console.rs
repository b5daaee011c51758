//! The agent console: one HTML page (`console/index.html`, embedded at build time) that plays
//! the agent through the control API, clearly labelled as a simulation.

use std::sync::Arc;

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::app::App;

const CONSOLE_HTML: &str = include_str!("../console/index.html");

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new().route("/_sim/console", get(console))
}

async fn console() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
        ],
        CONSOLE_HTML,
    )
}

#[cfg(test)]
mod tests {
    use super::CONSOLE_HTML;

    #[test]
    fn the_console_says_it_is_a_simulation() {
        assert!(CONSOLE_HTML.contains("Giosg simulator — agent console (simulation)"));
    }
}
