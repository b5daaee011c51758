//! Request extractors that answer like Giosg when the input is wrong: JSON bodies, visitor and
//! organization credentials, and the page a collection request asks for.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::app::App;
use crate::error::{ApiError, AuthScheme};
use crate::pagination::PageRequest;
use crate::state::TokenProblem;

const NOT_PROVIDED: &str = "Authentication credentials were not provided.";

/// A JSON body; an empty body reads as `{}`. Parse errors are DRF's 400 `{"detail": ...}`.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(bytes)
            .map(JsonBody)
            .map_err(|error| ApiError::BadRequest(format!("JSON parse error - {error}")))
    }
}

/// The value of `Authorization: <scheme> <credential>` when the scheme matches.
fn credential<'a>(parts: &'a Parts, scheme: &str) -> Option<&'a str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (given, credential) = value.trim().split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| credential.trim())
}

/// The visitor of a valid `Authorization: Bearer <access_token>`.
pub(crate) struct VisitorAuth {
    pub visitor_id: String,
}

impl FromRequestParts<Arc<App>> for VisitorAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let unauthorized = |detail: &str| ApiError::Unauthorized {
            detail: detail.to_owned(),
            scheme: AuthScheme::Bearer,
        };
        let token = credential(parts, "Bearer")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized(NOT_PROVIDED))?;
        match app.state().visitor_for_token(token) {
            Ok(visitor_id) => Ok(Self { visitor_id }),
            Err(TokenProblem::Unknown) => Err(unauthorized("Invalid token.")),
            Err(TokenProblem::Expired) => Err(unauthorized("Token has expired.")),
        }
    }
}

/// A valid `Authorization: Token <api_token>` of the organization.
pub(crate) struct OrgAuth;

impl FromRequestParts<Arc<App>> for OrgAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let unauthorized = |detail: &str| ApiError::Unauthorized {
            detail: detail.to_owned(),
            scheme: AuthScheme::Token,
        };
        let token = credential(parts, "Token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized(NOT_PROVIDED))?;
        if token == app.config.api_token {
            Ok(Self)
        } else {
            Err(unauthorized("Invalid token."))
        }
    }
}

/// Where a collection was asked for: the origin the page links are built on (from the `Host`
/// header), the path, and the `?cursor=` value.
impl<S: Send + Sync> FromRequestParts<S> for PageRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| "localhost".to_owned());
        let cursor = parts.uri.query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "cursor")
                .map(|(_, value)| value.into_owned())
        });
        Ok(Self::new(
            format!("http://{host}"),
            parts.uri.path().to_owned(),
            cursor,
        ))
    }
}
