//! Wiring for the Lambda functions: build the [`App`] once per cold start from the environment,
//! and adapt `lambda_http` requests to the shared handlers.

use aws_config::SdkConfig;
use bytes::Bytes;
use lambda_http::{Body, RequestExt};

use crate::api::{self, App, RouteKind};
use crate::aws::sdk_config;
use crate::config::{ConfigError, SecretSource, SecretsCache, Settings};
use crate::giosg::{GiosgClient, GiosgError};
use crate::store::ChatStore;
use crate::store::dynamodb::DynamoStore;

/// Why a function could not start. The message names what is wrong and never a secret.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("Giosg client: {0}")]
    Giosg(#[from] GiosgError),
}

/// Builds the app from environment variables, the SDK configuration and the Secrets Manager
/// secret: DynamoDB and Secrets Manager clients, secrets, and the Giosg client, once.
pub async fn build_app(sdk: &SdkConfig) -> Result<App<DynamoStore>, StartupError> {
    let settings = Settings::from_env()?;
    let secrets = SecretsCache::load(
        SecretSource::SecretsManager {
            client: aws_sdk_secretsmanager::Client::new(sdk),
            secret_id: settings.secret_id.clone(),
        },
        settings.secrets_refresh,
    )
    .await?;
    let giosg =
        GiosgClient::new(settings.giosg_config(secrets.get().await.giosg_api_token.clone()))?;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        settings.table_name.clone(),
    );
    Ok(App::new(store, giosg, settings, secrets))
}

/// Serves one Lambda event (API Gateway HTTP API or Function URL, payload 2.0) with the shared
/// handlers, restricted to `routes`.
pub async fn serve<S: ChatStore>(
    app: &App<S>,
    request: lambda_http::Request,
    routes: &[RouteKind],
) -> lambda_http::Response<Body> {
    let context = request.lambda_context_ref();
    let request_id = context
        .map(|context| context.request_id.clone())
        .unwrap_or_default();
    let deadline = context.and_then(|context| time_left(context.deadline));
    let raw_path = request.raw_http_path().to_owned();
    let (mut parts, body) = request.into_parts();
    // Route on the path as the client sent it (without any stage prefix).
    if !raw_path.is_empty() {
        let path_and_query = match parts.uri.query() {
            Some(query) => format!("{raw_path}?{query}"),
            None => raw_path,
        };
        if let Ok(uri) = path_and_query.parse() {
            parts.uri = uri;
        }
    }
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    let response = api::handle_until(
        app,
        http::Request::from_parts(parts, body),
        &request_id,
        routes,
        deadline,
    )
    .await;
    let (parts, body) = response.into_parts();
    let body = match String::from_utf8(body.to_vec()) {
        Ok(text) if text.is_empty() => Body::Empty,
        Ok(text) => Body::Text(text),
        Err(error) => Body::Binary(error.into_bytes()),
    };
    lambda_http::Response::from_parts(parts, body)
}

/// The instant to give up at, from the invocation's deadline (epoch milliseconds), leaving a
/// margin to answer before Lambda cuts the function off.
fn time_left(deadline_epoch_ms: u64) -> Option<std::time::Instant> {
    const MARGIN_MS: u64 = 500;
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).ok()?;
    let left = deadline_epoch_ms
        .checked_sub(now_ms)?
        .checked_sub(MARGIN_MS)?;
    Some(std::time::Instant::now() + std::time::Duration::from_millis(left))
}

/// A function's `main`: [`run`] on a single-threaded Tokio runtime. A Lambda instance serves
/// one event at a time, so worker threads would only add start-up work, memory and
/// cross-thread wake-ups; measured with the benchmark, the current-thread runtime cut the CPU
/// per webhook invocation by about 20% and peak RSS by about 0.6 MiB (docs/performance.md).
pub fn main(routes: &'static [RouteKind]) -> Result<(), lambda_http::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(routes))
}

/// Runs a Lambda function serving `routes`: JSON logs (per the function's log format), the app
/// built once, then the event loop. Start-up failures end the process with a clear message.
pub async fn run(routes: &'static [RouteKind]) -> Result<(), lambda_http::Error> {
    run_with(routes, sdk_config(None)).await
}

/// [`run`] with the SDK configuration from `sdk` (awaited once logging is set up): the
/// benchmark's experiment functions vary it.
pub async fn run_with(
    routes: &'static [RouteKind],
    sdk: impl Future<Output = SdkConfig>,
) -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = match build_app(&sdk.await).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "the function cannot start");
            return Err(error.into());
        }
    };
    let app = &app;
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(serve(app, request, routes).await)
    }))
    .await
}
