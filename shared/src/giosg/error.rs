//! Errors of the Giosg client.

use crate::domain::VisitorId;

/// What went wrong talking to Giosg.
///
/// The split matters to callers: [`GiosgError::Refused`] is Giosg's considered answer (a precise
/// 4xx for the frontend), [`GiosgError::Unavailable`] means Giosg could not be reached or kept
/// failing (`giosg_unavailable`). No variant ever carries a token or a secret: messages taken
/// from Giosg are scrubbed and truncated, and network errors are described without their URL.
#[derive(Debug, thiserror::Error)]
pub enum GiosgError {
    /// Giosg answered with a 4xx: it refused this request.
    #[error("Giosg refused {endpoint} (HTTP {status}): {message}")]
    Refused {
        endpoint: &'static str,
        status: u16,
        /// Giosg's own explanation (DRF `detail` or the body), scrubbed and truncated.
        message: String,
    },

    /// Giosg could not be reached, timed out, or kept failing (5xx/429) until the retries or the
    /// time budget ran out.
    #[error("Giosg unavailable for {endpoint}: {reason}")]
    Unavailable {
        endpoint: &'static str,
        reason: String,
        /// The last HTTP status seen, if Giosg answered at all.
        status: Option<u16>,
        /// Whether Giosg may have carried the request out (a timeout, a lost answer or a 5xx
        /// other than 503 on a call that is not repeated): the outcome is unknown, so a send or
        /// a start must be found out from Giosg before it is tried again.
        may_have_acted: bool,
    },

    /// Giosg answered 2xx with a body this client cannot understand (so it did act on the
    /// request), or a next-page link this client will not follow.
    #[error("Giosg sent an invalid response to {endpoint}: {reason}")]
    InvalidResponse {
        endpoint: &'static str,
        reason: String,
    },

    /// Re-authenticating the stored visitor gave a different visitor: Giosg no longer knows the
    /// old one. The session now holds the new visitor (persist it); chats of the old visitor can
    /// no longer be used, and the new visitor must join the room again.
    #[error("Giosg replaced visitor {previous} with {current} during {endpoint}")]
    VisitorReplaced {
        endpoint: &'static str,
        previous: VisitorId,
        current: VisitorId,
    },

    /// The client was configured with something unusable.
    #[error("Giosg client configuration: {0}")]
    Config(String),
}

impl GiosgError {
    /// Giosg could not be reached or kept failing: the frontend should see `giosg_unavailable`.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// Giosg may have carried the request out although the call failed (see
    /// [`GiosgError::Unavailable::may_have_acted`]).
    pub fn may_have_acted(&self) -> bool {
        matches!(
            self,
            Self::Unavailable {
                may_have_acted: true,
                ..
            }
        )
    }

    /// Giosg answered with a 4xx.
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused { .. })
    }

    /// The HTTP status Giosg answered with, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            Self::Unavailable { status, .. } => *status,
            Self::InvalidResponse { .. } | Self::VisitorReplaced { .. } | Self::Config(_) => None,
        }
    }

    /// The name of the Giosg endpoint that failed (`send_message`, `room`, …), if any.
    pub fn endpoint(&self) -> Option<&'static str> {
        match self {
            Self::Refused { endpoint, .. }
            | Self::Unavailable { endpoint, .. }
            | Self::InvalidResponse { endpoint, .. }
            | Self::VisitorReplaced { endpoint, .. } => Some(endpoint),
            Self::Config(_) => None,
        }
    }
}

/// Longest message taken from a Giosg error body, in characters.
const MAX_MESSAGE_CHARS: usize = 200;

/// Shortest run of token-like characters treated as a possible credential.
const MIN_TOKEN_CHARS: usize = 24;

/// Giosg's explanation from an error body: DRF's `detail` when there is one, otherwise the body
/// as text; with known secrets and anything token-shaped removed, truncated.
pub(crate) fn message_from_body(body: &[u8], known_secrets: &[&str]) -> String {
    let text = String::from_utf8_lossy(body);
    let raw = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => match map.get("detail") {
            Some(serde_json::Value::String(detail)) => detail.clone(),
            _ => serde_json::Value::Object(map).to_string(),
        },
        Ok(serde_json::Value::String(s)) => s,
        _ => text.into_owned(),
    };
    let scrubbed = scrub(&raw, known_secrets);
    let trimmed = scrubbed.trim();
    if trimmed.is_empty() {
        return "no explanation given".to_owned();
    }
    truncate_chars(trimmed, MAX_MESSAGE_CHARS)
}

/// Removes the given secrets and anything that looks like a credential: a run of at least
/// [`MIN_TOKEN_CHARS`] letters, digits, `-`, `_`, `+`, `=` that is not a UUID.
pub(crate) fn scrub(text: &str, known_secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in known_secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "[redacted]");
    }

    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '=');
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= MIN_TOKEN_CHARS && !is_uuid(run) {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_is_preferred() {
        let body = br#"{"detail": "Authentication credentials were not provided."}"#;
        assert_eq!(
            message_from_body(body, &[]),
            "Authentication credentials were not provided."
        );
    }

    #[test]
    fn field_errors_are_kept_as_json_text() {
        let body = br#"{"message": ["Ensure this field has no more than 2000 characters."]}"#;
        assert!(message_from_body(body, &[]).contains("no more than 2000"));
    }

    #[test]
    fn plain_text_body_is_used_and_truncated() {
        let body = "x ".repeat(500);
        let message = message_from_body(body.as_bytes(), &[]);
        assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1);
        assert!(message.ends_with('…'));
        assert_eq!(message_from_body(b"   ", &[]), "no explanation given");
    }

    #[test]
    fn known_secrets_and_token_shapes_are_scrubbed_but_uuids_kept() {
        let body = br#"{"detail": "token abc123 invalid for visitor_secret_id 0123456789abcdef0123456789abcdef0123 in chat 9b0c8a57-24b8-4f6e-a2d4-3a4b2c1d0e9f"}"#;
        let message = message_from_body(body, &["abc123"]);
        assert!(!message.contains("abc123"), "{message}");
        assert!(!message.contains("0123456789abcdef0123"), "{message}");
        assert!(
            message.contains("9b0c8a57-24b8-4f6e-a2d4-3a4b2c1d0e9f"),
            "{message}"
        );
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert!(!scrub(jwt, &[]).contains("dozjgNryP4J3jVmNHl0w5N"));
    }

    #[test]
    fn status_and_classification() {
        let refused = GiosgError::Refused {
            endpoint: "send_message",
            status: 409,
            message: "ended".into(),
        };
        assert_eq!(refused.status(), Some(409));
        assert!(refused.is_refused() && !refused.is_unavailable());
        let unavailable = GiosgError::Unavailable {
            endpoint: "room",
            reason: "timed out".into(),
            status: None,
            may_have_acted: false,
        };
        assert!(!unavailable.may_have_acted());
        assert!(unavailable.is_unavailable());
        assert_eq!(unavailable.status(), None);
        assert_eq!(unavailable.endpoint(), Some("room"));
    }
}
