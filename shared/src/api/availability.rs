//! `GET /v1/availability`: whether an agent can chat, cached briefly so a burst of page loads is
//! one Giosg call.

use std::time::Instant;

use chrono::{DateTime, SubsecRound, Utc};
use http::StatusCode;
use serde::Serialize;

use super::{ApiError, ApiResponse, App, json_response};
use crate::store::ChatStore;

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Availability {
    pub online: bool,
    pub checked_at: DateTime<Utc>,
}

pub(super) struct Cached {
    fetched: Instant,
    value: Availability,
}

pub(super) async fn get<S: ChatStore>(app: &App<S>) -> Result<ApiResponse, ApiError> {
    let availability = app.availability().await?;
    Ok(json_response(StatusCode::OK, &availability))
}

impl<S: ChatStore> App<S> {
    fn cached_availability(&self) -> Option<Availability> {
        let cached = self.availability.lock().unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|c| c.fetched.elapsed() < self.settings.availability_cache)
            .map(|c| c.value)
    }

    /// The room's availability, from the cache or from Giosg (through our own service visitor,
    /// since the room endpoint is a visitor endpoint).
    pub async fn availability(&self) -> Result<Availability, ApiError> {
        if let Some(value) = self.cached_availability() {
            return Ok(value);
        }
        // One caller refreshes; the others wait for it and then read the cache.
        let mut service_visitor = self.service_visitor.lock().await;
        if let Some(value) = self.cached_availability() {
            return Ok(value);
        }
        let giosg = self.giosg().await;
        let session = match service_visitor.as_mut() {
            Some(session) => session,
            None => service_visitor.insert(giosg.authenticate_visitor(None).await?),
        };
        let room = giosg.room(session).await?;
        let value = Availability {
            online: room.is_online,
            // Milliseconds, like every other time this API returns.
            checked_at: Utc::now().trunc_subsecs(3),
        };
        *self.availability.lock().unwrap_or_else(|p| p.into_inner()) = Some(Cached {
            fetched: Instant::now(),
            value,
        });
        Ok(value)
    }

    /// Refuses with `agents_offline` when nobody is online, unless offline chats are allowed.
    pub(super) async fn ensure_agents_online(&self) -> Result<(), ApiError> {
        if self.settings.allow_offline_chats || self.availability().await?.online {
            Ok(())
        } else {
            Err(ApiError::AgentsOffline)
        }
    }
}
