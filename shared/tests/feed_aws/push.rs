//! The API Gateway adapter: posts reach moto's management API (at its root, as they reach
//! `AWS_ENDPOINT_URL`), a `410 GoneException` is `Gone`, and any other failure is `Failed`
//! with a description that holds no frame content.

use shared::aws::sdk_config;
use shared::domain::connection::ConnectionId;
use shared::push::apigateway::ApiGatewayPush;
use shared::push::{Frame, PushError, PushPort};

use crate::support::management::ManagementApi;
use crate::support::moto;

fn secret_frame() -> Frame {
    Frame::error("invalid_request", "a frame that must never reach a log")
}

#[tokio::test]
async fn posts_reach_motos_management_api() {
    let pusher = ApiGatewayPush::new(&sdk_config(Some(moto::endpoint())).await);
    let endpoint = "https://f1e2d3c4b5.execute-api.eu-west-1.amazonaws.com/v1";
    for connection in ["Lz8qNcM3DoECH0w=", "conn-2"] {
        pusher
            .post(endpoint, &ConnectionId::new(connection), &secret_frame())
            .await
            .unwrap_or_else(|error| panic!("moto refused the post to {connection}: {error}"));
    }
}

#[tokio::test]
async fn a_gone_connection_is_gone_and_the_others_receive_the_frame() {
    let api = ManagementApi::start().await;
    let pusher = api.pusher().await;
    api.mark_gone("Lz8qNcM3DoECH0w=");
    let gone = pusher
        .post("", &ConnectionId::new("Lz8qNcM3DoECH0w="), &secret_frame())
        .await;
    assert!(matches!(gone, Err(PushError::Gone)), "{gone:?}");
    pusher
        .post("", &ConnectionId::new("conn-here"), &secret_frame())
        .await
        .unwrap();
    assert_eq!(
        api.frames("conn-here"),
        [serde_json::to_value(secret_frame()).unwrap()]
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_without_the_frame_in_the_reason() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let pusher = ApiGatewayPush::new(&sdk_config(Some(&url)).await);
    let failed = pusher
        .post("", &ConnectionId::new("conn-1"), &secret_frame())
        .await;
    let Err(PushError::Failed(reason)) = failed else {
        panic!("expected a failure, got {failed:?}");
    };
    assert!(!reason.contains("never reach"), "{reason}");
}
