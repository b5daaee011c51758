//! The Giosg port: the calls the application flows make to Giosg, as a trait.
//!
//! The service layer is generic over [`GiosgPort`] so that its flows can be tested with a fake,
//! without HTTP; [`GiosgClient`] is the real implementation. The port covers exactly what the
//! flows use today (authenticate, join the room, name the visitor, start a chat, send a
//! message, read the room, read a chat as the organization, list the visitor's chats and a
//! chat's messages to find out what an unknown outcome did); the client's other calls stay
//! inherent until a flow needs them.

use std::future::Future;

use super::client::GiosgClient;
use super::error::GiosgError;
use super::session::VisitorSession;
use super::types::{Listing, Room};
use crate::domain::{ChatId, ChatResource, MessageResource, VisitorId};
use crate::secret::Secret;

/// What the application flows need from Giosg. Each method means what the
/// [`GiosgClient`] method of the same name does, retry rules included (tabled on
/// [`GiosgClient`]); a fake should fail the same way, with a [`GiosgError`].
pub trait GiosgPort: Send + Sync + 'static {
    /// A new visitor (`None`) or a returning one by its stored secret; see
    /// [`GiosgClient::authenticate_visitor`].
    fn authenticate_visitor(
        &self,
        visitor_secret_id: Option<&Secret>,
    ) -> impl Future<Output = Result<VisitorSession, GiosgError>> + Send;

    /// Puts the visitor in the configured room; see [`GiosgClient::join_room`].
    fn join_room(
        &self,
        session: &mut VisitorSession,
    ) -> impl Future<Output = Result<(), GiosgError>> + Send;

    /// Sets the name agents see; see [`GiosgClient::set_username`].
    fn set_username(
        &self,
        visitor: &VisitorId,
        name: &str,
    ) -> impl Future<Output = Result<(), GiosgError>> + Send;

    /// Starts a chat in the configured room (not idempotent); see [`GiosgClient::start_chat`].
    fn start_chat(
        &self,
        session: &mut VisitorSession,
    ) -> impl Future<Output = Result<ChatResource, GiosgError>> + Send;

    /// Sends a text message as the visitor (not idempotent); see
    /// [`GiosgClient::send_message`].
    fn send_message(
        &self,
        session: &mut VisitorSession,
        chat: &ChatId,
        text: &str,
    ) -> impl Future<Output = Result<MessageResource, GiosgError>> + Send;

    /// The configured room as the visitor sees it; see [`GiosgClient::room`].
    fn room(
        &self,
        session: &mut VisitorSession,
    ) -> impl Future<Output = Result<Room, GiosgError>> + Send;

    /// One chat as the organization sees it (API token), to confirm what a refusal means;
    /// see [`GiosgClient::owned_chat`].
    fn owned_chat(
        &self,
        chat: &ChatId,
    ) -> impl Future<Output = Result<ChatResource, GiosgError>> + Send;

    /// The messages of one of the visitor's chats, to find out whether a send whose outcome
    /// was unknown landed; see [`GiosgClient::visitor_messages`].
    fn visitor_messages(
        &self,
        session: &mut VisitorSession,
        chat: &ChatId,
    ) -> impl Future<Output = Result<Vec<MessageResource>, GiosgError>> + Send;

    /// The visitor's chats, to find a chat whose start had an unknown outcome; see
    /// [`GiosgClient::visitor_chats`].
    fn visitor_chats(
        &self,
        session: &mut VisitorSession,
    ) -> impl Future<Output = Result<Vec<ChatResource>, GiosgError>> + Send;

    /// Every message of a chat as the organization sees it, to repair what webhooks lost; see
    /// [`GiosgClient::owned_chat_messages`].
    fn owned_chat_messages(
        &self,
        chat: &ChatId,
    ) -> impl Future<Output = Result<Listing<MessageResource>, GiosgError>> + Send;
}

// Each method hands back the inherent method's future (inherent methods win name resolution,
// so these paths do not recurse).
impl GiosgPort for GiosgClient {
    fn authenticate_visitor(
        &self,
        visitor_secret_id: Option<&Secret>,
    ) -> impl Future<Output = Result<VisitorSession, GiosgError>> + Send {
        GiosgClient::authenticate_visitor(self, visitor_secret_id)
    }

    fn join_room(
        &self,
        session: &mut VisitorSession,
    ) -> impl Future<Output = Result<(), GiosgError>> + Send {
        GiosgClient::join_room(self, session)
    }

    fn set_username(
        &self,
        visitor: &VisitorId,
        name: &str,
    ) -> impl Future<Output = Result<(), GiosgError>> + Send {
        GiosgClient::set_username(self, visitor, name)
    }

    fn start_chat(
        &self,
        session: &mut VisitorSession,
    ) -> impl Future<Output = Result<ChatResource, GiosgError>> + Send {
        GiosgClient::start_chat(self, session)
    }

    fn send_message(
        &self,
        session: &mut VisitorSession,
        chat: &ChatId,
        text: &str,
    ) -> impl Future<Output = Result<MessageResource, GiosgError>> + Send {
        GiosgClient::send_message(self, session, chat, text)
    }

    fn room(
        &self,
        session: &mut VisitorSession,
    ) -> impl Future<Output = Result<Room, GiosgError>> + Send {
        GiosgClient::room(self, session)
    }

    fn owned_chat(
        &self,
        chat: &ChatId,
    ) -> impl Future<Output = Result<ChatResource, GiosgError>> + Send {
        GiosgClient::owned_chat(self, chat)
    }

    fn visitor_messages(
        &self,
        session: &mut VisitorSession,
        chat: &ChatId,
    ) -> impl Future<Output = Result<Vec<MessageResource>, GiosgError>> + Send {
        GiosgClient::visitor_messages(self, session, chat)
    }

    fn visitor_chats(
        &self,
        session: &mut VisitorSession,
    ) -> impl Future<Output = Result<Vec<ChatResource>, GiosgError>> + Send {
        GiosgClient::visitor_chats(self, session)
    }

    fn owned_chat_messages(
        &self,
        chat: &ChatId,
    ) -> impl Future<Output = Result<Listing<MessageResource>, GiosgError>> + Send {
        GiosgClient::owned_chat_messages(self, chat)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use url::Url;

    use super::*;
    use crate::domain::{OrgId, RoomId};
    use crate::giosg::GiosgConfig;

    /// A flow written against the port, as the service layer's will be.
    async fn greet<G: GiosgPort>(
        giosg: &G,
        session: &mut VisitorSession,
        chat: &ChatId,
    ) -> Result<MessageResource, GiosgError> {
        giosg.join_room(session).await?;
        giosg.send_message(session, chat, "hello").await
    }

    #[test]
    fn flows_generic_over_the_port_are_send_with_the_client() {
        fn assert_send<T: Send>(_: T) {}
        let client = GiosgClient::new(GiosgConfig::new(
            Url::parse("https://giosg.example").unwrap(),
            OrgId::new("org-1"),
            RoomId::new("room-1"),
            Secret::new("api-token-value"),
        ))
        .unwrap();
        let mut session = VisitorSession::from_parts(
            VisitorId::new("v"),
            Secret::new("s"),
            Secret::new("t"),
            Utc::now(),
        );
        assert_send(greet(&client, &mut session, &ChatId::new("c")));
    }
}
