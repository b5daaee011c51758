//! The real-time feed's notifier (spec §1a): the table's DynamoDB stream invokes it with the
//! changed feed entries and chats, and it pushes them to each chat's subscribers through API
//! Gateway's management API. Uses the table only: no secret, no Giosg client.

use std::sync::Arc;

use shared::jobs::feed_notifier;
use shared::service::Service;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main_job(|cold| async move {
        let service = Arc::new(Service::without_giosg(cold.dynamo_store(), cold.rules()));
        let pusher = Arc::new(cold.pusher());
        Ok(move |payload: serde_json::Value, _deadline| {
            let (service, pusher) = (Arc::clone(&service), Arc::clone(&pusher));
            async move { feed_notifier::handle(&service, &*pusher, &payload).await }
        })
    })
}
