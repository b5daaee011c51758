//! The Giosg client itself: its configuration, its construction, and how its calls are carried:
//! without credentials, with the API token, or as the visitor (token refreshed before it
//! expires, re-authentication once on 401), and paginated collections read to the end. The
//! endpoints are in `endpoints.rs`; each request's attempts and retries are the transport's.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::Utc;
use serde::de::DeserializeOwned;
use tracing::{debug, warn};
use url::Url;

use super::config::GiosgConfig;
use super::error::GiosgError;
use super::session::VisitorSession;
use super::transport::{Auth, Endpoint, Transport, parse};
use super::types::{Listing, Page};
use crate::domain::{ChatId, VisitorId};
use crate::metrics::{self, GiosgOutcome};
use crate::secret::Secret;

/// Whether a visitor call still makes sense when re-authenticating gave a different visitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Binding {
    /// The call is about the room, not about who the visitor is: carry on as the new visitor.
    Room,
    /// The call acts on the visitor's own presence, chats or messages: fail with
    /// [`GiosgError::VisitorReplaced`].
    Visitor,
}

/// A typed, retrying client for the Giosg endpoints this project uses.
///
/// Cheap to clone (one pooled HTTP client behind an `Arc`); build it once per cold start.
///
/// # Retries
///
/// Every attempt has [`GiosgConfig::request_timeout`]; a call with its retries and waits stays
/// within [`GiosgConfig::retry_budget`] (a wait that would not fit stops the call at once).
/// Waits are exponential backoff with full jitter, or Giosg's `Retry-After` when given.
/// A 4xx other than 429 is never retried (a 401 on a visitor call: re-authenticate once,
/// then send once more).
///
/// | endpoint | call | class | retried on |
/// |---|---|---|---|
/// | `visitor_auth` | [`authenticate_visitor`](Self::authenticate_visitor) | safe¹ | 429, 5xx, timeout, network error |
/// | `join_room` | [`join_room`](Self::join_room) | safe (200 existed / 201 created) | 429, 5xx, timeout, network error |
/// | `refresh_presence` | [`refresh_presence`](Self::refresh_presence) | safe (PATCH) | 429, 5xx, timeout, network error |
/// | `set_variable` | [`set_variable`](Self::set_variable), [`set_username`](Self::set_username) | safe (same key, same value) | 429, 5xx, timeout, network error |
/// | `room` | [`room`](Self::room) | safe (GET) | 429, 5xx, timeout, network error |
/// | `online_users` | [`online_users`](Self::online_users) | safe (GET) | 429, 5xx, timeout, network error |
/// | `start_chat` | [`start_chat`](Self::start_chat) | **not idempotent** (a second chat) | 429, 503, connection not established |
/// | `send_message` | [`send_message`](Self::send_message) | **not idempotent** (a duplicate message) | 429, 503, connection not established |
/// | `memberships` | [`chat_memberships`](Self::chat_memberships) | safe (GET) | 429, 5xx, timeout, network error |
/// | `owned_chat` | [`owned_chat`](Self::owned_chat) | safe (GET) | 429, 5xx, timeout, network error |
/// | `visitor_chats` | [`visitor_chats`](Self::visitor_chats) | safe (GET) | 429, 5xx, timeout, network error |
/// | `visitor_messages` | [`visitor_messages`](Self::visitor_messages) | safe (GET) | 429, 5xx, timeout, network error |
/// | `owned_chat_messages` | [`owned_chat_messages`](Self::owned_chat_messages) | safe (GET) | 429, 5xx, timeout, network error |
/// | `end_chat` | [`end_chat_as_visitor`](Self::end_chat_as_visitor) | safe (PATCH `is_ended: true`) | 429, 5xx, timeout, network error |
///
/// ¹ Re-authenticating a returning visitor is idempotent. Authenticating a *new* visitor is
/// treated as safe too: a repeat can at worst leave an unused visitor behind that never joins a
/// room, chats or shows up for an agent.
///
/// For the two non-idempotent calls, a 500, 502, 504, a timeout or a connection dropped after
/// sending may mean Giosg acted, so the call fails with [`GiosgError::Unavailable`] instead of
/// risking a duplicate; 429 and 503 mean Giosg turned the request away.
#[derive(Clone)]
pub struct GiosgClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    /// `base_url` with a trailing slash, so that paths extend it.
    base: Url,
}

