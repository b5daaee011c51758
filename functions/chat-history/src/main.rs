//! Reads chats and history: `GET /v1/chats`, `GET /v1/chats/{chat_id}`, `GET /v1/chats/{chat_id}/messages`.

use shared::api::RouteKind;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(&[RouteKind::ListChats, RouteKind::GetChat, RouteKind::History]).await
}
