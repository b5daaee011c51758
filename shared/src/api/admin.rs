//! The operator API (spec §1d): `GET /admin/v1/chats/{chat_id}/export`,
//! `DELETE /admin/v1/chats/{chat_id}` and `DELETE /admin/v1/visitors?ref=<visitor_ref>`.
//!
//! Who may call it is decided before the handlers, by [`OperatorAccess`]: on AWS, API Gateway
//! checks the caller's IAM signature (`AWS_IAM` on these routes) and the function also refuses
//! a request that carries no IAM caller (a route wired without the authorizer); locally, the
//! runner's admin token as a bearer token. Every call is logged with who made it.

use axum::extract::{Path, RawQuery, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::StatusCode;
use http::header;
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::{ApiError, State, json_response};
use crate::domain::ChatId;
use crate::domain::chat::Chat;
use crate::domain::ids::check_keyable;
use crate::domain::input::VisitorRef;
use crate::domain::message::Message;
use crate::secret::Secret;
use crate::service::ErasedPerson;
use crate::store::{ChatStore, Erased, ErasureStore, SubscriptionStore};

/// What the operator routes need of a store.
pub trait OperatorStore: ChatStore + SubscriptionStore + ErasureStore {}

impl<S: ChatStore + SubscriptionStore + ErasureStore> OperatorStore for S {}

/// How an operator proves who they are.
#[derive(Clone, Debug)]
pub enum OperatorAccess {
    /// API Gateway verified an IAM signature: the Lambda adapter hands the caller on as an
    /// [`OperatorCaller`].
    AwsIam,
    /// `Authorization: Bearer <token>` with this token (the local runner's `--admin-token`).
    Token(Secret),
}

/// Who made an operator call (the IAM caller's ARN), for the log.
#[derive(Clone, Debug)]
pub struct OperatorCaller(pub String);

/// Lets a request through to the operator routes only with the operator's credentials.
pub(super) async fn require_operator(
    access: OperatorAccess,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = match &access {
        OperatorAccess::AwsIam => request.extensions().get::<OperatorCaller>().cloned(),
        OperatorAccess::Token(token) => bearer(&request)
            .filter(|given| bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())))
            .map(|_| OperatorCaller("the local admin token".into())),
    };
    let Some(caller) = caller else {
        tracing::warn!(
            path = request.uri().path(),
            "an operator call without credentials was refused"
        );
        return Err(ApiError::OperatorUnauthorized);
    };
    tracing::info!(caller = caller.0, method = %request.method(), path = request.uri().path(),
        "operator call");
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[derive(Serialize)]
struct ExportBody {
    chat: Chat,
    messages: Vec<Message>,
    visitor: ExportedVisitor,
}

#[derive(Serialize)]
struct ExportedVisitor {
    name: Option<String>,
    visitor_ref: Option<String>,
}

#[derive(Serialize)]
struct ErasedBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    visitors_found: Option<usize>,
    erased: Erased,
    /// Every item erased; 0 when there was nothing (left) to erase.
    total: usize,
}

/// The `{chat_id}` of an operator path: any id the store could hold, else `400`.
fn chat_id(id: String) -> Result<ChatId, ApiError> {
    check_keyable("chat", &id)
        .map_err(|problem| ApiError::invalid(format!("chat_id: {problem}.")))?;
    Ok(ChatId::new(id))
}

pub(super) async fn export_chat<S: ChatStore, G: Send + Sync + 'static>(
    api: State<S, G>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let export = api.service.export_chat(&chat_id(id)?).await?;
    let body = ExportBody {
        chat: export.chat.view(),
        messages: export
            .messages
            .iter()
            .map(|message| message.view())
            .collect(),
        visitor: ExportedVisitor {
            name: export.visitor_name,
            visitor_ref: export.visitor_ref,
        },
    };
    Ok(json_response(StatusCode::OK, &body))
}

pub(super) async fn erase_chat<S: OperatorStore, G: Send + Sync + 'static>(
    api: State<S, G>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let erased = api.service.erase_chat(&chat_id(id)?).await?;
    let body = ErasedBody {
        visitors_found: None,
        total: erased.total(),
        erased,
    };
    Ok(json_response(StatusCode::OK, &body))
}

pub(super) async fn erase_person<S: OperatorStore, G: Send + Sync + 'static>(
    api: State<S, G>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let reference = person_reference(query.as_deref().unwrap_or_default())?;
    let ErasedPerson {
        visitors_found,
        erased,
    } = api.service.erase_person(&reference).await?;
    let body = ErasedBody {
        visitors_found: Some(visitors_found),
        total: erased.total(),
        erased,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `ref=` of the query: exactly one, a valid `visitor_ref`.
fn person_reference(query: &str) -> Result<VisitorRef, ApiError> {
    let mut given = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == "ref")
        .map(|(_, value)| value.into_owned());
    let (Some(reference), None) = (given.next(), given.next()) else {
        return Err(ApiError::invalid(
            "ref is required, once: the visitor_ref (or identity subject) of the person to erase.",
        ));
    };
    VisitorRef::parse(Some(reference))
        .ok()
        .flatten()
        .ok_or_else(|| {
            ApiError::invalid("ref must be 1 to 128 characters, without control characters.")
        })
}
