//! Sends a visitor's message (`POST /v1/chats/{chat_id}/messages`).

use shared::api::function_routes;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main(function_routes::SEND_MESSAGE)
}
