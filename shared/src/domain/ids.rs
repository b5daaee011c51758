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
