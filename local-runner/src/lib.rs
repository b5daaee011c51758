//! # local-runner: the whole Giosg chat bridge on one machine
//!
//! `cargo run -p local-runner` starts, on 127.0.0.1:
//!
//! - the frontend API (`/v1/...`) and Giosg's webhook endpoints (`/webhooks/giosg/...`) on one
//!   port, served by [`shared::api::all_routes`]: the same routers, handlers and service the
//!   Lambda functions run, not a second implementation;
//! - the visitor chat page at `/` of the same port ([`visitor_page`]), the reference frontend
//!   of the public API;
//! - the Giosg simulator ([`giosg_sim`]) posting its webhooks to the local endpoints with a
//!   webhook secret made for the run, with its agent console at `/_sim/console`;
//! - the in-memory store, optionally kept in a file ([`data_file`]);
//!
//! and prints the URLs to open. Flags switch the store to DynamoDB (local or AWS) and the
//! simulator to real Giosg ([`options::Args`]).

pub mod data_file;
pub mod logging;
pub mod options;
pub mod runner;
pub mod visitor_page;
