//! The Giosg HTTP API (giosg-api.md §2): visitor endpoints with `Bearer` tokens and organization
//! endpoints with the `Token` API token, behind the middleware that applies injected faults
//! and delays and logs every call.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;

use crate::app::App;
use crate::config::Behaviour;
use crate::error::ApiError;
use crate::extract::{JsonBody, OrgAuth, VisitorAuth};
use crate::pagination::{PageRequest, SortKey, paginate};
use crate::paths;
use crate::resources::{
    ChatResource, MembershipResource, MessageResource, OnlineUserResource, Page,
};
use crate::traffic::{Endpoint, RequestRecord};

const REQUIRED: &str = "This field is required.";
const BLANK: &str = "This field may not be blank.";

pub(crate) fn routes(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route(paths::VISITOR_AUTH, post(visitor_auth))
        .route(paths::ROOM_VISITORS, post(join_room))
        .route(paths::ROOM_VISITOR, patch(refresh_presence))
        .route(paths::VISITOR_VARIABLES, post(set_variable))
        .route(paths::ROOM, get(room))
        .route(paths::ONLINE_USERS, get(online_users))
        .route(paths::START_CHAT, post(start_chat))
        .route(
            paths::VISITOR_MESSAGES,
            post(send_message).get(visitor_messages),
        )
        .route(paths::MEMBERSHIPS, get(memberships))
        .route(paths::OWNED_CHAT_MESSAGES, get(owned_chat_messages))
        .route(paths::OWNED_CHAT, get(owned_chat))
        .route(paths::VISITOR_CHATS, get(visitor_chats))
        .route(paths::VISITOR_CHAT, get(visitor_chat).patch(end_chat))
        .route_layer(from_fn_with_state(app, giosg_traffic))
}

/// Middleware on every Giosg route: applies delays and faults, then logs the call and its status.
async fn giosg_traffic(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|matched| Endpoint::resolve(request.method(), matched.as_str()));
    let Some(endpoint) = endpoint else {
        return next.run(request).await;
    };
    let method = request.method().to_string();
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    let at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (fault, delay) = app.traffic().take(endpoint);
    if let Some(delay_ms) = delay {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    let response = match fault {
        Some(fault) => {
            if fault.after_effect {
                // Giosg acted; only its answer is lost.
                let acted = next.run(request).await;
                tracing::info!(%endpoint, status = %acted.status(), "call carried out before the injected fault");
            }
            if let Some(delay_ms) = fault.delay_ms {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
            tracing::info!(%endpoint, status = fault.status, "injected fault");
            ApiError::Fault {
                status: StatusCode::from_u16(fault.status)
                    .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                retry_after: fault.retry_after,
            }
            .into_response()
        }
        None => next.run(request).await,
    };
    let status = response.status().as_u16();
    tracing::debug!(%endpoint, %method, %path, status, "giosg api call");
    app.traffic().record(RequestRecord {
        endpoint,
        method,
        path,
        status,
        at,
    });
    response
}

/// 404 unless `org` is the simulated organization.
fn check_org(app: &App, org: &str) -> Result<(), ApiError> {
    if org == app.config.org_id {
        Ok(())
    } else {
        Err(ApiError::NotFound("Not found.".to_owned()))
    }
}

/// 403 unless the `{vid}` of the path is the token's visitor.
fn check_visitor(auth: &VisitorAuth, vid: &str) -> Result<(), ApiError> {
    if auth.visitor_id == vid {
        Ok(())
    } else {
        Err(ApiError::not_your_visitor())
    }
}

/// One page of a collection, its links written as the current behaviour says.
fn page_of<T>(
    app: &App,
    items: Vec<(SortKey, T)>,
    request: &PageRequest,
) -> Result<Json<Page<T>>, ApiError> {
    let links = app.state().behaviour.next_links;
    Ok(Json(paginate(items, request, app.config.page_size, links)?))
}

#[derive(Debug, Deserialize)]
struct VisitorAuthBody {
    #[serde(default)]
    visitor_secret_id: Option<String>,
}

async fn visitor_auth(
    State(app): State<Arc<App>>,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<VisitorAuthBody>,
) -> Result<Response, ApiError> {
    check_org(&app, &org)?;
    let (resource, status) = app.giosg(|state| {
        let outcome = state.authenticate_visitor(body.visitor_secret_id.as_deref())?;
        let status = if outcome.created {
            state.behaviour.auth_status
        } else {
            state.behaviour.auth_returning_status
        };
        Ok((outcome.resource, status))
    })?;
    Ok((Behaviour::status(status), Json(resource)).into_response())
}

#[derive(Debug, Deserialize)]
struct JoinRoomBody {
    id: Option<String>,
    presence_expires_in: Option<u64>,
}

async fn join_room(
    State(app): State<Arc<App>>,
    auth: VisitorAuth,
    Path((org, room)): Path<(String, String)>,
    JsonBody(body): JsonBody<JoinRoomBody>,
) -> Result<Response, ApiError> {
    check_org(&app, &org)?;
    let id = body.id.ok_or_else(|| ApiError::invalid("id", REQUIRED))?;
    check_visitor(&auth, &id)?;
    let (resource, created) =
        app.giosg(|state| state.join_room(&id, &room, body.presence_expires_in))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(resource)).into_response())
}

