//! Configuration: non-secret settings from the environment (set by the SAM template) and the
//! secrets from one Secrets Manager secret, cached and refreshed so a rotation needs no deploy.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::RwLock;
use url::Url;

use crate::domain::{OrgId, RoomId};
use crate::metrics::{DEFAULT_NAMESPACE, MetricsConfig, Output};

mod limits;
mod secrets;

pub use limits::{LIMIT_SETTINGS, LimitSetting, Limits};
pub use secrets::{
    MIN_IDENTITY_SECRET_LEN, MIN_WEBHOOK_SECRET_LEN, PreviousWebhookSecret, Secrets,
};

/// A setting is missing or malformed: the function must not start. The message names the
/// setting and never contains a secret value.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("the environment variable {name} is malformed: {reason}")]
    Malformed { name: &'static str, reason: String },
    #[error("the secret {secret_id} could not be read from Secrets Manager: {reason}")]
    SecretUnavailable { secret_id: String, reason: String },
    #[error("the secret {secret_id} is not valid: {reason}")]
    SecretInvalid { secret_id: String, reason: String },
}

/// Settings from environment variables.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `TABLE_NAME`: the DynamoDB table.
    pub table_name: String,
    /// `GIOSG_BASE_URL`, e.g. `https://service.giosg.com`.
    pub giosg_base_url: Url,
    /// `GIOSG_ORG_ID`.
    pub org_id: OrgId,
    /// `GIOSG_ROOM_ID`: the room whose chats this service handles.
    pub room_id: RoomId,
    /// `SECRET_ID`: ARN or name of the Secrets Manager secret.
    pub secret_id: String,
    /// `ALLOWED_ORIGINS`: comma-separated origins allowed by CORS (empty: none).
    pub allowed_origins: Vec<String>,
    /// `ALLOW_OFFLINE_CHATS`: start chats even when no agent is online (default false).
    pub allow_offline_chats: bool,
    /// `RETENTION_DAYS`: delete transcripts after N days with DynamoDB TTL (0 or unset: off).
    pub retention_days: u32,
    /// `SECRETS_REFRESH_SECONDS`: how long secrets are cached (default 300).
    pub secrets_refresh: Duration,
    /// `AVAILABILITY_CACHE_SECONDS`: how long room availability is cached (default 5).
    pub availability_cache: Duration,
    /// `RECONCILE_MAX_GIOSG_CALLS`: Giosg calls one reconciler run may make (default 200).
    pub reconcile_max_giosg_calls: usize,
    /// `RECONCILE_CONCURRENCY`: chats the reconciler reads at once (default 4).
    pub reconcile_concurrency: usize,
    /// `RECONCILE_ENDED_WINDOW_HOURS`: how long after a chat ends the reconciler still looks at
    /// it (default 24).
    pub reconcile_ended_window: Duration,
    /// `NOTIFICATIONS_TOPIC_ARN`: the SNS topic away notifications go to (unset: none are
    /// published).
    pub notifications_topic_arn: Option<String>,
    /// `NOTIFICATION_PREVIEW`: whether a notification carries the message's first 100
    /// characters (default false).
    pub notification_preview: bool,
    /// `IDENTITY_JWKS_URL`: where the public keys of RS256/ES256 identity tokens are (unset:
    /// identities are HS256 with the secret's `identity_secret`, when it has one).
    pub identity_jwks_url: Option<Url>,
    /// `IDENTITY_JWKS_REFRESH_SECONDS`: how long fetched keys are used (default 3600).
    pub identity_jwks_refresh: Duration,
    /// `IDENTITY_JWKS_REFETCH_SECONDS`: the shortest time between two fetches caused by a key
    /// id the keys held do not have (default 30).
    pub identity_jwks_refetch_floor: Duration,
    /// `METRICS_NAMESPACE` (default `GiosgBridge`), `METRICS_OUTPUT` (`emf` on stdout, `log`,
    /// `off`; default `emf` on Lambda, `off` elsewhere) and the `Function` dimension
    /// (`AWS_LAMBDA_FUNCTION_NAME`, `local` elsewhere).
    pub metrics: MetricsConfig,
    /// The frontend API's limits against floods (see [`Limits`] for their settings).
    pub limits: Limits,
    /// `WEBHOOK_SECRET_OVERLAP_SECONDS`: how long after a rotation the previous webhook secret
    /// is still accepted (default 3600; 0: not at all).
    pub webhook_secret_overlap: Duration,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| -> Option<String> {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let giosg_base_url = parse_base_url(&required("GIOSG_BASE_URL")?)?;
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            giosg_base_url,
            org_id: OrgId::new(required("GIOSG_ORG_ID")?),
            room_id: RoomId::new(required("GIOSG_ROOM_ID")?),
            secret_id: required("SECRET_ID")?,
            allowed_origins: get("ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            allow_offline_chats: parse_bool("ALLOW_OFFLINE_CHATS", get("ALLOW_OFFLINE_CHATS"))?,
            retention_days: parse_number("RETENTION_DAYS", get("RETENTION_DAYS"), 0)?,
            secrets_refresh: Duration::from_secs(parse_number(
                "SECRETS_REFRESH_SECONDS",
                get("SECRETS_REFRESH_SECONDS"),
                300,
            )?),
            availability_cache: Duration::from_secs(parse_number(
                "AVAILABILITY_CACHE_SECONDS",
                get("AVAILABILITY_CACHE_SECONDS"),
                5,
            )?),
            reconcile_max_giosg_calls: parse_number(
                "RECONCILE_MAX_GIOSG_CALLS",
                get("RECONCILE_MAX_GIOSG_CALLS"),
                200,
            )?,
            reconcile_concurrency: parse_number(
                "RECONCILE_CONCURRENCY",
                get("RECONCILE_CONCURRENCY"),
                4,
            )?,
            reconcile_ended_window: Duration::from_secs(
                parse_number::<u64>(
                    "RECONCILE_ENDED_WINDOW_HOURS",
                    get("RECONCILE_ENDED_WINDOW_HOURS"),
                    24,
                )?
                .saturating_mul(3600),
            ),
            notifications_topic_arn: get("NOTIFICATIONS_TOPIC_ARN"),
            notification_preview: parse_bool("NOTIFICATION_PREVIEW", get("NOTIFICATION_PREVIEW"))?,
            identity_jwks_url: get("IDENTITY_JWKS_URL")
                .map(|url| {
                    parse_url(
                        "IDENTITY_JWKS_URL",
                        &url,
                        "https://example.com/.well-known/jwks.json",
                    )
                })
                .transpose()?,
            identity_jwks_refresh: Duration::from_secs(parse_number(
                "IDENTITY_JWKS_REFRESH_SECONDS",
                get("IDENTITY_JWKS_REFRESH_SECONDS"),
                3600,
            )?),
            identity_jwks_refetch_floor: Duration::from_secs(parse_number(
                "IDENTITY_JWKS_REFETCH_SECONDS",
                get("IDENTITY_JWKS_REFETCH_SECONDS"),
                30,
            )?),
            metrics: parse_metrics(&get)?,
            limits: Limits::from_lookup(&get)?,
            webhook_secret_overlap: Duration::from_secs(parse_number(
                "WEBHOOK_SECRET_OVERLAP_SECONDS",
                get("WEBHOOK_SECRET_OVERLAP_SECONDS"),
                3600,
            )?),
        })
    }

    pub fn retention(&self) -> Option<Duration> {
        (self.retention_days > 0)
            .then(|| Duration::from_secs(u64::from(self.retention_days) * 86_400))
    }
}

