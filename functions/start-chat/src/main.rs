//! Starts chats (`POST /v1/chats`) and answers `GET /v1/availability`: the two calls a visitor
//! makes before chatting. Uses the table, the secret (for the Giosg API token) and Giosg.

use std::sync::Arc;

use shared::api::{self, Api};
use shared::identity::IdentityVerifier;
use shared::service::Service;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main(|cold| async move {
        let secrets = cold.secrets().await;
        let giosg = cold.giosg(&secrets).await?;
        let mut service = Service::new(cold.dynamo_store(), giosg, cold.rules())
            .with_limits(cold.settings.limits);
        // The visitor that reads availability is kept in the table, not made per cold start.
        if let Some(token) = cold.service_visitor(&secrets).await {
            service = service.with_stored_service_visitor(token);
        }
        // Signed identities: RS256/ES256 with IDENTITY_JWKS_URL's keys, else HS256 with the
        // secret's identity_secret.
        let identity = Arc::new(IdentityVerifier::from_settings(
            Arc::clone(&secrets),
            &cold.settings,
        )?);
        Ok(api::start_chat(Arc::new(
            Api::new(service, &cold.settings).with_identity(identity),
        )))
    })
}
