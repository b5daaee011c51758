//! Command-line flags (each with an environment fallback) and their validation into [`Options`].
//!
//! Secrets are read from the environment only (`GIOSG_API_TOKEN`, `WEBHOOK_SECRET`,
//! `ADMIN_TOKEN`, `IDENTITY_SECRET`), never from flags, so they do not end up in shell history or process
//! listings.
//!
//! Here: the flags ([`Args`]) and their value types. `resolve.rs` turns them into [`Options`]
//! (or an [`OptionsError`] naming what is wrong); `tests.rs` checks both.

mod resolve;
#[cfg(test)]
mod tests;

pub use resolve::{
    DynamoEndpoint, GiosgChoice, MIN_ADMIN_TOKEN_LEN, Options, OptionsError, StoreChoice,
};

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use giosg_sim::Profile;

/// The DynamoDB table used when `--table` is not given.
pub const DEFAULT_TABLE: &str = "giosg-chat-bridge-local";

/// Runs the Giosg chat bridge locally: the API and Giosg's webhook endpoints (the handlers the
/// Lambda functions run), a visitor chat page, a Giosg simulator with an agent console, and an
/// in-memory store. Flags switch each part to the real thing; every flag can also be set in the
/// environment (shown in brackets).
#[derive(Debug, Clone, Parser)]
#[command(name = "local-runner", version)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "LOCAL_RUNNER_BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,

    /// Port of the API, the webhook endpoints and the visitor page (0 picks a free port).
    #[arg(long, env = "LOCAL_RUNNER_PORT", default_value_t = 3000)]
    pub port: u16,

    /// Port of the Giosg simulator and its agent console (0 picks a free port).
    #[arg(long, env = "LOCAL_RUNNER_SIM_PORT", default_value_t = 3001)]
    pub sim_port: u16,

    /// Keep the in-memory store in this JSON file: loaded at start, saved after every change
    /// and at shutdown.
    #[arg(
        long,
        env = "LOCAL_RUNNER_DATA_FILE",
        value_name = "PATH",
        conflicts_with = "dynamodb_endpoint"
    )]
    pub data_file: Option<PathBuf>,

    /// Behaviour of the Giosg simulator: `default` (our best guesses about Giosg) or `contrary`
    /// (every guess flipped: refusals 400, messages without room_id, offset-less microsecond
    /// times, rule messages, ...; see giosg-sim/README.md).
    #[arg(
        long,
        env = "LOCAL_RUNNER_SIM_PROFILE",
        value_name = "NAME",
        default_value = "default",
        value_parser = parse_profile
    )]
    pub sim_profile: Profile,

    /// Run the reconciler (repairing lost webhooks from Giosg's API, like the
    /// `giosg-reconciler` function on its schedule) every SECONDS; 0 turns it off.
    #[arg(
        long,
        env = "LOCAL_RUNNER_RECONCILE_EVERY",
        value_name = "SECONDS",
        default_value_t = 10
    )]
    pub reconcile_every: u64,

    /// Use DynamoDB instead of the in-memory store: the URL of a local server (moto, DynamoDB
    /// Local; the table is created if missing), or `aws` for real AWS with the default
    /// credential chain and region.
    #[arg(long, env = "DYNAMODB_ENDPOINT", value_name = "URL|aws")]
    pub dynamodb_endpoint: Option<String>,

    /// The DynamoDB table.
    #[arg(long, env = "TABLE_NAME", default_value = DEFAULT_TABLE)]
    pub table: String,

    /// With `--dynamodb-endpoint aws`: create the table when it does not exist (by default a
    /// missing table on AWS is an error, so nothing is created in an account by surprise).
    #[arg(long, env = "LOCAL_RUNNER_CREATE_TABLE")]
    pub create_table: bool,

    /// Use real Giosg at this base URL (e.g. https://service.giosg.com) instead of the
    /// simulator. Needs --giosg-org-id, --giosg-room-id and the environment variables
    /// GIOSG_API_TOKEN and WEBHOOK_SECRET.
    #[arg(long, env = "GIOSG_BASE_URL", value_name = "URL")]
    pub giosg_url: Option<String>,

    /// The Giosg organization id (with --giosg-url).
    #[arg(long, env = "GIOSG_ORG_ID", value_name = "ID")]
    pub giosg_org_id: Option<String>,

    /// The Giosg room whose chats this service handles (with --giosg-url).
    #[arg(long, env = "GIOSG_ROOM_ID", value_name = "ID")]
    pub giosg_room_id: Option<String>,

    /// Start chats even when no agent is online.
    #[arg(long, env = "ALLOW_OFFLINE_CHATS")]
    pub allow_offline_chats: bool,

    /// Comma-separated origins allowed by CORS, for a frontend served from elsewhere (the
    /// visitor page here is same-origin and needs none).
    #[arg(long, env = "ALLOWED_ORIGINS", value_name = "ORIGINS")]
    pub allowed_origins: Option<String>,

    /// Log format: `pretty` for a terminal, `json` for one JSON object per line.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Metrics: `off`, or `log` to log each request's and job step's CloudWatch EMF document
    /// (what the functions write on Lambda) as a line with target `metrics`.
    #[arg(long, env = "METRICS_OUTPUT", value_enum, default_value_t = MetricsChoice::Off)]
    pub metrics: MetricsChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricsChoice {
    Off,
    Log,
}

impl MetricsChoice {
    /// The value of `METRICS_OUTPUT` it stands for.
    pub fn as_setting(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Log => "log",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

fn parse_profile(name: &str) -> Result<Profile, String> {
    Profile::parse(name).map_err(|error| error.to_string())
}
