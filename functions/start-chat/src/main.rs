//! Starts chats (`POST /v1/chats`) and answers `GET /v1/availability`: the two calls a visitor makes before chatting.

use shared::api::function_routes;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main(function_routes::START_CHAT)
}
