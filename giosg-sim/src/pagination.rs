//! Cursor pagination in DRF's shape: `{"next", "previous", "results"}`, with links written as
//! [`NextLinks`] says (absolute on the called origin by default).
//!
//! The cursor is opaque to clients: base64url of a direction and the `(created_at, id)` key of
//! the item it is relative to, `created_at` in microseconds, so pages stay stable while items
//! are added, even several in one millisecond.
//!
//! Plain rules, no HTTP: `extract` builds a [`PageRequest`] from a request, and `error` turns
//! [`InvalidCursor`] into the HTTP answer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::config::{NextLinks, OTHER_ORIGIN};
use crate::resources::Page;

/// The order of a collection: creation time (to the microsecond), then id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SortKey {
    at_micros: i64,
    id: String,
}

impl SortKey {
    pub(crate) fn new(at: DateTime<Utc>, id: &str) -> Self {
        Self {
            at_micros: at.timestamp_micros(),
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
        URL_SAFE_NO_PAD.encode(format!("{direction}|{}|{}", key.at_micros, key.id))
    }

    fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, '|');
        let direction = parts.next()?;
        let at_micros = parts.next()?.parse().ok()?;
        let id = parts.next()?.to_owned();
        let key = SortKey { at_micros, id };
        match direction {
            "a" => Some(Cursor::After(key)),
            "b" => Some(Cursor::Before(key)),
            _ => None,
        }
    }
}

/// Where a collection was asked for: the origin the client called, the path, and the cursor if
/// any.
#[derive(Debug, Clone)]
pub(crate) struct PageRequest {
    origin: String,
    path: String,
    cursor: Option<String>,
}

impl PageRequest {
    /// `origin` is `scheme://host[:port]`, `path` has no query; `cursor` is the raw `?cursor=`
    /// value, if any.
    pub(crate) fn new(origin: String, path: String, cursor: Option<String>) -> Self {
        Self {
            origin,
            path,
            cursor,
        }
    }

    fn link(&self, cursor: Option<&Cursor>, links: NextLinks) -> String {
        let origin = match links {
            NextLinks::Absolute => self.origin.as_str(),
            NextLinks::Relative => "",
            NextLinks::OtherOrigin => OTHER_ORIGIN,
        };
        match cursor {
            Some(cursor) => format!("{origin}{}?cursor={}", self.path, cursor.encode()),
            None => format!("{origin}{}", self.path),
        }
    }
}

/// A `?cursor=` that does not decode; the HTTP layer answers it like DRF, with a 404.
#[derive(Debug, thiserror::Error)]
#[error("Invalid cursor")]
pub(crate) struct InvalidCursor;

/// One page of `items` (in any order; sorted here), its links written as `links` says.
pub(crate) fn paginate<T>(
    mut items: Vec<(SortKey, T)>,
    request: &PageRequest,
    page_size: usize,
    links: NextLinks,
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
        Some(last) => request.link(Some(&Cursor::After(items[last].0.clone())), links),
        None => request.link(None, links),
    });
    let previous = (start > 0).then(|| match items.get(start) {
        Some((key, _)) => request.link(Some(&Cursor::Before(key.clone())), links),
        None => request.link(None, links),
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

    const ABSOLUTE: NextLinks = NextLinks::Absolute;

    fn request(cursor: Option<String>) -> PageRequest {
        PageRequest::new("http://h".into(), "/x".into(), cursor)
    }

    fn items(n: i64) -> Vec<(SortKey, i64)> {
        (0..n)
            .map(|i| {
                (
                    SortKey {
                        at_micros: i,
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
        let first = paginate(items(7), &request(None), 3, ABSOLUTE).unwrap();
        assert_eq!(first.results, vec![0, 1, 2]);
        assert!(first.previous.is_none());
        let second = paginate(
            items(7),
            &request(cursor_of(first.next.as_deref().unwrap())),
            3,
            ABSOLUTE,
        )
        .unwrap();
        assert_eq!(second.results, vec![3, 4, 5]);
        let third = paginate(
            items(7),
            &request(cursor_of(second.next.as_deref().unwrap())),
            3,
            ABSOLUTE,
        )
        .unwrap();
        assert_eq!(third.results, vec![6]);
        assert!(third.next.is_none());
        let back = paginate(
            items(7),
            &request(cursor_of(third.previous.as_deref().unwrap())),
            3,
            ABSOLUTE,
        )
        .unwrap();
        assert_eq!(back.results, vec![3, 4, 5]);
    }

    #[test]
    fn rejects_a_garbage_cursor() {
        assert!(paginate(items(2), &request(Some("!!".into())), 3, ABSOLUTE).is_err());
    }

    #[test]
    fn keys_within_one_millisecond_order_by_their_microseconds() {
        let at = |micros| DateTime::from_timestamp_micros(micros).unwrap();
        // Same millisecond; ids in the opposite order of the times.
        let items = vec![
            (SortKey::new(at(1_000_002), "a"), 2),
            (SortKey::new(at(1_000_001), "b"), 1),
            (SortKey::new(at(1_000_003), "0"), 3),
        ];
        let first = paginate(items.clone(), &request(None), 1, ABSOLUTE).unwrap();
        assert_eq!(first.results, vec![1]);
        let second = paginate(
            items,
            &request(cursor_of(first.next.as_deref().unwrap())),
            2,
            ABSOLUTE,
        )
        .unwrap();
        assert_eq!(second.results, vec![2, 3]);
    }

    #[test]
    fn links_are_absolute_relative_or_on_the_other_origin() {
        let page = |links| paginate(items(7), &request(None), 3, links).unwrap();
        let absolute = page(NextLinks::Absolute).next.unwrap();
        assert!(absolute.starts_with("http://h/x?cursor="), "{absolute}");
        let relative = page(NextLinks::Relative).next.unwrap();
        assert!(relative.starts_with("/x?cursor="), "{relative}");
        let other = page(NextLinks::OtherOrigin).next.unwrap();
        assert!(
            other.starts_with("http://giosg-internal.invalid:8000/x?cursor="),
            "{other}"
        );
        assert_eq!(cursor_of(&absolute), cursor_of(&other));
    }
}
