//! A Lambda function for experiments: the wiring of `shared::lambda::run` (same handlers, same
//! SDK configuration from `shared::store::dynamodb::sdk_config`, every route) with switches from
//! the environment, so that a proposed change to the functions can be measured with the harness
//! (`bench lambda --binary PATH --env NAME=VALUE`) before anyone makes it:
//!
//! - `EXPERIMENT_RUNTIME=current_thread`: a single-threaded Tokio runtime instead of
//!   `#[tokio::main]`'s one worker per CPU (a Lambda instance serves one event at a time);
//! - `EXPERIMENT_STALLED_STREAM=off`: no stalled-stream protection (the SDK's throughput checks
//!   on every request and response body).

mod experiment;

fn main() -> Result<(), lambda_http::Error> {
    experiment::main(|| shared::store::dynamodb::sdk_config(None))
}
