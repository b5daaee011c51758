//! `function-experiment` with the SDK configured by hand instead of by `aws_config`'s default
//! chain: the region from `AWS_REGION`, credentials from the environment variables Lambda sets,
//! `AWS_ENDPOINT_URL` if present, and the same rustls (ring) HTTP client. No profile files, SSO,
//! STS, web identity or IMDS code is reachable, so the linker leaves it out: the difference in
//! size and init against `function-experiment` is what the default chain costs a function.

mod experiment;

use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

async fn lean_sdk_config() -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client)
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .region(std::env::var("AWS_REGION").ok().map(Region::new))
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new());
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    builder.build()
}

fn main() -> Result<(), lambda_http::Error> {
    experiment::main(lean_sdk_config)
}
