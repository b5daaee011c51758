//! `POST /v1/chats`, `GET /v1/chats`, `GET /v1/chats/{chat_id}`.

use chrono::Utc;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{
    ApiError, ApiRequest, ApiResponse, App, json_body, json_response, optional_visitor_token,
    require_visitor,
};
use crate::domain::EventAction;
use crate::domain::chat::{Chat, ChatEvent, ChatOwner, ChatRecord};
use crate::domain::visitor::{GiosgCredentials, SealedCredentials, VisitorRecord, VisitorToken};
use crate::domain::{ChatId, ChatResource, Field};
use crate::giosg::{GiosgClient, GiosgError, VisitorSession};
use crate::store::ChatStore;

/// Longest accepted visitor name, in characters.
pub const MAX_VISITOR_NAME_CHARS: usize = 100;

#[derive(Deserialize)]
struct StartChatBody {
    visitor_name: Option<String>,
}

#[derive(Serialize)]
struct ChatBody {
    chat: Chat,
    #[serde(skip_serializing_if = "Option::is_none")]
    visitor_token: Option<String>,
}

#[derive(Serialize)]
struct ChatsBody {
    chats: Vec<Chat>,
}

pub(super) async fn start<S: ChatStore>(
    app: &App<S>,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let token = optional_visitor_token(request)?;
    let body: StartChatBody = json_body(request)?;
    let name = validate_name(body.visitor_name)?;
    match token {
        None => start_for_new_visitor(app, name).await,
        Some(token) => start_for_returning_visitor(app, token, name).await,
    }
}

fn validate_name(name: Option<String>) -> Result<String, ApiError> {
    let name = name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("visitor_name is required and must not be empty."))?;
    if name.chars().count() > MAX_VISITOR_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "visitor_name must be at most {MAX_VISITOR_NAME_CHARS} characters."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "visitor_name must not contain control characters.",
        ));
    }
    Ok(name)
}

async fn start_for_new_visitor<S: ChatStore>(
    app: &App<S>,
    name: String,
) -> Result<ApiResponse, ApiError> {
    app.ensure_agents_online().await?;
    let giosg = app.giosg().await;
    let mut session = giosg.authenticate_visitor(None).await?;
    giosg.join_room(&mut session).await?;
    giosg.set_username(session.visitor_id(), &name).await?;
    let resource = start_giosg_chat(app, &giosg, &mut session).await?;
    let chat_id = chat_id_of(&resource)?;
    let token = VisitorToken::generate();
    let visitor = VisitorRecord {
        key: token.key(),
        giosg_visitor_id: session.visitor_id().clone(),
        credentials: seal(&session, &token),
        name: name.clone(),
        latest_chat_id: Some(chat_id.clone()),
        created_at: Utc::now(),
    };
    let chat = store_started_chat(app, &visitor, &chat_id, resource).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &ChatBody {
            chat: chat.view(),
            visitor_token: Some(token.expose().to_owned()),
        },
    ))
}

async fn start_for_returning_visitor<S: ChatStore>(
    app: &App<S>,
    token: VisitorToken,
    name: String,
) -> Result<ApiResponse, ApiError> {
    let key = token.key();
    let mut visitor = require_visitor(app.store.get_visitor(&key).await?)?;
    let giosg = app.giosg().await;
    if let Some(open) = latest_open_chat(app, &visitor).await? {
        if visitor.name != name {
            giosg.set_username(&visitor.giosg_visitor_id, &name).await?;
            visitor.name = name;
            app.store.put_visitor(&visitor).await?;
        }
        return Ok(json_response(
            StatusCode::OK,
            &ChatBody {
                chat: open.view(),
                visitor_token: None,
            },
        ));
    }
    app.ensure_agents_online().await?;
    let mut session = session_of(&visitor, &token)?;
    giosg.join_room(&mut session).await?;
    let rebound = session.visitor_id() != &visitor.giosg_visitor_id;
    if rebound || visitor.name != name {
        giosg.set_username(session.visitor_id(), &name).await?;
    }
    let resource = start_giosg_chat(app, &giosg, &mut session).await?;
    let chat_id = chat_id_of(&resource)?;
    visitor.giosg_visitor_id = session.visitor_id().clone();
    if session.take_changed() {
        visitor.credentials = seal(&session, &token);
    }
    visitor.name = name.clone();
    visitor.latest_chat_id = Some(chat_id.clone());
    let chat = store_started_chat(app, &visitor, &chat_id, resource).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &ChatBody {
            chat: chat.view(),
            visitor_token: None,
        },
    ))
}

