//! The Giosg HTTP client: endpoints of giosg-api.md §2, visitor token refresh, and pagination.
//! Each request's timeouts and retries within a budget are the transport's
//! ([`super::transport`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::{debug, warn};
use url::Url;

use super::error::GiosgError;
use super::session::VisitorSession;
use super::transport::{Auth, Endpoint, Repeat, Transport, Verb, endpoint, parse};
use super::types::{Membership, OnlineUser, Page, Room};
use crate::domain::{ChatId, ChatResource, GiosgTime, MessageResource, OrgId, RoomId, VisitorId};
use crate::secret::Secret;

/// Token lifetime assumed when Giosg's auth answer gives neither `expires_in` nor `expires_at`.
const FALLBACK_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::seconds(300);

/// How to reach Giosg, and how patient to be with it.
#[derive(Clone, Debug)]
pub struct GiosgConfig {
    /// `https://service.giosg.com` in production; the simulator's address in tests.
    pub base_url: Url,
    pub org_id: OrgId,
    pub room_id: RoomId,
    /// The organization API token (`Authorization: Token …`).
    pub api_token: Secret,
    /// Longest time one attempt may take, from connecting to the end of the body.
    pub request_timeout: Duration,
    /// Longest time to establish a TCP connection.
    pub connect_timeout: Duration,
    /// Longest time one call may take across all its attempts and the waits between them.
    pub retry_budget: Duration,
    /// Most attempts per call (the first one included).
    pub max_attempts: u32,
    /// Upper bound of the first backoff; doubles per attempt (full jitter).
    pub backoff_base: Duration,
    /// Upper bound of any backoff.
    pub backoff_max: Duration,
    /// Most pages followed when reading a paginated collection.
    pub max_pages: u32,
    /// `presence_expires_in` sent when joining the room; Giosg's default when `None`.
    pub presence_expires_in: Option<Duration>,
}

impl GiosgConfig {
    /// A configuration with the default timeouts: 3 s per attempt, 8 s per call, 4 attempts,
    /// backoff from 100 ms up to 2 s.
    pub fn new(base_url: Url, org_id: OrgId, room_id: RoomId, api_token: Secret) -> Self {
        Self {
            base_url,
            org_id,
            room_id,
            api_token,
            request_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(1),
            retry_budget: Duration::from_secs(8),
            max_attempts: 4,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            max_pages: 100,
            presence_expires_in: None,
        }
    }

    fn validate(&self) -> Result<(), GiosgError> {
        let fail = |what: &str| Err(GiosgError::Config(what.to_owned()));
        if !matches!(self.base_url.scheme(), "http" | "https") || self.base_url.host().is_none() {
            return fail("the Giosg base URL must be an http(s) URL with a host");
        }
        if self.base_url.query().is_some() || !self.base_url.username().is_empty() {
            return fail("the Giosg base URL must not carry a query or credentials");
        }
        if self.org_id.as_str().is_empty() || self.room_id.as_str().is_empty() {
            return fail("the Giosg organization id and room id must not be empty");
        }
        if self.api_token.expose().is_empty() {
            return fail("the Giosg API token must not be empty");
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return fail("the Giosg request and connect timeouts must be positive");
        }
        if self.retry_budget.is_zero() || self.max_attempts == 0 || self.max_pages == 0 {
            return fail("the Giosg retry budget, attempts and page cap must be positive");
        }
        Ok(())
    }
}

const VISITOR_AUTH: Endpoint = endpoint("visitor_auth", Verb::Post, Repeat::Safe);
const JOIN_ROOM: Endpoint = endpoint("join_room", Verb::Post, Repeat::Safe);
const REFRESH_PRESENCE: Endpoint = endpoint("refresh_presence", Verb::Patch, Repeat::Safe);
const SET_VARIABLE: Endpoint = endpoint("set_variable", Verb::Post, Repeat::Safe);
const ROOM: Endpoint = endpoint("room", Verb::Get, Repeat::Safe);
const ONLINE_USERS: Endpoint = endpoint("online_users", Verb::Get, Repeat::Safe);
const START_CHAT: Endpoint = endpoint("start_chat", Verb::Post, Repeat::OnlyIfNotReceived);
const SEND_MESSAGE: Endpoint = endpoint("send_message", Verb::Post, Repeat::OnlyIfNotReceived);
const CHAT_MEMBERSHIPS: Endpoint = endpoint("memberships", Verb::Get, Repeat::Safe);
const OWNED_CHAT: Endpoint = endpoint("owned_chat", Verb::Get, Repeat::Safe);
const VISITOR_CHATS: Endpoint = endpoint("visitor_chats", Verb::Get, Repeat::Safe);
const VISITOR_MESSAGES: Endpoint = endpoint("visitor_messages", Verb::Get, Repeat::Safe);
const END_CHAT: Endpoint = endpoint("end_chat", Verb::Patch, Repeat::Safe);

