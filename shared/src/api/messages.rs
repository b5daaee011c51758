//! `POST /v1/chats/{chat_id}/messages` and `GET /v1/chats/{chat_id}/messages`.

use std::time::Duration;

use chrono::Utc;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::chats::{seal, session_of, visible_chat};
use super::{
    ApiError, ApiRequest, ApiResponse, App, json_body, json_response, require_visitor,
    visitor_token,
};
use crate::domain::EventAction;
use crate::domain::chat::{Chat, ChatEvent};
use crate::domain::cursor::{Cursor, PageRequest};
use crate::domain::message::{Message, MessageEvent};
use crate::domain::{ChatId, ChatResource, Field, GiosgTime};
use crate::giosg::GiosgError;
use crate::store::{ChatStore, Reservation, SendState, SentMessage};

/// Longest message, in Unicode code points (Giosg's limit).
pub const MAX_TEXT_CHARS: usize = 2000;
/// Longest `client_message_id` / `Idempotency-Key`.
pub const MAX_CLIENT_MESSAGE_ID_CHARS: usize = 64;
/// After this long an in-flight send whose sender never finished may be retried.
pub const SEND_CLAIM_STALE_AFTER: Duration = Duration::from_secs(60);
pub const DEFAULT_PAGE_LIMIT: usize = 50;
pub const MAX_PAGE_LIMIT: usize = 100;

#[derive(Deserialize)]
struct SendBody {
    text: Option<String>,
    client_message_id: Option<String>,
}

#[derive(Serialize)]
struct MessageBody {
    message: Message,
}

#[derive(Serialize)]
struct HistoryBody {
    chat: Chat,
    messages: Vec<Message>,
    next_cursor: String,
    prev_cursor: Option<String>,
}

pub(super) async fn send<S: ChatStore>(
    app: &App<S>,
    request: &ApiRequest,
    chat_id: &ChatId,
) -> Result<ApiResponse, ApiError> {
    let token = visitor_token(request)?;
    let body: SendBody = json_body(request)?;
    let text = validate_text(body.text)?;
    let idempotency_key = idempotency_key(request, body.client_message_id)?;
    let key = token.key();

    let context = app
        .store
        .send_context(&key, chat_id, idempotency_key.as_deref())
        .await?;
    let mut visitor = require_visitor(context.visitor)?;
    let chat = context
        .chat
        .filter(|chat| chat.is_visible_to(&key))
        .ok_or(ApiError::NotFound)?;
    if let Some(SendState::Sent { message_id }) = &context.key_state {
        return replay(app, chat_id, message_id).await;
    }
    if chat.is_ended.is_set() {
        return Err(ApiError::ChatEnded);
    }
    if let Some(idempotency_key) = &idempotency_key {
        match app
            .store
            .reserve_send(chat_id, idempotency_key, SEND_CLAIM_STALE_AFTER)
            .await?
        {
            Reservation::Reserved => {}
            Reservation::Taken(SendState::Sent { message_id }) => {
                return replay(app, chat_id, &message_id).await;
            }
            Reservation::Taken(SendState::InFlight { .. }) => {
                return Err(ApiError::SendInProgress);
            }
        }
    }

    let mut session = session_of(&visitor, &token)?;
    let mut resource = match app
        .giosg()
        .await
        .send_message(&mut session, chat_id, &text)
        .await
    {
        Ok(resource) => resource,
        Err(error) => {
            if let Some(idempotency_key) = &idempotency_key
                && let Err(release_error) = app.store.release_send(chat_id, idempotency_key).await
            {
                tracing::warn!(error = %release_error, "could not release a send claim");
            }
            // A refreshed token (or a visitor Giosg replaced) is still worth keeping.
            if session.take_changed() {
                visitor.giosg_visitor_id = session.visitor_id().clone();
                visitor.credentials = seal(&session, &token);
                if let Err(store_error) = app.store.put_visitor(&visitor).await {
                    tracing::warn!(error = %store_error, "could not save a refreshed Giosg session");
                }
            }
            let refusal = send_error(error);
            if matches!(refusal, ApiError::ChatEnded) {
                mark_ended(app, chat_id).await;
            }
            return Err(refusal);
        }
    };
    let message_id = resource.id.clone().ok_or_else(|| {
        ApiError::from(GiosgError::InvalidResponse {
            endpoint: "send_message",
            reason: "the message has no id".into(),
        })
    })?;
    // Giosg's answer is about our chat in our room even where it leaves that unsaid.
    if resource.room_id.is_absent() {
        resource.room_id = Field::Value(app.settings.room_id.clone());
    }
    if resource.chat_id.is_absent() {
        resource.chat_id = Field::Value(chat_id.clone());
    }
    let visitor_update = session.take_changed().then(|| {
        visitor.giosg_visitor_id = session.visitor_id().clone();
        visitor.credentials = seal(&session, &token);
        visitor
    });
    let record = app
        .store
        .record_sent_message(
            &SentMessage {
                chat_id: chat_id.clone(),
                message_id,
                event: MessageEvent {
                    action: EventAction::Added,
                    resource: Some(resource),
                    client_message_id: idempotency_key.clone(),
                },
                idempotency_key,
                visitor: visitor_update,
            },
            &app.store_context,
        )
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &MessageBody {
            message: record.view(),
        },
    ))
}

