//! Wiring for the Lambda functions. Each function's `main` builds only what it uses from a
//! [`ColdStart`] (settings, the SDK configuration, and on request the DynamoDB store, the
//! secrets, the Giosg client) into its axum router, and [`main`] serves that router through
//! `lambda_http::run`, with the invocation's request id and deadline handed to the router's
//! layers.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use axum::Router;
use lambda_http::RequestExt;
use tower::ServiceExt;

use crate::api::{ClientAddress, Deadline, OperatorCaller, RequestId};
use crate::aws::sdk_config;
use crate::config::{ConfigError, SecretSource, SecretsCache, Settings};
use crate::domain::visitor::VisitorToken;
use crate::giosg::{GiosgClient, GiosgConfig, GiosgError, RotatingGiosg};
use crate::metrics::Metrics;
use crate::push::apigateway::ApiGatewayPush;
use crate::secret::Secret;
use crate::service::Rules;
use crate::store::dynamodb::DynamoStore;

/// Why a function could not start. The message names what is wrong and never a secret.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("Giosg client: {0}")]
    Giosg(#[from] GiosgError),
}

/// What every function starts from: its settings and the AWS SDK configuration. The rest is
/// built on request, so a function builds only what it uses.
pub struct ColdStart {
    pub settings: Settings,
    pub sdk: SdkConfig,
}

impl ColdStart {
    /// The flows' rules from the settings.
    pub fn rules(&self) -> Rules {
        Rules::from_settings(&self.settings)
    }

    /// The DynamoDB store on the configured table (no call is made here).
    pub fn dynamo_store(&self) -> DynamoStore {
        DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.settings.table_name.clone(),
        )
    }

    /// Away notifications to the configured SNS topic, if one is (no call is made here).
    pub fn away_notifications(
        &self,
    ) -> Option<crate::jobs::feed_notifier::Away<crate::notify::sns::SnsNotifier>> {
        let topic = self.settings.notifications_topic_arn.clone()?;
        Some(crate::jobs::feed_notifier::Away {
            notifier: crate::notify::sns::SnsNotifier::new(
                aws_sdk_sns::Client::new(&self.sdk),
                topic,
            ),
            preview: self.settings.notification_preview,
        })
    }

    /// Posts the real-time feed's frames through API Gateway's management API (no call is
    /// made here).
    pub fn pusher(&self) -> ApiGatewayPush {
        ApiGatewayPush::new(&self.sdk)
    }

    /// The Secrets Manager secret, read now. When it cannot be read the function starts anyway
    /// and the routes that need it answer `503` in the API's error shape (never the platform's
    /// bare 5xx) until a later read succeeds.
    pub async fn secrets(&self) -> Arc<SecretsCache> {
        let source = SecretSource::SecretsManager {
            client: aws_sdk_secretsmanager::Client::new(&self.sdk),
            secret_id: self.settings.secret_id.clone(),
        };
        Arc::new(SecretsCache::load_or_retry(source, self.settings.secrets_refresh).await)
    }

    /// The token under which the Giosg visitor that reads the room's availability is kept in
    /// the table, derived from the Giosg API token; `None` while the secret cannot be read (each
    /// process then makes its own).
    pub async fn service_visitor(&self, secrets: &SecretsCache) -> Option<VisitorToken> {
        let secrets = secrets.get().await.ok()?;
        Some(VisitorToken::for_service_visitor(&secrets.giosg_api_token))
    }

    /// The Giosg client, its API token following `secrets`.
    pub async fn giosg(&self, secrets: &Arc<SecretsCache>) -> Result<RotatingGiosg, StartupError> {
        // Until the secret is read, the client holds a placeholder that never reaches Giosg:
        // `RotatingGiosg` takes the secret's token before every call, or refuses the call.
        let token = match secrets.get().await {
            Ok(secrets) => secrets.giosg_api_token.clone(),
            Err(_) => Secret::new("not-read-yet"),
        };
        let client = GiosgClient::new(GiosgConfig::from_settings(&self.settings, token))?;
        Ok(RotatingGiosg::new(client, Arc::clone(secrets)))
    }
}

/// A function's `main`: reads the settings (a missing or malformed one stops the start with a
/// sentence naming it), lets `build` make the function's router, and serves it. On a
/// single-threaded Tokio runtime: a Lambda instance serves one event at a time, so worker
/// threads would only add start-up work, memory and cross-thread wake-ups (measured in
/// docs/performance.md).
pub fn main<F, Fut>(build: F) -> Result<(), lambda_http::Error>
where
    F: FnOnce(ColdStart) -> Fut,
    Fut: Future<Output = Result<Router, StartupError>>,
{
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run_with(build, sdk_config(None)))
}