fn parse_base_url(value: &str) -> Result<Url, ConfigError> {
    parse_url("GIOSG_BASE_URL", value, "https://service.giosg.com")
}

fn parse_url(name: &'static str, value: &str, example: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| ConfigError::Malformed {
        name,
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::Malformed {
            name,
            reason: format!("expected an http(s) URL such as {example}"),
        });
    }
    Ok(url)
}

fn parse_metrics(
    get: &impl Fn(&'static str) -> Option<String>,
) -> Result<MetricsConfig, ConfigError> {
    let namespace = get("METRICS_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    MetricsConfig::check_namespace(&namespace).map_err(|reason| ConfigError::Malformed {
        name: "METRICS_NAMESPACE",
        reason,
    })?;
    let lambda_function = get("AWS_LAMBDA_FUNCTION_NAME");
    let output = match get("METRICS_OUTPUT") {
        Some(value) => Output::parse(&value).ok_or(ConfigError::Malformed {
            name: "METRICS_OUTPUT",
            reason: "expected emf, log or off".into(),
        })?,
        None if lambda_function.is_some() => Output::Stdout,
        None => Output::Off,
    };
    Ok(MetricsConfig {
        namespace,
        function: lambda_function.unwrap_or_else(|| "local".to_owned()),
        output,
    })
}

