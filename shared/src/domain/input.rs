//! What a visitor may send, as validated types: a command built from them cannot carry an empty
//! name, an over-long text or an unusable idempotency key. The rules live here once; the HTTP
//! edge maps an [`InputError`] to `400 invalid_request` or `413 payload_too_large`.

/// Longest accepted visitor name, in characters.
pub const MAX_VISITOR_NAME_CHARS: usize = 100;
/// Longest message, in Unicode code points (Giosg's limit).
pub const MAX_TEXT_CHARS: usize = 2000;
/// Longest `client_message_id` / `Idempotency-Key`.
pub const MAX_CLIENT_MESSAGE_ID_CHARS: usize = 64;

/// Why an input is refused; the message names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
}

impl InputError {
    fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }
}

/// The name agents see for a visitor: trimmed, 1 to 100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitorName(String);

impl VisitorName {
    pub fn parse(name: Option<String>) -> Result<Self, InputError> {
        let name = name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                InputError::invalid("visitor_name is required and must not be empty.")
            })?;
        if name.chars().count() > MAX_VISITOR_NAME_CHARS {
            return Err(InputError::invalid(format!(
                "visitor_name must be at most {MAX_VISITOR_NAME_CHARS} characters."
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(InputError::invalid(
                "visitor_name must not contain control characters.",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a frontend calls its visitor (its own user id or device id), for away notifications:
/// trimmed, 1 to 128 characters, no control characters. Stored, never shown to agents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitorRef(String);

pub const MAX_VISITOR_REF_CHARS: usize = 128;

impl VisitorRef {
    /// `None` when the field was not given; an empty or oversized one is refused.
    pub fn parse(value: Option<String>) -> Result<Option<Self>, InputError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let value = value.trim().to_owned();
        if value.is_empty() || value.chars().count() > MAX_VISITOR_REF_CHARS {
            return Err(InputError::invalid(format!(
                "visitor_ref must be 1 to {MAX_VISITOR_REF_CHARS} characters."
            )));
        }
        if value.chars().any(char::is_control) {
            return Err(InputError::invalid(
                "visitor_ref must not contain control characters.",
            ));
        }
        Ok(Some(Self(value)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message text: not blank, at most 2000 code points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(text: Option<String>) -> Result<Self, InputError> {
        let text = text.ok_or_else(|| InputError::invalid("text is required."))?;
        if text.trim().is_empty() {
            return Err(InputError::invalid("text must not be empty."));
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(InputError::TooLarge(format!(
                "text must be at most {MAX_TEXT_CHARS} characters."
            )));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A digest of the text (SHA-256, hex) to recognise the message later without keeping
    /// the text itself in a send claim.
    pub fn digest(&self) -> String {
        text_digest(&self.0)
    }
}

/// The digest [`MessageText::digest`] gives, for a text Giosg shows.
pub fn text_digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A visitor's idempotency key for a send (`client_message_id` or `Idempotency-Key`): 1 to 64
/// characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(key: String) -> Result<Self, InputError> {
        let length = key.chars().count();
        if length == 0 || length > MAX_CLIENT_MESSAGE_ID_CHARS || key.chars().any(char::is_control)
        {
            return Err(InputError::invalid(format!(
                "client_message_id must be 1 to {MAX_CLIENT_MESSAGE_ID_CHARS} characters without control characters."
            )));
        }
        Ok(Self(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limits_count_code_points() {
        assert!(MessageText::parse(Some("é".repeat(2000))).is_ok());
        assert!(matches!(
            MessageText::parse(Some("é".repeat(2001))),
            Err(InputError::TooLarge(_))
        ));
        assert!(matches!(
            MessageText::parse(Some(" \n\t".into())),
            Err(InputError::Invalid(_))
        ));
        assert!(matches!(
            MessageText::parse(None),
            Err(InputError::Invalid(_))
        ));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            VisitorName::parse(Some("  Ada ".into())).unwrap().as_str(),
            "Ada"
        );
        assert!(VisitorName::parse(Some("   ".into())).is_err());
        assert!(VisitorName::parse(None).is_err());
        assert!(VisitorName::parse(Some("x".repeat(101))).is_err());
        assert!(VisitorName::parse(Some("a\u{7}b".into())).is_err());
    }

    #[test]
    fn idempotency_keys_are_bounded() {
        assert!(IdempotencyKey::parse("k".repeat(64)).is_ok());
        assert!(IdempotencyKey::parse("k".repeat(65)).is_err());
        assert!(IdempotencyKey::parse(String::new()).is_err());
        assert!(IdempotencyKey::parse("a\nb".into()).is_err());
    }
}
