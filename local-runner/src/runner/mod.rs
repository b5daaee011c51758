//! Assembles and starts everything: the Giosg simulator (or real Giosg), the store, the shared
//! handlers behind one HTTP port with the visitor page, and the saver of `--data-file`.
//!
//! This module owns [`start`], [`Running`] and its [`Running::stop`], and the serving of the
//! shared handlers; its parts:
//! - `giosg`: the Giosg simulator started for the run, or real Giosg;
//! - `memory`: the in-memory store loaded from `--data-file`, and the chats it left open;
//! - `dynamodb`: the DynamoDB store, its table checked or created;
//! - `webhook`: the webhook URLs and the Giosg channels they subscribe to;
//! - `banner`: the URLs printed for a person and the `listening` line for scripts.

mod banner;
mod dynamodb;
mod feed;
mod giosg;
mod identity_demo;
mod memory;
mod reconcile;
mod webhook;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::ConnectInfo;
use giosg_sim::SimHandle;
use shared::api::{self, Api, ClientAddress, OperatorAccess, OperatorStore};
use shared::config::{LIMIT_SETTINGS, SecretSource, Secrets, SecretsCache, Settings};
use shared::giosg::{GiosgClient, GiosgConfig, RotatingGiosg};
use shared::identity::IdentityVerifier;
use shared::secret::Secret;
use shared::service::{Rules, Service};
use shared::store::announcing::Announcing;
use shared::store::memory::MemoryStore;
use shared::store::{ChatStore, SubscriptionStore};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::data_file::Saver;
use crate::options::{DynamoEndpoint, GiosgChoice, Options, StoreChoice};
use crate::visitor_page;
use dynamodb::dynamo_store;
use feed::LocalPusher;
use giosg::connect_giosg;
pub use giosg::{SIM_ORG_ID, SIM_OTHER_ROOM_ID, SIM_ROOM_ID};
use memory::{end_chats_the_simulator_forgot, load_memory_store};
use shared::service::ReconcileLimits;
pub use webhook::WebhookKind;

/// How long open requests may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Everything that runs, until [`Running::stop`].
pub struct Running {
    api_url: String,
    sim: Option<SimHandle>,
    org_id: String,
    store_description: String,
    giosg_description: String,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    saver: Option<Saver>,
    /// The reconciler's timer, when `--reconcile-every` is not 0.
    reconciler: Option<JoinHandle<()>>,
    /// The real-time feed's notifier.
    notifier: JoinHandle<()>,
    reconcile_every: Option<Duration>,
}

