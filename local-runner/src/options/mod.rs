//! Command-line flags (each with an environment fallback) and their validation into [`Options`].
//!
//! Secrets are read from the environment only (`GIOSG_API_TOKEN`, `WEBHOOK_SECRET`,
//! `ADMIN_TOKEN`, `IDENTITY_SECRET`), never from flags, so they do not end up in shell history or process
//! listings.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use giosg_sim::Profile;
use shared::config::{MIN_IDENTITY_SECRET_LEN, MIN_WEBHOOK_SECRET_LEN};
use shared::secret::Secret;
use url::Url;

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

/// What the runner starts, validated.
#[derive(Debug)]
pub struct Options {
    pub bind: IpAddr,
    pub port: u16,
    pub store: StoreChoice,
    pub giosg: GiosgChoice,
    pub allow_offline_chats: bool,
    pub allowed_origins: Option<String>,
    /// How often the reconciler runs; `None`: not at all.
    pub reconcile_every: Option<std::time::Duration>,
    pub metrics: MetricsChoice,
    /// The operator API's bearer token (`ADMIN_TOKEN`); without one the `/admin/v1` routes are
    /// not served at all, whatever the bind address.
    pub admin_token: Option<Secret>,
    /// The HS256 key of signed visitor identities (`IDENTITY_SECRET`); with one, the visitor
    /// page offers a "signed in as" demo and `identity_token` is accepted.
    pub identity_secret: Option<Secret>,
}

/// The shortest `ADMIN_TOKEN` accepted: it guards export and erasure of every chat.
pub const MIN_ADMIN_TOKEN_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// The in-memory store, optionally kept in a file.
    Memory { data_file: Option<PathBuf> },
    DynamoDb {
        endpoint: DynamoEndpoint,
        table: String,
        create_table: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DynamoEndpoint {
    /// A local server such as moto or DynamoDB Local.
    Local(Url),
    /// Real AWS: default credential chain and region.
    Aws,
}

#[derive(Debug)]
pub enum GiosgChoice {
    /// The Giosg simulator, in-process, posting webhooks with a secret made for this run.
    Simulator {
        port: u16,
        webhook_secret: Secret,
        profile: Profile,
    },
    Real {
        base_url: Url,
        org_id: String,
        room_id: String,
        api_token: Secret,
        webhook_secret: Secret,
    },
}

/// A flag or environment variable is missing or unusable; the message names it (never a
/// secret's value).
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("{0} is required with --giosg-url (real Giosg)")]
    MissingForRealGiosg(&'static str),
    #[error(
        "--giosg-org-id and --giosg-room-id (GIOSG_ORG_ID, GIOSG_ROOM_ID) only apply with --giosg-url; without it the simulator is used"
    )]
    GiosgIdsWithoutUrl,
    #[error("{name} is not usable: {reason}")]
    Malformed { name: &'static str, reason: String },
    #[error("WEBHOOK_SECRET must be at least {MIN_WEBHOOK_SECRET_LEN} characters")]
    ShortWebhookSecret,
    #[error("ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_LEN} characters")]
    ShortAdminToken,
    #[error("IDENTITY_SECRET must be at least {MIN_IDENTITY_SECRET_LEN} characters")]
    ShortIdentitySecret,
    #[error("--port and --sim-port must differ (both are {0})")]
    SamePorts(u16),
    #[error("--sim-profile applies to the simulator only; real Giosg (--giosg-url) is as it is")]
    ProfileWithRealGiosg,
}

