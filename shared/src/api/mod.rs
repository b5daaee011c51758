//! The HTTP handlers: the frontend API (`/v1/...`) and Giosg's webhooks (`/webhooks/giosg/...`).
//!
//! They take and return plain `http` types, so the Lambda functions (through `lambda_http`) and
//! the local runner (through an HTTP server) serve exactly this code. Each Lambda passes the
//! [`RouteKind`]s it owns; the local runner serves them all.

mod availability;
mod chats;
mod error;
mod messages;
mod webhooks;

use std::sync::Mutex;
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use serde::Serialize;

pub use error::{ApiError, ErrorBody};

use crate::config::{SecretsCache, Settings};
use crate::domain::ChatId;
use crate::domain::visitor::VisitorToken;
use crate::giosg::{GiosgClient, VisitorSession};
use crate::store::{ChatStore, StoreContext};

pub type ApiRequest = http::Request<Bytes>;
pub type ApiResponse = http::Response<Bytes>;

/// The largest request body accepted (a 2000-character message in JSON is far smaller).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Everything a handler needs, built once per process (cold start) and shared by requests.
pub struct App<S> {
    pub store: S,
    /// The Giosg client; [`App::giosg`] swaps in a rotated API token.
    giosg: std::sync::RwLock<GiosgClient>,
    pub settings: Settings,
    pub secrets: SecretsCache,
    pub store_context: StoreContext,
    availability: Mutex<Option<availability::Cached>>,
    /// A Giosg visitor of our own, used to read the room's availability.
    service_visitor: tokio::sync::Mutex<Option<VisitorSession>>,
}

impl<S: ChatStore> App<S> {
    pub fn new(store: S, giosg: GiosgClient, settings: Settings, secrets: SecretsCache) -> Self {
        let mut store_context = StoreContext::new(settings.room_id.clone());
        store_context.retention = settings.retention();
        Self {
            store,
            giosg: std::sync::RwLock::new(giosg),
            settings,
            secrets,
            store_context,
            availability: Mutex::new(None),
            service_visitor: tokio::sync::Mutex::new(None),
        }
    }
}

impl<S> App<S> {
    /// The Giosg client with the current API token from the secrets cache (which re-reads the
    /// secret after its refresh interval, so a rotation needs no deploy).
    pub async fn giosg(&self) -> GiosgClient {
        let secrets = self.secrets.get().await;
        let current = self.giosg.read().unwrap_or_else(|p| p.into_inner()).clone();
        if current.config().api_token == secrets.giosg_api_token {
            return current;
        }
        let rotated = current.with_api_token(secrets.giosg_api_token.clone());
        *self.giosg.write().unwrap_or_else(|p| p.into_inner()) = rotated.clone();
        rotated
    }
}

/// The routes, as declared in `template.yaml` and `openapi.yaml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    Availability,
    StartChat,
    ListChats,
    GetChat,
    SendMessage,
    History,
    ChatWebhook,
    MessageWebhook,
}

impl RouteKind {
    pub const ALL: &'static [RouteKind] = &[
        Self::Availability,
        Self::StartChat,
        Self::ListChats,
        Self::GetChat,
        Self::SendMessage,
        Self::History,
        Self::ChatWebhook,
        Self::MessageWebhook,
    ];

    /// The route as written in the template: `METHOD /path/{param}`.
    pub fn template(self) -> &'static str {
        match self {
            Self::Availability => "GET /v1/availability",
            Self::StartChat => "POST /v1/chats",
            Self::ListChats => "GET /v1/chats",
            Self::GetChat => "GET /v1/chats/{chat_id}",
            Self::SendMessage => "POST /v1/chats/{chat_id}/messages",
            Self::History => "GET /v1/chats/{chat_id}/messages",
            Self::ChatWebhook => "POST /webhooks/giosg/chats",
            Self::MessageWebhook => "POST /webhooks/giosg/messages",
        }
    }

    fn is_webhook(self) -> bool {
        matches!(self, Self::ChatWebhook | Self::MessageWebhook)
    }
}

/// The routes each Lambda function serves; `template.yaml` wires the same routes to them.
pub mod function_routes {
    use super::RouteKind;

    /// `start-chat`: the calls a visitor makes before chatting.
    pub const START_CHAT: &[RouteKind] = &[RouteKind::StartChat, RouteKind::Availability];
    /// `send-message`.
    pub const SEND_MESSAGE: &[RouteKind] = &[RouteKind::SendMessage];
    /// `chat-history`: every read of chats and messages.
    pub const CHAT_HISTORY: &[RouteKind] =
        &[RouteKind::ListChats, RouteKind::GetChat, RouteKind::History];
    /// `giosg-webhooks`: Giosg's deliveries, behind a Function URL.
    pub const GIOSG_WEBHOOKS: &[RouteKind] = &[RouteKind::ChatWebhook, RouteKind::MessageWebhook];

