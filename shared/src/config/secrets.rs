//! The secret's JSON, and the one rule of who may deliver webhooks: the current webhook secret
//! always, the previous one for a while after a rotation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::ConfigError;
use crate::secret::Secret;

/// The secrets this service needs, from one JSON secret:
/// `{"giosg_api_token": "...", "webhook_secret": "..."}`, after a rotation also
/// `"previous_webhook_secret"` and `"webhook_secret_rotated_at"` (RFC 3339), and with signed
/// visitor identities `"identity_secret"`.
#[derive(Clone, Debug)]
pub struct Secrets {
    pub giosg_api_token: Secret,
    pub webhook_secret: Secret,
    /// The webhook secret before the last rotation, still accepted for the overlap
    /// (`WEBHOOK_SECRET_OVERLAP_SECONDS`) after it was rotated.
    pub previous_webhook_secret: Option<PreviousWebhookSecret>,
    /// The HS256 key of signed visitor identities (`None`: HS256 identities are not
    /// configured).
    pub identity_secret: Option<Secret>,
}

/// A rotated-out webhook secret and when it was rotated out.
#[derive(Clone, Debug)]
pub struct PreviousWebhookSecret {
    pub secret: Secret,
    pub rotated_at: DateTime<Utc>,
}

/// The shortest webhook secret accepted: it is the only thing guarding the webhook endpoints.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 16;

/// The shortest `identity_secret` accepted: an HS256 key guessed is every person's chats.
pub const MIN_IDENTITY_SECRET_LEN: usize = 32;

impl Secrets {
    /// Parses the secret's JSON, naming any missing or unusable key (never a value).
    pub fn from_json(secret_id: &str, json: &str) -> Result<Self, ConfigError> {
        #[derive(Deserialize)]
        struct Raw {
            giosg_api_token: Option<String>,
            webhook_secret: Option<String>,
            previous_webhook_secret: Option<String>,
            webhook_secret_rotated_at: Option<String>,
            identity_secret: Option<String>,
        }
        let invalid = |reason: &str| ConfigError::SecretInvalid {
            secret_id: secret_id.to_owned(),
            reason: reason.to_owned(),
        };
        let raw: Raw = serde_json::from_str(json).map_err(|_| {
            invalid("expected a JSON object with giosg_api_token and webhook_secret (strings)")
        })?;
        let giosg_api_token = raw
            .giosg_api_token
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| invalid("the key giosg_api_token is missing or empty"))?;
        let webhook_secret = parse_webhook_secret(raw.webhook_secret, "webhook_secret")
            .map_err(|reason| invalid(&reason))?
            .ok_or_else(|| invalid("the key webhook_secret is missing or empty"))?;
        let previous = parse_webhook_secret(raw.previous_webhook_secret, "previous_webhook_secret")
            .map_err(|reason| invalid(&reason))?;
        let previous_webhook_secret = match previous {
            None => None,
            Some(secret) => {
                let rotated_at = raw
                    .webhook_secret_rotated_at
                    .as_deref()
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        invalid(
                            "previous_webhook_secret needs webhook_secret_rotated_at (when the \
                             secret was rotated, RFC 3339)",
                        )
                    })?;
                let rotated_at = DateTime::parse_from_rfc3339(rotated_at)
                    .map_err(|_| {
                        invalid(
                            "webhook_secret_rotated_at is not an RFC 3339 time such as \
                             2025-01-31T09:00:00Z",
                        )
                    })?
                    .with_timezone(&Utc);
                Some(PreviousWebhookSecret { secret, rotated_at })
            }
        };
        let identity_secret = match raw.identity_secret {
            None => None,
            Some(value) if value.chars().count() < MIN_IDENTITY_SECRET_LEN => {
                return Err(invalid(&format!(
                    "the key identity_secret must be at least {MIN_IDENTITY_SECRET_LEN} characters"
                )));
            }
            Some(value) => Some(Secret::new(value)),
        };
        Ok(Self {
            giosg_api_token: Secret::new(giosg_api_token),
            webhook_secret,
            previous_webhook_secret,
            identity_secret,
        })
    }

    /// Whether a webhook delivery presenting `presented` comes from Giosg: it carries the
    /// current webhook secret, or the previous one until `overlap` after the rotation. Compared
    /// in constant time (digests, so lengths do not show; both compared whenever the previous
    /// one still counts).
    pub fn accepts_webhook_token(
        &self,
        presented: &str,
        now: DateTime<Utc>,
        overlap: Duration,
    ) -> bool {
        let offered = Sha256::digest(presented.as_bytes());
        let matches = |secret: &Secret| -> Choice {
            Sha256::digest(secret.expose().as_bytes()).ct_eq(&offered)
        };
        let mut accepted = matches(&self.webhook_secret);
        if let Some(previous) = &self.previous_webhook_secret {
            let until = chrono::Duration::from_std(overlap)
                .ok()
                .and_then(|overlap| previous.rotated_at.checked_add_signed(overlap));
            if until.is_some_and(|until| now < until) {
                accepted |= matches(&previous.secret);
            }
        }
        accepted.into()
    }
}