impl Args {
    /// Validates the flags; `env` reads the secrets (`GIOSG_API_TOKEN`, `WEBHOOK_SECRET`).
    pub fn resolve(self, env: impl Fn(&str) -> Option<String>) -> Result<Options, OptionsError> {
        let env = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let webhook_secret = env("WEBHOOK_SECRET")
            .map(|secret| {
                if secret.chars().count() < MIN_WEBHOOK_SECRET_LEN {
                    Err(OptionsError::ShortWebhookSecret)
                } else {
                    Ok(Secret::new(secret))
                }
            })
            .transpose()?;
        let admin_token = env("ADMIN_TOKEN")
            .map(|token| {
                if token.trim().chars().count() < MIN_ADMIN_TOKEN_LEN {
                    Err(OptionsError::ShortAdminToken)
                } else {
                    Ok(Secret::new(token.trim()))
                }
            })
            .transpose()?;
        let identity_secret = env("IDENTITY_SECRET")
            .map(|secret| {
                if secret.chars().count() < MIN_IDENTITY_SECRET_LEN {
                    Err(OptionsError::ShortIdentitySecret)
                } else {
                    Ok(Secret::new(secret))
                }
            })
            .transpose()?;
        let giosg = match &self.giosg_url {
            None => {
                if self.giosg_org_id.is_some() || self.giosg_room_id.is_some() {
                    return Err(OptionsError::GiosgIdsWithoutUrl);
                }
                if self.port == self.sim_port && self.port != 0 {
                    return Err(OptionsError::SamePorts(self.port));
                }
                GiosgChoice::Simulator {
                    port: self.sim_port,
                    webhook_secret: webhook_secret.unwrap_or_else(random_webhook_secret),
                    profile: self.sim_profile,
                }
            }
            Some(_) if self.sim_profile != Profile::Default => {
                return Err(OptionsError::ProfileWithRealGiosg);
            }
            Some(url) => GiosgChoice::Real {
                base_url: parse_http_url("--giosg-url", url)?,
                org_id: self
                    .giosg_org_id
                    .clone()
                    .ok_or(OptionsError::MissingForRealGiosg("--giosg-org-id"))?,
                room_id: self
                    .giosg_room_id
                    .clone()
                    .ok_or(OptionsError::MissingForRealGiosg("--giosg-room-id"))?,
                api_token: env("GIOSG_API_TOKEN").map(Secret::new).ok_or(
                    OptionsError::MissingForRealGiosg("the environment variable GIOSG_API_TOKEN"),
                )?,
                webhook_secret: webhook_secret.ok_or(OptionsError::MissingForRealGiosg(
                    "the environment variable WEBHOOK_SECRET",
                ))?,
            },
        };
        let store = match self.dynamodb_endpoint.as_deref().map(str::trim) {
            None | Some("") => StoreChoice::Memory {
                data_file: self.data_file.clone(),
            },
            Some(endpoint) => StoreChoice::DynamoDb {
                endpoint: if endpoint.eq_ignore_ascii_case("aws") {
                    DynamoEndpoint::Aws
                } else {
                    DynamoEndpoint::Local(parse_http_url("--dynamodb-endpoint", endpoint)?)
                },
                table: self.table.clone(),
                create_table: self.create_table,
            },
        };
        Ok(Options {
            bind: self.bind,
            port: self.port,
            store,
            giosg,
            allow_offline_chats: self.allow_offline_chats,
            allowed_origins: self.allowed_origins,
            reconcile_every: (self.reconcile_every > 0)
                .then(|| std::time::Duration::from_secs(self.reconcile_every)),
            metrics: self.metrics,
            admin_token,
            identity_secret,
        })
    }
}

