//! The one place where failures become HTTP answers, in Django REST Framework's shapes:
//! `{"detail": "..."}` for 401/403/404 and the like, `{"field": ["..."]}` for 400.
//!
//! The lower layers fail with their own types (`StateError`, `InvalidCursor`); this module
//! maps them, so they never need to know about HTTP.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
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
