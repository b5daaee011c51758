//! The fake Giosg port the flow tests run against: a few lines of state.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{Duration, Utc};

use crate::domain::{
    ChatId, ChatResource, Field, GiosgTime, MessageId, MessageResource, MessageType, SenderType,
    VisitorId,
};
use crate::giosg::{GiosgError, GiosgPort, Room, VisitorSession};
use crate::secret::Secret;

/// Giosg as a few lines of state: an online flag, the calls made, and failures to hand out.
#[derive(Default)]
pub(super) struct FakeGiosg {
    pub(super) state: Mutex<FakeState>,
}

#[derive(Default)]
pub(super) struct FakeState {
    pub(super) offline: bool,
    pub(super) calls: Vec<&'static str>,
    pub(super) chats: u32,
    pub(super) messages: u32,
    pub(super) send_failures: VecDeque<GiosgError>,
    /// Carries the next sends out, then fails them with these errors (the answer is lost).
    pub(super) lost_send_answers: VecDeque<GiosgError>,
    /// Carries the next starts out, then fails them with these errors.
    pub(super) lost_start_answers: VecDeque<GiosgError>,
    /// What Giosg holds: every message sent, every chat started.
    pub(super) sent: Vec<MessageResource>,
    pub(super) started: Vec<ChatResource>,
    /// Refuses the next start with this error, and goes offline when `offline_when_refusing`.
    pub(super) start_failure: Option<GiosgError>,
    pub(super) offline_when_refusing: bool,
    /// What the organization API says of every chat.
    pub(super) chats_ended: bool,
    /// Refuses the room to every visitor but the newest (Giosg forgot the older ones).
    pub(super) forgot_older_visitors: bool,
    pub(super) visitors: u32,
}

impl FakeState {
    /// What Giosg holds of one chat's messages.
    fn messages_in(&self, chat: &ChatId) -> Vec<MessageResource> {
        self.sent
            .iter()
            .filter(|m| m.chat_id.value() == Some(chat))
            .cloned()
            .collect()
    }

    /// A new message of the visitor, as Giosg would describe it.
    pub(super) fn visitor_message(&mut self, chat: &ChatId, text: &str) -> MessageResource {
        self.messages += 1;
        MessageResource {
            id: Some(MessageId::new(format!("message-{}", self.messages))),
            message_type: Field::Value(MessageType::Msg),
            chat_id: Field::Value(chat.clone()),
            created_at: Field::Value(GiosgTime::from(Utc::now())),
            sender_type: Field::Value(SenderType::Visitor),
            message: Field::Value(text.to_owned()),
            ..MessageResource::default()
        }
    }
}

impl FakeGiosg {
    /// Giosg holds a message the visitor sent in `chat` (by a request whose answer never came).
    pub(super) fn holds(&self, chat: &ChatId, text: &str) {
        let mut state = self.state.lock().unwrap();
        let message = state.visitor_message(chat, text);
        state.sent.push(message);
    }

    /// The next start is carried out, then fails with `error` (its answer is lost).
    pub(super) fn lose_next_start_answer(&self, error: GiosgError) {
        self.state
            .lock()
            .unwrap()
            .lost_start_answers
            .push_back(error);
    }

    /// The next send is carried out, then fails with `error` (its answer is lost).
    pub(super) fn lose_next_send_answer(&self, error: GiosgError) {
        self.state
            .lock()
            .unwrap()
            .lost_send_answers
            .push_back(error);
    }

    pub(super) fn calls(&self, name: &str) -> usize {
        let state = self.state.lock().unwrap();
        state.calls.iter().filter(|call| **call == name).count()
    }

    pub(super) fn fail_next_send(&self, error: GiosgError) {
        self.state.lock().unwrap().send_failures.push_back(error);
    }

