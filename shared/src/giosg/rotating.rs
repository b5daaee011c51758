//! A Giosg client whose organization API token follows the Secrets Manager secret, so a
//! rotation needs no restart.

use std::sync::{Arc, RwLock};

use super::{GiosgClient, GiosgError, GiosgPort, Listing, Room, VisitorSession};
use crate::config::SecretsCache;
use crate::domain::{ChatId, ChatResource, MessageResource, VisitorId};
use crate::secret::Secret;

/// A [`GiosgClient`] that takes the current API token from the secrets cache before each call
/// (sharing one connection pool across rotations).
pub struct RotatingGiosg {
    client: RwLock<GiosgClient>,
    secrets: Arc<SecretsCache>,
}

impl RotatingGiosg {
    /// `client` is used until the secret names another token. Nothing is read here: the
    /// first call reads the cached secret.
    pub fn new(client: GiosgClient, secrets: Arc<SecretsCache>) -> Self {
        Self {
            client: RwLock::new(client),
            secrets,
        }
    }

    /// The client with the current API token; `Unavailable` while the secret cannot be read.
    async fn current(&self) -> Result<GiosgClient, GiosgError> {
        let secrets = self
            .secrets
            .get()
            .await
            .map_err(|error| GiosgError::Unavailable {
                endpoint: "api_token",
                reason: error.to_string(),
                status: None,
                may_have_acted: false,
            })?;
        let current = self
            .client
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if current.config().api_token == secrets.giosg_api_token {
            return Ok(current);
        }
        let rotated = current.with_api_token(secrets.giosg_api_token.clone());
        *self.client.write().unwrap_or_else(|p| p.into_inner()) = rotated.clone();
        Ok(rotated)
    }
}

impl GiosgPort for RotatingGiosg {
    async fn authenticate_visitor(
        &self,
        visitor_secret_id: Option<&Secret>,
    ) -> Result<VisitorSession, GiosgError> {
        self.current()
            .await?
            .authenticate_visitor(visitor_secret_id)
            .await
    }

    async fn join_room(&self, session: &mut VisitorSession) -> Result<(), GiosgError> {
        self.current().await?.join_room(session).await
    }

    async fn set_username(&self, visitor: &VisitorId, name: &str) -> Result<(), GiosgError> {
        self.current().await?.set_username(visitor, name).await
    }

    async fn room(&self, session: &mut VisitorSession) -> Result<Room, GiosgError> {
        self.current().await?.room(session).await
    }

    async fn start_chat(&self, session: &mut VisitorSession) -> Result<ChatResource, GiosgError> {
        self.current().await?.start_chat(session).await
    }

    async fn send_message(
        &self,
        session: &mut VisitorSession,
        chat: &ChatId,
        text: &str,
    ) -> Result<MessageResource, GiosgError> {
        self.current()
            .await?
            .send_message(session, chat, text)
            .await
    }

    async fn owned_chat(&self, chat: &ChatId) -> Result<ChatResource, GiosgError> {
        self.current().await?.owned_chat(chat).await
    }

    async fn visitor_messages(
        &self,
        session: &mut VisitorSession,
        chat: &ChatId,
    ) -> Result<Vec<MessageResource>, GiosgError> {
        self.current().await?.visitor_messages(session, chat).await
    }

    async fn visitor_chats(
        &self,
        session: &mut VisitorSession,
    ) -> Result<Vec<ChatResource>, GiosgError> {
        self.current().await?.visitor_chats(session).await
    }

    async fn owned_chat_messages(
        &self,
        chat: &ChatId,
    ) -> Result<Listing<MessageResource>, GiosgError> {
        self.current().await?.owned_chat_messages(chat).await
    }
}
