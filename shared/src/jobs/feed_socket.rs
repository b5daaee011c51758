//! The real-time feed's WebSocket routes on AWS (spec §1a): API Gateway's WebSocket API invokes
//! one function with the Lambda proxy event of `$connect`, `$disconnect` and each client
//! message (`subscribe`, and `$default` for anything else); the protocol itself is
//! [`crate::api::feed_socket`], shared with the local runner.
//!
//! - `$connect`: the visitor token from the query (`?token=`) or the `bearer, <token>`
//!   subprotocol pair; no token, or one of no visitor: `401`, and API Gateway refuses the
//!   connection. Otherwise the connection is kept with its management endpoint
//!   (`https://{domainName}/{stage}`), and `200` (naming the `bearer` subprotocol when the
//!   token came that way, as browsers require).
//! - `$disconnect`: the connection and its subscriptions are forgotten.
//! - a message: handled by the protocol; a refused request's error frame is posted back to
//!   the connection. Always `200`.
//!
//! The answer is the route response API Gateway expects, `{"statusCode": ..}` with optional
//! `headers`. The token never reaches a log line.

use lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::feed_socket::{BEARER_PROTOCOL, connect_token, on_client_message};
use crate::domain::connection::ConnectionId;
use crate::push::{Frame, PushError, PushPort};
use crate::service::{Service, ServiceError};
use crate::store::{ChatStore, SubscriptionStore};

/// Why an invocation failed (API Gateway then answers the client with its own 500).
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("not an API Gateway WebSocket event: {0}")]
    NotAnEvent(String),
    #[error("the WebSocket event has no {0}")]
    Missing(&'static str),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Which route an event is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Connect,
    Disconnect,
    /// A client message (`subscribe`, `$default`).
    Message,
}

impl Route {
    fn of(request: &ApiGatewayWebsocketProxyRequest) -> Option<Self> {
        let context = &request.request_context;
        match (context.event_type.as_deref(), context.route_key.as_deref()) {
            (Some("CONNECT"), _) | (None, Some("$connect")) => Some(Self::Connect),
            (Some("DISCONNECT"), _) | (None, Some("$disconnect")) => Some(Self::Disconnect),
            (Some("MESSAGE"), _) | (None, Some(_)) => Some(Self::Message),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Connect => "$connect",
            Self::Disconnect => "$disconnect",
            Self::Message => "message",
        }
    }
}

/// A route response: the status, and whether it names the `bearer` subprotocol.
fn answer(status: u16, bearer: bool) -> Value {
    if bearer {
        json!({"statusCode": status, "headers": {"Sec-WebSocket-Protocol": BEARER_PROTOCOL}})
    } else {
        json!({"statusCode": status})
    }
}

/// One WebSocket event, from its payload to the route response: what the feed-socket
/// function runs, and what the tests feed recorded events to.
pub async fn handle<S, G, P>(
    service: &Service<S, G>,
    pusher: &P,
    payload: &Value,
) -> Result<Value, SocketError>
where
    S: ChatStore + SubscriptionStore,
    P: PushPort,
{
    let request = ApiGatewayWebsocketProxyRequest::deserialize(payload)
        .map_err(|error| SocketError::NotAnEvent(error.to_string()))?;
    let route = Route::of(&request).ok_or(SocketError::Missing("route"))?;
    let connection = request
        .request_context
        .connection_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .map(ConnectionId::new)
        .ok_or(SocketError::Missing("connectionId"))?;
    let answered = match route {
        Route::Connect => connect(service, &request, connection.clone()).await,
        Route::Disconnect => service
            .close_connection(&connection)
            .await
            .map(|()| answer(200, false))
            .map_err(SocketError::from),
        Route::Message => message(service, pusher, &request, &connection).await,
    };
    // A failed invocation is API Gateway's 500.
    let status = answered.as_ref().map_or(500, |answered| {
        answered["statusCode"]
            .as_u64()
            .and_then(|status| u16::try_from(status).ok())
            .unwrap_or_default()
    });
    crate::metrics::request(route.name(), status);
    let answered = answered?;
    tracing::info!(
        route = route.name(),
        connection_id = %connection,
        status,
        "WebSocket event answered"
    );
    Ok(answered)
}

