//! The sync feed (spec §1): every change to what a chat's history shows, in the order the
//! changes were stored.
//!
//! Each stored change that alters what history shows of a message (it appears, is edited,
//! removed or purged) takes the chat's next feed sequence number, and the message is listed in
//! the feed at that number only (its earlier entry goes), with its latest state. The stores
//! hand out the numbers so that once number `n` can be read, every number below it can be too
//! (one writer at a time per chat, checked by a condition on the chat's position). A reader
//! that first reads the position `p` and then lists the entries in `(after, p]` therefore never
//! skips a change: whatever commits later has a number above `p`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::cursor::Cursor;
use super::message::{Message, MessageRecord};

/// A position in a chat's sync feed, handed to frontends as an opaque URL-safe string: the
/// feed continues with the changes stored after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedCursor(u64);

const PREFIX: &str = "f1:";
/// `u64::MAX` has 20 digits.
const MAX_DIGITS: usize = 20;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not one this API issued")]
pub struct FeedCursorError;

impl FeedCursor {
    /// Before every change.
    pub fn start() -> Self {
        Self(0)
    }

    pub fn at(position: u64) -> Self {
        Self(position)
    }

    pub fn position(&self) -> u64 {
        self.0
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{PREFIX}{}", self.0))
    }

    /// Reads back a cursor [`FeedCursor::encode`] made. A history cursor (a `prev_cursor`, or
    /// a `next_cursor` issued before the feed had positions) is accepted too and means the
    /// start: the feed repeats what the caller may have seen rather than skip anything.
    pub fn decode(value: &str) -> Result<Self, FeedCursorError> {
        if value.len() <= 2 * (PREFIX.len() + MAX_DIGITS) {
            let text = URL_SAFE_NO_PAD
                .decode(value)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok());
            if let Some(digits) = text.as_deref().and_then(|t| t.strip_prefix(PREFIX)) {
                let canonical = !digits.is_empty()
                    && digits.len() <= MAX_DIGITS
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && (digits == "0" || !digits.starts_with('0'));
                return match digits.parse() {
                    Ok(position) if canonical => Ok(Self(position)),
                    _ => Err(FeedCursorError),
                };
            }
        }
        Cursor::decode(value)
            .map(|_| Self::start())
            .map_err(|_| FeedCursorError)
    }
}

/// What history and the feed show of a message: nothing while it is pending or has no
/// `created_at` yet.
pub fn shown(record: &MessageRecord) -> Option<Message> {
    record.order_key().map(|_| record.view())
}

/// Whether storing `after` over `before` changes what history shows, so that the change takes
/// a feed position. The one rule both stores apply.
pub fn changes_feed(before: Option<&MessageRecord>, after: &MessageRecord) -> bool {
    before.and_then(shown) != shown(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::OrderKey;
    use crate::domain::{GiosgTime, MessageId};

    #[test]
    fn feed_cursors_round_trip_and_reject_forgeries() {
        for position in [0, 1, 42, u64::MAX] {
            let cursor = FeedCursor::at(position);
            let encoded = cursor.encode();
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(FeedCursor::decode(&encoded), Ok(cursor));
        }
        for forged in ["f1:", "f1:-1", "f1:01", "f1:1a", "f1:99999999999999999999"] {
            let encoded = URL_SAFE_NO_PAD.encode(forged);
            assert_eq!(
                FeedCursor::decode(&encoded),
                Err(FeedCursorError),
                "{forged}"
            );
        }
        assert_eq!(FeedCursor::decode(""), Err(FeedCursorError));
        assert_eq!(FeedCursor::decode("nope"), Err(FeedCursorError));
    }

    #[test]
    fn a_history_cursor_given_as_after_starts_the_feed_over() {
        let time = GiosgTime::from(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        let history = Cursor::at(OrderKey::new(time, &MessageId::new("m-1")));
        assert_eq!(
            FeedCursor::decode(&history.encode()),
            Ok(FeedCursor::start())
        );
        assert_eq!(
            FeedCursor::decode(&Cursor::start().encode()),
            Ok(FeedCursor::start())
        );
    }
}
