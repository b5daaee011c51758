//! The simulated Giosg, in memory: the organization's two rooms, visitors and their access
//! tokens, agents, chats with their messages and memberships ([`SimState`]).
//!
//! Every operation that changes a chat or a message queues the webhooks Giosg would send
//! (giosg-api.md §4, "What Giosg emits") as plain [`Emission`]s in an outbox; `app` takes the
//! outbox and hands it to the webhook dispatcher while it still holds the state lock, so
//! webhooks leave in the order the changes happened. Nothing here knows HTTP or the dispatcher.
//!
//! [`SimState`] is one type with its operations split by concern, one `impl` block per
//! submodule. Each submodule uses only the ones listed before it (and this one):
//! - `error`, `model`: why an operation is refused; the records, as plain data.
//! - `rooms`: room lookups, the room resource, the agents online.
//! - `render`: records as the resources Giosg sends.
//! - `emit`: the webhooks of a change, from rendered resources.
//! - `visitors`: visitor auth, access tokens, presence, variables.
//! - `rules`: the rooms' automation rules and the messages they post (greetings, notices).
//! - `chats`: the chat lifecycle (start, read, end, delete) and memberships.
//! - `messages`: sending, listing, editing, purging and deleting messages.
//! - `agents`: the agent roster, and agents joining, replying and leaving.
//! - `control`: what only the control API asks for, built from the above.

mod agents;
mod chats;
mod control;
mod emit;
mod error;
mod messages;
mod model;
mod render;
mod rooms;
mod rules;
mod visitors;

pub(crate) use agents::DEFAULT_AGENT;
pub(crate) use error::{StateError, TokenProblem};

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

use crate::config::{Behaviour, SimConfig};
use crate::emission::Emission;
use crate::ids;
use crate::time::{Clock, Stamper};

use agents::DEFAULT_AGENTS;
use model::{Agent, Chat, Grant, RoomRules, Visitor, new_agent};

/// The whole simulated Giosg.
pub(crate) struct SimState {
    org_id: String,
    room_id: String,
    other_room_id: String,
    access_token_ttl_secs: u64,
    pub(crate) behaviour: Behaviour,
    other_room_online: bool,
    visitors: HashMap<String, Visitor>,
    visitor_by_secret: HashMap<String, String>,
    grants: HashMap<String, Grant>,
    agents: Vec<Agent>,
    chats: HashMap<String, Chat>,
    clock: Clock,
    mixed_counter: AtomicU64,
    /// The automation rules of the configured room and of the other room.
    rules: [RoomRules; 2],
    outbox: Vec<Emission>,
    bot_user_id: String,
    socket_url: String,
}

impl SimState {
    pub(crate) fn new(config: &SimConfig, socket_url: String) -> Self {
        let mut clock = Clock::new();
        let precision = config.behaviour.timestamp_precision;
        let agents = DEFAULT_AGENTS
            .iter()
            .map(|(name, has_avatar)| new_agent(name, *has_avatar, clock.now(precision)))
            .collect();
        Self {
            org_id: config.org_id.clone(),
            room_id: config.room_id.clone(),
            other_room_id: config.other_room_id.clone(),
            access_token_ttl_secs: config.access_token_ttl_secs,
            behaviour: config.behaviour.clone(),
            other_room_online: true,
            visitors: HashMap::new(),
            visitor_by_secret: HashMap::new(),
            grants: HashMap::new(),
            agents,
            chats: HashMap::new(),
            clock,
            mixed_counter: AtomicU64::new(0),
            rules: [RoomRules::new(), RoomRules::new()],
            outbox: Vec::new(),
            bot_user_id: ids::uuid(),
            socket_url,
        }
    }

    /// The webhooks queued by the operations so far.
    pub(crate) fn take_outbox(&mut self) -> Vec<Emission> {
        std::mem::take(&mut self.outbox)
    }

    fn stamper(&self) -> Stamper<'_> {
        Stamper::new(
            self.behaviour.timestamp_format,
            self.behaviour.timestamp_precision,
            &self.mixed_counter,
        )
    }

    /// The next reading of the clock, at the current timestamp precision.
    fn now(&mut self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now(self.behaviour.timestamp_precision)
    }
}
