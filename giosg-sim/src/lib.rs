//! # giosg-sim: a Giosg simulator
//!
//! A real HTTP server that behaves like Giosg as described in `giosg-api.md`: the visitor and
//! organization endpoints the integration uses, webhooks for every chat and message event,
//! a control API under `/_sim/` to play the agent and inject faults, all state in memory.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use giosg_sim::{SimConfig, Simulator};
//!
//! let mut config = SimConfig::new("127.0.0.1:0".parse()?);
//! config.chat_webhook_url = Some("http://127.0.0.1:9000/webhooks/chats?token=s3cret".into());
//! let sim = Simulator::start(config).await?;
//! println!("Giosg at {}", sim.base_url());
//! sim.control().agent_message("<chat id>", "Hello from Smith").await?;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Every `[inferred]` or `[unknown]` behaviour of Giosg is a field of [`Behaviour`], with the
//! defaults documented there, switchable at run time with `PUT /_sim/settings`. A [`Profile`]
//! sets them all at once: `default` (the guesses) or `contrary` (every guess flipped,
//! [`Behaviour::contrary`]), at start (`config.behaviour = Profile::Contrary.behaviour()`, or
//! [`Profile::from_env`] for `GIOSG_SIM_PROFILE`) or at run time with
//! `PUT /_sim/settings/profile/{name}`.

#![warn(missing_docs)]

// Layers. A module imports only from lower layers, or from modules named before it in its own
// layer's order below; never upwards, so the imports have no cycle. (A module and its own
// submodules may use each other.)
//
// 1. Plain data and rules: no HTTP server, no shared state. Order: ids, paths, sync,
//    webhook_url; config; time; resources; then emission, pagination, control_types, traffic.
//    Guesses about Giosg: the switchable ones are all in `config::behaviour`; fixed shapes
//    live where they are made (ids in `ids`, timestamps in `time`, pages in `pagination`,
//    webhook envelopes and `changed`/`removed` resources in `state::emit`).
mod config;
mod control_types;
mod emission;
mod ids;
mod pagination;
mod paths;
mod resources;
mod sync;
mod time;
mod traffic;
mod webhook_url;
// 2. The model: the simulated Giosg. It queues `emission`s and knows neither HTTP nor the
//    webhook emitter.
mod state;
// 3. The webhook emitter: it delivers `emission`s and knows nothing of `state`.
mod webhooks;
// 4. HTTP. Order: error (lower-layer failures as answers), app (the shared server state),
//    extract, the routes (giosg_api, control_api, console), router.
mod app;
mod console;
mod control_api;
mod error;
mod extract;
mod giosg_api;
mod router;
// Beside the server: a typed client of the control API, using only layer 1 and the public
// types of `webhooks`.
mod control_client;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{
    Behaviour, ConfigError, ErrorBody, MessageChatId, NextLinks, OTHER_ORIGIN, PROFILE_ENV,
    Profile, RemovedResource, SimConfig, TimestampFormat, TimestampPrecision, UnknownSecret,
};
pub use control_client::{ControlError, SimControl};
pub use control_types::{
    AgentMessageRequest, AgentRequest, ChatDetail, ChatOverview, EditMessageRequest, ExpiredTokens,
    FlushRequest, JoinOutcome, RoomOnlineRequest, SimInfo, VisitorMessageRequest, VisitorOverview,
    WebhookUrls, WidgetChat, WidgetChatRequest,
};
pub use resources::{
    AppUserAuth, Attachment, AttachmentAction, Avatar, ChatResource, ChatType, MembershipResource,
    MessageResource, MessageType, OnlineUserResource, Page, ParticipantType, RoomResource,
    RoomVisitorResource, VariableResource, VisitorAuthResource, WebhookAction, WebhookEnvelope,
};
pub use traffic::{
    ActiveFaults, DelaySpec, Endpoint, EndpointSelector, FaultSpec, RequestLog, RequestRecord,
};
pub use webhooks::{
    DeliveryRecord, EmittedWebhook, WebhookFaultMode, WebhookFaultSpec, WebhookStatus,
};

/// How long [`SimHandle::shutdown`] lets open requests finish before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Validates `config`, binds `config.bind`, and serves until [`SimHandle::shutdown`] (or
    /// until the handle is dropped).
    pub async fn start(mut config: SimConfig) -> anyhow::Result<SimHandle> {
        config
            .validate()
            .context("invalid simulator configuration")?;
        let chat_url = config
            .chat_webhook_url
            .as_deref()
            .map(webhook_url::parse_webhook_url)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let message_url = config
            .message_webhook_url
            .as_deref()
            .map(webhook_url::parse_webhook_url)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let local_addr = listener.local_addr().context("no local address")?;
        config.bind = local_addr;
        let base_url = format!("http://{}", reachable(local_addr));

        let dispatcher = webhooks::Dispatcher::new(chat_url, message_url)
            .context("cannot build the webhook HTTP client")?;
        let worker = tokio::spawn(Arc::clone(&dispatcher).run());
        let app = app::App::new(config.clone(), base_url.clone(), dispatcher);
        let router = router::router(app);

        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    // A dropped sender stops the server too.
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "simulator server failed");
            }
        });
        tracing::info!(%base_url, org_id = %config.org_id, room_id = %config.room_id, "giosg-sim listening");
        Ok(SimHandle {
            config,
            base_url,
            stop: Some(stop),
            server: Some(server),
            worker,
        })
    }
}

/// An address clients can connect to: the unspecified address becomes loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// A running simulator. Dropping it stops the server too (without waiting).
pub struct SimHandle {
    config: SimConfig,
    base_url: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    worker: JoinHandle<()>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, no trailing slash: the Giosg base URL for clients.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.config.bind
    }

    /// The organization id.
    pub fn org_id(&self) -> &str {
        &self.config.org_id
    }

    /// The configured room.
    pub fn room_id(&self) -> &str {
        &self.config.room_id
    }

    /// The other room of the organization.
    pub fn other_room_id(&self) -> &str {
        &self.config.other_room_id
    }

    /// The organization API token.
    pub fn api_token(&self) -> &str {
        &self.config.api_token
    }

    /// The configuration as started (`bind` is the bound address; `behaviour` is the initial
    /// one: see `GET /_sim/settings` for the current one).
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// A typed client of the control API.
    pub fn control(&self) -> SimControl {
        SimControl::new(self.base_url.clone())
    }

    /// Stops accepting connections, lets open requests finish (a few seconds at most), and
    /// stops webhook delivery.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
        self.worker.abort();
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.worker.abort();
    }
}
