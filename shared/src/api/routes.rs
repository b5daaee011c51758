//! The routes, as declared in `template.yaml` and `openapi.yaml`, and the routers that serve
//! them: each function's router answers its own routes; a route that exists but belongs to
//! another function is `404 not_found`, as API Gateway would never send it there.

use std::sync::Arc;

use axum::Router;
use axum::routing::{MethodFilter, MethodRouter, delete, get, on, post};
use http::Method;

use super::admin::{self, OperatorAccess, OperatorStore};
use super::layers;
use super::{Api, ApiError, chats, messages, webhooks};
use crate::giosg::GiosgPort;
use crate::store::ChatStore;

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
    ExportChat,
    EraseChat,
    ErasePerson,
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
        Self::ExportChat,
        Self::EraseChat,
        Self::ErasePerson,
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
            Self::ExportChat => "GET /admin/v1/chats/{chat_id}/export",
            Self::EraseChat => "DELETE /admin/v1/chats/{chat_id}",
            Self::ErasePerson => "DELETE /admin/v1/visitors",
        }
    }

    pub fn method(self) -> Method {
        let (method, _) = self.template().split_once(' ').expect("METHOD /path");
        method.parse().expect("a valid method")
    }

    /// The path, in the template's (and axum's) `{param}` syntax.
    pub fn path(self) -> &'static str {
        let (_, path) = self.template().split_once(' ').expect("METHOD /path");
        path
    }

    /// Giosg's deliveries, behind the Function URL: no CORS (Giosg is not a browser).
    pub fn is_webhook(self) -> bool {
        matches!(self, Self::ChatWebhook | Self::MessageWebhook)
    }

    /// The operator API: IAM-authorized on AWS, behind the admin token locally; no CORS.
    pub fn is_operator(self) -> bool {
        matches!(self, Self::ExportChat | Self::EraseChat | Self::ErasePerson)
    }

    /// The route a request matched, from its method and axum's matched path.
    pub fn matching(method: &Method, path: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| kind.path() == path && kind.method() == *method)
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
    /// `operator-api`: export and erasure, IAM-authorized.
    pub const OPERATOR_API: &[RouteKind] = &[
        RouteKind::ExportChat,
        RouteKind::EraseChat,
        RouteKind::ErasePerson,
    ];

    /// The routes of a function by its crate name.
    pub fn by_name(function: &str) -> Option<&'static [RouteKind]> {
        match function {
            "start-chat" => Some(START_CHAT),
            "send-message" => Some(SEND_MESSAGE),
            "chat-history" => Some(CHAT_HISTORY),
            "giosg-webhooks" => Some(GIOSG_WEBHOOKS),
            "operator-api" => Some(OPERATOR_API),
            _ => None,
        }
    }
}

type Routes<S, G> = MethodRouter<Arc<Api<S, G>>>;

/// `start-chat`'s router: `POST /v1/chats`, `GET /v1/availability`.
pub fn start_chat<S: ChatStore, G: GiosgPort>(api: Arc<Api<S, G>>) -> Router {
    build(api, function_routes::START_CHAT, None, |kind| match kind {
        RouteKind::StartChat => Some(post(chats::start::<S, G>)),
        RouteKind::Availability => Some(get(chats::availability::<S, G>)),
        _ => None,
    })
}

/// `send-message`'s router: `POST /v1/chats/{chat_id}/messages`.
pub fn send_message<S: ChatStore, G: GiosgPort>(api: Arc<Api<S, G>>) -> Router {
    build(
        api,
        function_routes::SEND_MESSAGE,
        None,
        |kind| match kind {
            RouteKind::SendMessage => Some(post(messages::send::<S, G>)),
            _ => None,
        },
    )
}

/// `chat-history`'s router: every read; needs no Giosg.
pub fn chat_history<S: ChatStore, G: Send + Sync + 'static>(api: Arc<Api<S, G>>) -> Router {
    build(api, function_routes::CHAT_HISTORY, None, reads)
}

/// `giosg-webhooks`'s router: Giosg's deliveries; needs no Giosg client.
pub fn giosg_webhooks<S: ChatStore, G: Send + Sync + 'static>(api: Arc<Api<S, G>>) -> Router {
    build(api, function_routes::GIOSG_WEBHOOKS, None, deliveries)
}

/// `operator-api`'s router: export and erasure, for callers API Gateway authorized with IAM.
pub fn operator_api<S: OperatorStore, G: Send + Sync + 'static>(api: Arc<Api<S, G>>) -> Router {
    let access = Some(OperatorAccess::AwsIam);
    build(api, function_routes::OPERATOR_API, access, operations)
}

/// Every frontend and webhook route on one router (the operator routes answer `404`): tests.
pub fn all_routes<S: ChatStore, G: GiosgPort>(api: Arc<Api<S, G>>) -> Router {
    build(api, RouteKind::ALL, None, |kind| match kind {
        RouteKind::StartChat => Some(post(chats::start::<S, G>)),
        RouteKind::Availability => Some(get(chats::availability::<S, G>)),
        RouteKind::SendMessage => Some(post(messages::send::<S, G>)),
        _ => reads(kind).or_else(|| deliveries(kind)),
    })
}

