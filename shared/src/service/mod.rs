//! The service layer: the application's flows (start a chat, send a message, read chats and
//! history, fold a Giosg webhook in, tell whether agents are online), generic over the ports
//! they use, the store ([`ChatStore`]) and Giosg ([`crate::giosg::GiosgPort`]). Typed commands
//! in, typed results or a [`ServiceError`] out; no HTTP here. The HTTP handlers parse a request,
//! call one flow and map its result ([`crate::api`]).
//!
//! A [`Service`] without Giosg (`Service<S, NoGiosg>`, what chat-history and the webhooks
//! build) has no Giosg flows at all: they are defined only where `G: GiosgPort`, so a function
//! that must not call Giosg cannot, and builds no client for it.

mod admin;
mod availability;
mod clock;
mod error;
mod identity;
mod limits;
mod notify;
mod read;
mod realtime;
mod reconcile;
mod send;
mod session;
mod start;
mod webhooks;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

pub use admin::{ChatExport, ErasedPerson};
pub use availability::Availability;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ServiceError;
pub use notify::NotifyReport;
pub use read::{FeedView, HistoryView};
pub use realtime::{Changes, PushReport};
pub use reconcile::{ChatRepair, ReconcileLimits, ReconcileRun};
pub use send::{SEND_CLAIM_STALE_AFTER, SendMessage, SendOutcome};
pub use start::{StartChat, StartedChat};
pub use webhooks::WebhookOutcome;

use crate::config::{Limits, Settings};
use crate::domain::visitor::VisitorToken;
use crate::domain::{OrgId, RoomId};
use crate::store::{ChatStore, StoreContext};

/// The marker for a service that never talks to Giosg.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoGiosg;

/// The rules the flows follow, from the deployment's settings.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Webhooks of other organizations are acknowledged and ignored.
    pub org_id: OrgId,
    /// The room and retention every write needs.
    pub store_context: StoreContext,
    /// Start chats even when no agent is online.
    pub allow_offline_chats: bool,
    /// How long the room's availability is cached.
    pub availability_cache: Duration,
    /// When a send still in flight counts as an unknown outcome (its sender is gone): longer
    /// than the send function's timeout.
    pub send_claim_stale_after: Duration,
}

impl Rules {
    pub fn from_settings(settings: &Settings) -> Self {
        let mut store_context = StoreContext::new(settings.room_id.clone());
        store_context.retention = settings.retention();
        Self {
            org_id: settings.org_id.clone(),
            store_context,
            allow_offline_chats: settings.allow_offline_chats,
            availability_cache: settings.availability_cache,
            send_claim_stale_after: send::SEND_CLAIM_STALE_AFTER,
        }
    }

    pub fn room_id(&self) -> &RoomId {
        &self.store_context.room_id
    }
}

/// The flows, over a store `S` and Giosg `G` (or [`NoGiosg`]). Built once per process.
pub struct Service<S, G = NoGiosg> {
    store: S,
    giosg: G,
    rules: Rules,
    availability: availability::Cache,
    /// The token buckets of starts and sends (none until [`Service::with_limits`]).
    limits: Limits,
    clock: Arc<dyn Clock>,
}

impl<S: ChatStore, G> Service<S, G> {
    pub fn new(store: S, giosg: G, rules: Rules) -> Self {
        Self {
            store,
            giosg,
            rules,
            availability: availability::Cache::default(),
            limits: Limits::off(),
            clock: Arc::new(SystemClock),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }
}

impl<S, G> Service<S, G> {
    /// Limits starts and sends with these token buckets (the settings' [`Limits`]): what the
    /// functions that start chats and send messages run with.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Counts the token buckets' time on `clock` instead of the system clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Keeps the Giosg visitor that reads the room's availability in the store, under `token`
    /// (see [`VisitorToken::for_service_visitor`]), so that a cold start reuses it instead of
    /// making a new Giosg visitor.
    pub fn with_stored_service_visitor(mut self, token: VisitorToken) -> Self {
        self.availability.stored_as = Some(token);
        self
    }
}

impl<S: ChatStore> Service<S, NoGiosg> {
    /// A service for functions that never call Giosg.
    pub fn without_giosg(store: S, rules: Rules) -> Self {
        Self::new(store, NoGiosg, rules)
    }
}
