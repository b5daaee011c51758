//! Giosg's identifiers, as newtypes so that a chat id is never taken for a message id.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether `other` names the same Giosg resource: Giosg's ids are UUIDs and hex,
            /// which it may write in either case.
            pub fn same_as(&self, other: &Self) -> bool {
                self.0.eq_ignore_ascii_case(&other.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_newtype!(
    /// A Giosg organization id (UUID).
    OrgId
);
id_newtype!(
    /// A Giosg room id (UUID).
    RoomId
);
id_newtype!(
    /// A Giosg chat id (UUID).
    ChatId
);
id_newtype!(
    /// A Giosg chat message id (UUID).
    MessageId
);
id_newtype!(
    /// A Giosg visitor id (32 hex characters, no dashes).
    VisitorId
);
id_newtype!(
    /// A Giosg user (agent or bot) id (UUID).
    UserId
);

/// The longest id this service stores, in bytes: Giosg's ids are UUIDs or 32 hex characters, and
/// DynamoDB keys and sort keys built from an id must stay under 1 KB.
pub const MAX_ID_BYTES: usize = 512;

/// Why an id cannot be a storage key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnkeyableId {
    #[error("the {0} id is empty")]
    Empty(&'static str),
    #[error("the {0} id is longer than {MAX_ID_BYTES} bytes")]
    TooLong(&'static str),
    #[error("the {0} id contains control characters")]
    ControlCharacters(&'static str),
}

/// Whether `id` (of a `what`: "chat", "message") can key a stored record: non-empty, at most
/// [`MAX_ID_BYTES`], no control characters. The rule both stores rely on; a delivery with
/// another id is refused, so that it is never retried forever.
pub fn check_keyable(what: &'static str, id: &str) -> Result<(), UnkeyableId> {
    if id.is_empty() {
        Err(UnkeyableId::Empty(what))
    } else if id.len() > MAX_ID_BYTES {
        Err(UnkeyableId::TooLong(what))
    } else if id.chars().any(char::is_control) {
        Err(UnkeyableId::ControlCharacters(what))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyable_ids_are_non_empty_bounded_and_printable() {
        assert!(check_keyable("chat", "5d9e8f7a-0000-4000-8000-0000000000c1").is_ok());
        assert!(check_keyable("message", "ü-ñ-中文").is_ok());
        assert!(check_keyable("message", &"x".repeat(MAX_ID_BYTES)).is_ok());
        assert_eq!(
            check_keyable("message", &"x".repeat(MAX_ID_BYTES + 1)),
            Err(UnkeyableId::TooLong("message"))
        );
        assert_eq!(check_keyable("chat", ""), Err(UnkeyableId::Empty("chat")));
        assert_eq!(
            check_keyable("chat", "a\u{1}b"),
            Err(UnkeyableId::ControlCharacters("chat"))
        );
    }
}
