//! `giosg-sim`: run the Giosg simulator locally and play the agent with curl.

use std::io::IsTerminal as _;
use std::net::{IpAddr, SocketAddr};

use anyhow::Context as _;
use clap::Parser;
use giosg_sim::{Profile, SimConfig, Simulator};
use tracing_subscriber::EnvFilter;

/// A Giosg simulator: Giosg's visitor and organization API, webhooks, and a control API under
/// /_sim/ to play the agent and inject faults. Every flag can also be set in the environment.
#[derive(Debug, Parser)]
#[command(name = "giosg-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "GIOSG_SIM_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "GIOSG_SIM_PORT", default_value_t = 8090)]
    port: u16,
    /// Organization id (default: a random UUID).
    #[arg(long, env = "GIOSG_SIM_ORG_ID")]
    org_id: Option<String>,
    /// The configured room id (default: a random UUID).
    #[arg(long, env = "GIOSG_SIM_ROOM_ID")]
    room_id: Option<String>,
    /// The other room id, for website widget traffic (default: a random UUID).
    #[arg(long, env = "GIOSG_SIM_OTHER_ROOM_ID")]
    other_room_id: Option<String>,
    /// Organization API token expected as `Authorization: Token ...` (default: random).
    #[arg(long, env = "GIOSG_SIM_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// URL to POST chat webhooks to (may carry ?token=...).
    #[arg(long, env = "GIOSG_SIM_CHAT_WEBHOOK_URL", hide_env_values = true)]
    chat_webhook_url: Option<String>,
    /// URL to POST message webhooks to (may carry ?token=...).
    #[arg(long, env = "GIOSG_SIM_MESSAGE_WEBHOOK_URL", hide_env_values = true)]
    message_webhook_url: Option<String>,
    /// Items per page of paginated collections.
    #[arg(long, env = "GIOSG_SIM_PAGE_SIZE", default_value_t = 3)]
    page_size: usize,
    /// Lifetime of visitor access tokens, in seconds.
    #[arg(long, env = "GIOSG_SIM_ACCESS_TOKEN_TTL_SECS", default_value_t = 1800)]
    access_token_ttl_secs: u64,
    /// Starting settings of every guessed Giosg behaviour: `default` (the guesses) or
    /// `contrary` (every guess flipped). Change them at run time under /_sim/settings.
    #[arg(long, env = "GIOSG_SIM_PROFILE", default_value = "default", value_parser = parse_profile)]
    profile: Profile,
}

/// A profile name; an empty one (e.g. `GIOSG_SIM_PROFILE=`) is the default profile.
fn parse_profile(name: &str) -> Result<Profile, String> {
    if name.trim().is_empty() {
        return Ok(Profile::Default);
    }
    Profile::parse(name.trim()).map_err(|error| error.to_string())
}

impl Args {
    fn into_config(self) -> SimConfig {
        let mut config = SimConfig::new(SocketAddr::new(self.bind, self.port));
        if let Some(org_id) = self.org_id {
            config.org_id = org_id;
        }
        if let Some(room_id) = self.room_id {
            config.room_id = room_id;
        }
        if let Some(other_room_id) = self.other_room_id {
            config.other_room_id = other_room_id;
        }
        if let Some(api_token) = self.api_token {
            config.api_token = api_token;
        }
        config.chat_webhook_url = self.chat_webhook_url;
        config.message_webhook_url = self.message_webhook_url;
        config.page_size = self.page_size;
        config.access_token_ttl_secs = self.access_token_ttl_secs;
        config.behaviour = self.profile.behaviour();
        config
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .pretty()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let profile = args.profile;
    let config = args.into_config();
    let sim = Simulator::start(config)
        .await
        .context("cannot start the simulator")?;
    print_banner(&sim, profile);
    stop_signal().await?;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix (containers, process managers).
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            ctrl_c = tokio::signal::ctrl_c() => ctrl_c.context("cannot wait for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    Ok(())
}

fn print_banner(sim: &giosg_sim::SimHandle, profile: Profile) {
    let base = sim.base_url();
    let config = sim.config();
    let redacted = |url: &Option<String>| match url {
        Some(url) => url.split('?').next().unwrap_or(url).to_owned() + " (query hidden)",
        None => "(none: webhooks are only logged at /_sim/webhooks)".to_owned(),
    };
    println!(
        "\
giosg-sim listening on {base}

  Giosg base URL   {base}
  org id           {org}
  room id          {room}
  other room id    {other}
  API token        {token}   (simulator token: Authorization: Token ...)
  chat webhook     {chat_hook}
  message webhook  {message_hook}
  profile          {profile}   (settings: GET /_sim/settings)

Play the agent (chat ids: GET /_sim/chats):
  curl -s {base}/_sim/chats
  curl -s -X POST {base}/_sim/chats/CHAT_ID/join -H 'content-type: application/json' -d '{{\"agent_name\": \"Smith\"}}'
  curl -s -X POST {base}/_sim/chats/CHAT_ID/messages -H 'content-type: application/json' -d '{{\"text\": \"Hello, how can I help?\"}}'
  curl -s -X POST {base}/_sim/chats/CHAT_ID/leave
  curl -s -X POST {base}/_sim/chats/CHAT_ID/end
  curl -s -X PUT {base}/_sim/room -H 'content-type: application/json' -d '{{\"online\": false}}'
  curl -s -X POST {base}/_sim/faults -H 'content-type: application/json' -d '{{\"endpoint\": \"send_message\", \"status\": 503, \"count\": 2, \"retry_after\": 1}}'
  curl -s {base}/_sim/webhooks
  curl -s {base}/_sim/requests

Ctrl-C (or SIGTERM) stops.",
        org = config.org_id,
        room = config.room_id,
        other = config.other_room_id,
        token = config.api_token,
        chat_hook = redacted(&config.chat_webhook_url),
        message_hook = redacted(&config.message_webhook_url),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_flag_sets_the_starting_behaviour() {
        let args = Args::try_parse_from(["giosg-sim", "--profile", "contrary"]).unwrap();
        assert_eq!(
            args.into_config().behaviour,
            giosg_sim::Behaviour::contrary()
        );
        let args = Args::try_parse_from(["giosg-sim", "--profile", "default"]).unwrap();
        assert_eq!(
            args.into_config().behaviour,
            giosg_sim::Behaviour::default()
        );
        let error = Args::try_parse_from(["giosg-sim", "--profile", "strict"]).unwrap_err();
        assert!(error.to_string().contains("default, contrary"), "{error}");
        assert_eq!(parse_profile("").unwrap(), Profile::Default);
    }
}
