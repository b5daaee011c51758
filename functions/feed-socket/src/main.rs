//! The real-time feed's WebSocket API (spec §1a): `$connect` (the visitor token from the query
//! or the `bearer` subprotocol), `$disconnect`, and the client's messages (`subscribe`). Uses
//! the table and API Gateway's management API: no secret, no Giosg client.

use std::sync::Arc;

use shared::jobs::feed_socket;
use shared::service::Service;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main_job(|cold| async move {
        let service = Arc::new(Service::without_giosg(cold.dynamo_store(), cold.rules()));
        let pusher = Arc::new(cold.pusher());
        Ok(move |payload: serde_json::Value, _deadline| {
            let (service, pusher) = (Arc::clone(&service), Arc::clone(&pusher));
            async move {
                feed_socket::handle(&service, &*pusher, &payload)
                    .await
                    .map_err(|error| error.to_string())
            }
        })
    })
}
