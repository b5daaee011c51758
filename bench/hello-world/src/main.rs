//! Hello, world as a Lambda function: the floor `bench cold` compares every function with.
//!
//! The `lambda_runtime` loop (the same crate and version the functions use, through
//! `lambda_http`'s re-export) on the same single-threaded Tokio runtime as
//! `shared::lambda::main`, with no logging set up, no AWS SDK, no TLS and no network call: what
//! any Rust function pays before it does anything of its own. Leaner than the usual
//! `#[tokio::main]` example (which starts a worker thread per CPU), so the floor is the harder one
//! to come close to.

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::{Value, json};

fn main() -> Result<(), lambda_runtime::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(lambda_runtime::run(service_fn(
            |_event: LambdaEvent<Value>| async {
                Ok::<_, lambda_runtime::Error>(json!({
                    "statusCode": 200,
                    "headers": {"content-type": "application/json"},
                    "body": "{\"hello\":\"world\"}",
                }))
            },
        )))
}