/// The `main` of a function that is not HTTP (the reconciler, the feed's socket and notifier): `build` makes, from the
/// [`ColdStart`], the handler of each event's JSON payload, given the invocation's deadline;
/// its error fails the invocation with that sentence. Each invocation's metrics are written
/// when it ends.
pub fn main_job<F, Fut, H, HFut>(build: F) -> Result<(), lambda_http::Error>
where
    F: FnOnce(ColdStart) -> Fut,
    Fut: Future<Output = Result<H, StartupError>>,
    H: Fn(serde_json::Value, Option<Instant>) -> HFut + Send + Sync + 'static,
    HFut: Future<Output = Result<serde_json::Value, String>> + Send,
{
    use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            lambda_http::tracing::init_default_subscriber();
            let started = match Settings::from_env() {
                Ok(settings) => {
                    let metrics = Metrics::new(settings.metrics.clone());
                    build(ColdStart {
                        settings,
                        sdk: sdk_config(None).await,
                    })
                    .await
                    .map(|handler| (handler, metrics))
                }
                Err(error) => Err(StartupError::from(error)),
            };
            let (handler, metrics) = match started {
                Ok((handler, metrics)) => (Arc::new(handler), metrics),
                Err(error) => {
                    tracing::error!(%error, "the function cannot start");
                    return Err(error.into());
                }
            };
            lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
                let (handler, metrics) = (Arc::clone(&handler), metrics.clone());
                async move {
                    let deadline = time_left(event.context.deadline).map(|Deadline(at)| at);
                    let answer = metrics.invocation(handler(event.payload, deadline));
                    answer.await.map_err(|error| {
                        tracing::error!(%error, "the invocation failed");
                        lambda_http::Error::from(error)
                    })
                }
            }))
            .await
        })
}

/// [`main`]'s body with the SDK configuration from `sdk` (awaited once logging is set up): the
/// benchmark's experiment functions vary it.
pub async fn run_with<F, Fut>(
    build: F,
    sdk: impl Future<Output = SdkConfig>,
) -> Result<(), lambda_http::Error>
where
    F: FnOnce(ColdStart) -> Fut,
    Fut: Future<Output = Result<Router, StartupError>>,
{
    lambda_http::tracing::init_default_subscriber();
    let router = match start(build, sdk).await {
        Ok(router) => router,
        Err(error) => {
            tracing::error!(%error, "the function cannot start");
            return Err(error.into());
        }
    };
    lambda_http::run(service(router)).await
}

async fn start<F, Fut>(
    build: F,
    sdk: impl Future<Output = SdkConfig>,
) -> Result<Router, StartupError>
where
    F: FnOnce(ColdStart) -> Fut,
    Fut: Future<Output = Result<Router, StartupError>>,
{
    let settings = Settings::from_env()?;
    build(ColdStart {
        settings,
        sdk: sdk.await,
    })
    .await
}

/// The router as a service of Lambda events (API Gateway HTTP API or Function URL, payload
/// 2.0): what `lambda_http::run` serves, and what tests feed recorded events to.
pub fn service(
    router: Router,
) -> impl tower::Service<
    lambda_http::Request,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    router.map_request(from_lambda)
}

/// Answers one Lambda event with `router`.
pub async fn invoke(router: &Router, request: lambda_http::Request) -> axum::response::Response {
    let Ok(response) = service(router.clone()).oneshot(request).await;
    response
}

/// Hands the invocation's request id and deadline to the router's layers, and routes on the
/// path as the client sent it (without any stage prefix).
fn from_lambda(request: lambda_http::Request) -> lambda_http::Request {
    let context = request.lambda_context_ref();
    let request_id = context.map(|context| RequestId(context.request_id.clone()));
    let operator = iam_caller(&request);
    let source = source_address(&request);
    let deadline = context.and_then(|context| time_left(context.deadline));
    let raw_path = request.raw_http_path().to_owned();
    let (mut parts, body) = request.into_parts();
    if !raw_path.is_empty() {
        let path_and_query = match parts.uri.query() {
            Some(query) => format!("{raw_path}?{query}"),
            None => raw_path,
        };
        if let Ok(uri) = path_and_query.parse() {
            parts.uri = uri;
        }
    }
    if let Some(request_id) = request_id {
        parts.extensions.insert(request_id);
    }
    if let Some(deadline) = deadline {
        parts.extensions.insert(deadline);
    }
    if let Some(operator) = operator {
        parts.extensions.insert(operator);
    }
    if let Some(source) = source {
        parts.extensions.insert(source);
    }
    lambda_http::Request::from_parts(parts, body)
}

/// The caller's address as API Gateway (or the Function URL) saw it,
/// `requestContext.http.sourceIp`: what anonymous starts are limited by.
fn source_address(request: &lambda_http::Request) -> Option<ClientAddress> {
    let lambda_http::request::RequestContext::ApiGatewayV2(context) =
        request.request_context_ref()?
    else {
        return None;
    };
    let address = context.http.source_ip.as_deref()?.parse().ok()?;
    Some(ClientAddress(address))
}

/// The caller API Gateway authorized with an IAM signature (`AWS_IAM` routes), if any: the
/// operator routes serve no one else.
fn iam_caller(request: &lambda_http::Request) -> Option<OperatorCaller> {
    let lambda_http::request::RequestContext::ApiGatewayV2(context) =
        request.request_context_ref()?
    else {
        return None;
    };
    let iam = context.authorizer.as_ref()?.iam.as_ref()?;
    let caller = iam.user_arn.clone().or_else(|| iam.caller_id.clone())?;
    Some(OperatorCaller(caller))
}

/// The instant to give up at, from the invocation's deadline (epoch milliseconds), leaving a
/// margin to answer before Lambda cuts the function off.
fn time_left(deadline_epoch_ms: u64) -> Option<Deadline> {
    const MARGIN_MS: u64 = 500;
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).ok()?;
    let left = deadline_epoch_ms
        .checked_sub(now_ms)?
        .checked_sub(MARGIN_MS)?;
    Some(Deadline(Instant::now() + Duration::from_millis(left)))
}