/// Every route on one router, the operator routes only with `operator` access (else `404`):
/// the local runner.
pub fn local_routes<S: OperatorStore, G: GiosgPort>(
    api: Arc<Api<S, G>>,
    operator: Option<OperatorAccess>,
) -> Router {
    build(api, RouteKind::ALL, operator, |kind| match kind {
        RouteKind::StartChat => Some(post(chats::start::<S, G>)),
        RouteKind::Availability => Some(get(chats::availability::<S, G>)),
        RouteKind::SendMessage => Some(post(messages::send::<S, G>)),
        _ => reads(kind)
            .or_else(|| deliveries(kind))
            .or_else(|| operations(kind)),
    })
}

/// The router of a function by its crate name, as the functions build it (for tests and the
/// benchmark's experiment functions).
pub fn function_router<S: ChatStore, G: GiosgPort>(
    function: &str,
    api: Arc<Api<S, G>>,
) -> Option<Router> {
    Some(match function {
        "start-chat" => start_chat(api),
        "send-message" => send_message(api),
        "chat-history" => chat_history(api),
        "giosg-webhooks" => giosg_webhooks(api),
        _ => return None,
    })
}

fn reads<S: ChatStore, G: Send + Sync + 'static>(kind: RouteKind) -> Option<Routes<S, G>> {
    match kind {
        RouteKind::ListChats => Some(get(chats::list::<S, G>)),
        RouteKind::GetChat => Some(get(chats::get::<S, G>)),
        RouteKind::History => Some(get(messages::history::<S, G>)),
        _ => None,
    }
}

fn deliveries<S: ChatStore, G: Send + Sync + 'static>(kind: RouteKind) -> Option<Routes<S, G>> {
    match kind {
        RouteKind::ChatWebhook => Some(post(webhooks::receive_chat::<S, G>)),
        RouteKind::MessageWebhook => Some(post(webhooks::receive_message::<S, G>)),
        _ => None,
    }
}

fn operations<S: OperatorStore, G: Send + Sync + 'static>(kind: RouteKind) -> Option<Routes<S, G>> {
    match kind {
        RouteKind::ExportChat => Some(get(admin::export_chat::<S, G>)),
        RouteKind::EraseChat => Some(delete(admin::erase_chat::<S, G>)),
        RouteKind::ErasePerson => Some(delete(admin::erase_person::<S, G>)),
        _ => None,
    }
}

/// A router with every route of [`RouteKind::ALL`]: `serves` answered by `handler` (the
/// operator routes only with `operator` access), the others `404`; an unknown path `404`, a
/// known path with another method `405`, all in the error shape. CORS covers the `/v1` routes
/// only (Giosg and operators are not browsers); the body limit is the API's or the webhooks';
/// the operator routes check the operator's credentials first; the request log (with the
/// request's metrics) and the deadline cover everything.
fn build<S, G>(
    api: Arc<Api<S, G>>,
    serves: &'static [RouteKind],
    operator: Option<OperatorAccess>,
    handler: impl Fn(RouteKind) -> Option<Routes<S, G>>,
) -> Router
where
    S: ChatStore,
    G: Send + Sync + 'static,
{
    let mut frontend = Router::new();
    let mut webhooks = Router::new();
    let mut operators = Router::new();
    let mut paths: Vec<&'static str> = RouteKind::ALL.iter().map(|kind| kind.path()).collect();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        let kinds: Vec<RouteKind> = RouteKind::ALL
            .iter()
            .copied()
            .filter(|kind| kind.path() == path)
            .collect();
        let mut routes: Routes<S, G> = MethodRouter::new();
        for kind in &kinds {
            let served = serves.contains(kind) && (!kind.is_operator() || operator.is_some());
            let route = if served {
                handler(*kind).unwrap_or_else(|| panic!("no handler for {}", kind.template()))
            } else {
                let filter = MethodFilter::try_from(kind.method()).expect("GET, POST or DELETE");
                on(filter, not_found)
            };
            routes = routes.merge(route);
        }
        let routes = routes.fallback(method_not_allowed);
        if kinds.iter().all(|kind| kind.is_webhook()) {
            webhooks = webhooks.route(path, routes);
        } else if kinds.iter().all(|kind| kind.is_operator()) {
            operators = operators.route(path, routes);
        } else {
            frontend = frontend.route(path, routes);
        }
    }
    let operators = match operator {
        Some(access) => operators.layer(axum::middleware::from_fn(move |request, next| {
            admin::require_operator(access.clone(), request, next)
        })),
        None => operators,
    }
    .layer(axum::middleware::from_fn(layers::limit_api_body));
    let frontend = frontend
        .fallback(not_found)
        .layer(axum::middleware::from_fn(layers::limit_api_body))
        .layer(layers::cors(&api.allowed_origins));
    let webhooks = webhooks.layer(axum::middleware::from_fn(layers::limit_webhook_body));
    let metrics = api.metrics().clone();
    frontend
        .merge(webhooks)
        .merge(operators)
        .layer(axum::middleware::from_fn(layers::answer_before_deadline))
        .layer(axum::middleware::from_fn(move |request, next| {
            layers::log_request(serves, metrics.clone(), request, next)
        }))
        .with_state(api)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