/// The visitor's latest chat if it is still open (to resume instead of opening a second one).
async fn latest_open_chat<S: ChatStore>(
    app: &App<S>,
    visitor: &VisitorRecord,
) -> Result<Option<ChatRecord>, ApiError> {
    let Some(chat_id) = &visitor.latest_chat_id else {
        return Ok(None);
    };
    Ok(app
        .store
        .get_chat(chat_id)
        .await?
        .filter(|chat| chat.is_visible_to(&visitor.key) && chat.is_ended.is_unset()))
}

async fn start_giosg_chat<S: ChatStore>(
    app: &App<S>,
    giosg: &GiosgClient,
    session: &mut VisitorSession,
) -> Result<ChatResource, ApiError> {
    giosg.start_chat(session).await.map_err(|error| {
        // Giosg refuses a chat in a room with nobody online with a 4xx (giosg-api.md #7).
        if error.is_refused() && matches!(error.status(), Some(400 | 403 | 409)) {
            if app.settings.allow_offline_chats {
                tracing::warn!(%error, "Giosg refused to start a chat although offline chats are allowed");
            }
            ApiError::AgentsOffline
        } else {
            ApiError::from(error)
        }
    })
}

fn chat_id_of(resource: &ChatResource) -> Result<ChatId, ApiError> {
    resource.id.clone().ok_or_else(|| {
        ApiError::from(GiosgError::InvalidResponse {
            endpoint: "start_chat",
            reason: "the chat has no id".into(),
        })
    })
}

/// Stores Giosg's answer as the chat's first snapshot, owned by the visitor (folded with
/// whatever webhooks got there first), together with the visitor.
async fn store_started_chat<S: ChatStore>(
    app: &App<S>,
    visitor: &VisitorRecord,
    chat_id: &ChatId,
    mut resource: ChatResource,
) -> Result<ChatRecord, ApiError> {
    if resource.room_id.is_absent() {
        resource.room_id = Field::Value(app.settings.room_id.clone());
    }
    let event = ChatEvent {
        action: EventAction::Added,
        resource: Some(resource),
        owner: Some(ChatOwner {
            visitor: visitor.key.clone(),
            visitor_name: visitor.name.clone(),
        }),
    };
    Ok(app
        .store
        .record_started_chat(visitor, chat_id, &event, &app.store_context)
        .await?)
}

pub(super) fn session_of(
    visitor: &VisitorRecord,
    token: &VisitorToken,
) -> Result<VisitorSession, ApiError> {
    let credentials = visitor
        .credentials
        .open(token)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(VisitorSession::from_parts(
        visitor.giosg_visitor_id.clone(),
        credentials.visitor_secret_id,
        credentials.access_token,
        credentials.access_token_expires_at,
    ))
}

pub(super) fn seal(session: &VisitorSession, token: &VisitorToken) -> SealedCredentials {
    SealedCredentials::seal(
        &GiosgCredentials {
            visitor_secret_id: session.visitor_secret_id().clone(),
            access_token: session.access_token().clone(),
            access_token_expires_at: session.expires_at(),
        },
        token,
    )
}

pub(super) async fn list<S: ChatStore>(
    app: &App<S>,
    token: &VisitorToken,
) -> Result<ApiResponse, ApiError> {
    let key = token.key();
    require_visitor(app.store.get_visitor(&key).await?)?;
    let chats = app
        .store
        .visitor_chats(&key)
        .await?
        .into_iter()
        .filter(|chat| chat.is_visible_to(&key))
        .map(|chat| chat.view())
        .collect();
    Ok(json_response(StatusCode::OK, &ChatsBody { chats }))
}

pub(super) async fn get<S: ChatStore>(
    app: &App<S>,
    token: &VisitorToken,
    chat_id: &ChatId,
) -> Result<ApiResponse, ApiError> {
    let chat = visible_chat(app, token, chat_id).await?;
    Ok(json_response(
        StatusCode::OK,
        &ChatBody {
            chat: chat.view(),
            visitor_token: None,
        },
    ))
}

/// The chat if the token is valid and the chat is the caller's: `unauthorized` for an unknown
/// token, `not_found` for a chat that does not exist or is someone else's. One round trip.
pub(super) async fn visible_chat<S: ChatStore>(
    app: &App<S>,
    token: &VisitorToken,
    chat_id: &ChatId,
) -> Result<ChatRecord, ApiError> {
    let key = token.key();
    let (visitor, chat) = app.store.get_visitor_and_chat(&key, chat_id).await?;
    require_visitor(visitor)?;
    chat.filter(|chat| chat.is_visible_to(&key))
        .ok_or(ApiError::NotFound)
}