impl std::fmt::Debug for GiosgClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GiosgClient")
            .field("config", self.config())
            .finish_non_exhaustive()
    }
}

impl GiosgClient {
    /// Builds the client (one connection pool, rustls, no redirects followed).
    pub fn new(config: GiosgConfig) -> Result<Self, GiosgError> {
        config.validate()?;
        let mut base = config.base_url.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_fragment(None);
        let transport = Transport::new(config)?;
        Ok(Self {
            inner: Arc::new(Inner { transport, base }),
        })
    }

    pub fn config(&self) -> &GiosgConfig {
        self.inner.transport.config()
    }

    /// The same client (sharing its connection pool) with another organization API token:
    /// how a rotated token is taken into use without a restart.
    pub fn with_api_token(&self, api_token: Secret) -> Self {
        Self {
            inner: Arc::new(Inner {
                transport: self.inner.transport.with_api_token(api_token),
                base: self.inner.base.clone(),
            }),
        }
    }

    // --- plumbing -------------------------------------------------------------------------

    pub(super) fn org_segment(&self) -> &str {
        self.config().org_id.as_str()
    }

    pub(super) fn room_segment(&self) -> &str {
        self.config().room_id.as_str()
    }

    /// The base URL extended by `segments`, each percent-encoded as one path segment.
    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .expect("validated: an http(s) base URL has path segments")
            .pop_if_empty()
            .extend(segments);
        url
    }

    pub(super) fn visitor_chat_url(
        &self,
        visitor: &VisitorId,
        chat: &ChatId,
        tail: Option<&str>,
    ) -> Url {
        let mut segments = vec!["api", "v5", "public", "visitors", visitor.as_str()];
        segments.extend(["chats", chat.as_str()]);
        segments.extend(tail);
        self.url(&segments)
    }

    /// A chat of the organization, `/api/v5/orgs/{org}/owned_chats/{chat}[/tail]`.
    pub(super) fn owned_chat_url(&self, chat: &ChatId, tail: Option<&str>) -> Url {
        let mut segments = vec!["api", "v5", "orgs", self.org_segment(), "owned_chats"];
        segments.push(chat.as_str());
        segments.extend(tail);
        self.url(&segments)
    }

    /// A call without credentials: visitor authentication.
    pub(super) async fn anonymous_call(
        &self,
        endpoint: Endpoint,
        url: &Url,
        body: Option<&serde_json::Value>,
        known_secrets: &[&str],
    ) -> Result<Bytes, GiosgError> {
        self.carry(endpoint, url, Auth::None, body, known_secrets)
            .await
    }

    /// A call with the organization API token.
    pub(super) async fn org_call(
        &self,
        endpoint: Endpoint,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Bytes, GiosgError> {
        self.carry(endpoint, url, Auth::ApiToken, body, &[]).await
    }

    /// A call with the visitor's access token: refreshed first when it is about to expire, and
    /// once more (with one more attempt) when Giosg answers 401.
    pub(super) async fn visitor_call(
        &self,
        session: &mut VisitorSession,
        endpoint: Endpoint,
        binding: Binding,
        request: impl Fn(&VisitorId) -> (Url, Option<serde_json::Value>),
    ) -> Result<Bytes, GiosgError> {
        if session.needs_refresh(Utc::now()) {
            debug!(
                endpoint = endpoint.name,
                "visitor token about to expire; re-authenticating"
            );
            self.renew(session, endpoint, binding).await?;
        }
        let (url, body) = request(session.visitor_id());
        let first = self
            .send_as_visitor(session, endpoint, &url, body.as_ref())
            .await;
        match first {
            Err(GiosgError::Refused { status: 401, .. }) => {
                debug!(
                    endpoint = endpoint.name,
                    "visitor token refused; re-authenticating once"
                );
                self.renew(session, endpoint, binding).await?;
                let (url, body) = request(session.visitor_id());
                self.send_as_visitor(session, endpoint, &url, body.as_ref())
                    .await
            }
            other => other,
        }
    }

    async fn send_as_visitor(
        &self,
        session: &VisitorSession,
        endpoint: Endpoint,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Bytes, GiosgError> {
        let known = [
            session.access_token().expose(),
            session.visitor_secret_id().expose(),
        ];
        self.carry(
            endpoint,
            url,
            Auth::Visitor(session.access_token()),
            body,
            &known,
        )
        .await
    }

    /// One call with its retries, counted in the metrics by endpoint and outcome, with how
    /// long it took.
    async fn carry(
        &self,
        endpoint: Endpoint,
        url: &Url,
        auth: Auth<'_>,
        body: Option<&serde_json::Value>,
        known_secrets: &[&str],
    ) -> Result<Bytes, GiosgError> {
        let started = Instant::now();
        let answer = self
            .inner
            .transport
            .send(endpoint, url, auth, body, known_secrets)
            .await;
        let outcome = match &answer {
            Ok(_) => GiosgOutcome::Ok,
            Err(GiosgError::Refused { .. }) => GiosgOutcome::Refused,
            Err(GiosgError::Unavailable { .. }) => GiosgOutcome::Unavailable,
            Err(_) => GiosgOutcome::Invalid,
        };
        metrics::giosg_call(endpoint.name, outcome, started.elapsed());
        answer
    }

    /// Re-authenticates on behalf of `endpoint`; a different visitor ends a visitor-bound call.
    async fn renew(
        &self,
        session: &mut VisitorSession,
        endpoint: Endpoint,
        binding: Binding,
    ) -> Result<(), GiosgError> {
        match self.reauthenticate(session).await? {
            Some(previous) if binding == Binding::Visitor => Err(GiosgError::VisitorReplaced {
                endpoint: endpoint.name,
                previous,
                current: session.visitor_id().clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Reads a paginated collection to the end, following `next` links on Giosg's own origin.
    pub(super) async fn all_pages<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        first: Url,
        visitor: Option<(&mut VisitorSession, Binding)>,
    ) -> Result<Vec<T>, GiosgError> {
        Ok(self.listing(endpoint, first, visitor).await?.items)
    }

    /// [`GiosgClient::all_pages`], with the number of pages it took.
    pub(super) async fn listing<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        first: Url,
        mut visitor: Option<(&mut VisitorSession, Binding)>,
    ) -> Result<Listing<T>, GiosgError> {
        let mut results = Vec::new();
        let mut seen = HashSet::new();
        let mut url = first;
        for _ in 0..self.config().max_pages {
            seen.insert(url.clone());
            let answer = match visitor.as_mut() {
                Some((session, binding)) => {
                    let page_url = url.clone();
                    self.visitor_call(session, endpoint, *binding, move |_| {
                        (page_url.clone(), None)
                    })
                    .await?
                }
                None => self.org_call(endpoint, &url, None).await?,
            };
            let page: Page<T> = parse(endpoint, &answer, &[])?;
            results.extend(page.results);
            match page.next.as_deref().map(str::trim) {
                None | Some("") => {
                    return Ok(Listing {
                        items: results,
                        pages: seen.len(),
                    });
                }
                Some(next) => {
                    url = self.next_page_url(endpoint, next)?;
                    if seen.contains(&url) {
                        return Err(GiosgError::InvalidResponse {
                            endpoint: endpoint.name,
                            reason: "the next-page link points back to a page already read".into(),
                        });
                    }
                }
            }
        }
        Err(GiosgError::InvalidResponse {
            endpoint: endpoint.name,
            reason: format!(
                "more than {} pages; stopped following next-page links",
                self.config().max_pages
            ),
        })
    }

    /// A `next` link, resolved against the base URL and always sent to Giosg's configured
    /// origin: the request carries a credential that must never go anywhere else. A link that
    /// names another origin (Django REST Framework behind a proxy that loses the forwarded host
    /// or scheme writes `http://internal-host/...`) is followed by its path and query on the
    /// configured origin, with a warning.
    fn next_page_url(&self, endpoint: Endpoint, next: &str) -> Result<Url, GiosgError> {
        let base = &self.inner.base;
        let url = base.join(next).map_err(|_| GiosgError::InvalidResponse {
            endpoint: endpoint.name,
            reason: "the next-page link is not a URL".into(),
        })?;
        if url.origin() == base.origin() && url.username().is_empty() && url.password().is_none() {
            return Ok(url);
        }
        warn!(
            endpoint = endpoint.name,
            "a next-page link names another origin; following its path on the configured origin"
        );
        let mut rebased = base.clone();
        rebased.set_path(url.path());
        rebased.set_query(url.query());
        rebased.set_fragment(None);
        Ok(rebased)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrgId, RoomId};
    use crate::giosg::endpoints::ROOM;

    fn config(base: &str) -> GiosgConfig {
        GiosgConfig::new(
            Url::parse(base).unwrap(),
            OrgId::new("org-1"),
            RoomId::new("room-1"),
            Secret::new("api-token-value"),
        )
    }

    #[test]
    fn urls_extend_the_base_path_and_encode_ids() {
        let client = GiosgClient::new(config("https://giosg.example/prefix")).unwrap();
        let chat = ChatId::new("../../evil?x=1");
        let url = client.visitor_chat_url(&VisitorId::new("v1"), &chat, Some("messages"));
        assert_eq!(
            url.as_str(),
            "https://giosg.example/prefix/api/v5/public/visitors/v1/chats/..%2F..%2Fevil%3Fx=1/messages"
        );
    }

    #[test]
    fn next_links_always_go_to_the_configured_origin() {
        let client = GiosgClient::new(config("https://giosg.example")).unwrap();
        let ok = client
            .next_page_url(ROOM, "https://giosg.example/api/v5/x?cursor=2")
            .unwrap();
        assert_eq!(ok.as_str(), "https://giosg.example/api/v5/x?cursor=2");
        let relative = client.next_page_url(ROOM, "/api/v5/x?cursor=3").unwrap();
        assert_eq!(relative.as_str(), "https://giosg.example/api/v5/x?cursor=3");
        for foreign in [
            "https://evil.example/api/v5/x?cursor=4",
            "http://giosg.example/api/v5/x?cursor=4",
            "https://giosg.example:8443/api/v5/x?cursor=4",
            "https://user:pw@giosg.example/api/v5/x?cursor=4#frag",
            "http://giosg-internal.invalid:8000/api/v5/x?cursor=4",
        ] {
            assert_eq!(
                client.next_page_url(ROOM, foreign).unwrap().as_str(),
                "https://giosg.example/api/v5/x?cursor=4",
                "{foreign} is followed on the configured origin only"
            );
        }
    }

    #[test]
    fn invalid_configuration_is_refused_with_a_sentence() {
        let mut bad = config("https://giosg.example");
        bad.max_attempts = 0;
        assert!(matches!(GiosgClient::new(bad), Err(GiosgError::Config(_))));
        let mut bad = config("https://giosg.example");
        bad.api_token = Secret::new("");
        assert!(matches!(GiosgClient::new(bad), Err(GiosgError::Config(_))));
        assert!(matches!(
            GiosgClient::new(config("ftp://giosg.example")),
            Err(GiosgError::Config(_))
        ));
    }

    #[test]
    fn client_debug_never_shows_the_api_token() {
        let client = GiosgClient::new(config("https://giosg.example")).unwrap();
        assert!(!format!("{client:?}").contains("api-token-value"));
    }
}
