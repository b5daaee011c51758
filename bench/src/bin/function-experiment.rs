//! A Lambda function for experiments: the wiring of `shared::lambda::main` (same handlers, same
//! SDK configuration from `shared::aws::sdk_config`, every route) with switches from
//! the environment, so that a proposed change to the functions can be measured with the harness
//! (`bench lambda --binary PATH --env NAME=VALUE`) before anyone makes it:
//!
//! - `EXPERIMENT_RUNTIME=multi_thread`: `#[tokio::main]`'s one worker per CPU instead of the
//!   single-threaded runtime `shared::lambda::main` uses;
//! - `EXPERIMENT_STALLED_STREAM=on`: the SDK's stalled-stream protection (throughput checks on
//!   every request and response body), which `sdk_config` turns off.
//!
//! With no switch set it is the functions' own configuration; each switch puts back what they
//! used before an optimisation, so its effect can be measured again.

mod experiment;

fn main() -> Result<(), lambda_http::Error> {
    experiment::main(|| shared::aws::sdk_config(None))
}
