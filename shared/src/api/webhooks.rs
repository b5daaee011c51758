//! `POST /webhooks/giosg/chats` and `POST /webhooks/giosg/messages`: Giosg's deliveries.
//!
//! The caller is checked with the shared secret (query parameter `token` or header
//! `X-Webhook-Token`) in constant time (the current one, or the previous one during a
//! rotation's overlap: [`crate::config::Secrets::accepts_webhook_token`]), the envelope parsed, then the service folds the event in.

use axum::extract::RawQuery;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Serialize;

use super::{Api, ApiError, State, json_response};
use crate::correlation;
use crate::domain::webhook::{WebhookError, parse_chat_webhook, parse_message_webhook};
use crate::metrics::{self, FieldSource, WebhookResult};
use crate::service::WebhookOutcome;
use crate::store::ChatStore;

pub const WEBHOOK_TOKEN_HEADER: &str = "x-webhook-token";

#[derive(Serialize)]
struct Ack {
    result: &'static str,
}

pub(super) async fn receive_chat<S: ChatStore, G: Send + Sync + 'static>(
    api: State<S, G>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let outcome = async {
        let hook = delivery(&api, query, &headers, &body, parse_chat_webhook).await?;
        // A chat's way is followed by its id, as a message's is.
        correlation::name(hook.chat_id.as_str());
        note_dropped("chat", hook.chat_id.as_str(), &hook.dropped);
        Ok::<_, ApiError>(api.service.apply_chat_webhook(&hook).await?)
    };
    answer(outcome.await)
}

pub(super) async fn receive_message<S: ChatStore, G: Send + Sync + 'static>(
    api: State<S, G>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let outcome = async {
        let hook = delivery(&api, query, &headers, &body, parse_message_webhook).await?;
        correlation::name(hook.message_id.as_str());
        note_dropped("message", hook.message_id.as_str(), &hook.dropped);
        Ok::<_, ApiError>(api.service.apply_message_webhook(&hook).await?)
    };
    answer(outcome.await)
}

/// The acknowledgement, or the refusal, counted by what the delivery came to.
fn answer(outcome: Result<WebhookOutcome, ApiError>) -> Result<Response, ApiError> {
    metrics::webhook(match &outcome {
        Ok(WebhookOutcome::Stored) => WebhookResult::Stored,
        Ok(WebhookOutcome::Duplicate) => WebhookResult::Duplicate,
        Ok(WebhookOutcome::Ignored) => WebhookResult::Ignored,
        Err(error) if error.status().is_server_error() => WebhookResult::Failed,
        Err(_) => WebhookResult::Refused,
    });
    outcome.map(ack)
}

/// The delivery, once its caller is checked (first: an unknown caller learns nothing about
/// what it sent) and its envelope parsed.
async fn delivery<S, G, H>(
    api: &Api<S, G>,
    query: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
    parse: fn(&[u8]) -> Result<H, WebhookError>,
) -> Result<H, ApiError> {
    check_caller(api, query.as_deref(), headers).await?;
    parse(body).map_err(|e| ApiError::invalid(e.to_string()))
}

/// A warning naming the fields the tolerant reader left out (never their values), and their
/// count in the `FieldsDropped` metric: the delivery itself was kept.
fn note_dropped(kind: &str, id: &str, dropped: &[String]) {
    metrics::fields_dropped(FieldSource::Webhook, dropped.len());
    if !dropped.is_empty() {
        tracing::warn!(
            resource = kind,
            resource_id = id,
            dropped_fields = ?dropped,
            dropped_field_count = dropped.len(),
            "webhook fields that could not be read were left out"
        );
    }
}

fn ack(outcome: WebhookOutcome) -> Response {
    json_response(
        StatusCode::OK,
        &Ack {
            result: outcome.as_str(),
        },
    )
}

async fn check_caller<S, G>(
    api: &Api<S, G>,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let from_query = query.and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "token")
            .map(|(_, value)| value.into_owned())
    });
    let from_header = headers
        .get(WEBHOOK_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let presented = from_header
        .or(from_query)
        .ok_or(ApiError::WebhookUnauthorized)?;
    let secrets = api
        .webhook_secrets
        .as_ref()
        .ok_or_else(|| ApiError::Internal("the webhook routes have no secret source".into()))?
        .get()
        .await
        .map_err(|error| {
            tracing::error!(%error, "no webhook secret to check the caller against");
            ApiError::GiosgUnavailable {
                status: StatusCode::SERVICE_UNAVAILABLE,
            }
        })?;
    if secrets.accepts_webhook_token(&presented, chrono::Utc::now(), api.webhook_secret_overlap) {
        Ok(())
    } else {
        Err(ApiError::WebhookUnauthorized)
    }
}