fn parse_bool(name: &'static str, value: Option<String>) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(_) => Err(ConfigError::Malformed {
            name,
            reason: "expected true or false".into(),
        }),
    }
}

fn parse_number<T: std::str::FromStr>(
    name: &'static str,
    value: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ConfigError::Malformed {
            name,
            reason: "expected a non-negative whole number".into(),
        }),
    }
}

/// Where secrets come from.
pub enum SecretSource {
    /// AWS Secrets Manager (`GetSecretValue` on the secret's ARN or name).
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
    /// Fixed values (the local runner and tests).
    Static(Secrets),
    /// A fixed secret JSON, read as Secrets Manager's would be (tests: the JSON path without AWS).
    StaticJson(String),
}

impl SecretSource {
    async fn fetch(&self) -> Result<Secrets, ConfigError> {
        match self {
            Self::Static(secrets) => Ok(secrets.clone()),
            Self::StaticJson(json) => Secrets::from_json("local", json),
            Self::SecretsManager { client, secret_id } => {
                let output = client
                    .get_secret_value()
                    .secret_id(secret_id)
                    .send()
                    .await
                    .map_err(|e| ConfigError::SecretUnavailable {
                        secret_id: secret_id.clone(),
                        reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                            .to_string()
                            .chars()
                            .take(300)
                            .collect(),
                    })?;
                let json = output
                    .secret_string()
                    .ok_or_else(|| ConfigError::SecretInvalid {
                        secret_id: secret_id.clone(),
                        reason: "the secret has no string value (binary secrets are not supported)"
                            .into(),
                    })?;
                Secrets::from_json(secret_id, json)
            }
        }
    }
}

/// Secrets read once at start-up and re-read after `refresh`. A failed refresh keeps serving
/// the previous values (and logs), so a Secrets Manager blip does not take the service down.
pub struct SecretsCache {
    source: SecretSource,
    refresh: Duration,
    current: RwLock<Cached>,
}

struct Cached {
    /// When the source was last asked (successfully or not).
    read_at: Instant,
    secrets: Option<Arc<Secrets>>,
    /// Why the last read failed, while no secrets were ever read.
    error: Option<ConfigError>,
}

/// While no secret could ever be read, the source is asked again at most this often.
const RETRY_UNREAD_AFTER: Duration = Duration::from_secs(1);

impl SecretsCache {
    /// Loads the secrets now: start-up fails fast if they cannot be read.
    pub async fn load(source: SecretSource, refresh: Duration) -> Result<Self, ConfigError> {
        let secrets = source.fetch().await?;
        Ok(Self::with(source, refresh, Ok(secrets)))
    }

    /// Loads the secrets now, and when they cannot be read (Secrets Manager is unreachable, or
    /// the secret is not valid yet) starts anyway: the error is logged, [`SecretsCache::get`]
    /// answers it and asks the source again on later calls. What a Lambda function uses, so
    /// that a secret outage at cold start is answered in the API's error shape instead of the
    /// platform's bare 5xx, and heals without a restart.
    pub async fn load_or_retry(source: SecretSource, refresh: Duration) -> Self {
        let first = source.fetch().await;
        if let Err(error) = &first {
            tracing::error!(%error, "the secrets cannot be read at start-up; retrying on use");
        }
        Self::with(source, refresh, first)
    }

    fn with(source: SecretSource, refresh: Duration, first: Result<Secrets, ConfigError>) -> Self {
        let (secrets, error) = match first {
            Ok(secrets) => (Some(Arc::new(secrets)), None),
            Err(error) => (None, Some(error)),
        };
        Self {
            source,
            refresh,
            current: RwLock::new(Cached {
                read_at: Instant::now(),
                secrets,
                error,
            }),
        }
    }

