//! Assembles and starts everything: the Giosg simulator (or real Giosg), the store, the shared
//! handlers behind one HTTP port with the visitor page, and the saver of `--data-file`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::Utc;
use giosg_sim::{SimConfig, SimHandle, Simulator};
use shared::api::{self, Api};
use shared::aws::sdk_config;
use shared::config::{SecretSource, Secrets, SecretsCache, Settings};
use shared::domain::EventAction;
use shared::domain::chat::ChatEvent;
use shared::domain::{ChatId, ChatResource, Field, GiosgTime};
use shared::giosg::{GiosgClient, GiosgConfig, RotatingGiosg};
use shared::secret::Secret;
use shared::service::{Rules, Service};
use shared::store::ChatStore;
use shared::store::dynamodb::{DynamoStore, create_table};
use shared::store::memory::MemoryStore;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

use crate::data_file::{self, Saver};
use crate::options::{DynamoEndpoint, GiosgChoice, Options, StoreChoice};
use crate::visitor_page;

/// The simulator's ids are fixed, so a `--data-file` written by one run belongs to the same
/// organization and room in the next.
pub const SIM_ORG_ID: &str = "10ca1000-0000-4000-8000-000000000001";
pub const SIM_ROOM_ID: &str = "10ca1000-0000-4000-8000-000000000002";
pub const SIM_OTHER_ROOM_ID: &str = "10ca1000-0000-4000-8000-000000000003";

/// How long open requests may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where Giosg's two webhooks go: `/webhooks/giosg/{chats,messages}`.
#[derive(Clone, Copy, Debug)]
pub enum WebhookKind {
    Chats,
    Messages,
}

