//! The shared crate of the Giosg chat bridge.
//!
//! - [`domain`]: chats, messages, visitors and the rules that fold Giosg's events into them;
//! - [`store`]: the storage port with its DynamoDB and in-memory adapters;
//! - [`giosg`]: the typed Giosg client and wire types;
//! - [`config`]: settings from the environment and secrets from Secrets Manager;
//! - [`api`]: the HTTP handlers that the Lambda functions and the local runner both serve;
//! - [`aws`]: the AWS SDK configuration for DynamoDB and Secrets Manager.

pub mod api;
pub mod aws;
pub mod config;
pub mod domain;
pub mod giosg;
#[cfg(feature = "http-server")]
pub mod http_server;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod secret;
pub mod store;