/// A webhook secret from the JSON: `None` when absent or empty, an error when too short.
fn parse_webhook_secret(value: Option<String>, key: &str) -> Result<Option<Secret>, String> {
    match value.filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() < MIN_WEBHOOK_SECRET_LEN => Err(format!(
            "the key {key} must be at least {MIN_WEBHOOK_SECRET_LEN} characters"
        )),
        Some(v) => Ok(Some(Secret::new(v))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn secret_errors_name_the_key_not_the_value() {
        let error = Secrets::from_json("s", r#"{"giosg_api_token": "tok-123"}"#).unwrap_err();
        assert!(error.to_string().contains("webhook_secret"));
        assert!(!error.to_string().contains("tok-123"));
        let short = Secrets::from_json(
            "s",
            r#"{"giosg_api_token": "t", "webhook_secret": "short"}"#,
        );
        assert!(short.is_err());
        let ok = Secrets::from_json(
            "s",
            r#"{"giosg_api_token": "t", "webhook_secret": "0123456789abcdef"}"#,
        )
        .unwrap();
        assert_eq!(ok.webhook_secret.expose(), "0123456789abcdef");
        assert!(ok.previous_webhook_secret.is_none());
    }

    #[test]
    fn an_identity_secret_is_optional_and_at_least_32_characters() {
        let parse = |extra: &str| {
            Secrets::from_json(
                "s",
                &format!(
                    r#"{{"giosg_api_token": "t", "webhook_secret": "0123456789abcdef"{extra}}}"#
                ),
            )
        };
        assert!(parse("").unwrap().identity_secret.is_none());
        let short = parse(r#", "identity_secret": "too-short-a-key""#).unwrap_err();
        let error = short.to_string();
        assert!(
            error.contains("identity_secret") && error.contains("32"),
            "{error}"
        );
        assert!(!error.contains("too-short-a-key"), "{error}");
        let key = "k".repeat(MIN_IDENTITY_SECRET_LEN);
        let ok = parse(&format!(r#", "identity_secret": "{key}""#)).unwrap();
        assert_eq!(ok.identity_secret.unwrap().expose(), key);
        assert!(parse(r#", "identity_secret": 42"#).is_err());
    }

    #[test]
    fn a_previous_secret_needs_a_valid_rotation_time_and_length() {
        let parse = |extra: &str| {
            Secrets::from_json(
                "s",
                &format!(
                    r#"{{"giosg_api_token": "t", "webhook_secret": "new-secret-0123456789"{extra}}}"#
                ),
            )
        };
        let without_time = parse(r#", "previous_webhook_secret": "old-secret-0123456789""#);
        let error = without_time.unwrap_err().to_string();
        assert!(error.contains("webhook_secret_rotated_at"), "{error}");
        assert!(!error.contains("old-secret"), "{error}");
        let bad_time = parse(
            r#", "previous_webhook_secret": "old-secret-0123456789", "webhook_secret_rotated_at": "yesterday""#,
        );
        assert!(bad_time.unwrap_err().to_string().contains("RFC 3339"));
        let short = parse(
            r#", "previous_webhook_secret": "old", "webhook_secret_rotated_at": "2025-01-31T09:00:00Z""#,
        );
        assert!(
            short
                .unwrap_err()
                .to_string()
                .contains("previous_webhook_secret")
        );
        // Emptied after the overlap: no previous secret.
        let emptied = parse(
            r#", "previous_webhook_secret": "", "webhook_secret_rotated_at": "2025-01-31T09:00:00Z""#,
        )
        .unwrap();
        assert!(emptied.previous_webhook_secret.is_none());
        let rotated = parse(
            r#", "previous_webhook_secret": "old-secret-0123456789", "webhook_secret_rotated_at": "2025-01-31T10:00:00+01:00""#,
        )
        .unwrap();
        let previous = rotated.previous_webhook_secret.unwrap();
        assert_eq!(previous.secret.expose(), "old-secret-0123456789");
        assert_eq!(
            previous.rotated_at.to_rfc3339(),
            "2025-01-31T09:00:00+00:00"
        );
    }

    #[test]
    fn the_previous_secret_counts_only_within_the_overlap() {
        let rotated_at = DateTime::parse_from_rfc3339("2025-01-31T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let secrets = Secrets {
            giosg_api_token: Secret::new("t"),
            webhook_secret: Secret::new("new-secret-0123456789"),
            previous_webhook_secret: Some(PreviousWebhookSecret {
                secret: Secret::new("old-secret-0123456789"),
                rotated_at,
            }),
            identity_secret: None,
        };
        let minutes = |m: i64| rotated_at + chrono::Duration::minutes(m);
        for at in [
            minutes(-10),
            minutes(0),
            minutes(59),
            minutes(61),
            minutes(10_000),
        ] {
            assert!(secrets.accepts_webhook_token("new-secret-0123456789", at, HOUR));
            assert!(!secrets.accepts_webhook_token("wrong-secret-0123456789", at, HOUR));
            assert!(!secrets.accepts_webhook_token("", at, HOUR));
        }
        assert!(secrets.accepts_webhook_token("old-secret-0123456789", minutes(0), HOUR));
        assert!(secrets.accepts_webhook_token("old-secret-0123456789", minutes(59), HOUR));
        assert!(!secrets.accepts_webhook_token("old-secret-0123456789", minutes(60), HOUR));
        assert!(!secrets.accepts_webhook_token("old-secret-0123456789", minutes(61), HOUR));
        // No overlap: the previous secret is refused at once.
        let none = Duration::ZERO;
        assert!(!secrets.accepts_webhook_token("old-secret-0123456789", minutes(0), none));
        assert!(secrets.accepts_webhook_token("new-secret-0123456789", minutes(0), none));
    }
}
