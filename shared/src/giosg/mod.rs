//! Giosg: the wire types of its HTTP API and webhooks, and a typed async client.
//!
//! The contract is `giosg-api.md`; the client's retry rules are tabled on [`GiosgClient`].

mod client;
mod error;
mod session;
mod types;

pub use client::{GiosgClient, GiosgConfig};
pub use error::GiosgError;
pub use session::{REFRESH_MARGIN, VisitorSession};
pub use types::{
    Attachment, AttachmentAction, Avatar, ChatId, ChatResource, ChatType, Field, GiosgTime,
    InvalidGiosgTime, MemberType, Membership, MessageId, MessageResource, MessageType, OnlineUser,
    OrgId, Page, Room, RoomId, SenderType, UserId, VisitorId,
};
