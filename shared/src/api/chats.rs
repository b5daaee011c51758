//! `GET /v1/availability`, `POST /v1/chats`, `GET /v1/chats`, `GET /v1/chats/{chat_id}`.

use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::extract::{
    ChatIdPath, RequestOwner, Source, json_body, optional_visitor_token, visitor_token,
};
use super::{ApiError, State, json_response};
use crate::domain::chat::Chat;
use crate::domain::input::{VisitorName, VisitorRef};
use crate::giosg::GiosgPort;
use crate::identity::IdentityError;
use crate::service::StartChat;
use crate::store::ChatStore;

#[derive(Deserialize)]
struct StartChatBody {
    visitor_name: Option<String>,
    visitor_ref: Option<String>,
    identity_token: Option<String>,
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

pub(super) async fn availability<S: ChatStore, G: GiosgPort>(
    api: State<S, G>,
) -> Result<Response, ApiError> {
    let availability = api.service.availability().await?;
    Ok(json_response(StatusCode::OK, &availability))
}

pub(super) async fn start<S: ChatStore, G: GiosgPort>(
    api: State<S, G>,
    RequestOwner(request_id): RequestOwner,
    Source(source): Source,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = optional_visitor_token(&headers)?;
    let body: StartChatBody = json_body(&headers, &body)?;
    let visitor_ref = VisitorRef::parse(body.visitor_ref)?;
    let command = |name| StartChat {
        token,
        name,
        request_id,
        visitor_ref,
        source,
    };
    let started = match body.identity_token {
        None => {
            let name = VisitorName::parse(body.visitor_name)?;
            api.service.start_chat(command(name)).await?
        }
        Some(identity_token) => {
            // A token that names the person stands in for a missing visitor_name.
            let given = body
                .visitor_name
                .map(|name| VisitorName::parse(Some(name)))
                .transpose()?;
            let verifier = api.identity.as_ref().ok_or(IdentityError::NotConfigured)?;
            let identity = verifier.verify(&identity_token).await?;
            let name = match given.or_else(|| identity.name.clone()) {
                Some(name) => name,
                None => VisitorName::parse(None)?,
            };
            api.service.start_chat_as(command(name), identity).await?
        }
    };
    let status = if started.resumed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json_response(
        status,
        &ChatBody {
            chat: started.chat.view(),
            visitor_token: started.issued_token.map(|t| t.expose().to_owned()),
        },
    ))
}

pub(super) async fn list<S: ChatStore, G: Send + Sync + 'static>(
    api: State<S, G>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = visitor_token(&headers)?;
    let chats = api.service.list_chats(&token).await?;
    let chats = chats.iter().map(|chat| chat.view()).collect();
    Ok(json_response(StatusCode::OK, &ChatsBody { chats }))
}

pub(super) async fn get<S: ChatStore, G: Send + Sync + 'static>(
    api: State<S, G>,
    ChatIdPath(chat_id): ChatIdPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = visitor_token(&headers)?;
    let chat = api.service.get_chat(&token, &chat_id).await?;
    Ok(json_response(
        StatusCode::OK,
        &ChatBody {
            chat: chat.view(),
            visitor_token: None,
        },
    ))
}
