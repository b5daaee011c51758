//! `POST /v1/chats/{chat_id}/messages` and `GET /v1/chats/{chat_id}/messages`.

use axum::extract::RawQuery;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::extract::{ChatIdPath, RequestOwner, json_body, visitor_token};
use super::{ApiError, State, json_response};
use crate::domain::chat::Chat;
use crate::domain::cursor::{Cursor, PageRequest};
use crate::domain::input::{IdempotencyKey, MessageText};
use crate::domain::message::Message;
use crate::giosg::GiosgPort;
use crate::service::{SendMessage, SendOutcome};
use crate::store::ChatStore;

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

pub(super) async fn send<S: ChatStore, G: GiosgPort>(
    api: State<S, G>,
    ChatIdPath(chat_id): ChatIdPath,
    RequestOwner(request_id): RequestOwner,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = visitor_token(&headers)?;
    let body: SendBody = json_body(&headers, &body)?;
    let text = MessageText::parse(body.text)?;
    let idempotency_key = idempotency_key(&headers, body.client_message_id)?;
    let command = SendMessage {
        token,
        chat_id,
        text,
        idempotency_key,
        request_id,
    };
    let (status, record) = match api.service.send_message(command).await? {
        SendOutcome::Sent(record) => (StatusCode::CREATED, record),
        SendOutcome::Replayed(record) => (StatusCode::OK, record),
    };
    Ok(json_response(
        status,
        &MessageBody {
            message: record.view(),
        },
    ))
}

/// `client_message_id` from the body, or the `Idempotency-Key` header; both must agree.
fn idempotency_key(
    headers: &HeaderMap,
    from_body: Option<String>,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let from_header = match headers.get("idempotency-key") {
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
    Ok(Some(IdempotencyKey::parse(key)?))
}

pub(super) async fn history<S: ChatStore, G: Send + Sync + 'static>(
    api: State<S, G>,
    ChatIdPath(chat_id): ChatIdPath,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let page_request = parse_page_request(query.as_deref().unwrap_or(""))?;
    let token = visitor_token(&headers)?;
    let view = api.service.history(&token, &chat_id, &page_request).await?;
    Ok(json_response(
        StatusCode::OK,
        &HistoryBody {
            chat: view.chat.view(),
            messages: view.messages.iter().map(|m| m.view()).collect(),
            next_cursor: view.next_cursor.encode(),
            prev_cursor: view.prev_cursor.as_ref().map(Cursor::encode),
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
}
