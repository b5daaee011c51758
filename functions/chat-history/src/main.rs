//! Reads chats and history: `GET /v1/chats`, `GET /v1/chats/{chat_id}`,
//! `GET /v1/chats/{chat_id}/messages`. Uses the table only: no secret, no Giosg client, no
//! network call at cold start.

use std::sync::Arc;

use shared::api::{self, Api};
use shared::service::Service;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main(|cold| async move {
        let service = Service::without_giosg(cold.dynamo_store(), cold.rules());
        Ok(api::chat_history(Arc::new(Api::new(
            service,
            &cold.settings,
        ))))
    })
}
