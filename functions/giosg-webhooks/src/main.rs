//! Receives Giosg's chat and message webhooks behind a Function URL (`POST /webhooks/giosg/chats`,
//! `POST /webhooks/giosg/messages`). Uses the table and the secret (for the webhook secret); never
//! calls Giosg.

use std::sync::Arc;

use shared::api::{self, Api};
use shared::service::Service;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main(|cold| async move {
        let secrets = cold.secrets().await;
        let service = Service::without_giosg(cold.dynamo_store(), cold.rules());
        let api = Api::new(service, &cold.settings).with_webhook_secrets(secrets);
        Ok(api::giosg_webhooks(Arc::new(api)))
    })
}
