//! The shared handlers behind one local HTTP port with the in-memory store: the code path the
//! local runner serves (`shared::api::all_routes`), run as its own process so that its CPU
//! time and memory can be read from `/proc`.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;

use giosg_sim::{SimConfig, Simulator};
use shared::api::{self, Api};
use shared::config::{SecretSource, Secrets, SecretsCache, Settings, lookup_in};
use shared::giosg::{GiosgClient, GiosgConfig, RotatingGiosg};
use shared::secret::Secret;
use shared::service::{Rules, Service};
use shared::store::memory::MemoryStore;

use crate::emulators::fixed;

/// Serves until killed; prints `http://127.0.0.1:PORT` on stdout once it accepts connections.
pub async fn serve(port: u16) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut sim_config = SimConfig::new("127.0.0.1:0".parse()?);
    sim_config.org_id = fixed::ORG_ID.into();
    sim_config.room_id = fixed::ROOM_ID.into();
    sim_config.other_room_id = fixed::OTHER_ROOM_ID.into();
    let sim = Simulator::start(sim_config).await?;
    let env: HashMap<String, String> = [
        ("TABLE_NAME", "in-memory".to_owned()),
        ("GIOSG_BASE_URL", sim.base_url()),
        ("GIOSG_ORG_ID", fixed::ORG_ID.to_owned()),
        ("GIOSG_ROOM_ID", fixed::ROOM_ID.to_owned()),
        ("SECRET_ID", "local".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = Settings::from_lookup(lookup_in(&env))?;
    let secrets = SecretsCache::load(
        SecretSource::Static(Secrets {
            giosg_api_token: Secret::new(sim.api_token()),
            webhook_secret: Secret::new(fixed::WEBHOOK_SECRET),
            previous_webhook_secret: None,
            identity_secret: None,
        }),
        settings.secrets_refresh,
    )
    .await?;
    let secrets = Arc::new(secrets);
    let giosg = GiosgClient::new(GiosgConfig::from_settings(
        &settings,
        Secret::new(sim.api_token()),
    ))?;
    let giosg = RotatingGiosg::new(giosg, Arc::clone(&secrets));
    let service = Service::new(MemoryStore::new(), giosg, Rules::from_settings(&settings));
    let app = Arc::new(Api::new(service, &settings).with_webhook_secrets(secrets));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "http://{}", listener.local_addr()?)?;
    stdout.flush()?;
    axum::serve(listener, api::all_routes(app)).await?;
    Ok(())
}