/// The first answer for an idempotency key that was already used: `200` with the message.
async fn replay<S: ChatStore>(
    app: &App<S>,
    chat_id: &ChatId,
    message_id: &crate::domain::MessageId,
) -> Result<ApiResponse, ApiError> {
    let record = app
        .store
        .get_message(chat_id, message_id)
        .await?
        .ok_or_else(|| ApiError::Internal("a sent idempotency key names no message".into()))?;
    Ok(json_response(
        StatusCode::OK,
        &MessageBody {
            message: record.view(),
        },
    ))
}

/// Records that Giosg no longer takes messages in a chat our copy thought open (its "ended"
/// webhook is late or was lost), so that the visitor is offered a new chat instead of resuming
/// this one. The real webhook, when it comes, only adds Giosg's own `ended_at`.
async fn mark_ended<S: ChatStore>(app: &App<S>, chat_id: &ChatId) {
    let event = ChatEvent {
        action: EventAction::Changed,
        resource: Some(ChatResource {
            is_ended: Field::Value(true),
            ended_at: Field::Value(GiosgTime::from(Utc::now())),
            ..ChatResource::default()
        }),
        owner: None,
    };
    if let Err(error) = app
        .store
        .apply_chat_event(chat_id, &event, &app.store_context)
        .await
    {
        tracing::warn!(%error, "could not record that Giosg refused a message as ended");
    }
}

fn send_error(error: GiosgError) -> ApiError {
    if let GiosgError::VisitorReplaced { .. } = error {
        // Giosg no longer knows the visitor who owns this chat: only a new chat can go on.
        tracing::warn!(%error, "Giosg replaced the visitor of a chat");
        return ApiError::ChatEnded;
    }
    match error.status() {
        // Giosg locks an ended chat; our copy had not heard of the end yet.
        Some(403 | 409 | 410 | 423) if error.is_refused() => ApiError::ChatEnded,
        Some(404) if error.is_refused() => ApiError::NotFound,
        Some(400) if error.is_refused() => ApiError::invalid("Giosg refused the message text."),
        _ => ApiError::from(error),
    }
}

fn validate_text(text: Option<String>) -> Result<String, ApiError> {
    let text = text.ok_or_else(|| ApiError::invalid("text is required."))?;
    if text.trim().is_empty() {
        return Err(ApiError::invalid("text must not be empty."));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::PayloadTooLarge(format!(
            "text must be at most {MAX_TEXT_CHARS} characters."
        )));
    }
    Ok(text)
}

/// `client_message_id` from the body, or the `Idempotency-Key` header; both must agree.
fn idempotency_key(
    request: &ApiRequest,
    from_body: Option<String>,
) -> Result<Option<String>, ApiError> {
    let from_header = match request.headers().get("idempotency-key") {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::invalid("Idempotency-Key must be printable text."))?
                .to_owned(),
        ),
        None => None,
    };
    let key = match (from_body, from_header) {
        (Some(body), Some(header)) if body != header => {
            return Err(ApiError::invalid(
                "client_message_id and the Idempotency-Key header differ; send one of them.",
            ));
        }
        (Some(key), _) | (None, Some(key)) => key,
        (None, None) => return Ok(None),
    };
    let length = key.chars().count();
    if length == 0 || length > MAX_CLIENT_MESSAGE_ID_CHARS || key.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "client_message_id must be 1 to {MAX_CLIENT_MESSAGE_ID_CHARS} characters without control characters."
        )));
    }
    Ok(Some(key))
}

