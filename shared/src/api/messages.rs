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
use crate::domain::feed::FeedCursor;
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
    let read = parse_read(query.as_deref().unwrap_or(""))?;
    let token = visitor_token(&headers)?;
    let body = match read {
        Read::History(request) => {
            let view = api.service.history(&token, &chat_id, &request).await?;
            HistoryBody {
                chat: view.chat.view(),
                messages: view.messages.iter().map(|m| m.view()).collect(),
                next_cursor: view.next_cursor.encode(),
                prev_cursor: view.prev_cursor.as_ref().map(Cursor::encode),
            }
        }
        Read::Feed { after, limit } => {
            let view = api.service.feed(&token, &chat_id, after, limit).await?;
            HistoryBody {
                chat: view.chat.view(),
                messages: view.messages.iter().map(|m| m.view()).collect(),
                next_cursor: view.next_cursor.encode(),
                // The feed goes forward only; older history pages come from the history view.
                prev_cursor: None,
            }
        }
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// The two reads of `GET /v1/chats/{chat_id}/messages`.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    /// The history view: the newest page, or the one before a `prev_cursor`.
    History(PageRequest),
    /// The sync feed after a `next_cursor`.
    Feed { after: FeedCursor, limit: usize },
}

fn parse_read(query: &str) -> Result<Read, ApiError> {
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
    match (after, before) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "after and before cannot be used together.",
        )),
        (Some(raw), None) => Ok(Read::Feed {
            after: FeedCursor::decode(&raw)
                .map_err(|_| ApiError::invalid("after is not a valid cursor."))?,
            limit,
        }),
        (None, Some(raw)) => Ok(Read::History(PageRequest::Before {
            cursor: Cursor::decode(&raw)
                .map_err(|_| ApiError::invalid("before is not a valid cursor."))?,
            limit,
        })),
        (None, None) => Ok(Read::History(PageRequest::Latest { limit })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_validated() {
        assert_eq!(
            parse_read("").unwrap(),
            Read::History(PageRequest::Latest { limit: 50 })
        );
        assert!(parse_read("limit=0").is_err());
        assert!(parse_read("limit=101").is_err());
        assert!(parse_read("limit=abc").is_err());
        assert_eq!(
            parse_read("limit=100").unwrap(),
            Read::History(PageRequest::Latest { limit: 100 })
        );
        let start = FeedCursor::start().encode();
        let history_start = Cursor::start().encode();
        assert!(parse_read(&format!("after={start}&before={history_start}")).is_err());
        assert!(parse_read("after=garbage").is_err());
        assert_eq!(
            parse_read(&format!("after={}&limit=7", FeedCursor::at(9).encode())).unwrap(),
            Read::Feed {
                after: FeedCursor::at(9),
                limit: 7
            }
        );
        // A feed cursor is not a history position.
        assert!(parse_read(&format!("before={start}")).is_err());
    }
}
