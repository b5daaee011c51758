//! The real-time feed's notifier (spec §1a, §1b): the table's DynamoDB stream invokes it with
//! the changed feed entries and chats; it pushes them to each chat's subscribers through API
//! Gateway's management API, then publishes an away notification to the SNS topic (when one is
//! configured) for each agent message no live subscription received. Uses the table and the
//! topic: no secret, no Giosg client.

use std::sync::Arc;

use shared::jobs::feed_notifier;
use shared::service::Service;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main_job(|cold| async move {
        let service = Arc::new(Service::without_giosg(cold.dynamo_store(), cold.rules()));
        let pusher = Arc::new(cold.pusher());
        let away = Arc::new(cold.away_notifications());
        Ok(move |payload: serde_json::Value, _deadline| {
            let (service, pusher, away) =
                (Arc::clone(&service), Arc::clone(&pusher), Arc::clone(&away));
            async move {
                feed_notifier::handle(&service, &*pusher, away.as_ref().as_ref(), &payload).await
            }
        })
    })
}
