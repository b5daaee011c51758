//! The wiring the experiment functions share: `shared::lambda::run_with` serving every route
//! (the store, the secret and Giosg, as start-chat builds them), with the SDK configuration
//! passed in and switches from the environment (see `function-experiment.rs`).

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use shared::api::{self, Api};
use shared::lambda::ColdStart;
use shared::service::Service;

/// Runs the function with `EXPERIMENT_RUNTIME` deciding the Tokio runtime: current-thread as
/// `shared::lambda::main`, or `multi_thread` (what `#[tokio::main]` gives).
pub fn main<F>(sdk: fn() -> F) -> Result<(), lambda_http::Error>
where
    F: Future<Output = SdkConfig>,
{
    let runtime = match std::env::var("EXPERIMENT_RUNTIME").as_deref() {
        Ok("multi_thread") => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
    };
    runtime.block_on(shared::lambda::run_with(every_route, configure(sdk)))
}

async fn every_route(cold: ColdStart) -> Result<axum::Router, shared::lambda::StartupError> {
    let secrets = cold.secrets().await;
    let giosg = cold.giosg(&secrets).await?;
    let service = Service::new(cold.dynamo_store(), giosg, cold.rules());
    let api = Api::new(service, &cold.settings).with_webhook_secrets(secrets);
    Ok(api::all_routes(Arc::new(api)))
}

/// The SDK configuration from `sdk`, with stalled-stream protection back on if
/// `EXPERIMENT_STALLED_STREAM=on`.
async fn configure<F>(sdk: fn() -> F) -> SdkConfig
where
    F: Future<Output = SdkConfig>,
{
    let sdk = sdk().await;
    if std::env::var("EXPERIMENT_STALLED_STREAM").as_deref() == Ok("on") {
        return sdk
            .to_builder()
            .stalled_stream_protection(StalledStreamProtectionConfig::enabled().build())
            .build();
    }
    sdk
}
