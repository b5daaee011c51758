//! `POST /webhooks/giosg/chats` and `POST /webhooks/giosg/messages`: Giosg's deliveries.
//!
//! No Giosg call happens here. The caller is checked with the shared secret (query parameter
//! `token` or header `X-Webhook-Token`) in constant time; then the event is folded into the
//! store, which makes order and duplicates irrelevant.

use http::StatusCode;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiError, ApiRequest, ApiResponse, App, RouteKind, json_response};
use crate::domain::webhook::{parse_chat_webhook, parse_message_webhook};
use crate::store::{Applied, ChatStore};

pub const WEBHOOK_TOKEN_HEADER: &str = "x-webhook-token";

#[derive(Serialize)]
struct Ack {
    result: &'static str,
}

pub(super) async fn receive<S: ChatStore>(
    app: &App<S>,
    kind: RouteKind,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    check_caller(app, request).await?;
    let body = request.body();
    let applied = match kind {
        RouteKind::ChatWebhook => {
            let hook = parse_chat_webhook(body).map_err(|e| ApiError::invalid(e.to_string()))?;
            if hook.org_id != app.settings.org_id {
                Applied::Ignored
            } else {
                app.store
                    .apply_chat_event(&hook.chat_id, &hook.event, &app.store_context)
                    .await?
                    .0
            }
        }
        RouteKind::MessageWebhook => {
            let hook = parse_message_webhook(body).map_err(|e| ApiError::invalid(e.to_string()))?;
            if hook.org_id != app.settings.org_id {
                Applied::Ignored
            } else {
                app.store
                    .apply_message_event(
                        &hook.chat_id,
                        &hook.message_id,
                        &hook.event,
                        &app.store_context,
                    )
                    .await?
                    .0
            }
        }
        _ => return Err(ApiError::NotFound),
    };
    let result = match applied {
        Applied::Stored | Applied::Deleted => "stored",
        Applied::Unchanged => "duplicate",
        Applied::Ignored => "ignored",
    };
    Ok(json_response(StatusCode::OK, &Ack { result }))
}

async fn check_caller<S>(app: &App<S>, request: &ApiRequest) -> Result<(), ApiError>
where
    S: ChatStore,
{
    let from_query = request.uri().query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "token")
            .map(|(_, value)| value.into_owned())
    });
    let from_header = request
        .headers()
        .get(WEBHOOK_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let presented = from_header
        .or(from_query)
        .ok_or(ApiError::WebhookUnauthorized)?;
    let secrets = app.secrets.get().await;
    // Comparing digests keeps the comparison constant-time regardless of length.
    let expected = Sha256::digest(secrets.webhook_secret.expose().as_bytes());
    let offered = Sha256::digest(presented.as_bytes());
    if bool::from(expected.ct_eq(&offered)) {
        Ok(())
    } else {
        Err(ApiError::WebhookUnauthorized)
    }
}
