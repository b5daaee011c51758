//! Reads chats and history: `GET /v1/chats`, `GET /v1/chats/{chat_id}`, `GET /v1/chats/{chat_id}/messages`.

use shared::api::function_routes;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main(function_routes::CHAT_HISTORY)
}