fn parse_http_url(name: &'static str, value: &str) -> Result<Url, OptionsError> {
    let url = Url::parse(value.trim()).map_err(|error| OptionsError::Malformed {
        name,
        reason: error.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(OptionsError::Malformed {
            name,
            reason: "expected an http(s) URL".into(),
        });
    }
    Ok(url)
}

/// A webhook secret for one run of the simulator: 128 random bits, hex.
fn random_webhook_secret() -> Secret {
    Secret::new(hex::encode(rand::random::<[u8; 16]>()))
}

fn parse_profile(name: &str) -> Result<Profile, String> {
    Profile::parse(name).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(flags: &[&str]) -> Args {
        let mut argv = vec!["local-runner"];
        argv.extend_from_slice(flags);
        Args::try_parse_from(argv).unwrap()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn signed_identity_is_off_without_identity_secret_and_refuses_a_short_one() {
        assert!(args(&[]).resolve(no_env).unwrap().identity_secret.is_none());
        let secret = "s".repeat(MIN_IDENTITY_SECRET_LEN);
        let given = args(&[])
            .resolve(|name| (name == "IDENTITY_SECRET").then(|| secret.clone()))
            .unwrap();
        assert_eq!(given.identity_secret.unwrap().expose(), secret);
        let short = args(&[]).resolve(|name| {
            (name == "IDENTITY_SECRET").then(|| "s".repeat(MIN_IDENTITY_SECRET_LEN - 1))
        });
        assert!(matches!(short, Err(OptionsError::ShortIdentitySecret)));
    }

    #[test]
    fn the_operator_api_is_off_without_an_admin_token_and_refuses_a_short_one() {
        assert!(args(&[]).resolve(no_env).unwrap().admin_token.is_none());
        let token = "a".repeat(MIN_ADMIN_TOKEN_LEN);
        let given = args(&[])
            .resolve(|name| (name == "ADMIN_TOKEN").then(|| token.clone()))
            .unwrap();
        assert_eq!(given.admin_token.unwrap().expose(), token);
        let short = args(&[]).resolve(|name| (name == "ADMIN_TOKEN").then(|| "short".into()));
        assert!(matches!(short, Err(OptionsError::ShortAdminToken)));
    }

    #[test]
    fn defaults_are_the_simulator_and_the_memory_store() {
        let options = args(&[]).resolve(no_env).unwrap();
        assert_eq!(options.port, 3000);
        assert_eq!(options.store, StoreChoice::Memory { data_file: None });
        let GiosgChoice::Simulator {
            port,
            webhook_secret,
            profile,
        } = options.giosg
        else {
            panic!("the simulator is the default");
        };
        assert_eq!(port, 3001);
        assert_eq!(profile, Profile::Default);
        assert!(webhook_secret.expose().len() >= MIN_WEBHOOK_SECRET_LEN);
    }

    #[test]
    fn the_reconciler_runs_every_ten_seconds_unless_told_otherwise() {
        let every = |flags: &[&str]| args(flags).resolve(no_env).unwrap().reconcile_every;
        assert_eq!(every(&[]), Some(std::time::Duration::from_secs(10)));
        assert_eq!(
            every(&["--reconcile-every", "3"]),
            Some(std::time::Duration::from_secs(3))
        );
        assert_eq!(every(&["--reconcile-every", "0"]), None);
    }

    #[test]
    fn the_simulator_profile_is_chosen_by_name() {
        let options = args(&["--sim-profile", "contrary"])
            .resolve(no_env)
            .unwrap();
        assert!(matches!(
            options.giosg,
            GiosgChoice::Simulator {
                profile: Profile::Contrary,
                ..
            }
        ));
        let unknown =
            Args::try_parse_from(["local-runner", "--sim-profile", "strict"]).unwrap_err();
        assert!(unknown.to_string().contains("contrary"), "{unknown}");
        let with_real = args(&[
            "--sim-profile",
            "contrary",
            "--giosg-url",
            "https://service.giosg.com",
        ])
        .resolve(no_env)
        .unwrap_err();
        assert!(matches!(with_real, OptionsError::ProfileWithRealGiosg));
    }

    #[test]
    fn each_run_gets_its_own_webhook_secret() {
        let secret = |options: Options| match options.giosg {
            GiosgChoice::Simulator { webhook_secret, .. } => webhook_secret.expose().to_owned(),
            GiosgChoice::Real { .. } => unreachable!(),
        };
        let a = secret(args(&[]).resolve(no_env).unwrap());
        let b = secret(args(&[]).resolve(no_env).unwrap());
        assert_ne!(a, b);
    }

    #[test]
    fn real_giosg_needs_ids_and_secrets_named_in_the_error() {
        let error = args(&["--giosg-url", "https://service.giosg.com"])
            .resolve(no_env)
            .unwrap_err();
        assert!(error.to_string().contains("--giosg-org-id"), "{error}");
        let flags = [
            "--giosg-url",
            "https://service.giosg.com",
            "--giosg-org-id",
            "org",
            "--giosg-room-id",
            "room",
        ];
        let error = args(&flags).resolve(no_env).unwrap_err();
        assert!(error.to_string().contains("GIOSG_API_TOKEN"), "{error}");
        let env = |name: &str| match name {
            "GIOSG_API_TOKEN" => Some("token-value".to_owned()),
            "WEBHOOK_SECRET" => Some("short".to_owned()),
            _ => None,
        };
        let error = args(&flags).resolve(env).unwrap_err();
        assert!(error.to_string().contains("WEBHOOK_SECRET"), "{error}");
        assert!(!error.to_string().contains("short"));
    }

    #[test]
    fn dynamodb_endpoints_are_urls_or_aws() {
        let options = args(&["--dynamodb-endpoint", "aws"])
            .resolve(no_env)
            .unwrap();
        assert!(matches!(
            options.store,
            StoreChoice::DynamoDb {
                endpoint: DynamoEndpoint::Aws,
                ..
            }
        ));
        assert!(
            args(&["--dynamodb-endpoint", "localhost:8000"])
                .resolve(no_env)
                .is_err()
        );
        assert!(
            Args::try_parse_from([
                "local-runner",
                "--dynamodb-endpoint",
                "http://127.0.0.1:5000",
                "--data-file",
                "x.json"
            ])
            .is_err(),
            "a data file is for the in-memory store only"
        );
    }
}
