//! Giosg: a typed async client of its HTTP API, and the wire types only it reads (the chat and
//! message resources are the domain's: [`crate::domain::resource`]).
//!
//! The contract is `giosg-api.md`; the client's retry rules are tabled on [`GiosgClient`].
//! [`GiosgPort`] is the part of the client the application flows use, as a trait to fake.

pub mod budget;
mod client;
mod config;
mod endpoints;
mod error;
mod port;
mod rotating;
mod session;
mod transport;
mod types;

pub use client::GiosgClient;
pub use config::GiosgConfig;
pub use error::GiosgError;
pub use port::GiosgPort;
pub use rotating::RotatingGiosg;
pub use session::{REFRESH_MARGIN, VisitorSession};
pub use types::{Listing, MemberType, Membership, OnlineUser, Page, Room};