/// Whether a visitor call still makes sense when re-authenticating gave a different visitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Binding {
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

/// Giosg's answer to `POST /api/v5/public/orgs/{org}/auth`. Not `Debug`: it holds credentials.
#[derive(Deserialize)]
struct AuthAnswer {
    visitor_id: VisitorId,
    #[serde(deserialize_with = "secret_from_string")]
    visitor_secret_id: Secret,
    #[serde(deserialize_with = "secret_from_string")]
    access_token: Secret,
    #[serde(default)]
    expires_at: Option<GiosgTime>,
    #[serde(default)]
    expires_in: Option<f64>,
}

fn secret_from_string<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Secret, D::Error> {
    String::deserialize(deserializer).map(Secret::from)
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

    /// #1: authenticates a visitor: a new one (`None`) or a returning one with its stored
    /// `visitor_secret_id`. The session is marked changed (it was never stored).
    ///
    /// What Giosg does with an unknown secret is not documented; it may answer with a new
    /// visitor, so compare [`VisitorSession::visitor_id`] with the stored id (or use
    /// [`GiosgClient::reauthenticate`], which does).
    pub async fn authenticate_visitor(
        &self,
        visitor_secret_id: Option<&Secret>,
    ) -> Result<VisitorSession, GiosgError> {
        let url = self.url(&["api", "v5", "public", "orgs", self.org_segment(), "auth"]);
        let body = json!({ "visitor_secret_id": visitor_secret_id.map(Secret::expose) });
        let requested_at = Utc::now();
        let known: Vec<&str> = visitor_secret_id.map(Secret::expose).into_iter().collect();
        let answer = self
            .inner
            .transport
            .send(VISITOR_AUTH, &url, Auth::None, Some(&body), &known)
            .await?;
        let auth: AuthAnswer = parse(VISITOR_AUTH, &answer, &known)?;
        if auth.visitor_id.as_str().is_empty() || auth.access_token.expose().is_empty() {
            return Err(GiosgError::InvalidResponse {
                endpoint: VISITOR_AUTH.name,
                reason: "the answer has an empty visitor id or access token".into(),
            });
        }
        let expires_at = token_expiry(requested_at, auth.expires_in, auth.expires_at);
        Ok(VisitorSession::fresh(
            auth.visitor_id,
            auth.visitor_secret_id,
            auth.access_token,
            expires_at,
        ))
    }

    /// Re-authenticates the session's visitor with its stored secret now, whatever the token's
    /// age. Returns the previous visitor id when Giosg answered with a different visitor (the
    /// session then holds the new one; it must join the room again).
    pub async fn reauthenticate(
        &self,
        session: &mut VisitorSession,
    ) -> Result<Option<VisitorId>, GiosgError> {
        let renewed = self
            .authenticate_visitor(Some(session.visitor_secret_id()))
            .await?;
        let previous = session.replace_with(renewed);
        if let Some(previous) = &previous {
            warn!(
                previous_visitor = %previous,
                visitor = %session.visitor_id(),
                "Giosg answered re-authentication with a different visitor"
            );
        }
        Ok(previous)
    }

    /// #2: puts the visitor in the configured room (200 already there, 201 added: both fine).
    pub async fn join_room(&self, session: &mut VisitorSession) -> Result<(), GiosgError> {
        let url = self.url(&[
            "api",
            "v5",
            "public",
            "orgs",
            self.org_segment(),
            "rooms",
            self.room_segment(),
            "visitors",
        ]);
        let presence = self.config().presence_expires_in.map(|d| d.as_secs());
        self.visitor_call(session, JOIN_ROOM, Binding::Room, |visitor| {
            let mut body = json!({ "id": visitor.as_str() });
            if let Some(seconds) = presence {
                body["presence_expires_in"] = json!(seconds);
            }
            (url.clone(), Some(body))
        })
        .await
        .map(drop)
    }

    /// #3: keeps the visitor present in the room for `presence_expires_in` more.
    pub async fn refresh_presence(
        &self,
        session: &mut VisitorSession,
        presence_expires_in: Duration,
    ) -> Result<(), GiosgError> {
        let body = json!({ "presence_expires_in": presence_expires_in.as_secs() });
        self.visitor_call(session, REFRESH_PRESENCE, Binding::Visitor, |visitor| {
            let url = self.url(&[
                "api",
                "v5",
                "public",
                "orgs",
                self.org_segment(),
                "rooms",
                self.room_segment(),
                "visitors",
                visitor.as_str(),
            ]);
            (url, Some(body.clone()))
        })
        .await
        .map(drop)
    }

    /// #4: sets the name agents see for this visitor (the `username` variable).
    pub async fn set_username(&self, visitor: &VisitorId, name: &str) -> Result<(), GiosgError> {
        self.set_variable(visitor, "username", name).await
    }

    /// #4: sets a visitor variable, shown to agents as extra visitor data.
    pub async fn set_variable(
        &self,
        visitor: &VisitorId,
        key: &str,
        value: &str,
    ) -> Result<(), GiosgError> {
        let url = self.url(&[
            "api",
            "v5",
            "orgs",
            self.org_segment(),
            "rooms",
            self.room_segment(),
            "visitors",
            visitor.as_str(),
            "variables",
        ]);
        let body = json!({ "key": key, "value": value });
        self.org_call(SET_VARIABLE, &url, Some(&body))
            .await
            .map(drop)
    }

    /// #5: the configured room as the visitor sees it (`is_online`: an agent is available).
    pub async fn room(&self, session: &mut VisitorSession) -> Result<Room, GiosgError> {
        let url = self.url(&[
            "api",
            "v5",
            "public",
            "orgs",
            self.org_segment(),
            "rooms",
            self.room_segment(),
        ]);
        let answer = self
            .visitor_call(session, ROOM, Binding::Room, |_| (url.clone(), None))
            .await?;
        parse(ROOM, &answer, &[])
    }

    /// #6: the agents online in the configured room (all pages).
    pub async fn online_users(
        &self,
        session: &mut VisitorSession,
    ) -> Result<Vec<OnlineUser>, GiosgError> {
        let url = self.url(&[
            "api",
            "v5",
            "public",
            "orgs",
            self.org_segment(),
            "rooms",
            self.room_segment(),
            "online_users",
        ]);
        self.all_pages(ONLINE_USERS, url, Some((session, Binding::Room)))
            .await
    }

    /// #7: starts a chat as the visitor in the configured room. Not retried when Giosg may have
    /// acted (see the table on [`GiosgClient`]).
    pub async fn start_chat(
        &self,
        session: &mut VisitorSession,
    ) -> Result<ChatResource, GiosgError> {
        let answer = self
            .visitor_call(session, START_CHAT, Binding::Visitor, |visitor| {
                let url = self.url(&[
                    "api",
                    "v5",
                    "public",
                    "orgs",
                    self.org_segment(),
                    "rooms",
                    self.room_segment(),
                    "visitors",
                    visitor.as_str(),
                    "chats",
                ]);
                (url, None)
            })
            .await?;
        parse(START_CHAT, &answer, &[])
    }

    /// #8: sends a text message as the visitor. Not retried when Giosg may have acted (see the
    /// table on [`GiosgClient`]): an [`GiosgError::Unavailable`] may then mean the message was
    /// sent after all (its webhook echo will tell), and an [`GiosgError::InvalidResponse`]
    /// means it was.
    pub async fn send_message(
        &self,
        session: &mut VisitorSession,
        chat: &ChatId,
        text: &str,
    ) -> Result<MessageResource, GiosgError> {
        let body = json!({ "type": "msg", "message": text });
        let answer = self
            .visitor_call(session, SEND_MESSAGE, Binding::Visitor, |visitor| {
                (
                    self.visitor_chat_url(visitor, chat, Some("messages")),
                    Some(body.clone()),
                )
            })
            .await?;
        parse(SEND_MESSAGE, &answer, &[])
    }

    /// #9: the members of a chat of the organization (all pages; API token).
    pub async fn chat_memberships(&self, chat: &ChatId) -> Result<Vec<Membership>, GiosgError> {
        let url = self.url(&[
            "api",
            "v5",
            "orgs",
            self.org_segment(),
            "owned_chats",
            chat.as_str(),
            "memberships",
        ]);
        self.all_pages(CHAT_MEMBERSHIPS, url, None).await
    }

    /// #10: one chat of the organization (API token).
    pub async fn owned_chat(&self, chat: &ChatId) -> Result<ChatResource, GiosgError> {
        let url = self.url(&[
            "api",
            "v5",
            "orgs",
            self.org_segment(),
            "owned_chats",
            chat.as_str(),
        ]);
        let answer = self.org_call(OWNED_CHAT, &url, None).await?;
        parse(OWNED_CHAT, &answer, &[])
    }

    /// #11: the visitor's chats (all pages).
    pub async fn visitor_chats(
        &self,
        session: &mut VisitorSession,
    ) -> Result<Vec<ChatResource>, GiosgError> {
        let url = self.url(&[
            "api",
            "v5",
            "public",
            "visitors",
            session.visitor_id().as_str(),
            "chats",
        ]);
        self.all_pages(VISITOR_CHATS, url, Some((session, Binding::Visitor)))
            .await
    }

    /// #11: the messages of one of the visitor's chats (all pages).
    pub async fn visitor_messages(
        &self,
        session: &mut VisitorSession,
        chat: &ChatId,
    ) -> Result<Vec<MessageResource>, GiosgError> {
        let url = self.visitor_chat_url(session.visitor_id(), chat, Some("messages"));
        self.all_pages(VISITOR_MESSAGES, url, Some((session, Binding::Visitor)))
            .await
    }

    /// #12: ends one of the visitor's chats.
    pub async fn end_chat_as_visitor(
        &self,
        session: &mut VisitorSession,
        chat: &ChatId,
    ) -> Result<(), GiosgError> {
        let body = json!({ "is_ended": true });
        self.visitor_call(session, END_CHAT, Binding::Visitor, |visitor| {
            (
                self.visitor_chat_url(visitor, chat, None),
                Some(body.clone()),
            )
        })
        .await
        .map(drop)
    }

    // --- plumbing -------------------------------------------------------------------------

    fn org_segment(&self) -> &str {
        self.config().org_id.as_str()
    }

    fn room_segment(&self) -> &str {
        self.config().room_id.as_str()
    }

    /// The base URL extended by `segments`, each percent-encoded as one path segment.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .expect("validated: an http(s) base URL has path segments")
            .pop_if_empty()
            .extend(segments);
        url
    }

    fn visitor_chat_url(&self, visitor: &VisitorId, chat: &ChatId, tail: Option<&str>) -> Url {
        let mut segments = vec!["api", "v5", "public", "visitors", visitor.as_str()];
        segments.extend(["chats", chat.as_str()]);
        segments.extend(tail);
        self.url(&segments)
    }

    /// A call with the organization API token.
    async fn org_call(
        &self,
        endpoint: Endpoint,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Bytes, GiosgError> {
        self.inner
            .transport
            .send(endpoint, url, Auth::ApiToken, body, &[])
            .await
    }

    /// A call with the visitor's access token: refreshed first when it is about to expire, and
    /// once more (with one more attempt) when Giosg answers 401.
    async fn visitor_call(
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
        self.inner
            .transport
            .send(
                endpoint,
                url,
                Auth::Visitor(session.access_token()),
                body,
                &known,
            )
            .await
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
    async fn all_pages<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        first: Url,
        mut visitor: Option<(&mut VisitorSession, Binding)>,
    ) -> Result<Vec<T>, GiosgError> {
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
                None | Some("") => return Ok(results),
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

    /// A `next` link, resolved against the base URL, only if it stays on Giosg's origin: the
    /// request carries a credential that must never go anywhere else.
    fn next_page_url(&self, endpoint: Endpoint, next: &str) -> Result<Url, GiosgError> {
        let url = self
            .inner
            .base
            .join(next)
            .map_err(|_| GiosgError::InvalidResponse {
                endpoint: endpoint.name,
                reason: "the next-page link is not a URL".into(),
            })?;
        if url.origin() != self.inner.base.origin() || !url.username().is_empty() {
            warn!(
                endpoint = endpoint.name,
                "refusing a next-page link to another origin"
            );
            return Err(GiosgError::InvalidResponse {
                endpoint: endpoint.name,
                reason: "the next-page link points to another origin; not followed".into(),
            });
        }
        Ok(url)
    }
}

/// When a visitor token expires: by `expires_in` counted from when it was requested, or by
/// `expires_at`, whichever is sooner.
fn token_expiry(
    requested_at: DateTime<Utc>,
    expires_in: Option<f64>,
    expires_at: Option<GiosgTime>,
) -> DateTime<Utc> {
    let by_lifetime = expires_in
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| requested_at + chrono::Duration::milliseconds((s * 1000.0) as i64));
    let by_time = expires_at.map(|t| t.as_datetime());
    match (by_lifetime, by_time) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => requested_at + FALLBACK_TOKEN_LIFETIME,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> GiosgConfig {
        GiosgConfig::new(
            Url::parse(base).unwrap(),
            OrgId::new("org-1"),
            RoomId::new("room-1"),
            Secret::new("api-token-value"),
        )
    }

    #[test]
    fn token_expiry_prefers_the_sooner_bound() {
        let now = Utc::now();
        let at: GiosgTime = (now + chrono::Duration::seconds(600)).into();
        assert_eq!(token_expiry(now, Some(1800.0), Some(at)), at.as_datetime());
        assert_eq!(
            token_expiry(now, Some(60.0), Some(at)),
            now + chrono::Duration::seconds(60)
        );
        assert_eq!(token_expiry(now, None, None), now + FALLBACK_TOKEN_LIFETIME);
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
    fn next_links_to_another_origin_are_refused() {
        let client = GiosgClient::new(config("https://giosg.example")).unwrap();
        let ok = client
            .next_page_url(ROOM, "https://giosg.example/api/v5/x?cursor=2")
            .unwrap();
        assert_eq!(ok.as_str(), "https://giosg.example/api/v5/x?cursor=2");
        let relative = client.next_page_url(ROOM, "/api/v5/x?cursor=3").unwrap();
        assert_eq!(relative.as_str(), "https://giosg.example/api/v5/x?cursor=3");
        for foreign in [
            "https://evil.example/api/v5/x",
            "http://giosg.example/api/v5/x",
            "https://giosg.example:8443/api/v5/x",
            "https://user@giosg.example/api/v5/x",
        ] {
            assert!(
                client.next_page_url(ROOM, foreign).is_err(),
                "{foreign} should be refused"
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
    fn call_futures_are_send_for_multi_threaded_runtimes() {
        fn assert_send<T: Send>(_: T) {}
        let client = GiosgClient::new(config("https://giosg.example")).unwrap();
        let mut session = VisitorSession::from_parts(
            VisitorId::new("v"),
            Secret::new("s"),
            Secret::new("t"),
            Utc::now(),
        );
        let chat = ChatId::new("c");
        assert_send(client.authenticate_visitor(None));
        assert_send(client.reauthenticate(&mut session));
        assert_send(client.join_room(&mut session));
        assert_send(client.refresh_presence(&mut session, Duration::from_secs(60)));
        assert_send(client.set_username(&VisitorId::new("v"), "Ada"));
        assert_send(client.room(&mut session));
        assert_send(client.online_users(&mut session));
        assert_send(client.start_chat(&mut session));
        assert_send(client.send_message(&mut session, &chat, "hi"));
        assert_send(client.chat_memberships(&chat));
        assert_send(client.owned_chat(&chat));
        assert_send(client.visitor_chats(&mut session));
        assert_send(client.visitor_messages(&mut session, &chat));
        assert_send(client.end_chat_as_visitor(&mut session, &chat));
    }

    #[test]
    fn client_debug_never_shows_the_api_token() {
        let client = GiosgClient::new(config("https://giosg.example")).unwrap();
        assert!(!format!("{client:?}").contains("api-token-value"));
    }
}