    /// The routes of a function by its crate name.
    pub fn by_name(function: &str) -> Option<&'static [RouteKind]> {
        match function {
            "start-chat" => Some(START_CHAT),
            "send-message" => Some(SEND_MESSAGE),
            "chat-history" => Some(CHAT_HISTORY),
            "giosg-webhooks" => Some(GIOSG_WEBHOOKS),
            _ => None,
        }
    }
}

/// A resolved route with its path parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Route {
    kind: RouteKind,
    chat_id: Option<ChatId>,
}

/// Matches a method and path against the routes; `Err` carries the status for no match.
fn resolve(method: &Method, path: &str) -> Result<Route, ApiError> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let (kinds, chat_id): (&[(Method, RouteKind)], Option<&str>) = match segments.as_slice() {
        ["v1", "availability"] => (&[(Method::GET, RouteKind::Availability)], None),
        ["v1", "chats"] => (
            &[
                (Method::GET, RouteKind::ListChats),
                (Method::POST, RouteKind::StartChat),
            ],
            None,
        ),
        ["v1", "chats", id] => (&[(Method::GET, RouteKind::GetChat)], Some(id)),
        ["v1", "chats", id, "messages"] => (
            &[
                (Method::GET, RouteKind::History),
                (Method::POST, RouteKind::SendMessage),
            ],
            Some(id),
        ),
        ["webhooks", "giosg", "chats"] => (&[(Method::POST, RouteKind::ChatWebhook)], None),
        ["webhooks", "giosg", "messages"] => (&[(Method::POST, RouteKind::MessageWebhook)], None),
        _ => return Err(ApiError::NotFound),
    };
    let kind = kinds
        .iter()
        .find(|(m, _)| m == method)
        .map(|(_, kind)| *kind)
        .ok_or(ApiError::MethodNotAllowed)?;
    let chat_id = match chat_id {
        Some(id) if is_plausible_id(id) => Some(ChatId::new(id)),
        // An id we could never have issued cannot be anyone's chat.
        Some(_) => return Err(ApiError::NotFound),
        None => None,
    };
    Ok(Route { kind, chat_id })
}

fn is_plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Serves one request: routes it (only to `serves`), runs the handler, maps errors to the error
/// shape, adds CORS headers, and logs one line (request id, route, status, duration; never a
/// token, secret or message text).
pub async fn handle<S: ChatStore>(
    app: &App<S>,
    request: ApiRequest,
    request_id: &str,
    serves: &[RouteKind],
) -> ApiResponse {
    handle_until(app, request, request_id, serves, None).await
}

/// [`handle`] with a deadline (the Lambda invocation's, less a margin): a request still running
/// then is answered `503 giosg_unavailable` in the API's error shape, instead of being cut off
/// by the platform with a bare 5xx. Only slow Giosg calls (retries within their budget) can
/// take that long.
pub async fn handle_until<S: ChatStore>(
    app: &App<S>,
    request: ApiRequest,
    request_id: &str,
    serves: &[RouteKind],
    deadline: Option<Instant>,
) -> ApiResponse {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let origin = request.headers().get(header::ORIGIN).cloned();
    let route = resolve(&method, &path).and_then(|route| {
        if serves.contains(&route.kind) {
            Ok(route)
        } else {
            Err(ApiError::NotFound)
        }
    });
    let route_name = route.as_ref().map_or("unmatched", |r| r.kind.template());
    let is_preflight = method == Method::OPTIONS;
    let mut response = if is_preflight {
        preflight(app, origin.as_ref())
    } else {
        let result = match (route, deadline) {
            (Ok(route), None) => dispatch(app, route, request).await,
            (Ok(route), Some(deadline)) => {
                tokio::time::timeout_at(deadline.into(), dispatch(app, route, request))
                    .await
                    .unwrap_or_else(|_| {
                        tracing::warn!(request_id, route = route_name, "request deadline reached");
                        Err(ApiError::GiosgUnavailable {
                            status: StatusCode::SERVICE_UNAVAILABLE,
                        })
                    })
            }
            (Err(error), _) => Err(error),
        };
        result.unwrap_or_else(|error| {
            if let ApiError::Internal(cause) = &error {
                tracing::error!(request_id, route = route_name, cause, "internal error");
            }
            error_response(&error)
        })
    };
    if !path.starts_with("/webhooks/") {
        add_cors(app, origin.as_ref(), response.headers_mut());
    }
    tracing::info!(
        request_id,
        method = %method,
        route = route_name,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

async fn dispatch<S: ChatStore>(
    app: &App<S>,
    route: Route,
    request: ApiRequest,
) -> Result<ApiResponse, ApiError> {
    if request.body().len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "The request body is larger than {MAX_BODY_BYTES} bytes."
        )));
    }
    if route.kind.is_webhook() {
        return webhooks::receive(app, route.kind, &request).await;
    }
    let chat_id = route.chat_id;
    match route.kind {
        RouteKind::Availability => availability::get(app).await,
        RouteKind::StartChat => chats::start(app, &request).await,
        RouteKind::ListChats => chats::list(app, &visitor_token(&request)?).await,
        RouteKind::GetChat => {
            chats::get(
                app,
                &visitor_token(&request)?,
                &chat_id.expect("route has id"),
            )
            .await
        }
        RouteKind::SendMessage => {
            messages::send(app, &request, &chat_id.expect("route has id")).await
        }
        RouteKind::History => {
            messages::history(app, &request, &chat_id.expect("route has id")).await
        }
        RouteKind::ChatWebhook | RouteKind::MessageWebhook => unreachable!("handled above"),
    }
}

