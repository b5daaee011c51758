//! The control API under `/_sim/`: play the agent, inspect state, inject faults, change
//! behaviour. JSON, no auth: it is a test and local-development tool.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use serde_json::{Map, Value};

use crate::app::App;
use crate::config::{Behaviour, Profile};
use crate::control_types::{
    AgentMessageRequest, AgentRequest, ChatDetail, ChatOverview, EditMessageRequest, ExpiredTokens,
    FlushRequest, JoinOutcome, RoomOnlineRequest, SimInfo, VisitorMessageRequest, VisitorOverview,
    WebhookUrls, WidgetChat, WidgetChatRequest,
};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::resources::{ChatResource, MessageResource, RoomResource, to_json};
use crate::state::DEFAULT_AGENT;
use crate::traffic::{ActiveFaults, DelaySpec, FaultSpec, RequestLog};
use crate::webhook_url::{parse_webhook_url, redact_url};
use crate::webhooks::{FlushError, WebhookFaultMode, WebhookFaultSpec, WebhookStatus};

/// How long `POST /_sim/webhooks/flush` waits by default.
const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/_sim/config", get(config))
        .route("/_sim/chats", get(chats))
        .route("/_sim/chats/{chat}", get(chat).delete(delete_chat))
        .route("/_sim/chats/{chat}/join", post(join))
        .route("/_sim/chats/{chat}/messages", post(agent_message))
        .route("/_sim/chats/{chat}/visitor_messages", post(visitor_message))
        .route("/_sim/chats/{chat}/leave", post(leave))
        .route("/_sim/chats/{chat}/end", post(end))
        .route(
            "/_sim/chats/{chat}/messages/{message}",
            patch(edit_message).delete(delete_message),
        )
        .route("/_sim/room", put(set_room))
        .route("/_sim/other_room/chats", post(widget_chat))
        .route("/_sim/visitors", get(visitors))
        .route("/_sim/visitors/{vid}/expire_token", post(expire_token))
        .route(
            "/_sim/faults",
            get(faults).post(add_fault).delete(clear_faults),
        )
        .route("/_sim/delays", post(add_delay))
        .route("/_sim/requests", get(requests).delete(reset_requests))
        .route("/_sim/settings", get(settings).put(update_settings))
        .route("/_sim/settings/profile/{name}", put(apply_profile))
        .route("/_sim/webhooks", get(webhooks).delete(clear_webhook_log))
        .route(
            "/_sim/webhooks/faults",
            post(add_webhook_fault).delete(clear_webhook_faults),
        )
        .route("/_sim/webhooks/pause", post(pause_webhooks))
        .route("/_sim/webhooks/resume", post(resume_webhooks))
        .route("/_sim/webhooks/flush", post(flush_webhooks))
        .route("/_sim/webhooks/urls", put(set_webhook_urls))
}

fn agent_name(requested: Option<String>) -> String {
    requested.unwrap_or_else(|| DEFAULT_AGENT.to_owned())
}

async fn config(State(app): State<Arc<App>>) -> Json<SimInfo> {
    let webhooks = app.dispatcher.status();
    Json(SimInfo {
        base_url: app.base_url.clone(),
        org_id: app.config.org_id.clone(),
        room_id: app.config.room_id.clone(),
        other_room_id: app.config.other_room_id.clone(),
        api_token: app.config.api_token.clone(),
        chat_webhook_url: webhooks.chat_webhook_url,
        message_webhook_url: webhooks.message_webhook_url,
        page_size: app.config.page_size,
        access_token_ttl_secs: app.config.access_token_ttl_secs,
    })
}

async fn chats(State(app): State<Arc<App>>) -> Json<Vec<ChatOverview>> {
    Json(app.state().chat_overviews())
}

async fn chat(
    State(app): State<Arc<App>>,
    Path(chat): Path<String>,
) -> Result<Json<ChatDetail>, ApiError> {
    Ok(Json(app.control(|state| state.chat_detail(&chat))?))
}

