//! The AWS SDK configuration shared by every client of this workspace: DynamoDB (the store),
//! Secrets Manager (the configuration) and API Gateway's management API (the real-time feed's
//! pushes), in the functions, the local runner, the bench and tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// How long one attempt of a DynamoDB or Secrets Manager call may take before the SDK gives up
/// on it and retries: far above their normal latency (milliseconds), well inside the functions'
/// 10 s timeout. It replaces the SDK's stalled-stream protection as the guard against a hung
/// connection (see [`sdk_config`]). Not applied to a local endpoint: moto under load can take
/// longer than this on a large scan, and a hung local emulator is a test failure anyway.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// The AWS SDK configuration every binary uses: rustls (ring) as the HTTP client, trusting the
/// roots of [`crate::tls`], and, with
/// `endpoint_url` (moto, DynamoDB Local), that endpoint with static local credentials and the
/// region from `AWS_REGION` or `us-east-1`; without it, the default region, and the credentials
/// in the environment when they are there (Lambda), else the default credential chain.
///
/// Stalled-stream protection (a throughput monitor on every request and response body, for
/// large S3 transfers) is off: our bodies are a few kilobytes, a per-attempt timeout bounds a
/// stalled call instead (its own saving, about 0.1 ms of CPU per webhook invocation in the
/// benchmark's medians, is within the run-to-run noise: docs/performance.md).
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(crate::tls::aws_tls_context())
        .build_https();
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    match endpoint_url {
        Some(url) => {
            let region = std::env::var("AWS_REGION")
                .ok()
                .filter(|region| !region.is_empty())
                .unwrap_or_else(|| "us-east-1".to_owned());
            loader
                .endpoint_url(url)
                .region(Region::new(region))
                .test_credentials()
                .load()
                .await
        }
        None => {
            // Lambda puts the role's credentials in the environment. Read from there, the
            // default chain is not built: its web-identity provider makes an STS client, whose
            // connector loaded the system's roots in every cold start (docs/performance.md, "Cold
            // starts as Lambda sees them"). The default chain reads the environment first too, so
            // the credentials are the same; elsewhere (profiles, SSO, web identity, ECS, IMDS)
            // the default chain is used as before.
            let loader = if credentials_in_environment() {
                loader.credentials_provider(EnvironmentVariableCredentialsProvider::new())
            } else {
                loader
            };
            loader
                .timeout_config(
                    TimeoutConfig::builder()
                        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                        .build(),
                )
                .load()
                .await
        }
    }
}

/// Whether the environment holds an access key (as on Lambda), which the default credential
/// chain would use before anything else.
fn credentials_in_environment() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY")
}

/// Counts the DynamoDB operations a client runs, by name (`GetItem`, `Query`, ...), and keeps
/// the IAM permissions they need (`dynamodb:Query on index/history`, `dynamodb:PutItem on
/// table`; a transaction needs the action of each of its items): an interceptor for
/// `Config::builder().interceptor(...)`. The IAM test checks each function's permissions
/// against its policy with it; the benchmark counts reads and writes per run.
#[derive(Clone, Debug, Default)]
pub struct OperationLog {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    needs: Arc<Mutex<std::collections::BTreeSet<String>>>,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl OperationLog {
    /// The operations run since the last `take`, with how many times each, and starts over.
    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *locked(&self.counts))
    }

    /// The permissions needed since the last `take_needs`, and starts over.
    pub fn take_needs(&self) -> std::collections::BTreeSet<String> {
        std::mem::take(&mut *locked(&self.needs))
    }
}

/// What an operation needs: the IAM actions and the resource (`table` or `index/<name>`).
fn permissions_of(
    operation: &str,
    input: &aws_smithy_runtime_api::client::interceptors::context::Input,
) -> Vec<String> {
    use aws_sdk_dynamodb::operation::query::QueryInput;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
    if let Some(query) = input.downcast_ref::<QueryInput>()
        && let Some(index) = query.index_name()
    {
        return vec![format!("dynamodb:Query on index/{index}")];
    }
    if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
        return transaction
            .transact_items()
            .iter()
            .map(|item| {
                let action = if item.put().is_some() {
                    "PutItem"
                } else if item.delete().is_some() {
                    "DeleteItem"
                } else if item.update().is_some() {
                    "UpdateItem"
                } else {
                    "ConditionCheckItem"
                };
                format!("dynamodb:{action} on table")
            })
            .collect();
    }
    let action = match operation {
        "TransactGetItems" => "GetItem",
        other => other,
    };
    vec![format!("dynamodb:{action} on table")]
}

/// How many items a batch or a transaction names (counted as `<operation>:items`, for
/// request units).
fn items_of(input: &aws_smithy_runtime_api::client::interceptors::context::Input) -> Option<u64> {
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
    if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
        let keys = batch
            .request_items()
            .map(|tables| {
                tables
                    .values()
                    .map(|table| table.keys().len())
                    .sum::<usize>()
            })
            .unwrap_or(0);
        return u64::try_from(keys).ok();
    }
    input
        .downcast_ref::<TransactWriteItemsInput>()
        .and_then(|transaction| u64::try_from(transaction.transact_items().len()).ok())
}

impl aws_sdk_dynamodb::config::Intercept for OperationLog {
    fn name(&self) -> &'static str {
        "OperationLog"
    }

    fn read_before_serialization(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<
            '_,
        >,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        use aws_smithy_runtime_api::client::orchestrator::Metadata;
        if let Some(metadata) = cfg.load::<Metadata>() {
            *locked(&self.counts)
                .entry(metadata.name().to_owned())
                .or_default() += 1;
            locked(&self.needs).extend(permissions_of(metadata.name(), context.input()));
            if let Some(items) = items_of(context.input()) {
                *locked(&self.counts)
                    .entry(format!("{}:items", metadata.name()))
                    .or_default() += items;
            }
        }
        Ok(())
    }
}