/// Where frames to this event's connection are posted: `https://{domainName}/{stage}`.
fn management_endpoint(request: &ApiGatewayWebsocketProxyRequest) -> Result<String, SocketError> {
    let context = &request.request_context;
    let domain = context
        .domain_name
        .as_deref()
        .filter(|domain| !domain.is_empty())
        .ok_or(SocketError::Missing("domainName"))?;
    let stage = context
        .stage
        .as_deref()
        .filter(|stage| !stage.is_empty())
        .ok_or(SocketError::Missing("stage"))?;
    Ok(format!("https://{domain}/{stage}"))
}

async fn connect<S, G>(
    service: &Service<S, G>,
    request: &ApiGatewayWebsocketProxyRequest,
    connection: ConnectionId,
) -> Result<Value, SocketError>
where
    S: ChatStore + SubscriptionStore,
{
    let endpoint = management_endpoint(request)?;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(request.query_string_parameters.iter())
        .finish();
    let protocols = request
        .headers
        .get(http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok());
    let Ok(token) = connect_token(Some(&query), protocols) else {
        return Ok(answer(401, false));
    };
    match service
        .open_connection(&token.token, connection, endpoint)
        .await
    {
        Ok(()) => Ok(answer(200, token.answer_bearer_protocol)),
        Err(ServiceError::UnknownVisitor) => Ok(answer(401, false)),
        Err(error) => Err(error.into()),
    }
}

async fn message<S, G, P>(
    service: &Service<S, G>,
    pusher: &P,
    request: &ApiGatewayWebsocketProxyRequest,
    connection: &ConnectionId,
) -> Result<Value, SocketError>
where
    S: ChatStore + SubscriptionStore,
    P: PushPort,
{
    let text = body_text(request);
    let Some(refused) = on_client_message(service, connection, &text, pusher).await else {
        return Ok(answer(200, false));
    };
    if let Frame::Error { error } = &refused {
        tracing::info!(connection_id = %connection, code = error.code, "a request was refused");
    }
    let endpoint = management_endpoint(request)?;
    match pusher.post(&endpoint, connection, &refused).await {
        Ok(()) | Err(PushError::Gone) => {}
        Err(PushError::Failed(reason)) => {
            tracing::warn!(connection_id = %connection, %reason, "the error frame could not be posted");
        }
    }
    Ok(answer(200, false))
}

/// The message's text (a binary frame arrives base64-encoded; one that is no UTF-8 text is
/// handed on as it decodes, and refused by the protocol).
fn body_text(request: &ApiGatewayWebsocketProxyRequest) -> String {
    let body = request.body.as_deref().unwrap_or_default();
    if !request.is_base64_encoded {
        return body.to_owned();
    }
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(route: &str, event_type: &str) -> ApiGatewayWebsocketProxyRequest {
        ApiGatewayWebsocketProxyRequest::deserialize(&json!({
            "requestContext": {"routeKey": route, "eventType": event_type,
                "connectionId": "abc=", "domainName": "x1.execute-api.eu-west-1.amazonaws.com",
                "stage": "v1", "connectedAt": 1, "requestTimeEpoch": 2},
            "isBase64Encoded": true, "body": "eyJhY3Rpb24iOiAic3Vic2NyaWJlIn0="
        }))
        .unwrap()
    }

    #[test]
    fn routes_endpoints_and_bodies_are_read() {
        assert_eq!(
            Route::of(&event("$connect", "CONNECT")),
            Some(Route::Connect)
        );
        assert_eq!(
            Route::of(&event("$disconnect", "DISCONNECT")),
            Some(Route::Disconnect)
        );
        assert_eq!(
            Route::of(&event("subscribe", "MESSAGE")),
            Some(Route::Message)
        );
        let request = event("$default", "MESSAGE");
        assert_eq!(
            management_endpoint(&request).unwrap(),
            "https://x1.execute-api.eu-west-1.amazonaws.com/v1"
        );
        assert_eq!(body_text(&request), r#"{"action": "subscribe"}"#);
        assert_eq!(
            answer(200, true),
            json!({"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "bearer"}})
        );
    }
}