async fn delete_chat(
    State(app): State<Arc<App>>,
    Path(chat): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.control(|state| state.delete_chat(&chat))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn join(
    State(app): State<Arc<App>>,
    Path(chat): Path<String>,
    JsonBody(body): JsonBody<AgentRequest>,
) -> Result<Json<JoinOutcome>, ApiError> {
    let name = agent_name(body.agent_name);
    let message = app.control(|state| state.agent_join(&chat, &name))?;
    Ok(Json(JoinOutcome {
        joined: message.is_some(),
        message,
    }))
}

async fn agent_message(
    State(app): State<Arc<App>>,
    Path(chat): Path<String>,
    JsonBody(body): JsonBody<AgentMessageRequest>,
) -> Result<(StatusCode, Json<MessageResource>), ApiError> {
    let message = app.control(|state| state.control_message(&chat, body))?;
    Ok((StatusCode::CREATED, Json(message)))
}

async fn visitor_message(
    State(app): State<Arc<App>>,
    Path(chat): Path<String>,
    JsonBody(body): JsonBody<VisitorMessageRequest>,
) -> Result<(StatusCode, Json<MessageResource>), ApiError> {
    if body.text.trim().is_empty() {
        return Err(ApiError::invalid("text", "This field may not be blank."));
    }
    let message = app.control(|state| state.visitor_message_in_chat(&chat, &body.text))?;
    Ok((StatusCode::CREATED, Json(message)))
}

async fn leave(
    State(app): State<Arc<App>>,
    Path(chat): Path<String>,
    JsonBody(body): JsonBody<AgentRequest>,
) -> Result<Json<MessageResource>, ApiError> {
    let name = agent_name(body.agent_name);
    Ok(Json(app.control(|state| state.agent_leave(&chat, &name))?))
}

async fn end(
    State(app): State<Arc<App>>,
    Path(chat): Path<String>,
) -> Result<Json<ChatResource>, ApiError> {
    Ok(Json(app.control(|state| state.end_chat(&chat))?))
}

async fn edit_message(
    State(app): State<Arc<App>>,
    Path((chat, message)): Path<(String, String)>,
    JsonBody(body): JsonBody<EditMessageRequest>,
) -> Result<Json<MessageResource>, ApiError> {
    let resource = match (body.purge, body.text) {
        (true, None) => app.control(|state| state.purge_message(&chat, &message))?,
        (false, Some(text)) => app.control(|state| state.edit_message(&chat, &message, text))?,
        (true, Some(_)) => {
            return Err(ApiError::invalid(
                "purge",
                "Give either text or purge, not both.",
            ));
        }
        (false, None) => return Err(ApiError::invalid("text", "Give text or purge: true.")),
    };
    Ok(Json(resource))
}

async fn delete_message(
    State(app): State<Arc<App>>,
    Path((chat, message)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.control(|state| state.delete_message(&chat, &message))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_room(
    State(app): State<Arc<App>>,
    JsonBody(body): JsonBody<RoomOnlineRequest>,
) -> Result<Json<RoomResource>, ApiError> {
    let room = body.room_id.unwrap_or_else(|| app.config.room_id.clone());
    let resource = app.control(|state| {
        state.set_room_online(&room, body.online)?;
        state.room_resource(&room)
    })?;
    tracing::info!(room_id = %room, online = body.online, "room availability changed");
    Ok(Json(resource))
}

async fn widget_chat(
    State(app): State<Arc<App>>,
    JsonBody(body): JsonBody<WidgetChatRequest>,
) -> Result<(StatusCode, Json<WidgetChat>), ApiError> {
    let message = body.message.filter(|m| !m.trim().is_empty());
    let (visitor_id, chat) =
        app.control(|state| state.widget_chat(body.visitor_name, message.as_deref()))?;
    Ok((StatusCode::CREATED, Json(WidgetChat { visitor_id, chat })))
}

async fn visitors(State(app): State<Arc<App>>) -> Json<Vec<VisitorOverview>> {
    Json(app.state().visitor_overviews())
}

async fn expire_token(
    State(app): State<Arc<App>>,
    Path(vid): Path<String>,
) -> Result<Json<ExpiredTokens>, ApiError> {
    let expired = app.control(|state| state.expire_visitor_tokens(&vid))?;
    Ok(Json(ExpiredTokens {
        visitor_id: vid,
        expired,
    }))
}

async fn faults(State(app): State<Arc<App>>) -> Json<ActiveFaults> {
    Json(app.traffic().active())
}

async fn add_fault(
    State(app): State<Arc<App>>,
    JsonBody(fault): JsonBody<FaultSpec>,
) -> Result<(StatusCode, Json<ActiveFaults>), ApiError> {
    if !(400..=599).contains(&fault.status) {
        return Err(ApiError::invalid(
            "status",
            "A fault status must be 4xx or 5xx.",
        ));
    }
    let mut traffic = app.traffic();
    traffic.add_fault(fault);
    Ok((StatusCode::CREATED, Json(traffic.active())))
}

async fn add_delay(
    State(app): State<Arc<App>>,
    JsonBody(delay): JsonBody<DelaySpec>,
) -> (StatusCode, Json<ActiveFaults>) {
    let mut traffic = app.traffic();
    traffic.add_delay(delay);
    (StatusCode::CREATED, Json(traffic.active()))
}

async fn clear_faults(State(app): State<Arc<App>>) -> StatusCode {
    app.traffic().clear_faults();
    StatusCode::NO_CONTENT
}

async fn requests(State(app): State<Arc<App>>) -> Json<RequestLog> {
    Json(app.traffic().requests())
}

async fn reset_requests(State(app): State<Arc<App>>) -> StatusCode {
    app.traffic().reset_requests();
    StatusCode::NO_CONTENT
}

async fn settings(State(app): State<Arc<App>>) -> Json<Behaviour> {
    Json(app.state().behaviour.clone())
}

/// Merges the given keys into the current settings; unknown keys or bad values change nothing.
async fn update_settings(
    State(app): State<Arc<App>>,
    JsonBody(changes): JsonBody<Map<String, Value>>,
) -> Result<Json<Behaviour>, ApiError> {
    let mut state = app.state();
    let mut merged = match to_json(&state.behaviour) {
        Value::Object(current) => current,
        _ => Map::new(),
    };
    merged.extend(changes);
    let behaviour: Behaviour = serde_json::from_value(Value::Object(merged))
        .map_err(|error| ApiError::invalid("settings", error.to_string()))?;
    behaviour
        .validate()
        .map_err(|error| ApiError::invalid("settings", error.to_string()))?;
    state.behaviour = behaviour.clone();
    tracing::info!(?behaviour, "settings changed");
    Ok(Json(behaviour))
}

/// Replaces every setting (`room_online` included) with those of the named profile; an unknown
/// name is a 404 naming the valid ones.
async fn apply_profile(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Behaviour>, ApiError> {
    let profile = Profile::parse(&name).map_err(|error| ApiError::NotFound(error.to_string()))?;
    let behaviour = profile.behaviour();
    app.state().behaviour = behaviour.clone();
    tracing::info!(profile = %profile, "settings replaced by a profile");
    Ok(Json(behaviour))
}

async fn webhooks(State(app): State<Arc<App>>) -> Json<WebhookStatus> {
    Json(app.dispatcher.status())
}

async fn clear_webhook_log(State(app): State<Arc<App>>) -> StatusCode {
    app.dispatcher.clear_log();
    StatusCode::NO_CONTENT
}

async fn add_webhook_fault(
    State(app): State<Arc<App>>,
    JsonBody(fault): JsonBody<WebhookFaultSpec>,
) -> Result<(StatusCode, Json<WebhookStatus>), ApiError> {
    if fault.mode == WebhookFaultMode::Delay && fault.delay_ms.is_none() {
        return Err(ApiError::invalid(
            "delay_ms",
            "A delay fault needs delay_ms.",
        ));
    }
    app.dispatcher.add_fault(fault);
    Ok((StatusCode::CREATED, Json(app.dispatcher.status())))
}

async fn clear_webhook_faults(State(app): State<Arc<App>>) -> StatusCode {
    app.dispatcher.clear_faults();
    StatusCode::NO_CONTENT
}

async fn pause_webhooks(State(app): State<Arc<App>>) -> StatusCode {
    app.dispatcher.set_paused(true);
    StatusCode::NO_CONTENT
}

async fn resume_webhooks(State(app): State<Arc<App>>) -> StatusCode {
    app.dispatcher.set_paused(false);
    StatusCode::NO_CONTENT
}

async fn flush_webhooks(
    State(app): State<Arc<App>>,
    JsonBody(body): JsonBody<FlushRequest>,
) -> Result<StatusCode, ApiError> {
    let timeout = body
        .timeout_ms
        .map_or(DEFAULT_FLUSH_TIMEOUT, Duration::from_millis);
    match app.dispatcher.flush(timeout).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(error @ FlushError::Paused) => Err(ApiError::Conflict(error.to_string())),
        Err(error @ FlushError::TimedOut(_)) => Err(ApiError::Status {
            status: StatusCode::GATEWAY_TIMEOUT,
            detail: error.to_string(),
        }),
    }
}

async fn set_webhook_urls(
    State(app): State<Arc<App>>,
    JsonBody(body): JsonBody<WebhookUrls>,
) -> Result<Response, ApiError> {
    let parse = |field: &str, raw: Option<String>| {
        raw.map(|raw| parse_webhook_url(&raw).map_err(|reason| ApiError::invalid(field, reason)))
            .transpose()
    };
    let chat_url = parse("chat_webhook_url", body.chat_webhook_url)?;
    let message_url = parse("message_webhook_url", body.message_webhook_url)?;
    let answer = WebhookUrls {
        chat_webhook_url: chat_url.as_ref().map(redact_url),
        message_webhook_url: message_url.as_ref().map(redact_url),
    };
    app.dispatcher.set_urls(chat_url, message_url);
    Ok(Json(answer).into_response())
}
