//! Giosg: a typed async client of its HTTP API, and the wire types only it reads (the chat and
//! message resources are the domain's: [`crate::domain::resource`]).
//!
//! The contract is `giosg-api.md`; the client's retry rules are tabled on [`GiosgClient`].

mod client;
mod endpoints;
mod error;
mod session;
mod transport;
mod types;

pub use client::{GiosgClient, GiosgConfig};
pub use error::GiosgError;
pub use session::{REFRESH_MARGIN, VisitorSession};
pub use types::{MemberType, Membership, OnlineUser, Page, Room};