/// Starts everything `options` asks for. Fails with a sentence naming what is wrong (a busy
/// port, an unreadable data file, an unreachable DynamoDB), never with a secret.
pub async fn start(options: Options) -> anyhow::Result<Running> {
    let listener = TcpListener::bind((options.bind, options.port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for the API (is another local-runner running? pass --port with a free port, or --port 0)",
                SocketAddr::new(options.bind, options.port)
            )
        })?;
    let api_url = format!("http://{}", reachable(listener.local_addr()?));

    let profile = match &options.giosg {
        GiosgChoice::Simulator { profile, .. } => Some(*profile),
        GiosgChoice::Real { .. } => None,
    };
    let (giosg, sim) = connect_giosg(options.giosg, options.bind, &api_url).await?;
    let org_id = giosg.org_id.clone();
    let giosg_description = match (&sim, profile) {
        (Some(sim), profile) => format!(
            "simulator at {} (org {}, room {}, profile {}); webhooks posted with a secret made for this run",
            sim.base_url(),
            sim.org_id(),
            sim.room_id(),
            profile.unwrap_or_default()
        ),
        (None, _) => format!(
            "real Giosg at {} (org {}, room {})",
            giosg.base_url, giosg.org_id, giosg.room_id
        ),
    };

    let table_name = match &options.store {
        StoreChoice::DynamoDb { table, .. } => table.clone(),
        StoreChoice::Memory { .. } => "in-memory".to_owned(),
    };
    let settings = Settings::from_lookup(|name| {
        match name {
            "TABLE_NAME" => Some(table_name.clone()),
            "GIOSG_BASE_URL" => Some(giosg.base_url.to_string()),
            "GIOSG_ORG_ID" => Some(giosg.org_id.clone()),
            "GIOSG_ROOM_ID" => Some(giosg.room_id.clone()),
            "SECRET_ID" => Some("local-runner".to_owned()),
            "ALLOWED_ORIGINS" => options.allowed_origins.clone(),
            "ALLOW_OFFLINE_CHATS" => Some(options.allow_offline_chats.to_string()),
            "METRICS_OUTPUT" => Some(options.metrics.as_setting().to_owned()),
            // The limits against floods, as the functions read them (README, "Limits").
            name if LIMIT_SETTINGS
                .iter()
                .any(|limit| limit.rate_name == name || limit.burst_name == name) =>
            {
                std::env::var(name).ok()
            }
            // RS256/ES256 identities against a JWKS, as start-chat reads them (README, "Signed
            // visitor identity"); HS256 ones come from IDENTITY_SECRET.
            "IDENTITY_JWKS_URL"
            | "IDENTITY_JWKS_REFRESH_SECONDS"
            | "IDENTITY_JWKS_REFETCH_SECONDS" => std::env::var(name).ok(),
            // Everything else (availability cache, secrets refresh, retention): the defaults.
            _ => None,
        }
    })
    .context("invalid settings")?;
    // The "signed in as" demo mints HS256 tokens: served when those are what is accepted.
    let demo_identity = match settings.identity_jwks_url {
        Some(_) => None,
        None => options.identity_secret.clone(),
    };
    let secrets = SecretsCache::load(
        SecretSource::Static(Secrets {
            giosg_api_token: giosg.api_token.clone(),
            webhook_secret: giosg.webhook_secret.clone(),
            previous_webhook_secret: None,
            // Identities only with IDENTITY_SECRET.
            identity_secret: options.identity_secret.clone(),
        }),
        settings.secrets_refresh,
    )
    .await
    .context("invalid secrets")?;
    let secrets = Arc::new(secrets);
    let client = GiosgClient::new(GiosgConfig::from_settings(
        &settings,
        giosg.api_token.clone(),
    ))
    .context("cannot build the Giosg client")?;
    let client = RotatingGiosg::new(client, Arc::clone(&secrets));

    let limits = ReconcileLimits::from_settings(&settings);
    let every = options.reconcile_every;
    // The store announces what it stored to the feed's notifier (what the table's stream does
    // on AWS).
    let (signals, announced) = mpsc::unbounded_channel();
    let pusher = Arc::new(LocalPusher::default());
    let preview = settings.notification_preview;
    let operator = options.admin_token.map(OperatorAccess::Token);
    let (store_description, stop, server, saver, reconciler, notifier) = match options.store {
        StoreChoice::Memory { data_file } => {
            let (store, open_chats) = match &data_file {
                Some(path) => load_memory_store(path)?,
                None => (MemoryStore::new(), Vec::new()),
            };
            let app = app(Announcing::new(store, signals), client, &settings, secrets)?;
            let description = match &data_file {
                Some(path) => format!("in memory, kept in {}", path.display()),
                None => "in memory (gone when stopped; --data-file PATH keeps it)".to_owned(),
            };
            // Started before any change, so that every change from here on gets saved.
            let saver = data_file.map(|path| Saver::start(Arc::clone(&app), path));
            if sim.is_some() && !open_chats.is_empty() {
                end_chats_the_simulator_forgot(&app, &open_chats).await?;
            }
            let reconciler = every.map(|every| reconcile::spawn(Arc::clone(&app), every, limits));
            let notifier =
                feed::spawn_notifier(Arc::clone(&app), Arc::clone(&pusher), announced, preview);
            let (stop, server) = serve(
                app,
                listener,
                pusher,
                operator.clone(),
                demo_identity.clone(),
            );
            (description, stop, server, saver, reconciler, notifier)
        }
        StoreChoice::DynamoDb {
            endpoint,
            table,
            create_table,
        } => {
            let store = dynamo_store(&endpoint, &table, create_table).await?;
            let description = match &endpoint {
                DynamoEndpoint::Local(url) => format!(
                    "DynamoDB at {}, table {table}",
                    url.as_str().trim_end_matches('/')
                ),
                DynamoEndpoint::Aws => format!("DynamoDB on AWS, table {table}"),
            };
            let app = app(Announcing::new(store, signals), client, &settings, secrets)?;
            let reconciler = every.map(|every| reconcile::spawn(Arc::clone(&app), every, limits));
            let notifier =
                feed::spawn_notifier(Arc::clone(&app), Arc::clone(&pusher), announced, preview);
            let (stop, server) = serve(
                app,
                listener,
                pusher,
                operator.clone(),
                demo_identity.clone(),
            );
            (description, stop, server, None, reconciler, notifier)
        }
    };

    Ok(Running {
        api_url,
        sim,
        org_id,
        store_description,
        giosg_description,
        stop,
        server,
        saver,
        reconciler,
        notifier,
        reconcile_every: every,
    })
}

