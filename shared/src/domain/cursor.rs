//! Opaque history cursors and page requests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::message::OrderKey;

/// A position in a chat's history, handed to frontends as an opaque URL-safe string.
/// [`Cursor::start`] sorts before every message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(OrderKey);

const PREFIX: &str = "v1:";
/// Length of [`GiosgTime::sortable`](crate::domain::GiosgTime::sortable).
const SORTABLE_LEN: usize = "2015-12-22T11:25:30.595000Z".len();
/// Room for the longest order key DynamoDB can index (a 1024-byte sort key) in base64.
const MAX_ENCODED_LEN: usize = 2048;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not one this API issued")]
pub struct CursorError;

impl Cursor {
    pub fn start() -> Self {
        Self(OrderKey::from_stored(String::new()))
    }

    pub fn at(key: OrderKey) -> Self {
        Self(key)
    }

    pub fn key(&self) -> &OrderKey {
        &self.0
    }

    pub fn is_start(&self) -> bool {
        self.0.as_str().is_empty()
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{PREFIX}{}", self.0.as_str()))
    }

    /// Reads back a cursor [`Cursor::encode`] made, whatever the message id in it (long,
    /// non-ASCII, control characters: the API hands out cursors of every message it stores, so
    /// it must accept every one of them back). Refuses what it could never have made.
    pub fn decode(value: &str) -> Result<Self, CursorError> {
        if value.is_empty() || value.len() > MAX_ENCODED_LEN {
            return Err(CursorError);
        }
        let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| CursorError)?;
        let text = String::from_utf8(bytes).map_err(|_| CursorError)?;
        let key = text.strip_prefix(PREFIX).ok_or(CursorError)?;
        if !key.is_empty() {
            // `<sortable time>#<message id>`: the time is fixed-width, the id anything.
            let (time, _id) = key.split_at_checked(SORTABLE_LEN).ok_or(CursorError)?;
            let time_ok = time.ends_with('Z') && key[SORTABLE_LEN..].starts_with('#');
            if !time_ok
                || !time
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"-:.TZ".contains(&b))
            {
                return Err(CursorError);
            }
        }
        Ok(Self(OrderKey::from_stored(key.to_owned())))
    }
}

/// Which page of a chat's history to read, in ascending order of [`OrderKey`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageRequest {
    /// The newest `limit` messages.
    Latest { limit: usize },
    /// Up to `limit` messages after the cursor, oldest first.
    After { cursor: Cursor, limit: usize },
    /// Up to `limit` messages before the cursor (the ones just before it).
    Before { cursor: Cursor, limit: usize },
}

impl PageRequest {
    pub fn limit(&self) -> usize {
        match self {
            Self::Latest { limit } | Self::After { limit, .. } | Self::Before { limit, .. } => {
                *limit
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{GiosgTime, MessageId};

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let time = GiosgTime::from(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        let cursor = Cursor::at(OrderKey::new(time, &MessageId::new("m-1")));
        let encoded = cursor.encode();
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Cursor::decode(&encoded).unwrap(), cursor);
        assert_eq!(
            Cursor::decode(&Cursor::start().encode()).unwrap(),
            Cursor::start()
        );
        assert!(Cursor::decode("nope").is_err());
        assert!(Cursor::decode("").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("v1:garbage")).is_err());
    }

    #[test]
    fn cursors_of_any_message_id_are_accepted_back() {
        let time = GiosgTime::from(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        for id in [
            "x".repeat(400),
            "ü-ñ-中文-🙂".to_owned(),
            "a\u{1}b\nc".to_owned(),
            "#".to_owned(),
            String::new(),
        ] {
            let cursor = Cursor::at(OrderKey::new(time, &MessageId::new(id.clone())));
            assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor, "{id:?}");
        }
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("v1:2015-12-22#m")).is_err());
        assert!(Cursor::decode(&"A".repeat(MAX_ENCODED_LEN + 1)).is_err());
    }
}
