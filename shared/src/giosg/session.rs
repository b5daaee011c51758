//! A Giosg visitor's credentials, as the client uses and refreshes them.

use chrono::{DateTime, Duration, Utc};

use crate::domain::VisitorId;
use crate::secret::Secret;

/// Refresh the access token when less than this is left of its life.
pub const REFRESH_MARGIN: Duration = Duration::seconds(60);

/// A Giosg visitor: its id, its long-lived `visitor_secret_id` (to re-authenticate as the same
/// visitor) and its current short-lived access token.
///
/// Client methods that take `&mut VisitorSession` refresh it when needed; afterwards
/// [`VisitorSession::take_changed`] tells the caller to persist it again.
#[derive(Clone, Debug)]
pub struct VisitorSession {
    visitor_id: VisitorId,
    visitor_secret_id: Secret,
    access_token: Secret,
    expires_at: DateTime<Utc>,
    changed: bool,
}

impl VisitorSession {
    /// A session as stored earlier (nothing to persist until the client changes it).
    pub fn from_parts(
        visitor_id: VisitorId,
        visitor_secret_id: Secret,
        access_token: Secret,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            visitor_id,
            visitor_secret_id,
            access_token,
            expires_at,
            changed: false,
        }
    }

    /// A session straight from Giosg's auth answer: marked changed, since it was never stored.
    pub(crate) fn fresh(
        visitor_id: VisitorId,
        visitor_secret_id: Secret,
        access_token: Secret,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            changed: true,
            ..Self::from_parts(visitor_id, visitor_secret_id, access_token, expires_at)
        }
    }

    pub fn visitor_id(&self) -> &VisitorId {
        &self.visitor_id
    }

    pub fn visitor_secret_id(&self) -> &Secret {
        &self.visitor_secret_id
    }

    pub fn access_token(&self) -> &Secret {
        &self.access_token
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// Whether the access token is expired or has less than [`REFRESH_MARGIN`] left at `now`.
    pub fn needs_refresh(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - now < REFRESH_MARGIN
    }

    /// Whether the session changed (new token, or a new visitor) since it was created, restored
    /// or last asked; resets the flag. When true, the caller should store the session again.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// Whether the session has changes the caller has not yet taken.
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// Takes over a newer authentication of the same stored visitor. Returns the previous
    /// visitor id when Giosg answered with a different visitor.
    pub(crate) fn replace_with(&mut self, newer: VisitorSession) -> Option<VisitorId> {
        let previous = (newer.visitor_id != self.visitor_id)
            .then(|| std::mem::replace(&mut self.visitor_id, newer.visitor_id));
        self.visitor_secret_id = newer.visitor_secret_id;
        self.access_token = newer.access_token;
        self.expires_at = newer.expires_at;
        self.changed = true;
        previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_in: i64) -> VisitorSession {
        VisitorSession::from_parts(
            VisitorId::new("0123456789abcdef0123456789abcdef"),
            Secret::new("visitor-secret-value"),
            Secret::new("access-token-value"),
            Utc::now() + Duration::seconds(expires_in),
        )
    }

    #[test]
    fn refresh_is_needed_within_the_last_minute() {
        let now = Utc::now();
        assert!(!session(600).needs_refresh(now));
        assert!(session(30).needs_refresh(now));
        assert!(session(-5).needs_refresh(now));
    }

    #[test]
    fn restored_session_is_unchanged_until_replaced() {
        let mut stored = session(600);
        assert!(!stored.take_changed());
        let newer = VisitorSession::fresh(
            stored.visitor_id().clone(),
            Secret::new("visitor-secret-value"),
            Secret::new("new-token"),
            Utc::now() + Duration::seconds(1800),
        );
        assert_eq!(stored.replace_with(newer), None);
        assert!(stored.take_changed());
        assert!(!stored.take_changed());
        assert_eq!(stored.access_token().expose(), "new-token");
    }

    #[test]
    fn a_different_visitor_is_reported() {
        let mut stored = session(600);
        let newer = VisitorSession::fresh(
            VisitorId::new("ffffffffffffffffffffffffffffffff"),
            Secret::new("other-secret"),
            Secret::new("other-token"),
            Utc::now() + Duration::seconds(1800),
        );
        let previous = stored.replace_with(newer);
        assert_eq!(
            previous,
            Some(VisitorId::new("0123456789abcdef0123456789abcdef"))
        );
        assert_eq!(
            stored.visitor_id().as_str(),
            "ffffffffffffffffffffffffffffffff"
        );
    }

    #[test]
    fn debug_never_shows_credentials() {
        let printed = format!("{:?}", session(600));
        assert!(!printed.contains("visitor-secret-value"));
        assert!(!printed.contains("access-token-value"));
    }
}
