//! Sends a visitor's message (`POST /v1/chats/{chat_id}/messages`). Uses the table, the secret
//! (for the Giosg API token) and Giosg.

use std::sync::Arc;

use shared::api::{self, Api};
use shared::service::Service;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main(|cold| async move {
        let secrets = cold.secrets().await;
        let giosg = cold.giosg(&secrets).await?;
        let service = Service::new(cold.dynamo_store(), giosg, cold.rules())
            .with_limits(cold.settings.limits);
        Ok(api::send_message(Arc::new(Api::new(
            service,
            &cold.settings,
        ))))
    })
}
