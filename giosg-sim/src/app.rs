//! The shared application state behind every route: the simulated Giosg, the traffic log and
//! schedules, the webhook dispatcher and the configuration.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::config::{Behaviour, SimConfig};
use crate::error::ApiError;
use crate::state::{SimState, StateError};
use crate::sync::lock;
use crate::traffic::Traffic;
use crate::webhooks::{DeliveryOptions, Dispatcher};

/// Everything the handlers share.
pub(crate) struct App {
    state: Mutex<SimState>,
    traffic: Mutex<Traffic>,
    pub(crate) dispatcher: Arc<Dispatcher>,
    /// The configuration, with `bind` set to the address actually bound.
    pub(crate) config: SimConfig,
    /// `http://HOST:PORT` of the simulator.
    pub(crate) base_url: String,
}

impl App {
    pub(crate) fn new(
        config: SimConfig,
        base_url: String,
        dispatcher: Arc<Dispatcher>,
    ) -> Arc<Self> {
        let socket_url = format!("{}/websocket", base_url.replacen("http", "ws", 1));
        let state = SimState::new(&config, socket_url);
        Arc::new(Self {
            state: Mutex::new(state),
            traffic: Mutex::new(Traffic::default()),
            dispatcher,
            config,
            base_url,
        })
    }

    /// The simulated Giosg, for reading. Operations that change it go through
    /// [`App::giosg`] or [`App::control`] so their webhooks are sent.
    pub(crate) fn state(&self) -> MutexGuard<'_, SimState> {
        lock(&self.state)
    }

    pub(crate) fn traffic(&self) -> MutexGuard<'_, Traffic> {
        lock(&self.traffic)
    }

    /// Runs an operation for the Giosg API; errors get the statuses of the current behaviour.
    pub(crate) fn giosg<T>(
        &self,
        op: impl FnOnce(&mut SimState) -> Result<T, StateError>,
    ) -> Result<T, ApiError> {
        self.apply(op, ApiError::from_giosg)
    }

    /// Runs an operation for the control API.
    pub(crate) fn control<T>(
        &self,
        op: impl FnOnce(&mut SimState) -> Result<T, StateError>,
    ) -> Result<T, ApiError> {
        self.apply(op, |error, _| ApiError::from_control(error))
    }

    /// Runs an operation and queues its webhooks before the state is unlocked, so webhooks
    /// leave in the order the changes happened.
    fn apply<T>(
        &self,
        op: impl FnOnce(&mut SimState) -> Result<T, StateError>,
        map_error: impl FnOnce(StateError, &Behaviour) -> ApiError,
    ) -> Result<T, ApiError> {
        let mut state = self.state();
        let result = op(&mut state);
        let emissions = state.take_outbox();
        let options = DeliveryOptions {
            timeout: Duration::from_millis(state.behaviour.webhook_timeout_ms),
            retries: state.behaviour.webhook_retries,
        };
        self.dispatcher.enqueue(emissions, options);
        result.map_err(|error| map_error(error, &state.behaviour))
    }
}