/// What the routers serve: the service over `store` and Giosg, and the webhook secret.
fn app<S: ChatStore + SubscriptionStore>(
    store: S,
    giosg: RotatingGiosg,
    settings: &Settings,
    secrets: Arc<SecretsCache>,
) -> anyhow::Result<Arc<Api<S, RotatingGiosg>>> {
    let service =
        Service::new(store, giosg, Rules::from_settings(settings)).with_limits(settings.limits);
    let identity = Arc::new(IdentityVerifier::from_settings(
        Arc::clone(&secrets),
        settings,
    )?);
    Ok(Arc::new(
        Api::new(service, settings)
            .with_webhook_secrets(secrets)
            .with_identity(identity),
    ))
}

/// Serves the visitor page, the real-time feed and every route of the Lambda functions: the
/// same handlers, through [`shared::api::local_routes`] (the operator API only with
/// `operator` access: the admin token).
fn serve<S: OperatorStore + 'static>(
    app: Arc<Api<S, RotatingGiosg>>,
    listener: TcpListener,
    pusher: Arc<LocalPusher>,
    operator: Option<OperatorAccess>,
    identity_demo: Option<Secret>,
) -> (oneshot::Sender<()>, JoinHandle<std::io::Result<()>>) {
    let mut router = visitor_page::router();
    if let Some(secret) = identity_demo {
        router = router.merge(identity_demo::router(secret));
    }
    let router = router
        .merge(feed::router(Arc::clone(&app), pusher))
        .merge(api::local_routes(app, operator));
    let (stop, stopped) = oneshot::channel::<()>();
    // Each request carries its peer's address, as API Gateway's `sourceIp` does on AWS.
    let router = router.layer(axum::middleware::map_request(
        |ConnectInfo(peer): ConnectInfo<SocketAddr>, mut request: axum::extract::Request| async move {
            request.extensions_mut().insert(ClientAddress(peer.ip()));
            request
        },
    ));
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await
    });
    (stop, server)
}

/// An address to put in a URL: an unspecified bind address is reached through loopback.
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

impl Running {
    /// Stops serving (open requests get a few seconds), saves the store one last time, and
    /// stops the simulator.
    pub async fn stop(self) -> anyhow::Result<()> {
        if let Some(reconciler) = &self.reconciler {
            reconciler.abort();
        }
        self.notifier.abort();
        let _ = self.stop.send(());
        let mut server = self.server;
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "the API server stopped with an error"),
            Ok(Err(error)) => tracing::warn!(%error, "the API server task failed"),
            Err(_) => {
                tracing::warn!("open requests did not finish in time; cutting them");
                server.abort();
            }
        }
        if let Some(saver) = self.saver {
            saver.finish().await.context("the final save failed")?;
        }
        if let Some(sim) = self.sim {
            sim.shutdown().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::webhook::webhook_url;
    use super::*;
    use shared::secret::Secret;

    #[test]
    fn webhook_urls_carry_the_token_only_when_asked() {
        let secret = Secret::new("s3cret/with+odd=chars");
        let with = webhook_url("http://127.0.0.1:3000", WebhookKind::Chats, Some(&secret));
        assert_eq!(
            with,
            "http://127.0.0.1:3000/webhooks/giosg/chats?token=s3cret%2Fwith%2Bodd%3Dchars"
        );
        let without = webhook_url("http://127.0.0.1:3000", WebhookKind::Messages, None);
        assert_eq!(without, "http://127.0.0.1:3000/webhooks/giosg/messages");
    }

    #[test]
    fn channels_are_giosgs() {
        assert_eq!(
            WebhookKind::Messages.channel("org"),
            "/api/v5/orgs/org/owned_chats/*/messages"
        );
        assert_eq!(
            WebhookKind::Chats.channel("org"),
            "/api/v5/orgs/org/owned_chats"
        );
    }
}
