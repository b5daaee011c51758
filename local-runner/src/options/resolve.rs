//! The flags' validation into [`Options`]: which store and which Giosg the runner uses, the
//! secrets read from the environment, each refusal an [`OptionsError`] naming the flag or
//! variable (never a secret's value).

use std::net::IpAddr;
use std::path::PathBuf;

use giosg_sim::Profile;
use shared::config::{MIN_IDENTITY_SECRET_LEN, MIN_WEBHOOK_SECRET_LEN};
use shared::secret::Secret;
use url::Url;

use super::{Args, MetricsChoice};

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
