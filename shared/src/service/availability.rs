//! Whether an agent can chat: the room's `is_online`, cached briefly so that a burst of page
//! loads is one Giosg call.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

use super::{Service, ServiceError};
use crate::giosg::{GiosgPort, VisitorSession};
use crate::store::ChatStore;

/// The room's availability as the API returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Availability {
    pub online: bool,
    pub checked_at: DateTime<Utc>,
}

/// The cached availability, and the Giosg visitor of our own that reads it (the room endpoint
/// is a visitor endpoint).
#[derive(Default)]
pub(super) struct Cache {
    value: Mutex<Option<(Instant, Availability)>>,
    service_visitor: tokio::sync::Mutex<Option<VisitorSession>>,
}

impl<S: ChatStore, G: GiosgPort> Service<S, G> {
    fn cached_availability(&self) -> Option<Availability> {
        let cached = self
            .availability
            .value
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|(fetched, _)| fetched.elapsed() < self.rules.availability_cache)
            .map(|(_, value)| *value)
    }

    /// The room's availability, from the cache or from Giosg.
    pub async fn availability(&self) -> Result<Availability, ServiceError> {
        if let Some(value) = self.cached_availability() {
            return Ok(value);
        }
        // One caller refreshes; the others wait for it and then read the cache.
        let mut service_visitor = self.availability.service_visitor.lock().await;
        if let Some(value) = self.cached_availability() {
            return Ok(value);
        }
        let session = match service_visitor.as_mut() {
            Some(session) => session,
            None => service_visitor.insert(self.giosg.authenticate_visitor(None).await?),
        };
        let room = self.giosg.room(session).await?;
        let value = Availability {
            online: room.is_online,
            // Milliseconds, like every other time this API returns.
            checked_at: Utc::now().trunc_subsecs(3),
        };
        *self
            .availability
            .value
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), value));
        Ok(value)
    }

    /// Drops the cached availability, so that the next read asks Giosg.
    pub(super) fn forget_availability(&self) {
        *self
            .availability
            .value
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Refuses with `AgentsOffline` when nobody is online, unless offline chats are allowed.
    pub(super) async fn ensure_agents_online(&self) -> Result<(), ServiceError> {
        if self.rules.allow_offline_chats || self.availability().await?.online {
            Ok(())
        } else {
            Err(ServiceError::AgentsOffline)
        }
    }
}
