//! Receives Giosg's chat and message webhooks behind a Function URL (`POST /webhooks/giosg/chats`, `POST /webhooks/giosg/messages`).

use shared::api::function_routes;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main(function_routes::GIOSG_WEBHOOKS)
}
