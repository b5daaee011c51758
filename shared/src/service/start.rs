//! Starting a chat: a new visitor gets a Giosg visitor, a chat and a token; a returning one
//! resumes its open chat or gets a new one with the same Giosg visitor.

use chrono::Utc;

use super::{Service, ServiceError, session};
use crate::domain::EventAction;
use crate::domain::chat::{ChatEvent, ChatOwner, ChatRecord};
use crate::domain::input::VisitorName;
use crate::domain::visitor::{VisitorRecord, VisitorToken};
use crate::domain::{ChatId, ChatResource, Field};
use crate::giosg::{GiosgError, GiosgPort, VisitorSession};
use crate::store::ChatStore;

/// `POST /v1/chats`: with the caller's token when it has one.
#[derive(Debug)]
pub struct StartChat {
    pub token: Option<VisitorToken>,
    pub name: VisitorName,
}

/// The chat the visitor chats in now.
#[derive(Debug)]
pub struct StartedChat {
    pub chat: ChatRecord,
    /// A token issued to a new visitor (the only time it is ever shown).
    pub issued_token: Option<VisitorToken>,
    /// The visitor's open chat was returned instead of starting one.
    pub resumed: bool,
}

impl<S: ChatStore, G: GiosgPort> Service<S, G> {
    pub async fn start_chat(&self, command: StartChat) -> Result<StartedChat, ServiceError> {
        match command.token {
            None => self.start_for_new_visitor(command.name).await,
            Some(token) => self.start_for_returning_visitor(token, command.name).await,
        }
    }

    async fn start_for_new_visitor(&self, name: VisitorName) -> Result<StartedChat, ServiceError> {
        self.ensure_agents_online().await?;
        let mut session = self.giosg.authenticate_visitor(None).await?;
        self.giosg.join_room(&mut session).await?;
        self.giosg
            .set_username(session.visitor_id(), name.as_str())
            .await?;
        let resource = self.start_giosg_chat(&mut session).await?;
        let chat_id = chat_id_of(&resource)?;
        let token = VisitorToken::generate();
        let visitor = VisitorRecord {
            key: token.key(),
            giosg_visitor_id: session.visitor_id().clone(),
            credentials: session::seal(&session, &token),
            name: name.as_str().to_owned(),
            latest_chat_id: Some(chat_id.clone()),
            created_at: Utc::now(),
        };
        let chat = self
            .store_started_chat(&visitor, &chat_id, resource)
            .await?;
        Ok(StartedChat {
            chat,
            issued_token: Some(token),
            resumed: false,
        })
    }

    async fn start_for_returning_visitor(
        &self,
        token: VisitorToken,
        name: VisitorName,
    ) -> Result<StartedChat, ServiceError> {
        let mut visitor = self
            .store
            .get_visitor(&token.key())
            .await?
            .ok_or(ServiceError::UnknownVisitor)?;
        let name = name.as_str();
        if let Some(open) = self.latest_open_chat(&visitor).await? {
            if visitor.name != name {
                self.giosg
                    .set_username(&visitor.giosg_visitor_id, name)
                    .await?;
                visitor.name = name.to_owned();
                self.store.put_visitor(&visitor).await?;
            }
            return Ok(StartedChat {
                chat: open,
                issued_token: None,
                resumed: true,
            });
        }
        self.ensure_agents_online().await?;
        let mut session = session::open(&visitor, &token)?;
        self.giosg.join_room(&mut session).await?;
        let rebound = session.visitor_id() != &visitor.giosg_visitor_id;
        if rebound || visitor.name != name {
            self.giosg.set_username(session.visitor_id(), name).await?;
        }
        let resource = self.start_giosg_chat(&mut session).await?;
        let chat_id = chat_id_of(&resource)?;
        session::keep_refreshed(&mut visitor, &mut session, &token);
        visitor.name = name.to_owned();
        visitor.latest_chat_id = Some(chat_id.clone());
        let chat = self
            .store_started_chat(&visitor, &chat_id, resource)
            .await?;
        Ok(StartedChat {
            chat,
            issued_token: None,
            resumed: false,
        })
    }

    /// The visitor's latest chat if it is still open (to resume instead of opening a second one).
    async fn latest_open_chat(
        &self,
        visitor: &VisitorRecord,
    ) -> Result<Option<ChatRecord>, ServiceError> {
        let Some(chat_id) = &visitor.latest_chat_id else {
            return Ok(None);
        };
        Ok(self
            .store
            .get_chat(chat_id)
            .await?
            .filter(|chat| chat.is_visible_to(&visitor.key) && chat.is_ended.is_unset()))
    }

    /// Starts the chat in Giosg. Giosg refuses a chat in a room with nobody online with a 4xx
    /// (giosg-api.md #7), but what a 4xx means is not documented: the room is asked again, and
    /// only an offline room makes it `AgentsOffline`.
    async fn start_giosg_chat(
        &self,
        session: &mut VisitorSession,
    ) -> Result<ChatResource, ServiceError> {
        let error = match self.giosg.start_chat(session).await {
            Ok(resource) => return Ok(resource),
            Err(error) => error,
        };
        if !(error.is_refused() && matches!(error.status(), Some(400 | 403 | 409))) {
            return Err(error.into());
        }
        self.forget_availability();
        match self.availability().await {
            Ok(availability) if !availability.online => {
                if self.rules.allow_offline_chats {
                    tracing::warn!(%error, "Giosg refused to start a chat although offline chats are allowed");
                }
                Err(ServiceError::AgentsOffline)
            }
            Ok(_) => {
                tracing::warn!(%error, "Giosg refused to start a chat in a room with agents online");
                Err(error.into())
            }
            Err(lookup) => {
                tracing::warn!(%error, %lookup, "Giosg refused to start a chat and the room could not be read to tell why");
                Err(error.into())
            }
        }
    }

    /// Stores Giosg's answer as the chat's first snapshot, owned by the visitor (folded with
    /// whatever webhooks got there first), together with the visitor.
    async fn store_started_chat(
        &self,
        visitor: &VisitorRecord,
        chat_id: &ChatId,
        mut resource: ChatResource,
    ) -> Result<ChatRecord, ServiceError> {
        if resource.room_id.is_absent() {
            resource.room_id = Field::Value(self.rules.room_id().clone());
        }
        let event = ChatEvent {
            action: EventAction::Added,
            resource: Some(resource),
            owner: Some(ChatOwner {
                visitor: visitor.key.clone(),
                visitor_name: visitor.name.clone(),
            }),
        };
        Ok(self
            .store
            .record_started_chat(visitor, chat_id, &event, &self.rules.store_context)
            .await?)
    }
}

fn chat_id_of(resource: &ChatResource) -> Result<ChatId, ServiceError> {
    resource.id.clone().ok_or_else(|| {
        ServiceError::Giosg(GiosgError::InvalidResponse {
            endpoint: "start_chat",
            reason: "the chat has no id".into(),
        })
    })
}