#[derive(Debug, Deserialize)]
struct PresenceBody {
    presence_expires_in: Option<u64>,
}

async fn refresh_presence(
    State(app): State<Arc<App>>,
    auth: VisitorAuth,
    Path((org, room, vid)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<PresenceBody>,
) -> Result<Response, ApiError> {
    check_org(&app, &org)?;
    check_visitor(&auth, &vid)?;
    let resource =
        app.giosg(|state| state.refresh_presence(&vid, &room, body.presence_expires_in))?;
    Ok(Json(resource).into_response())
}

#[derive(Debug, Deserialize)]
struct VariableBody {
    key: Option<String>,
    value: Option<String>,
}

async fn set_variable(
    State(app): State<Arc<App>>,
    _auth: OrgAuth,
    Path((org, room, vid)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<VariableBody>,
) -> Result<Response, ApiError> {
    check_org(&app, &org)?;
    let key = match body.key {
        None => return Err(ApiError::invalid("key", REQUIRED)),
        Some(key) if key.trim().is_empty() => return Err(ApiError::invalid("key", BLANK)),
        Some(key) => key,
    };
    let value = body
        .value
        .ok_or_else(|| ApiError::invalid("value", REQUIRED))?;
    let resource = app.giosg(|state| state.set_variable(&vid, &room, key, value))?;
    Ok((StatusCode::CREATED, Json(resource)).into_response())
}

async fn room(
    State(app): State<Arc<App>>,
    _auth: VisitorAuth,
    Path((org, room)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_org(&app, &org)?;
    let resource = app.giosg(|state| state.room_resource(&room))?;
    Ok(Json(resource).into_response())
}

async fn online_users(
    State(app): State<Arc<App>>,
    _auth: VisitorAuth,
    Path((org, room)): Path<(String, String)>,
    page: PageRequest,
) -> Result<Json<Page<OnlineUserResource>>, ApiError> {
    check_org(&app, &org)?;
    let users = app.giosg(|state| state.online_users(&room))?;
    page_of(&app, users, &page)
}

async fn start_chat(
    State(app): State<Arc<App>>,
    auth: VisitorAuth,
    Path((org, room, vid)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    check_org(&app, &org)?;
    check_visitor(&auth, &vid)?;
    let (chat, status) = app.giosg(|state| {
        let chat = state.start_chat(&vid, &room)?;
        Ok((chat, state.behaviour.start_chat_status))
    })?;
    Ok((Behaviour::status(status), Json(chat)).into_response())
}

#[derive(Debug, Deserialize)]
struct SendMessageBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

async fn send_message(
    State(app): State<Arc<App>>,
    auth: VisitorAuth,
    Path((vid, chat)): Path<(String, String)>,
    JsonBody(body): JsonBody<SendMessageBody>,
) -> Result<Response, ApiError> {
    check_visitor(&auth, &vid)?;
    if let Some(kind) = body.kind.as_deref().filter(|kind| *kind != "msg") {
        return Err(ApiError::invalid(
            "type",
            format!("\"{kind}\" is not a valid choice."),
        ));
    }
    let text = match body.message {
        None => return Err(ApiError::invalid("message", REQUIRED)),
        Some(text) if text.trim().is_empty() => return Err(ApiError::invalid("message", BLANK)),
        Some(text) => text,
    };
    let (message, status) = app.giosg(|state| {
        let message = state.visitor_message(&vid, &chat, &text)?;
        Ok((message, state.behaviour.send_message_status))
    })?;
    Ok((Behaviour::status(status), Json(message)).into_response())
}

async fn visitor_chats(
    State(app): State<Arc<App>>,
    auth: VisitorAuth,
    Path(vid): Path<String>,
    page: PageRequest,
) -> Result<Json<Page<ChatResource>>, ApiError> {
    check_visitor(&auth, &vid)?;
    let chats = app.state().visitor_chats(&vid);
    page_of(&app, chats, &page)
}

async fn visitor_chat(
    State(app): State<Arc<App>>,
    auth: VisitorAuth,
    Path((vid, chat)): Path<(String, String)>,
) -> Result<Json<ChatResource>, ApiError> {
    check_visitor(&auth, &vid)?;
    Ok(Json(app.giosg(|state| state.visitor_chat(&vid, &chat))?))
}

async fn visitor_messages(
    State(app): State<Arc<App>>,
    auth: VisitorAuth,
    Path((vid, chat)): Path<(String, String)>,
    page: PageRequest,
) -> Result<Json<Page<MessageResource>>, ApiError> {
    check_visitor(&auth, &vid)?;
    let messages = app.giosg(|state| state.visitor_messages(&vid, &chat))?;
    page_of(&app, messages, &page)
}

#[derive(Debug, Deserialize)]
struct EndChatBody {
    is_ended: Option<bool>,
}

async fn end_chat(
    State(app): State<Arc<App>>,
    auth: VisitorAuth,
    Path((vid, chat)): Path<(String, String)>,
    JsonBody(body): JsonBody<EndChatBody>,
) -> Result<Json<ChatResource>, ApiError> {
    check_visitor(&auth, &vid)?;
    let resource = match body.is_ended {
        Some(true) => app.giosg(|state| state.visitor_end_chat(&vid, &chat))?,
        Some(false) => {
            let resource = app.giosg(|state| state.visitor_chat(&vid, &chat))?;
            if resource.is_ended {
                return Err(ApiError::invalid(
                    "is_ended",
                    "An ended chat cannot be reopened.",
                ));
            }
            resource
        }
        None => app.giosg(|state| state.visitor_chat(&vid, &chat))?,
    };
    Ok(Json(resource))
}

async fn memberships(
    State(app): State<Arc<App>>,
    _auth: OrgAuth,
    Path((org, chat)): Path<(String, String)>,
    page: PageRequest,
) -> Result<Json<Page<MembershipResource>>, ApiError> {
    check_org(&app, &org)?;
    let memberships = app.giosg(|state| state.memberships(&chat))?;
    page_of(&app, memberships, &page)
}

async fn owned_chat(
    State(app): State<Arc<App>>,
    _auth: OrgAuth,
    Path((org, chat)): Path<(String, String)>,
) -> Result<Json<ChatResource>, ApiError> {
    check_org(&app, &org)?;
    Ok(Json(app.giosg(|state| state.owned_chat(&chat))?))
}

async fn owned_chat_messages(
    State(app): State<Arc<App>>,
    _auth: OrgAuth,
    Path((org, chat)): Path<(String, String)>,
    page: PageRequest,
) -> Result<Json<Page<MessageResource>>, ApiError> {
    check_org(&app, &org)?;
    let messages = app.giosg(|state| state.messages(&chat))?;
    page_of(&app, messages, &page)
}