/// The caller's visitor token from `Authorization: Bearer <token>`: required.
fn visitor_token(request: &ApiRequest) -> Result<VisitorToken, ApiError> {
    optional_visitor_token(request)?.ok_or(ApiError::Unauthorized)
}

/// The caller's visitor token if an `Authorization` header is present; a malformed one is an
/// error, not an anonymous call.
fn optional_visitor_token(request: &ApiRequest) -> Result<Option<VisitorToken>, ApiError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
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

/// A visitor key that exists in the store, or `unauthorized`.
fn require_visitor<T>(visitor: Option<T>) -> Result<T, ApiError> {
    visitor.ok_or(ApiError::Unauthorized)
}

/// Parses a JSON body into `T`, answering `invalid_request` with serde's description of what
/// is wrong (which names the field).
fn json_body<T: serde::de::DeserializeOwned>(request: &ApiRequest) -> Result<T, ApiError> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Err(ApiError::invalid(
            "The body must be JSON (Content-Type: application/json).",
        ));
    }
    serde_json::from_slice(request.body())
        .map_err(|e| ApiError::invalid(format!("The body is not valid: {e}.")))
}

fn json_response(status: StatusCode, body: &impl Serialize) -> ApiResponse {
    let bytes = serde_json::to_vec(body).expect("response bodies serialize");
    http::Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Bytes::from(bytes))
        .expect("static response parts are valid")
}

/// The error shape as a response (for adapters that fail before a handler runs).
pub fn error_response(error: &ApiError) -> ApiResponse {
    let mut response = json_response(error.status(), &error.body());
    if matches!(error, ApiError::Unauthorized) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

fn allowed_origin<S>(app: &App<S>, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
    let origin = origin?;
    let text = origin.to_str().ok()?;
    app.settings
        .allowed_origins
        .iter()
        .any(|allowed| allowed == text || allowed == "*")
        .then(|| origin.clone())
}

fn add_cors<S>(app: &App<S>, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
    if let Some(origin) = allowed_origin(app, origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

fn preflight<S>(app: &App<S>, origin: Option<&HeaderValue>) -> ApiResponse {
    let mut response = http::Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Bytes::new())
        .expect("static response parts are valid");
    if allowed_origin(app, origin).is_some() {
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, idempotency-key"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_with_their_parameters() {
        let route = resolve(&Method::POST, "/v1/chats/abc-1/messages").unwrap();
        assert_eq!(route.kind, RouteKind::SendMessage);
        assert_eq!(route.chat_id.unwrap().as_str(), "abc-1");
        assert_eq!(
            resolve(&Method::GET, "/v1/chats").unwrap().kind,
            RouteKind::ListChats
        );
        assert_eq!(
            resolve(&Method::POST, "/webhooks/giosg/messages")
                .unwrap()
                .kind,
            RouteKind::MessageWebhook
        );
        assert!(matches!(
            resolve(&Method::GET, "/v2/chats"),
            Err(ApiError::NotFound)
        ));
        assert!(matches!(
            resolve(&Method::DELETE, "/v1/chats"),
            Err(ApiError::MethodNotAllowed)
        ));
        assert!(matches!(
            resolve(&Method::GET, "/v1/chats/..%2f"),
            Err(ApiError::NotFound)
        ));
    }
}
