//! The Giosg port: what the application flows need from Giosg, as a trait, so that the service
//! layer is generic over it and can be tested with a fake instead of HTTP. [`GiosgClient`] is
//! the production adapter; [`super::RotatingGiosg`] puts a rotating API token in front of it.

use std::future::Future;

use super::{GiosgClient, GiosgError, Room, VisitorSession};
use crate::domain::{ChatId, ChatResource, MessageResource, VisitorId};
use crate::secret::Secret;

/// Giosg as the flows see it. Each method is one Giosg call (with the adapter's retries); the
/// numbers are giosg-api.md §2's.
pub trait GiosgPort: Send + Sync + 'static {
    /// #1: a new visitor (`None`) or a returning one by its stored secret.
    fn authenticate_visitor(
        &self,
        visitor_secret_id: Option<&Secret>,
    ) -> impl Future<Output = Result<VisitorSession, GiosgError>> + Send;

    /// #2: puts the visitor in the configured room.
    fn join_room(
        &self,
        session: &mut VisitorSession,
    ) -> impl Future<Output = Result<(), GiosgError>> + Send;

    /// #4: the name agents see for the visitor.
    fn set_username(
        &self,
        visitor: &VisitorId,
        name: &str,
    ) -> impl Future<Output = Result<(), GiosgError>> + Send;

    /// #5: the configured room as the visitor sees it.
    fn room(
        &self,
        session: &mut VisitorSession,
    ) -> impl Future<Output = Result<Room, GiosgError>> + Send;

    /// #7: starts a chat as the visitor. Not idempotent.
    fn start_chat(
        &self,
        session: &mut VisitorSession,
    ) -> impl Future<Output = Result<ChatResource, GiosgError>> + Send;

    /// #8: sends a message as the visitor. Not idempotent.
    fn send_message(
        &self,
        session: &mut VisitorSession,
        chat: &ChatId,
        text: &str,
    ) -> impl Future<Output = Result<MessageResource, GiosgError>> + Send;
}

impl GiosgPort for GiosgClient {
    async fn authenticate_visitor(
        &self,
        visitor_secret_id: Option<&Secret>,
    ) -> Result<VisitorSession, GiosgError> {
        GiosgClient::authenticate_visitor(self, visitor_secret_id).await
    }

    async fn join_room(&self, session: &mut VisitorSession) -> Result<(), GiosgError> {
        GiosgClient::join_room(self, session).await
    }

    async fn set_username(&self, visitor: &VisitorId, name: &str) -> Result<(), GiosgError> {
        GiosgClient::set_username(self, visitor, name).await
    }

    async fn room(&self, session: &mut VisitorSession) -> Result<Room, GiosgError> {
        GiosgClient::room(self, session).await
    }

    async fn start_chat(&self, session: &mut VisitorSession) -> Result<ChatResource, GiosgError> {
        GiosgClient::start_chat(self, session).await
    }

    async fn send_message(
        &self,
        session: &mut VisitorSession,
        chat: &ChatId,
        text: &str,
    ) -> Result<MessageResource, GiosgError> {
        GiosgClient::send_message(self, session, chat, text).await
    }
}
