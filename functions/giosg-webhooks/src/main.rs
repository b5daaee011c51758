//! Receives Giosg's chat and message webhooks behind a Function URL (`POST /webhooks/giosg/chats`, `POST /webhooks/giosg/messages`).

use shared::api::RouteKind;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(&[RouteKind::ChatWebhook, RouteKind::MessageWebhook]).await
}