pub(super) async fn history<S: ChatStore>(
    app: &App<S>,
    request: &ApiRequest,
    chat_id: &ChatId,
) -> Result<ApiResponse, ApiError> {
    let page_request = parse_page_request(request.uri().query().unwrap_or(""))?;
    let token = visitor_token(request)?;
    let chat = visible_chat(app, &token, chat_id).await?;
    let page = app.store.history_page(chat_id, &page_request).await?;

    let cursor_of = |index: usize| {
        page.messages
            .get(index)
            .and_then(|m| m.order_key())
            .map(|key| Cursor::at(key).encode())
    };
    let last = page.messages.len().checked_sub(1).and_then(cursor_of);
    let next_cursor = last.unwrap_or_else(|| match &page_request {
        PageRequest::After { cursor, .. } | PageRequest::Before { cursor, .. } => cursor.encode(),
        PageRequest::Latest { .. } => Cursor::start().encode(),
    });
    let prev_cursor = if !page.has_older {
        None
    } else if page.messages.is_empty() {
        match &page_request {
            PageRequest::After { cursor, .. } => Some(cursor.encode()),
            _ => None,
        }
    } else {
        cursor_of(0)
    };
    Ok(json_response(
        StatusCode::OK,
        &HistoryBody {
            chat: chat.view(),
            messages: page.messages.iter().map(|m| m.view()).collect(),
            next_cursor,
            prev_cursor,
        },
    ))
}

fn parse_page_request(query: &str) -> Result<PageRequest, ApiError> {
    let mut after = None;
    let mut before = None;
    let mut limit = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match name.as_ref() {
            "after" => &mut after,
            "before" => &mut before,
            "limit" => &mut limit,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(ApiError::invalid(format!(
                "{name} is given more than once."
            )));
        }
    }
    let limit = match limit {
        None => DEFAULT_PAGE_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "limit must be a whole number from 1 to {MAX_PAGE_LIMIT}."
                ))
            })?,
    };
    let cursor = |name: &str, raw: String| {
        Cursor::decode(&raw)
            .map_err(|_| ApiError::invalid(format!("{name} is not a valid cursor.")))
    };
    match (after, before) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "after and before cannot be used together.",
        )),
        (Some(raw), None) => Ok(PageRequest::After {
            cursor: cursor("after", raw)?,
            limit,
        }),
        (None, Some(raw)) => Ok(PageRequest::Before {
            cursor: cursor("before", raw)?,
            limit,
        }),
        (None, None) => Ok(PageRequest::Latest { limit }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_requests_are_validated() {
        assert_eq!(
            parse_page_request("").unwrap(),
            PageRequest::Latest { limit: 50 }
        );
        assert!(parse_page_request("limit=0").is_err());
        assert!(parse_page_request("limit=101").is_err());
        assert!(parse_page_request("limit=abc").is_err());
        assert_eq!(
            parse_page_request("limit=100").unwrap(),
            PageRequest::Latest { limit: 100 }
        );
        let start = Cursor::start().encode();
        assert!(parse_page_request(&format!("after={start}&before={start}")).is_err());
        assert!(parse_page_request("after=garbage").is_err());
        assert!(parse_page_request(&format!("after={start}")).is_ok());
    }

    #[test]
    fn text_limits_count_code_points() {
        assert!(validate_text(Some("é".repeat(2000))).is_ok());
        assert!(matches!(
            validate_text(Some("é".repeat(2001))),
            Err(ApiError::PayloadTooLarge(_))
        ));
        assert!(matches!(
            validate_text(Some(" \n\t".into())),
            Err(ApiError::InvalidRequest(_))
        ));
        assert!(matches!(
            validate_text(None),
            Err(ApiError::InvalidRequest(_))
        ));
    }
}
