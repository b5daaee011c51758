//! Sends a visitor's message (`POST /v1/chats/{chat_id}/messages`).

use shared::api::RouteKind;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(&[RouteKind::SendMessage]).await
}
