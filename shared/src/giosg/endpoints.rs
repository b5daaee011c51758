//! The Giosg endpoints this project calls (giosg-api.md §2, #1–#12), each with its retry
//! class. How a call is carried (credentials, token refresh, pages, retries) is
//! [`GiosgClient`]'s plumbing in `client.rs` and the transport's.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use tracing::warn;

use super::client::{Binding, GiosgClient};
use super::error::GiosgError;
use super::session::VisitorSession;
use super::transport::{Endpoint, Repeat, Verb, endpoint, parse};
use super::types::{Listing, Membership, OnlineUser, Room};
use crate::domain::{ChatId, ChatResource, GiosgTime, MessageResource, VisitorId};
use crate::secret::Secret;

/// Token lifetime assumed when Giosg's auth answer gives neither `expires_in` nor `expires_at`.
const FALLBACK_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::seconds(300);

// The retry class of each endpoint; the table on `GiosgClient` says why. Keep both in step.
pub(super) const VISITOR_AUTH: Endpoint = endpoint("visitor_auth", Verb::Post, Repeat::Safe);
pub(super) const JOIN_ROOM: Endpoint = endpoint("join_room", Verb::Post, Repeat::Safe);
pub(super) const REFRESH_PRESENCE: Endpoint =
    endpoint("refresh_presence", Verb::Patch, Repeat::Safe);
pub(super) const SET_VARIABLE: Endpoint = endpoint("set_variable", Verb::Post, Repeat::Safe);
pub(super) const ROOM: Endpoint = endpoint("room", Verb::Get, Repeat::Safe);
pub(super) const ONLINE_USERS: Endpoint = endpoint("online_users", Verb::Get, Repeat::Safe);
pub(super) const START_CHAT: Endpoint =
    endpoint("start_chat", Verb::Post, Repeat::OnlyIfNotReceived);
pub(super) const SEND_MESSAGE: Endpoint =
    endpoint("send_message", Verb::Post, Repeat::OnlyIfNotReceived);
pub(super) const CHAT_MEMBERSHIPS: Endpoint = endpoint("memberships", Verb::Get, Repeat::Safe);
pub(super) const OWNED_CHAT: Endpoint = endpoint("owned_chat", Verb::Get, Repeat::Safe);
pub(super) const OWNED_CHAT_MESSAGES: Endpoint =
    endpoint("owned_chat_messages", Verb::Get, Repeat::Safe);
pub(super) const VISITOR_CHATS: Endpoint = endpoint("visitor_chats", Verb::Get, Repeat::Safe);
pub(super) const VISITOR_MESSAGES: Endpoint = endpoint("visitor_messages", Verb::Get, Repeat::Safe);
pub(super) const END_CHAT: Endpoint = endpoint("end_chat", Verb::Patch, Repeat::Safe);

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
            .anonymous_call(VISITOR_AUTH, &url, Some(&body), &known)
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
        let renewed = match self
            .authenticate_visitor(Some(session.visitor_secret_id()))
            .await
        {
            // Giosg may refuse a secret it no longer knows instead of answering with a new
            // visitor (undocumented): either way the stored visitor is gone, so carry on as a
            // new one, which the caller sees as a replaced visitor.
            Err(GiosgError::Refused { status, .. }) if matches!(status, 400 | 403 | 404) => {
                warn!(
                    status,
                    "Giosg refused the stored visitor secret; authenticating a new visitor"
                );
                self.authenticate_visitor(None).await?
            }
            other => other?,
        };
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
        let url = self.owned_chat_url(chat, Some("memberships"));
        self.all_pages(CHAT_MEMBERSHIPS, url, None).await
    }

    /// #10: one chat of the organization (API token).
    pub async fn owned_chat(&self, chat: &ChatId) -> Result<ChatResource, GiosgError> {
        let url = self.owned_chat_url(chat, None);
        let answer = self.org_call(OWNED_CHAT, &url, None).await?;
        parse(OWNED_CHAT, &answer, &[])
    }

    /// #13: every message of a chat as the organization sees it (API token; all pages), the
    /// reconciler's source of truth.
    pub async fn owned_chat_messages(
        &self,
        chat: &ChatId,
    ) -> Result<Listing<MessageResource>, GiosgError> {
        let url = self.owned_chat_url(chat, Some("messages"));
        self.listing(OWNED_CHAT_MESSAGES, url, None).await
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
    use url::Url;

    use super::*;
    use crate::domain::{OrgId, RoomId};
    use crate::giosg::GiosgConfig;

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
}
