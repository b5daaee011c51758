//! The push port on AWS: frames posted to WebSocket connections through API Gateway's
//! management API (`POST /@connections/{id}`).
//!
//! Each connection names its endpoint, `https://{domainName}/{stage}` from its `$connect`
//! event; one SDK client is kept per endpoint. When the SDK configuration names an endpoint of
//! its own (`AWS_ENDPOINT_URL`: moto, a local emulator), every post goes there instead: moto
//! serves the management API at its root (`/@connections/{id}`, no stage). A connection that
//! is gone (`GoneException`, HTTP 410) is [`PushError::Gone`]; anything else is
//! [`PushError::Failed`], described by its status and error code only (never the frame).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::config::http::HttpResponse;
use aws_sdk_apigatewaymanagement::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;

use super::{Frame, PushError, PushPort};
use crate::domain::connection::ConnectionId;

/// Posts frames through API Gateway's management API.
#[derive(Clone)]
pub struct ApiGatewayPush {
    sdk: SdkConfig,
    /// Where every post goes instead of the connection's endpoint (`AWS_ENDPOINT_URL`).
    local_endpoint: Option<String>,
    clients: Arc<Mutex<HashMap<String, Client>>>,
}

impl ApiGatewayPush {
    /// A pusher on this SDK configuration (no call is made here).
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            sdk: sdk.clone(),
            local_endpoint: sdk.endpoint_url().map(str::to_owned),
            clients: Arc::default(),
        }
    }

    /// The endpoint a post to a connection of `endpoint` goes to.
    pub fn endpoint_for<'a>(&'a self, endpoint: &'a str) -> &'a str {
        self.local_endpoint.as_deref().unwrap_or(endpoint)
    }

    fn client(&self, endpoint: &str) -> Client {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(endpoint.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_apigatewaymanagement::config::Builder::from(&self.sdk)
                    .endpoint_url(endpoint)
                    .build();
                Client::from_conf(config)
            })
            .clone()
    }
}

impl std::fmt::Debug for ApiGatewayPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiGatewayPush")
            .field("local_endpoint", &self.local_endpoint)
            .finish_non_exhaustive()
    }
}

impl PushPort for ApiGatewayPush {
    async fn post(
        &self,
        endpoint: &str,
        connection: &ConnectionId,
        frame: &Frame,
    ) -> Result<(), PushError> {
        let endpoint = self.endpoint_for(endpoint);
        if endpoint.is_empty() {
            return Err(PushError::Failed(
                "the connection has no management endpoint".into(),
            ));
        }
        self.client(endpoint)
            .post_to_connection()
            .connection_id(connection.as_str())
            .data(Blob::new(frame.to_json()))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| classify(&error))
    }
}

/// What a failed post means for the connection. The description holds no frame content.
fn classify(error: &SdkError<PostToConnectionError, HttpResponse>) -> PushError {
    match error {
        SdkError::ServiceError(failure) => {
            let status = failure.raw().status().as_u16();
            if failure.err().is_gone_exception() || status == 410 {
                return PushError::Gone;
            }
            PushError::Failed(format!(
                "HTTP {status} {}",
                failure.err().code().unwrap_or("(no error code)")
            ))
        }
        SdkError::TimeoutError(_) => PushError::Failed("timed out".into()),
        SdkError::DispatchFailure(_) => {
            PushError::Failed("the management endpoint could not be reached".into())
        }
        SdkError::ResponseError(_) => {
            PushError::Failed("the management endpoint's answer could not be read".into())
        }
        SdkError::ConstructionFailure(_) => PushError::Failed("the post could not be built".into()),
        _ => PushError::Failed("the post failed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_endpoint_replaces_each_connections_and_clients_are_kept_per_endpoint() {
        let local = crate::aws::sdk_config(Some("http://127.0.0.1:9")).await;
        let pusher = ApiGatewayPush::new(&local);
        assert_eq!(
            pusher.endpoint_for("https://abc.execute-api.eu-west-1.amazonaws.com/v1"),
            "http://127.0.0.1:9"
        );
        let deployed = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        let pusher = ApiGatewayPush::new(&deployed);
        let endpoint = "https://abc.execute-api.eu-west-1.amazonaws.com/v1";
        assert_eq!(pusher.endpoint_for(endpoint), endpoint);
        pusher.client(endpoint);
        pusher.client(endpoint);
        pusher.client("https://other.execute-api.eu-west-1.amazonaws.com/v1");
        assert_eq!(pusher.clients.lock().unwrap().len(), 2);
        let no_endpoint = pusher
            .post("", &ConnectionId::new("c"), &Frame::error("x", "y"))
            .await;
        assert!(matches!(no_endpoint, Err(PushError::Failed(_))));
    }
}
