//! The one place where failures become the API's error shape:
//! `{"error": {"code": "...", "message": "..."}}`.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{self, HeaderValue};
use serde::Serialize;

use crate::domain::input::InputError;
use crate::giosg::GiosgError;
use crate::identity::IdentityError;
use crate::service::ServiceError;
use crate::store::StoreError;

/// Every error a frontend or Giosg can receive. Internal causes are logged, never returned.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400; the message names the field.
    #[error("{0}")]
    InvalidRequest(String),
    #[error("A valid visitor token is required (Authorization: Bearer <visitor_token>).")]
    Unauthorized,
    /// 401 for a refused `identity_token`; the message says which check failed.
    #[error("{0}")]
    IdentityRejected(String),
    #[error("The webhook token is missing or wrong.")]
    WebhookUnauthorized,
    #[error(
        "Operator credentials are required (an AWS SigV4-signed request, or locally the admin token as a bearer token)."
    )]
    OperatorUnauthorized,
    #[error("Not found.")]
    NotFound,
    #[error("Method not allowed.")]
    MethodNotAllowed,
    #[error("This chat has ended; start a new chat.")]
    ChatEnded,
    #[error("No agent is online right now; try again later.")]
    AgentsOffline,
    #[error("A message with this client_message_id is still being sent; retry shortly.")]
    SendInProgress,
    #[error("A chat is still being started for this visitor; retry shortly.")]
    StartInProgress,
    /// 413; the message says what is too large.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 429, with `Retry-After` (whole seconds) when the wait is known.
    #[error("Too many requests; retry shortly.")]
    RateLimited { retry_after: Option<Duration> },
    /// 502 (Giosg answered something we cannot use) or 503 (Giosg could not be reached).
    #[error("The chat service is temporarily unavailable; try again shortly.")]
    GiosgUnavailable { status: StatusCode },
    /// 500: the cause is only in the log.
    #[error("Something went wrong on our side; try again.")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidRequest(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized
            | Self::IdentityRejected(_)
            | Self::WebhookUnauthorized
            | Self::OperatorUnauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::ChatEnded
            | Self::AgentsOffline
            | Self::SendInProgress
            | Self::StartInProgress => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::GiosgUnavailable { status } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::Unauthorized
            | Self::IdentityRejected(_)
            | Self::WebhookUnauthorized
            | Self::OperatorUnauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::ChatEnded => "chat_ended",
            Self::AgentsOffline => "agents_offline",
            Self::SendInProgress => "send_in_progress",
            Self::StartInProgress => "start_in_progress",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::GiosgUnavailable { .. } => "giosg_unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The human sentence sent to the caller (never the internal cause).
    pub fn public_message(&self) -> String {
        self.to_string()
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.public_message(),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(cause, "internal error");
        }
        let mut response = super::json_response(self.status(), &self.body());
        match &self {
            Self::Unauthorized => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::RateLimited {
                retry_after: Some(wait),
            } => {
                let seconds = wait.as_secs().max(1);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            _ => {}
        }
        response
    }
}

impl From<InputError> for ApiError {
    fn from(error: InputError) -> Self {
        match error {
            InputError::Invalid(message) => Self::InvalidRequest(message),
            InputError::TooLarge(message) => Self::PayloadTooLarge(message),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::UnknownVisitor => Self::Unauthorized,
            ServiceError::ChatNotFound => Self::NotFound,
            ServiceError::ChatEnded => Self::ChatEnded,
            ServiceError::AgentsOffline => Self::AgentsOffline,
            ServiceError::SendInProgress => Self::SendInProgress,
            ServiceError::StartInProgress => Self::StartInProgress,
            ServiceError::RateLimited { retry_after, .. } => Self::RateLimited {
                retry_after: Some(retry_after),
            },
            ServiceError::IdentityRequired => Self::IdentityRejected(
                "This visitor is signed in: starting a chat needs its identity_token.".into(),
            ),
            ServiceError::TextRefused => Self::invalid("Giosg refused the message text."),
            ServiceError::Giosg(error) => Self::from(error),
            ServiceError::Store(error) => Self::from(error),
            ServiceError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::NotConfigured => Self::invalid(format!("identity_token: {error}.")),
            IdentityError::Unavailable => Self::GiosgUnavailable {
                status: StatusCode::SERVICE_UNAVAILABLE,
            },
            refused => Self::IdentityRejected(format!("{refused}.")),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::Internal(format!("store: {error}"))
    }
}

impl From<GiosgError> for ApiError {
    /// The default mapping; the service maps the refusals it understands (an ended chat, an
    /// offline room) before falling back to this.
    fn from(error: GiosgError) -> Self {
        match error.status() {
            Some(429) => Self::RateLimited { retry_after: None },
            _ if error.is_unavailable() => Self::GiosgUnavailable {
                status: StatusCode::SERVICE_UNAVAILABLE,
            },
            _ => {
                tracing::warn!(%error, "Giosg refused or answered unexpectedly");
                Self::GiosgUnavailable {
                    status: StatusCode::BAD_GATEWAY,
                }
            }
        }
    }
}
