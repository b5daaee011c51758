//! Reads chats and history: `GET /v1/chats`, `GET /v1/chats/{chat_id}`, `GET /v1/chats/{chat_id}/messages`.

use shared::api::function_routes;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(function_routes::CHAT_HISTORY).await
}