impl WebhookKind {
    fn path(self) -> &'static str {
        match self {
            Self::Chats => "/webhooks/giosg/chats",
            Self::Messages => "/webhooks/giosg/messages",
        }
    }

    /// The Giosg channel to subscribe the webhook to.
    fn channel(self, org_id: &str) -> String {
        match self {
            Self::Chats => format!("/api/v5/orgs/{org_id}/owned_chats"),
            Self::Messages => format!("/api/v5/orgs/{org_id}/owned_chats/*/messages"),
        }
    }
}

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

    let (giosg, sim) = connect_giosg(options.giosg, options.bind, &api_url).await?;
    let org_id = giosg.org_id.clone();
    let giosg_description = match &sim {
        Some(sim) => format!(
            "simulator at {} (org {}, room {}); webhooks posted with a secret made for this run",
            sim.base_url(),
            sim.org_id(),
            sim.room_id()
        ),
        None => format!(
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
            // Everything else (availability cache, secrets refresh, retention): the defaults.
            _ => None,
        }
    })
    .context("invalid settings")?;
    let secrets = SecretsCache::load(
        SecretSource::Static(Secrets {
            giosg_api_token: giosg.api_token.clone(),
            webhook_secret: giosg.webhook_secret.clone(),
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

    let (store_description, stop, server, saver) = match options.store {
        StoreChoice::Memory { data_file } => {
            let (store, open_chats) = match &data_file {
                Some(path) => load_memory_store(path)?,
                None => (MemoryStore::new(), Vec::new()),
            };
            let app = app(store, client, &settings, secrets);
            let description = match &data_file {
                Some(path) => format!("in memory, kept in {}", path.display()),
                None => "in memory (gone when stopped; --data-file PATH keeps it)".to_owned(),
            };
            // Started before any change, so that every change from here on gets saved.
            let saver = data_file.map(|path| Saver::start(Arc::clone(&app), path));
            if sim.is_some() && !open_chats.is_empty() {
                end_chats_the_simulator_forgot(&app, &open_chats).await?;
            }
            let (stop, server) = serve(app, listener);
            (description, stop, server, saver)
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
            let app = app(store, client, &settings, secrets);
            let (stop, server) = serve(app, listener);
            (description, stop, server, None)
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
    })
}

/// How to reach Giosg (or the simulator standing in for it).
struct GiosgTarget {
    base_url: Url,
    org_id: String,
    room_id: String,
    api_token: Secret,
    webhook_secret: Secret,
}

async fn connect_giosg(
    choice: GiosgChoice,
    bind: IpAddr,
    api_url: &str,
) -> anyhow::Result<(GiosgTarget, Option<SimHandle>)> {
    match choice {
        GiosgChoice::Real {
            base_url,
            org_id,
            room_id,
            api_token,
            webhook_secret,
        } => Ok((
            GiosgTarget {
                base_url,
                org_id,
                room_id,
                api_token,
                webhook_secret,
            },
            None,
        )),
        GiosgChoice::Simulator {
            port,
            webhook_secret,
        } => {
            let bind = SocketAddr::new(bind, port);
            let mut config = SimConfig::new(bind);
            config.org_id = SIM_ORG_ID.to_owned();
            config.room_id = SIM_ROOM_ID.to_owned();
            config.other_room_id = SIM_OTHER_ROOM_ID.to_owned();
            config.chat_webhook_url = Some(webhook_url(
                api_url,
                WebhookKind::Chats,
                Some(&webhook_secret),
            ));
            config.message_webhook_url = Some(webhook_url(
                api_url,
                WebhookKind::Messages,
                Some(&webhook_secret),
            ));
            let sim = Simulator::start(config).await.with_context(|| {
                format!(
                    "cannot start the Giosg simulator on {bind} (pass --sim-port with a free port, or --sim-port 0)"
                )
            })?;
            let base_url = Url::parse(&sim.base_url()).context("the simulator's base URL")?;
            Ok((
                GiosgTarget {
                    base_url,
                    org_id: sim.org_id().to_owned(),
                    room_id: sim.room_id().to_owned(),
                    api_token: Secret::new(sim.api_token()),
                    webhook_secret,
                },
                Some(sim),
            ))
        }
    }
}

/// A webhook URL on the API, with `?token=` when a secret is given.
fn webhook_url(api_url: &str, kind: WebhookKind, secret: Option<&Secret>) -> String {
    let mut url = Url::parse(api_url)
        .and_then(|base| base.join(kind.path()))
        .expect("the API URL is an absolute http URL");
    if let Some(secret) = secret {
        url.query_pairs_mut().append_pair("token", secret.expose());
    }
    url.to_string()
}

/// What the routers serve: the service over `store` and Giosg, and the webhook secret.
fn app<S: ChatStore>(
    store: S,
    giosg: RotatingGiosg,
    settings: &Settings,
    secrets: Arc<SecretsCache>,
) -> Arc<Api<S, RotatingGiosg>> {
    let service = Service::new(store, giosg, Rules::from_settings(settings));
    Arc::new(Api::new(service, settings).with_webhook_secrets(secrets))
}

/// Loads the data file; also returns the chats it left open.
fn load_memory_store(path: &Path) -> anyhow::Result<(MemoryStore, Vec<ChatId>)> {
    let Some(snapshot) = data_file::load(path)? else {
        tracing::info!(path = %path.display(), "no data file yet: starting empty");
        return Ok((MemoryStore::new(), Vec::new()));
    };
    let open: Vec<ChatId> = snapshot
        .chats()
        .filter(|chat| chat.is_ended.is_unset() && chat.removed.is_unset())
        .map(|chat| chat.id.clone())
        .collect();
    tracing::info!(
        path = %path.display(),
        chats = snapshot.chats().count(),
        messages = snapshot.message_count(),
        "loaded the store from the data file"
    );
    Ok((MemoryStore::from_snapshot(snapshot), open))
}

/// The simulator starts empty on every run, so chats a previous run left open can never get an
/// answer or an end from it: end them, as Giosg's own `changed` would, so that their visitors
/// are offered a new chat instead of writing into the void.
async fn end_chats_the_simulator_forgot<G>(
    app: &Api<MemoryStore, G>,
    chats: &[ChatId],
) -> anyhow::Result<()> {
    let now = GiosgTime::from(Utc::now());
    let event = ChatEvent {
        action: EventAction::Changed,
        resource: Some(ChatResource {
            is_ended: Field::Value(true),
            ended_at: Field::Value(now),
            is_waiting: Field::Value(false),
            updated_at: Field::Value(now),
            ..ChatResource::default()
        }),
        owner: None,
    };
    for chat in chats {
        app.service
            .store()
            .apply_chat_event(chat, &event, &app.service.rules().store_context)
            .await
            .context("cannot update the loaded store")?;
    }
    tracing::info!(
        chats = chats.len(),
        "the simulator starts empty on every run: chats the previous run left open are now ended"
    );
    Ok(())
}

async fn dynamo_store(
    endpoint: &DynamoEndpoint,
    table: &str,
    create_missing_table: bool,
) -> anyhow::Result<DynamoStore> {
    let local_url = match endpoint {
        DynamoEndpoint::Local(url) => Some(url.as_str().trim_end_matches('/').to_owned()),
        DynamoEndpoint::Aws => None,
    };
    let sdk = sdk_config(local_url.as_deref()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    match endpoint {
        DynamoEndpoint::Local(url) => create_table(&client, table)
            .await
            .with_context(|| format!("cannot prepare the DynamoDB table {table} at {url}"))?,
        DynamoEndpoint::Aws => {
            let described = client.describe_table().table_name(table).send().await;
            match described {
                Ok(_) => {}
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    if !create_missing_table {
                        bail!(
                            "the DynamoDB table {table} does not exist in region {}; pass --table with your table's name, or --create-table to create it",
                            sdk.region().map_or("(none)", |r| r.as_ref())
                        );
                    }
                    create_table(&client, table)
                        .await
                        .with_context(|| format!("cannot create the DynamoDB table {table}"))?;
                }
                Err(error) => {
                    bail!(
                        "cannot reach DynamoDB on AWS (region {}, default credential chain): {}",
                        sdk.region().map_or("(none)", |r| r.as_ref()),
                        aws_sdk_dynamodb::error::DisplayErrorContext(&error)
                    )
                }
            }
        }
    }
    Ok(DynamoStore::new(client, table))
}

/// Serves the visitor page and every route of the Lambda functions: the same handlers, through
/// [`shared::api::all_routes`].
fn serve<S: ChatStore>(
    app: Arc<Api<S, RotatingGiosg>>,
    listener: TcpListener,
) -> (oneshot::Sender<()>, JoinHandle<std::io::Result<()>>) {
    let router = visitor_page::router().merge(api::all_routes(app));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
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
    /// `http://127.0.0.1:PORT`: the API, the webhooks and the visitor page.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The simulator's base URL, when the simulator runs.
    pub fn sim_url(&self) -> Option<String> {
        self.sim.as_ref().map(SimHandle::base_url)
    }

    /// A webhook URL without its token (the banner never prints a secret).
    pub fn webhook_url(&self, kind: WebhookKind) -> String {
        webhook_url(&self.api_url, kind, None)
    }

    /// The one line tests and scripts wait for.
    pub fn listening_line(&self) -> String {
        format!(
            "listening api={} sim={}",
            self.api_url,
            self.sim_url().as_deref().unwrap_or("none")
        )
    }

    /// What to open, for a person.
    pub fn banner(&self) -> String {
        let mut text = String::new();
        let mut line = |s: String| {
            text.push_str(&s);
            text.push('\n');
        };
        line(String::new());
        line("Giosg chat bridge, running locally".to_owned());
        line(String::new());
        line(format!("  Visitor chat page    {}/", self.api_url));
        if let Some(sim) = self.sim_url() {
            line(format!(
                "  Agent console        {sim}/_sim/console   (Giosg simulator: play the agent here)"
            ));
        }
        line(format!("  API base             {}/v1", self.api_url));
        let token_note = if self.sim.is_some() {
            "?token=<secret made for this run>"
        } else {
            "?token=<your WEBHOOK_SECRET>"
        };
        for kind in [WebhookKind::Chats, WebhookKind::Messages] {
            let label = match kind {
                WebhookKind::Chats => "Chats webhook",
                WebhookKind::Messages => "Messages webhook",
            };
            line(format!(
                "  {label:<20} {}{token_note}",
                self.webhook_url(kind)
            ));
        }
        line(String::new());
        line(format!("  Store                {}", self.store_description));
        line(format!("  Giosg                {}", self.giosg_description));
        if let Some(sim) = self.sim_url() {
            line(format!(
                "  Simulator control    {sim}/_sim/chats, /_sim/webhooks (see giosg-sim/README.md)"
            ));
        } else {
            line(String::new());
            line(
                "  Giosg must reach the webhooks: expose this port through a tunnel (for example"
                    .to_owned(),
            );
            line(format!(
                "  `cloudflared tunnel --url {}`) and register in your Giosg App:",
                self.api_url
            ));
            for kind in [WebhookKind::Chats, WebhookKind::Messages] {
                line(format!(
                    "    channel {}  ->  https://<tunnel host>{}?token=<your WEBHOOK_SECRET>",
                    kind.channel(&self.org_id),
                    kind.path()
                ));
            }
        }
        line(String::new());
        line("Ctrl-C stops.".to_owned());
        text
    }

    /// Stops serving (open requests get a few seconds), saves the store one last time, and
    /// stops the simulator.
    pub async fn stop(self) -> anyhow::Result<()> {
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
    use super::*;

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
