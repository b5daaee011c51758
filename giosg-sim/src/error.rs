//! The one place where failures become HTTP answers, in Django REST Framework's shapes:
//! `{"detail": "..."}` for 401/403/404 and the like, `{"field": ["..."]}` for 400, or as a short
//! HTML page ([`html_error`], for [`ErrorBody::Text`](crate::config::ErrorBody::Text)).
//!
//! The lower layers fail with their own types (`StateError`, `InvalidCursor`); this module
//! maps them, so they never need to know about HTTP.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::Behaviour;
use crate::pagination::InvalidCursor;
use crate::state::StateError;

/// The credential an endpoint wants, named in `WWW-Authenticate` on a 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthScheme {
    /// A visitor access token.
    Bearer,
    /// The organization API token.
    Token,
}

const NOT_FOUND: &str = "Not found.";
const NO_PERMISSION: &str = "You do not have permission to perform this action.";

/// An error answer of the simulator.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{detail}")]
    Unauthorized { detail: String, scheme: AuthScheme },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("invalid fields: {0:?}")]
    Invalid(BTreeMap<String, Vec<String>>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{detail}")]
    Status { status: StatusCode, detail: String },
    /// An injected fault (`POST /_sim/faults`).
    #[error("simulated fault {status}")]
    Fault {
        status: StatusCode,
        retry_after: Option<u64>,
    },
}

impl ApiError {
    /// A 400 naming one field.
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(BTreeMap::from([(field.to_owned(), vec![message.into()])]))
    }

    /// 403 for a `{vid}` in the path that is not the token's visitor.
    pub(crate) fn not_your_visitor() -> Self {
        Self::Forbidden(NO_PERMISSION.to_owned())
    }

    /// A state error as the Giosg API answers it, with the statuses of [`Behaviour`].
    pub(crate) fn from_giosg(error: StateError, behaviour: &Behaviour) -> Self {
        let status = |value: u16, detail: String| Self::Status {
            status: Behaviour::status(value),
            detail,
        };
        match error {
            StateError::RoomNotFound
            | StateError::VisitorNotFound
            | StateError::ChatNotFound
            | StateError::MessageNotFound
            | StateError::NotInRoom => Self::NotFound(NOT_FOUND.to_owned()),
            StateError::ForeignChat => {
                let detail = if behaviour.foreign_chat_status == 404 {
                    NOT_FOUND
                } else {
                    NO_PERMISSION
                };
                status(behaviour.foreign_chat_status, detail.to_owned())
            }
            StateError::ChatEnded => status(behaviour.ended_chat_send_status, error.to_string()),
            StateError::RoomOffline => status(behaviour.offline_start_status, error.to_string()),
            StateError::UnknownSecret => Self::invalid("visitor_secret_id", error.to_string()),
            StateError::NotJoined => Self::Forbidden(error.to_string()),
            StateError::AgentNotInChat(_) => Self::Conflict(error.to_string()),
            StateError::Invalid { field, message } => Self::invalid(field, message),
        }
    }

    /// A state error as the control API answers it.
    pub(crate) fn from_control(error: StateError) -> Self {
        match error {
            StateError::RoomNotFound
            | StateError::VisitorNotFound
            | StateError::ChatNotFound
            | StateError::MessageNotFound
            | StateError::ForeignChat => Self::NotFound(error.to_string()),
            StateError::ChatEnded
            | StateError::RoomOffline
            | StateError::NotInRoom
            | StateError::NotJoined
            | StateError::AgentNotInChat(_) => Self::Conflict(error.to_string()),
            StateError::UnknownSecret => Self::invalid("visitor_secret_id", error.to_string()),
            StateError::Invalid { field, message } => Self::invalid(field, message),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Invalid(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Status { status, .. } | Self::Fault { status, .. } => *status,
        }
    }
}

impl From<InvalidCursor> for ApiError {
    fn from(error: InvalidCursor) -> Self {
        Self::NotFound(error.to_string())
    }
}

/// What an error answer says, kept on the response (as an extension) so [`html_error`] can
/// write it again as HTML. Injected faults carry none: they keep their JSON body.
#[derive(Debug, Clone)]
pub(crate) struct ErrorText(String);

impl ApiError {
    /// The message of the answer, as one line.
    fn text(&self) -> String {
        match self {
            Self::Invalid(fields) => fields
                .iter()
                .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }
}

/// An error answer made by [`ApiError`] (not an injected fault) as a short HTML page with the
/// same status and headers; any other response unchanged.
pub(crate) fn html_error(response: Response) -> Response {
    let Some(ErrorText(text)) = response.extensions().get::<ErrorText>().cloned() else {
        return response;
    };
    let (mut parts, _json) = response.into_parts();
    let title = parts.status.canonical_reason().unwrap_or("Error");
    let page = format!(
        "<!doctype html>\n<title>{title}</title>\n<h1>{title}</h1><p>{}</p>\n",
        escape_html(&text)
    );
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(parts, Body::from(page))
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            c => escaped.push(c),
        }
    }
    escaped
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Self::Invalid(fields) => json!(fields),
            Self::Fault { status, .. } => json!({
                "detail": format!(
                    "Simulated fault: {}",
                    status.canonical_reason().unwrap_or("error")
                )
            }),
            other => json!({ "detail": other.to_string() }),
        };
        let mut response = (status, Json(body)).into_response();
        if !matches!(self, Self::Fault { .. }) {
            response.extensions_mut().insert(ErrorText(self.text()));
        }
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized { scheme, .. } => {
                let challenge = match scheme {
                    AuthScheme::Bearer => "Bearer realm=\"api\"",
                    AuthScheme::Token => "Token",
                };
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
            }
            Self::Fault {
                retry_after: Some(seconds),
                ..
            } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn html_errors_keep_status_and_headers_and_escape_the_text() {
        let error = ApiError::Unauthorized {
            detail: "Invalid <token>.".to_owned(),
            scheme: AuthScheme::Bearer,
        };
        let response = html_error(error.into_response());
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(response.headers().contains_key(WWW_AUTHENTICATE));
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            body.contains("<h1>Unauthorized</h1><p>Invalid &lt;token&gt;.</p>"),
            "{body}"
        );
    }

    #[test]
    fn faults_keep_their_json_body() {
        let fault = ApiError::Fault {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: None,
        };
        let response = html_error(fault.into_response());
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    }
}
