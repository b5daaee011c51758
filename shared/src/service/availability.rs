//! Whether an agent can chat: the room's `is_online`, cached briefly so that a burst of page
//! loads is one Giosg call.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

use super::{Service, ServiceError, session};
use crate::domain::visitor::{VisitorRecord, VisitorToken};
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
    /// Where that visitor is kept between cold starts: its token (see
    /// [`VisitorToken::for_service_visitor`]). Without one, each process makes its own.
    pub(super) stored_as: Option<VisitorToken>,
}

/// Where the service visitor used for a read came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// Made or loaded earlier by this process.
    ThisProcess,
    /// Loaded from the store (another process made it).
    Store,
    /// Made for this read: to be stored.
    New,
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
        let (mut session, mut origin) = match service_visitor.take() {
            Some(session) => (session, Origin::ThisProcess),
            None => self.service_visitor().await?,
        };
        let mut room = self.giosg.room(&mut session).await;
        if origin != Origin::New && room.as_ref().is_err_and(|error| error.is_refused()) {
            // Giosg no longer takes the visitor it knew: make a new one rather than fail forever.
            tracing::warn!("Giosg refused the service visitor; making a new one");
            session = self.giosg.authenticate_visitor(None).await?;
            origin = Origin::New;
            room = self.giosg.room(&mut session).await;
        }
        if session.take_changed() || origin == Origin::New {
            self.keep_service_visitor(&session).await;
        }
        *service_visitor = Some(session);
        let room = room?;
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

    /// The stored service visitor, or a new one (stored once it has been used).
    async fn service_visitor(&self) -> Result<(VisitorSession, Origin), ServiceError> {
        if let Some(token) = &self.availability.stored_as
            && let Some(stored) = self.store.get_visitor(&token.key()).await?
        {
            match session::open(&stored, token) {
                Ok(session) => return Ok((session, Origin::Store)),
                // Sealed under another API token (rotated): start over with a new visitor.
                Err(error) => tracing::warn!(%error, "the stored service visitor cannot be opened"),
            }
        }
        Ok((self.giosg.authenticate_visitor(None).await?, Origin::New))
    }

    /// Stores the service visitor's session (new or refreshed) for the next cold start.
    async fn keep_service_visitor(&self, session: &VisitorSession) {
        let Some(token) = &self.availability.stored_as else {
            return;
        };
        let record = VisitorRecord {
            key: token.key(),
            giosg_visitor_id: session.visitor_id().clone(),
            credentials: session::seal(session, token),
            name: "service visitor (reads the room's availability)".into(),
            latest_chat_id: None,
            created_at: Utc::now(),
            visitor_ref: None,
            identity: None,
        };
        if let Err(error) = self
            .store
            .put_visitor(&record, &self.rules.store_context)
            .await
        {
            tracing::warn!(%error, "could not store the service visitor");
        }
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
