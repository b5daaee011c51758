//! The shared crate of the Giosg chat bridge.
//!
//! Layered; a module imports only from the layers below it:
//!
//! 1. [`domain`]: ids, times, Giosg's chat and message resources, chats, messages, visitors and
//!    the rules that fold Giosg's events into them ([`secret`]: values that never reach a log;
//!    [`metrics`]: what the code counts, as CloudWatch EMF; [`correlation`]: the id that ties a
//!    message's log lines together);
//! 2. [`config`]: settings from the environment and secrets from Secrets Manager; [`aws`]: the
//!    AWS SDK configuration for DynamoDB, Secrets Manager and API Gateway's management API;
//! 3. the ports with their adapters: [`store`] (DynamoDB, in-memory), [`giosg`] (the reqwest
//!    client behind the `GiosgPort` trait) and [`push`] (posting to WebSocket connections);
//! 4. [`service`]: the application's flows, generic over the ports;
//! 5. [`api`]: the HTTP surface (axum routers per function) that the Lambda functions and the
//!    local runner both serve; [`jobs`]: the invocations of the functions that are not HTTP
//!    (the reconciler, the real-time feed's WebSocket routes and stream notifier);
//! 6. [`lambda`]: the per-function wiring (feature `lambda`).

pub mod api;
pub mod aws;
pub mod config;
pub mod correlation;
pub mod domain;
pub mod giosg;
pub mod identity;
pub mod jobs;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod metrics;
pub mod notify;
pub mod push;
pub mod secret;
pub mod service;
pub mod store;
pub mod tls;
