//! Cursor pagination in DRF's shape: `{"next", "previous", "results"}` with absolute URLs.
//!
//! The cursor is opaque to clients: base64url of a direction and the `(created_at, id)` key of
//! the item it is relative to, so pages stay stable while items are added.
//!
//! Plain rules, no HTTP: `extract` builds a [`PageRequest`] from a request, and `error` turns
//! [`InvalidCursor`] into the HTTP answer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::resources::Page;

/// The order of a collection: creation time, then id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SortKey {
    at_millis: i64,
    id: String,
}

impl SortKey {
    pub(crate) fn new(at: DateTime<Utc>, id: &str) -> Self {
        Self {
            at_millis: at.timestamp_millis(),
            id: id.to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cursor {
    /// The page of items after this key.
    After(SortKey),
    /// The page of items before this key.
    Before(SortKey),
}

impl Cursor {
    fn encode(&self) -> String {
        let (direction, key) = match self {
            Cursor::After(key) => ('a', key),
            Cursor::Before(key) => ('b', key),
        };
        URL_SAFE_NO_PAD.encode(format!("{direction}|{}|{}", key.at_millis, key.id))
    }

    fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, '|');
        let direction = parts.next()?;
        let at_millis = parts.next()?.parse().ok()?;
        let id = parts.next()?.to_owned();
        let key = SortKey { at_millis, id };
        match direction {
            "a" => Some(Cursor::After(key)),
            "b" => Some(Cursor::Before(key)),
            _ => None,
        }
    }
}

/// Where a collection was asked for: its absolute URL without query, and the cursor if any.
#[derive(Debug, Clone)]
pub(crate) struct PageRequest {
    url: String,
    cursor: Option<String>,
}

impl PageRequest {
    /// `url` is absolute and without query; `cursor` is the raw `?cursor=` value, if any.
    pub(crate) fn new(url: String, cursor: Option<String>) -> Self {
        Self { url, cursor }
    }

    fn link(&self, cursor: Option<&Cursor>) -> String {
        match cursor {
            Some(cursor) => format!("{}?cursor={}", self.url, cursor.encode()),
            None => self.url.clone(),
        }
    }
}

/// A `?cursor=` that does not decode; the HTTP layer answers it like DRF, with a 404.
#[derive(Debug, thiserror::Error)]
#[error("Invalid cursor")]
pub(crate) struct InvalidCursor;

/// One page of `items` (in any order; sorted here).
pub(crate) fn paginate<T>(
    mut items: Vec<(SortKey, T)>,
    request: &PageRequest,
    page_size: usize,
) -> Result<Page<T>, InvalidCursor> {
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let cursor = match &request.cursor {
        Some(raw) => Some(Cursor::decode(raw).ok_or(InvalidCursor)?),
        None => None,
    };
    let len = items.len();
    let (start, end) = match &cursor {
        None => (0, page_size.min(len)),
        Some(Cursor::After(key)) => {
            let start = items.partition_point(|(k, _)| k <= key);
            (start, start.saturating_add(page_size).min(len))
        }
        Some(Cursor::Before(key)) => {
            let end = items.partition_point(|(k, _)| k < key);
            (end.saturating_sub(page_size), end)
        }
    };
    let next = (end < len).then(|| match end.checked_sub(1) {
        Some(last) => request.link(Some(&Cursor::After(items[last].0.clone()))),
        None => request.link(None),
    });
    let previous = (start > 0).then(|| match items.get(start) {
        Some((key, _)) => request.link(Some(&Cursor::Before(key.clone()))),
        None => request.link(None),
    });
    let results = items.drain(start..end).map(|(_, item)| item).collect();
    Ok(Page {
        next,
        previous,
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(cursor: Option<String>) -> PageRequest {
        PageRequest {
            url: "http://h/x".into(),
            cursor,
        }
    }

    fn items(n: i64) -> Vec<(SortKey, i64)> {
        (0..n)
            .map(|i| {
                (
                    SortKey {
                        at_millis: i,
                        id: format!("id{i}"),
                    },
                    i,
                )
            })
            .collect()
    }

    fn cursor_of(link: &str) -> Option<String> {
        link.split_once("?cursor=").map(|(_, c)| c.to_owned())
    }

    #[test]
    fn walks_forward_and_back_across_pages() {
        let first = paginate(items(7), &request(None), 3).unwrap();
        assert_eq!(first.results, vec![0, 1, 2]);
        assert!(first.previous.is_none());
        let second = paginate(
            items(7),
            &request(cursor_of(first.next.as_deref().unwrap())),
            3,
        )
        .unwrap();
        assert_eq!(second.results, vec![3, 4, 5]);
        let third = paginate(
            items(7),
            &request(cursor_of(second.next.as_deref().unwrap())),
            3,
        )
        .unwrap();
        assert_eq!(third.results, vec![6]);
        assert!(third.next.is_none());
        let back = paginate(
            items(7),
            &request(cursor_of(third.previous.as_deref().unwrap())),
            3,
        )
        .unwrap();
        assert_eq!(back.results, vec![3, 4, 5]);
    }

    #[test]
    fn rejects_a_garbage_cursor() {
        assert!(paginate(items(2), &request(Some("!!".into())), 3).is_err());
    }
}
