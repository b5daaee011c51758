//! Random identifiers in the shapes Giosg uses.

use rand::Rng;

/// `bytes` random bytes as lower-case hex (`2 * bytes` characters).
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    let raw: Vec<u8> = (0..bytes).map(|_| rng.random()).collect();
    hex::encode(raw)
}

/// A lower-case UUID with dashes (chats, messages, users, rooms).
pub(crate) fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A visitor id: 32 lower-case hex characters, no dashes (`[confirmed]`).
pub(crate) fn visitor_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A visitor secret: a longer hex string than the visitor id.
pub(crate) fn visitor_secret() -> String {
    random_hex(32)
}

/// An opaque visitor access token.
pub(crate) fn access_token() -> String {
    random_hex(32)
}