    /// The current secrets, re-read from the source when the cached ones are older than the
    /// refresh interval. An error only while no secret has ever been read.
    pub async fn get(&self) -> Result<Arc<Secrets>, ConfigError> {
        {
            let current = self.current.read().await;
            if let Some(fresh) = current.fresh(self.refresh) {
                return fresh;
            }
        }
        let mut current = self.current.write().await;
        if let Some(fresh) = current.fresh(self.refresh) {
            return fresh;
        }
        let read = self.source.fetch().await;
        current.read_at = Instant::now();
        match read {
            Ok(secrets) => {
                current.secrets = Some(Arc::new(secrets));
                current.error = None;
            }
            Err(error) if current.secrets.is_some() => {
                tracing::warn!(%error, "secret refresh failed; keeping the cached secrets");
            }
            Err(error) => {
                tracing::error!(%error, "the secrets still cannot be read");
                current.error = Some(error);
            }
        }
        current.answer()
    }
}

impl Cached {
    /// The answer without asking the source, when it is recent enough to give.
    fn fresh(&self, refresh: Duration) -> Option<Result<Arc<Secrets>, ConfigError>> {
        let age = self.read_at.elapsed();
        let recent = if self.secrets.is_some() {
            age < refresh
        } else {
            age < RETRY_UNREAD_AFTER.min(refresh)
        };
        recent.then(|| self.answer())
    }

    fn answer(&self) -> Result<Arc<Secrets>, ConfigError> {
        match (&self.secrets, &self.error) {
            (Some(secrets), _) => Ok(Arc::clone(secrets)),
            (None, Some(error)) => Err(error.clone()),
            (None, None) => unreachable!("a cache holds secrets or the error that kept them out"),
        }
    }
}

/// Environment lookups from a map, for tests and the local runner.
pub fn lookup_in(map: &HashMap<String, String>) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| map.get(name).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> HashMap<String, String> {
        [
            ("TABLE_NAME", "chats"),
            ("GIOSG_BASE_URL", "https://service.giosg.com"),
            ("GIOSG_ORG_ID", "org"),
            ("GIOSG_ROOM_ID", "room"),
            ("SECRET_ID", "arn:aws:secretsmanager:eu-west-1:1:secret:x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn reads_settings_with_defaults() {
        let settings = Settings::from_lookup(lookup_in(&env())).unwrap();
        assert!(!settings.allow_offline_chats);
        assert_eq!(settings.retention(), None);
        assert!(settings.allowed_origins.is_empty());
        assert_eq!(settings.webhook_secret_overlap, Duration::from_secs(3600));
        assert_eq!(settings.limits, Limits::from_lookup(&|_| None).unwrap());
    }

    #[test]
    fn metrics_go_to_stdout_on_lambda_and_nowhere_elsewhere_unless_asked() {
        let local = Settings::from_lookup(lookup_in(&env())).unwrap().metrics;
        assert_eq!(local.namespace, "GiosgBridge");
        assert_eq!(local.function, "local");
        assert!(matches!(local.output, Output::Off));

        let mut lambda = env();
        lambda.insert("AWS_LAMBDA_FUNCTION_NAME".into(), "stack-Fn-1".into());
        lambda.insert("METRICS_NAMESPACE".into(), "Chat/Prod".into());
        let on_lambda = Settings::from_lookup(lookup_in(&lambda)).unwrap().metrics;
        assert_eq!(on_lambda.function, "stack-Fn-1");
        assert_eq!(on_lambda.namespace, "Chat/Prod");
        assert!(matches!(on_lambda.output, Output::Stdout));

        let mut logged = env();
        logged.insert("METRICS_OUTPUT".into(), "log".into());
        let logged = Settings::from_lookup(lookup_in(&logged)).unwrap().metrics;
        assert!(matches!(logged.output, Output::Log));

        for (name, value) in [
            ("METRICS_OUTPUT", "loud"),
            ("METRICS_NAMESPACE", "AWS/Lambda"),
        ] {
            let mut bad = env();
            bad.insert(name.into(), value.into());
            let error = Settings::from_lookup(lookup_in(&bad)).unwrap_err();
            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[test]
    fn a_missing_setting_is_named() {
        let mut env = env();
        env.remove("GIOSG_ROOM_ID");
        let error = Settings::from_lookup(lookup_in(&env)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the environment variable GIOSG_ROOM_ID is required but not set"
        );
    }

    #[test]
    fn malformed_settings_are_refused() {
        let mut env = env();
        env.insert("ALLOW_OFFLINE_CHATS".into(), "maybe".into());
        assert!(Settings::from_lookup(lookup_in(&env)).is_err());
        let mut env = self::tests::env();
        env.insert("GIOSG_BASE_URL".into(), "service.giosg.com".into());
        assert!(Settings::from_lookup(lookup_in(&env)).is_err());
    }
}
