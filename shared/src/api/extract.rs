//! Reading a request's parts at the edge: the visitor token, a JSON body, the chat id of the
//! path. Each answers the API's error when the part is missing or malformed.

use std::net::IpAddr;

use axum::extract::{FromRequestParts, Path};
use http::HeaderMap;
use http::header;
use http::request::Parts;

use super::{ApiError, RequestId};
use crate::domain::ChatId;
use crate::domain::visitor::VisitorToken;

/// The caller's visitor token from `Authorization: Bearer <token>`: required.
pub(super) fn visitor_token(headers: &HeaderMap) -> Result<VisitorToken, ApiError> {
    optional_visitor_token(headers)?.ok_or(ApiError::Unauthorized)
}

/// The caller's visitor token if an `Authorization` header is present; a malformed one is an
/// error, not an anonymous call.
pub(super) fn optional_visitor_token(
    headers: &HeaderMap,
) -> Result<Option<VisitorToken>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::Unauthorized)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(ApiError::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized);
    }
    VisitorToken::parse(token.trim())
        .map(Some)
        .ok_or(ApiError::Unauthorized)
}

/// Parses a JSON body into `T`, answering `invalid_request` with serde's description of what
/// is wrong, prefixed with the path of the field it is about (`visitor_name: invalid type:
/// integer `123`, expected a string`).
pub(super) fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Err(ApiError::invalid(
            "The body must be JSON (Content-Type: application/json).",
        ));
    }
    let mut json = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut json).map_err(|error| {
        let field = error.path().to_string();
        let cause = error.into_inner();
        if field == "." {
            ApiError::invalid(format!("The body is not valid: {cause}."))
        } else {
            ApiError::invalid(format!("The body is not valid: {field}: {cause}."))
        }
    })?;
    json.end()
        .map_err(|cause| ApiError::invalid(format!("The body is not valid: {cause}.")))?;
    Ok(value)
}

/// The `{chat_id}` of the path. An id we could never have issued cannot be anyone's chat:
/// `404 not_found`, before anything else is looked at.
pub(super) struct ChatIdPath(pub ChatId);

impl<S: Send + Sync> FromRequestParts<S> for ChatIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        plausible_chat_id(id).map(Self).ok_or(ApiError::NotFound)
    }
}

/// A chat id a frontend names (in a path, or a feed subscription): `None` for what cannot be
/// one of ours, which the caller answers as `not_found`.
pub(super) fn plausible_chat_id(id: String) -> Option<ChatId> {
    let plausible = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plausible.then(|| ChatId::new(id))
}

/// The request's id (see [`RequestId`]): the owner of the claims it makes. The request log
/// layer puts it in the extensions; without that layer, a fresh random one.
pub(super) struct RequestOwner(pub(super) String);

impl<S: Send + Sync> FromRequestParts<S> for RequestOwner {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<RequestId>().map_or_else(
            || format!("{:032x}", rand::random::<u128>()),
            |id| id.0.clone(),
        )))
    }
}

/// The address a request came from, put in the request's extensions by whoever serves the
/// router: the Lambda wiring from API Gateway's `requestContext.http.sourceIp`, the local
/// runner from the TCP peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The request's [`ClientAddress`], `None` when nobody said.
pub(super) struct Source(pub(super) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<ClientAddress>().map(|a| a.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        visitor_name: Option<String>,
        nested: Option<Vec<Inner>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    fn refusal(body: &str) -> String {
        match json_body::<Body>(&HeaderMap::new(), body.as_bytes()) {
            Err(ApiError::InvalidRequest(message)) => message,
            other => panic!("{body}: expected invalid_request, got {other:?}"),
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        assert!(refusal(r#"{"visitor_name": 123}"#).contains("visitor_name: invalid type"));
        assert!(refusal(r#"{"nested": [{"n": "x"}]}"#).contains("nested[0].n: invalid type"));
        assert!(refusal("not json").starts_with("The body is not valid: expected"));
        assert!(refusal(r#"{"visitor_name": "Ada"} trailing"#).contains("trailing characters"));
        assert!(json_body::<Body>(&HeaderMap::new(), br#"{"visitor_name": "Ada"}"#).is_ok());
    }

    #[test]
    fn only_ids_we_could_have_issued_are_plausible() {
        assert!(plausible_chat_id("abc-1_X".into()).is_some());
        assert!(plausible_chat_id(String::new()).is_none());
        assert!(plausible_chat_id("..%2f".into()).is_none());
        assert!(plausible_chat_id("a".repeat(129)).is_none());
    }
}
