//! The wiring the experiment functions share: `shared::lambda::run` with the SDK configuration
//! passed in and switches from the environment (see `function-experiment.rs`).

use aws_config::SdkConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use shared::api::{App, RouteKind};
use shared::config::{SecretSource, SecretsCache, Settings};
use shared::giosg::{GiosgClient, GiosgConfig};
use shared::store::dynamodb::DynamoStore;

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
    runtime.block_on(async { run(sdk().await).await })
}

async fn run(mut sdk: SdkConfig) -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let settings = Settings::from_env()?;
    if std::env::var("EXPERIMENT_STALLED_STREAM").as_deref() == Ok("on") {
        sdk = sdk
            .to_builder()
            .stalled_stream_protection(StalledStreamProtectionConfig::enabled().build())
            .build();
    }
    let secrets = SecretsCache::load(
        SecretSource::SecretsManager {
            client: aws_sdk_secretsmanager::Client::new(&sdk),
            secret_id: settings.secret_id.clone(),
        },
        settings.secrets_refresh,
    )
    .await?;
    let giosg = GiosgClient::new(GiosgConfig::new(
        settings.giosg_base_url.clone(),
        settings.org_id.clone(),
        settings.room_id.clone(),
        secrets.get().await.giosg_api_token.clone(),
    ))?;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        settings.table_name.clone(),
    );
    let app = App::new(store, giosg, settings, secrets);
    let app = &app;
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(shared::lambda::serve(app, request, RouteKind::ALL).await)
    }))
    .await
}
