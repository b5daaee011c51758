//! The operator API (`GET /admin/v1/chats/{chat_id}/export`, `DELETE /admin/v1/chats/{chat_id}`,
//! `DELETE /admin/v1/visitors?ref=`): routes API Gateway authorizes with IAM. Uses the table
//! only: no secret, no Giosg client (erasure deletes nothing in Giosg).

use std::sync::Arc;

use shared::api::{self, Api};
use shared::service::Service;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::main(|cold| async move {
        let service = Service::without_giosg(cold.dynamo_store(), cold.rules());
        Ok(api::operator_api(Arc::new(Api::new(
            service,
            &cold.settings,
        ))))
    })
}
