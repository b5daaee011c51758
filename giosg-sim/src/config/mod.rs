//! Start-up configuration of the simulator ([`SimConfig`]) and why one is refused
//! ([`ConfigError`]).
//!
//! The run-time switchable [`Behaviour`] is in [`behaviour`]: every guessed Giosg behaviour in
//! one struct (the enums of its fields in `choices`), so a setting that flips them all has one
//! place to look; [`Profile`] names the two sets of them, default and contrary.

mod behaviour;
mod choices;
mod profile;

pub use behaviour::{Behaviour, OTHER_ORIGIN};
pub use choices::{
    ErrorBody, MessageChatId, NextLinks, RemovedResource, TimestampFormat, TimestampPrecision,
    UnknownSecret,
};
pub use profile::{PROFILE_ENV, Profile};

use std::fmt;
use std::net::SocketAddr;

use crate::webhook_url::{parse_webhook_url, redact_url_str};

/// Everything the simulator needs to start.
///
/// Build it with [`SimConfig::new`] (random ids and token, documented defaults) and then change the
/// public fields you care about.
#[derive(Clone)]
pub struct SimConfig {
    /// Address to listen on; use `127.0.0.1:0` in tests to get a free port.
    pub bind: SocketAddr,
    /// The organization id (a lower-case UUID string).
    pub org_id: String,
    /// The room the integration is configured for (a lower-case UUID string).
    pub room_id: String,
    /// A second room of the same organization, standing for website widget traffic.
    pub other_room_id: String,
    /// The organization API token expected as `Authorization: Token <api_token>`.
    pub api_token: String,
    /// Full URL of the chats webhook (may carry `?token=...`); `None` means chat events are not posted.
    pub chat_webhook_url: Option<String>,
    /// Full URL of the messages webhook; `None` means message events are not posted.
    pub message_webhook_url: Option<String>,
    /// Items per page of every paginated collection; small by default so clients exercise `next`.
    pub page_size: usize,
    /// Lifetime of visitor access tokens, in seconds (`expires_in` of the visitor auth answer).
    pub access_token_ttl_secs: u64,
    /// Every `[inferred]` or `[unknown]` behaviour of Giosg, switchable at run time.
    pub behaviour: Behaviour,
}

impl SimConfig {
    /// A configuration listening on `bind` with random organization and room ids, a random API
    /// token, no webhooks, a page size of 3, 1800-second visitor tokens and default [`Behaviour`].
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            org_id: uuid::Uuid::new_v4().to_string(),
            room_id: uuid::Uuid::new_v4().to_string(),
            other_room_id: uuid::Uuid::new_v4().to_string(),
            api_token: crate::ids::random_hex(20),
            chat_webhook_url: None,
            message_webhook_url: None,
            page_size: 3,
            access_token_ttl_secs: 1800,
            behaviour: Behaviour::default(),
        }
    }

    /// Checks the configuration; [`crate::Simulator::start`] refuses an invalid one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("org_id", &self.org_id),
            ("room_id", &self.room_id),
            ("other_room_id", &self.other_room_id),
        ] {
            if value.is_empty() || value.contains(['/', '?', '#']) || value.trim() != value {
                return Err(ConfigError::BadId {
                    name,
                    value: value.clone(),
                });
            }
        }
        if self.room_id == self.other_room_id {
            return Err(ConfigError::SameRooms);
        }
        if self.api_token.trim().is_empty() {
            return Err(ConfigError::EmptyApiToken);
        }
        if self.page_size == 0 {
            return Err(ConfigError::ZeroPageSize);
        }
        for (name, url) in [
            ("chat_webhook_url", &self.chat_webhook_url),
            ("message_webhook_url", &self.message_webhook_url),
        ] {
            if let Some(url) = url {
                parse_webhook_url(url)
                    .map_err(|reason| ConfigError::BadWebhookUrl { name, reason })?;
            }
        }
        self.behaviour.validate()?;
        Ok(())
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("bind", &self.bind)
            .field("org_id", &self.org_id)
            .field("room_id", &self.room_id)
            .field("other_room_id", &self.other_room_id)
            .field("api_token", &"<redacted>")
            .field(
                "chat_webhook_url",
                &self.chat_webhook_url.as_deref().map(redact_url_str),
            )
            .field(
                "message_webhook_url",
                &self.message_webhook_url.as_deref().map(redact_url_str),
            )
            .field("page_size", &self.page_size)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("behaviour", &self.behaviour)
            .finish()
    }
}

/// Why a [`SimConfig`] or a [`Behaviour`] was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An id is empty, has surrounding spaces or characters that break a URL path.
    #[error("{name} {value:?} is not usable as an id in a URL path")]
    BadId {
        /// The configuration field.
        name: &'static str,
        /// The refused value.
        value: String,
    },
    /// `room_id` and `other_room_id` are equal.
    #[error("room_id and other_room_id must differ")]
    SameRooms,
    /// The API token is empty.
    #[error("api_token must not be empty")]
    EmptyApiToken,
    /// The page size is zero.
    #[error("page_size must be at least 1")]
    ZeroPageSize,
    /// A webhook URL does not parse or is not http(s).
    #[error("{name} is not a usable http(s) URL: {reason}")]
    BadWebhookUrl {
        /// The configuration field.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A status setting is not a valid HTTP status of the expected class.
    #[error("behaviour.{name} = {value} is not a valid {class} status")]
    BadStatus {
        /// The behaviour field.
        name: &'static str,
        /// The refused status.
        value: u16,
        /// The class expected, e.g. `4xx/5xx`.
        class: &'static str,
    },
    /// A profile name that is not one of [`Profile::ALL`].
    #[error("unknown simulator profile {name:?}: the profiles are {valid}")]
    UnknownProfile {
        /// The refused name.
        name: String,
        /// The valid names, comma-separated.
        valid: String,
    },
}
