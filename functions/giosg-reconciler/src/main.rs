//! Repairs what Giosg's webhooks lost (spec §7): on a schedule, one run of the sweep over the
//! open and recently ended chats, read from Giosg's organization API and folded in with the
//! webhook merge rules; invoked by hand with `{"chat_id": "..."}` for one chat or
//! `{"ended_within_hours": N}` for a wider window. Uses the table, the secret (the Giosg API
//! token) and Giosg.

use std::sync::Arc;

use shared::jobs;
use shared::service::{ReconcileLimits, Service};

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main_job(|cold| async move {
        let secrets = cold.secrets().await;
        let giosg = cold.giosg(&secrets).await?;
        let service = Arc::new(Service::new(cold.dynamo_store(), giosg, cold.rules()));
        let limits = ReconcileLimits::from_settings(&cold.settings);
        Ok(move |payload: serde_json::Value, deadline| {
            let service = Arc::clone(&service);
            let limits = limits.clone();
            async move { jobs::handle(&service, &limits, &payload, deadline).await }
        })
    })
}