    /// Notes a call; the state it returns is for the call to read or change.
    fn record(&self, call: &'static str) -> std::sync::MutexGuard<'_, FakeState> {
        let mut state = self.state.lock().unwrap();
        state.calls.push(call);
        state
    }
}

impl GiosgPort for FakeGiosg {
    async fn authenticate_visitor(
        &self,
        secret: Option<&Secret>,
    ) -> Result<VisitorSession, GiosgError> {
        let mut state = self.record("visitor_auth");
        state.visitors += 1;
        Ok(VisitorSession::from_parts(
            VisitorId::new(format!("{:032x}", state.visitors)),
            secret
                .cloned()
                .unwrap_or_else(|| Secret::new("visitor-secret")),
            Secret::new("access-token"),
            Utc::now() + Duration::hours(1),
        ))
    }

    async fn join_room(&self, _session: &mut VisitorSession) -> Result<(), GiosgError> {
        drop(self.record("join_room"));
        Ok(())
    }

    async fn set_username(&self, _visitor: &VisitorId, _name: &str) -> Result<(), GiosgError> {
        drop(self.record("set_variable"));
        Ok(())
    }

    async fn room(&self, session: &mut VisitorSession) -> Result<Room, GiosgError> {
        let state = self.record("room");
        if state.forgot_older_visitors
            && session.visitor_id() != &VisitorId::new(format!("{:032x}", state.visitors))
        {
            return Err(refused("room", 403));
        }
        Ok(Room {
            is_online: !state.offline,
            ..Room::default()
        })
    }

    async fn start_chat(&self, _session: &mut VisitorSession) -> Result<ChatResource, GiosgError> {
        let mut state = self.record("start_chat");
        if let Some(error) = state.start_failure.take() {
            state.offline = state.offline_when_refusing;
            return Err(error);
        }
        state.chats += 1;
        let now = GiosgTime::from(Utc::now());
        let chat = ChatResource {
            id: Some(ChatId::new(format!("chat-{}", state.chats))),
            created_at: Field::Value(now),
            updated_at: Field::Value(now),
            is_ended: Field::Value(false),
            ..ChatResource::default()
        };
        state.started.push(chat.clone());
        match state.lost_start_answers.pop_front() {
            Some(error) => Err(error),
            None => Ok(chat),
        }
    }

    async fn send_message(
        &self,
        _session: &mut VisitorSession,
        chat: &ChatId,
        text: &str,
    ) -> Result<MessageResource, GiosgError> {
        let mut state = self.record("send_message");
        if let Some(error) = state.send_failures.pop_front() {
            return Err(error);
        }
        let message = state.visitor_message(chat, text);
        state.sent.push(message.clone());
        match state.lost_send_answers.pop_front() {
            Some(error) => Err(error),
            None => Ok(message),
        }
    }

    async fn visitor_messages(
        &self,
        _session: &mut VisitorSession,
        chat: &ChatId,
    ) -> Result<Vec<MessageResource>, GiosgError> {
        Ok(self.record("visitor_messages").messages_in(chat))
    }

    async fn owned_chat_messages(
        &self,
        chat: &ChatId,
    ) -> Result<crate::giosg::Listing<MessageResource>, GiosgError> {
        let items = self.record("owned_chat_messages").messages_in(chat);
        Ok(crate::giosg::Listing { items, pages: 1 })
    }

    async fn visitor_chats(
        &self,
        _session: &mut VisitorSession,
    ) -> Result<Vec<ChatResource>, GiosgError> {
        Ok(self.record("visitor_chats").started.clone())
    }

    async fn owned_chat(&self, chat: &ChatId) -> Result<ChatResource, GiosgError> {
        let state = self.record("owned_chat");
        Ok(ChatResource {
            id: Some(chat.clone()),
            is_ended: Field::Value(state.chats_ended),
            ended_at: if state.chats_ended {
                Field::Value(GiosgTime::from(Utc::now()))
            } else {
                Field::Null
            },
            ..ChatResource::default()
        })
    }
}

pub(super) fn refused(endpoint: &'static str, status: u16) -> GiosgError {
    GiosgError::Refused {
        endpoint,
        status,
        message: "refused".into(),
    }
}
