//! The real-time feed's protocol (spec §1a), the one implementation both edges use: the API
//! Gateway WebSocket routes on Lambda and the local runner's `/v1/feed`.
//!
//! - Connecting: the visitor token travels in the query parameter `token`, or as the
//!   subprotocol pair `Sec-WebSocket-Protocol: bearer, <token>` (browsers cannot set headers on
//!   a WebSocket); the server then answers with the subprotocol `bearer`.
//! - Then the client sends `{"action": "subscribe", "chat_id": "...", "after": "<cursor>" or
//!   null}`; the server answers with the sync feed after that cursor (from the start for null)
//!   and pushes every later change of the chat as `messages` and `chat` frames. A refused
//!   request is an `error` frame with the HTTP API's codes.

use serde::Deserialize;

use super::ApiError;
use super::extract::plausible_chat_id;
use crate::domain::connection::ConnectionId;
use crate::domain::feed::FeedCursor;
use crate::domain::visitor::VisitorToken;
use crate::push::{Frame, PushPort};
use crate::service::{Service, ServiceError};
use crate::store::{ChatStore, SubscriptionStore};

/// The subprotocol a browser names before its token, and the server answers with.
pub const BEARER_PROTOCOL: &str = "bearer";

/// How a connecting client presented its token.
#[derive(Debug)]
pub struct ConnectToken {
    pub token: VisitorToken,
    /// It came as the `bearer, <token>` subprotocol pair: the answer must name `bearer`.
    pub answer_bearer_protocol: bool,
}

/// The visitor token of a connection request, from its query string or its
/// `Sec-WebSocket-Protocol` header. No token, or one that does not parse: `unauthorized`.
pub fn connect_token(
    query: Option<&str>,
    protocols: Option<&str>,
) -> Result<ConnectToken, ApiError> {
    if let Some(protocols) = protocols {
        let mut names = protocols.split(',').map(str::trim);
        if names
            .next()
            .is_some_and(|first| first.eq_ignore_ascii_case(BEARER_PROTOCOL))
            && let Some(token) = names.next()
        {
            return VisitorToken::parse(token)
                .map(|token| ConnectToken {
                    token,
                    answer_bearer_protocol: true,
                })
                .ok_or(ApiError::Unauthorized);
        }
    }
    let from_query = query.and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "token")
            .map(|(_, value)| value.into_owned())
    });
    from_query
        .and_then(|token| VisitorToken::parse(&token))
        .map(|token| ConnectToken {
            token,
            answer_bearer_protocol: false,
        })
        .ok_or(ApiError::Unauthorized)
}

/// What a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum ClientRequest {
    Subscribe {
        chat_id: String,
        #[serde(default)]
        after: Option<String>,
    },
}

/// Handles one message from a client: the frame to answer with when the request is refused
/// (the catch-up of a subscription is posted through `pusher`, like every push).
pub async fn on_client_message<S, G, P>(
    service: &Service<S, G>,
    connection: &ConnectionId,
    text: &str,
    pusher: &P,
) -> Option<Frame>
where
    S: ChatStore + SubscriptionStore,
    P: PushPort,
{
    let request = match serde_json::from_str::<ClientRequest>(text) {
        Ok(request) => request,
        Err(error) => {
            return Some(Frame::error(
                "invalid_request",
                format!("send {{\"action\": \"subscribe\", \"chat_id\", \"after\"}}: {error}"),
            ));
        }
    };
    let ClientRequest::Subscribe { chat_id, after } = request;
    let after = match after.as_deref().map(FeedCursor::decode) {
        None => FeedCursor::start(),
        Some(Ok(cursor)) => cursor,
        Some(Err(_)) => {
            return Some(Frame::error(
                "invalid_request",
                "after is not a valid cursor.",
            ));
        }
    };
    let Some(chat_id) = plausible_chat_id(chat_id) else {
        return Some(error_frame(ServiceError::ChatNotFound));
    };
    match service.subscribe(connection, &chat_id, after, pusher).await {
        Ok(_) => None,
        Err(error) => Some(error_frame(error)),
    }
}

fn error_frame(error: ServiceError) -> Frame {
    let error = ApiError::from(error);
    Frame::error(error.code(), error.public_message())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_the_subprotocol_pair_or_the_query() {
        let token = VisitorToken::generate();
        let exposed = token.expose().to_owned();
        let pair = format!("bearer, {exposed}");
        let by_protocol = connect_token(None, Some(&pair)).unwrap();
        assert!(by_protocol.answer_bearer_protocol);
        assert_eq!(by_protocol.token.key(), token.key());
        let query = format!("chat=1&token={exposed}");
        let by_query = connect_token(Some(&query), None).unwrap();
        assert!(!by_query.answer_bearer_protocol);
        assert_eq!(by_query.token.key(), token.key());
        assert!(connect_token(None, None).is_err());
        assert!(connect_token(Some("token=not-a-token"), None).is_err());
        assert!(connect_token(None, Some("bearer, nope")).is_err());
        // Another subprotocol alone is no token.
        assert!(connect_token(None, Some("graphql-ws")).is_err());
    }
}
