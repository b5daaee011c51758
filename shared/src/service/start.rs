//! Starting a chat: a new visitor gets a Giosg visitor, a chat and a token; a returning one
//! resumes its open chat or gets a new one with the same Giosg visitor.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::{Service, ServiceError, session};
use crate::domain::EventAction;
use crate::domain::chat::{ChatEvent, ChatOwner, ChatRecord};
use crate::domain::input::{VisitorName, VisitorRef};
use crate::domain::rate::{RateKey, SourceKey};
use crate::domain::visitor::{VisitorKey, VisitorRecord, VisitorToken};
use crate::domain::{ChatId, ChatResource, Field, GiosgTime};
use crate::giosg::{GiosgError, GiosgPort, VisitorSession};
use crate::store::{ChatStore, Claim, Reservation};

/// `POST /v1/chats`: with the caller's token when it has one.
#[derive(Debug)]
pub struct StartChat {
    pub token: Option<VisitorToken>,
    pub name: VisitorName,
    /// Who is asking (the request id): the owner of the visitor's start claim.
    pub request_id: String,
    /// What the frontend calls this visitor, for away notifications.
    pub visitor_ref: Option<VisitorRef>,
    /// Where the request came from (API Gateway's `sourceIp`, the peer locally): a start
    /// without a token is limited per source. `None` when unknown (never on AWS): only the
    /// limit on all anonymous starts applies.
    pub source: Option<IpAddr>,
}

/// How long an overlapping start waits for the one under way, in steps of [`START_WAIT_STEP`].
const START_WAIT_STEPS: u32 = 40;
const START_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(100);

/// How much earlier than its claim a chat Giosg started may be stamped and still be the claim's.
const STARTED_SKEW: chrono::Duration = chrono::Duration::minutes(2);

/// What claiming a visitor's start slot came to.
enum StartSlot {
    /// This request starts the chat.
    Ours,
    /// Another request started one meanwhile, or an earlier start whose outcome was unknown
    /// had: that chat is the answer.
    Chat {
        chat: Box<ChatRecord>,
        resumed: bool,
    },
}

/// The chat the visitor chats in now.
#[derive(Debug)]
pub struct StartedChat {
    pub chat: ChatRecord,
    /// A token issued to a new visitor (the only time it is ever shown).
    pub issued_token: Option<VisitorToken>,
    /// The visitor's open chat was returned instead of starting one.
    pub resumed: bool,
}

impl<S: ChatStore, G: GiosgPort> Service<S, G> {
    pub async fn start_chat(&self, command: StartChat) -> Result<StartedChat, ServiceError> {
        let visitor_ref = command.visitor_ref.map(|r| r.as_str().to_owned());
        match command.token {
            None => {
                // Each makes a Giosg visitor: limited per source and in all, before anything.
                if let Some(source) = command.source {
                    let from = SourceKey::of(source);
                    self.take_token(RateKey::AnonymousStartsFrom(from)).await?;
                }
                self.take_token(RateKey::AnonymousStarts).await?;
                self.start_for_new_visitor(command.name, visitor_ref).await
            }
            Some(token) => {
                let key = token.key();
                let started = self
                    .start_for_returning_visitor(
                        key.clone(),
                        token,
                        command.name,
                        command.request_id,
                    )
                    .await?;
                if let Some(visitor_ref) = visitor_ref {
                    self.remember_visitor_ref(&key, visitor_ref).await?;
                }
                Ok(started)
            }
        }
    }

    /// Keeps the `visitor_ref` a returning visitor's start gave, when it changed.
    pub(super) async fn remember_visitor_ref(
        &self,
        key: &crate::domain::visitor::VisitorKey,
        visitor_ref: String,
    ) -> Result<(), ServiceError> {
        if let Some(mut visitor) = self.store.get_visitor(key).await?
            && visitor.visitor_ref.as_deref() != Some(visitor_ref.as_str())
        {
            visitor.visitor_ref = Some(visitor_ref);
            self.store
                .put_visitor(&visitor, &self.rules.store_context)
                .await?;
        }
        Ok(())
    }

    async fn start_for_new_visitor(
        &self,
        name: VisitorName,
        visitor_ref: Option<String>,
    ) -> Result<StartedChat, ServiceError> {
        self.ensure_agents_online().await?;
        let mut session = self.giosg.authenticate_visitor(None).await?;
        self.giosg.join_room(&mut session).await?;
        self.giosg
            .set_username(session.visitor_id(), name.as_str())
            .await?;
        let resource = self.start_giosg_chat(&mut session).await?;
        let chat_id = chat_id_of(&resource)?;
        let token = VisitorToken::generate();
        let visitor = VisitorRecord {
            key: token.key(),
            giosg_visitor_id: session.visitor_id().clone(),
            credentials: session::seal(&session, &token),
            name: name.as_str().to_owned(),
            latest_chat_id: Some(chat_id.clone()),
            created_at: Utc::now(),
            visitor_ref,
            identity: None,
        };
        let chat = self
            .store_started_chat(&visitor, &chat_id, resource)
            .await?;
        Ok(StartedChat {
            chat,
            issued_token: Some(token),
            resumed: false,
        })
    }

    /// Resumes or starts the chat of the visitor stored under `key`, whose credentials `token`
    /// opens (the visitor's own token, or an identified person's sealing token).
    pub(super) async fn start_for_returning_visitor(
        &self,
        key: VisitorKey,
        token: VisitorToken,
        name: VisitorName,
        request_id: String,
    ) -> Result<StartedChat, ServiceError> {
        let mut visitor = self
            .store
            .get_visitor(&key)
            .await?
            .ok_or(ServiceError::UnknownVisitor)?;
        if visitor.is_identified_device() {
            return Err(ServiceError::IdentityRequired);
        }
        // Only a known visitor has a bucket: made-up tokens store nothing.
        self.take_token(RateKey::Starts(visitor.key.clone()))
            .await?;
        let name = name.as_str();
        if let Some(open) = self.latest_open_chat(&visitor).await? {
            return self.resume(visitor, open, name).await;
        }
        let mut session = session::open(&visitor, &token)?;
        let claim = Claim {
            owner: request_id,
            text_digest: String::new(),
        };
        match self
            .claim_start_slot(&visitor, &mut session, &claim)
            .await?
        {
            StartSlot::Ours => {}
            StartSlot::Chat { chat, resumed } => {
                return Ok(StartedChat {
                    chat: *chat,
                    issued_token: None,
                    resumed,
                });
            }
        }
        // A start that finished between our first read and our claim has stored its chat:
        // resume it rather than open a second one.
        if let Some(fresh) = self.store.get_visitor(&visitor.key).await?
            && let Some(open) = self.latest_open_chat(&fresh).await?
        {
            if let Err(error) = self.store.release_start(&visitor.key, &claim.owner).await {
                tracing::warn!(%error, "could not release a visitor's start claim");
            }
            return self.resume(fresh, open, name).await;
        }
        let started = self
            .start_claimed(&mut visitor, &token, &mut session, name)
            .await;
        // Settle the claim: released once the chat is stored or certainly not started; kept as
        // an unknown outcome when Giosg may hold a chat we did not store (the retry finds it).
        let settled = match &started {
            Err(StartFailure::MayHaveStarted(_)) => {
                self.store
                    .mark_start_unknown(&visitor.key, &claim.owner)
                    .await
            }
            Ok(_) | Err(StartFailure::NotStarted(_)) => {
                self.store.release_start(&visitor.key, &claim.owner).await
            }
        };
        if let Err(error) = settled {
            tracing::warn!(%error, "could not settle a visitor's start claim");
        }
        let chat = started.map_err(StartFailure::into_error)?;
        Ok(StartedChat {
            chat,
            issued_token: None,
            resumed: false,
        })
    }

    /// The visitor's open chat, with the name agents see updated if it changed.
    async fn resume(
        &self,
        mut visitor: VisitorRecord,
        open: ChatRecord,
        name: &str,
    ) -> Result<StartedChat, ServiceError> {
        if visitor.name != name {
            self.giosg
                .set_username(&visitor.giosg_visitor_id, name)
                .await?;
            visitor.name = name.to_owned();
            self.store
                .put_visitor(&visitor, &self.rules.store_context)
                .await?;
        }
        Ok(StartedChat {
            chat: open,
            issued_token: None,
            resumed: true,
        })
    }

    /// Starts a chat in Giosg for a returning visitor whose start slot this request holds, and
    /// stores it with the visitor.
    async fn start_claimed(
        &self,
        visitor: &mut VisitorRecord,
        token: &VisitorToken,
        session: &mut VisitorSession,
        name: &str,
    ) -> Result<ChatRecord, StartFailure> {
        let not_started = StartFailure::NotStarted;
        self.ensure_agents_online().await.map_err(not_started)?;
        self.giosg
            .join_room(session)
            .await
            .map_err(|e| not_started(e.into()))?;
        let rebound = session.visitor_id() != &visitor.giosg_visitor_id;
        if rebound || visitor.name != name {
            self.giosg
                .set_username(session.visitor_id(), name)
                .await
                .map_err(|e| not_started(e.into()))?;
        }
        let resource = self
            .start_giosg_chat(session)
            .await
            .map_err(StartFailure::of_start)?;
        let chat_id = chat_id_of(&resource).map_err(StartFailure::MayHaveStarted)?;
        session::keep_refreshed(visitor, session, token);
        visitor.name = name.to_owned();
        visitor.latest_chat_id = Some(chat_id.clone());
        self.store_started_chat(visitor, &chat_id, resource)
            .await
            .map_err(StartFailure::MayHaveStarted)
    }

    /// Claims the visitor's start slot. A start under way elsewhere is waited for (its chat is
    /// then resumed); one whose outcome is unknown (Giosg failed halfway, or its request died)
    /// is found out from the visitor's chats in Giosg: a chat it started and nobody stored is
    /// stored and answered; only when there is none is the slot taken over.
    async fn claim_start_slot(
        &self,
        visitor: &VisitorRecord,
        session: &mut VisitorSession,
        claim: &Claim,
    ) -> Result<StartSlot, ServiceError> {
        let mut reservation = self.store.claim_start(&visitor.key, claim).await?;
        for _ in 0..START_WAIT_STEPS {
            let held = match reservation {
                Reservation::Reserved => return Ok(StartSlot::Ours),
                Reservation::Taken(held) => held,
            };
            match held.to_find_out(Utc::now(), self.rules.send_claim_stale_after) {
                None => {
                    tokio::time::sleep(START_WAIT_STEP).await;
                    let fresh = self.store.get_visitor(&visitor.key).await?;
                    if let Some(fresh) = fresh
                        && let Some(open) = self.latest_open_chat(&fresh).await?
                    {
                        return Ok(StartSlot::Chat {
                            chat: Box::new(open),
                            resumed: true,
                        });
                    }
                    reservation = self.store.claim_start(&visitor.key, claim).await?;
                }
                Some((holder, since)) => {
                    if let Some(chat) = self.find_started(visitor, session, since).await? {
                        if let Err(error) =
                            self.store.release_start(&visitor.key, &holder.owner).await
                        {
                            tracing::warn!(%error, "could not release a start found out");
                        }
                        return Ok(StartSlot::Chat {
                            chat: Box::new(chat),
                            resumed: false,
                        });
                    }
                    reservation = self
                        .store
                        .take_over_start(&visitor.key, &holder.owner, claim)
                        .await?;
                }
            }
        }
        tracing::warn!("another start for this visitor is still under way");
        Err(ServiceError::StartInProgress)
    }

    /// The open chat an earlier start with an unknown outcome made in Giosg and nobody stored:
    /// the visitor's newest open chat, stamped no earlier than that start (less clock skew),
    /// unknown to the store. Found, it is stored as the visitor's latest chat.
    async fn find_started(
        &self,
        visitor: &VisitorRecord,
        session: &mut VisitorSession,
        since: DateTime<Utc>,
    ) -> Result<Option<ChatRecord>, ServiceError> {
        let earliest = GiosgTime::from(since - STARTED_SKEW);
        let mut candidates: Vec<ChatResource> = self
            .giosg
            .visitor_chats(session)
            .await?
            .into_iter()
            .filter(|chat| {
                chat.id.is_some()
                    && chat.is_ended.value() != Some(&true)
                    && chat.created_at.value().is_some_and(|at| *at >= earliest)
            })
            .collect();
        candidates.sort_by_key(|chat| std::cmp::Reverse(chat.created_at.value().copied()));
        for resource in candidates {
            let Some(chat_id) = resource.id.clone() else {
                continue;
            };
            if self
                .store
                .get_chat(&chat_id)
                .await?
                .is_some_and(|stored| stored.owner.is_some())
            {
                continue;
            }
            tracing::info!(chat_id = %chat_id, "a start with an unknown outcome had started a chat in Giosg; answering with it");
            let mut visitor = visitor.clone();
            visitor.latest_chat_id = Some(chat_id.clone());
            return Ok(Some(
                self.store_started_chat(&visitor, &chat_id, resource)
                    .await?,
            ));
        }
        Ok(None)
    }

    /// The visitor's latest chat if it is still open (to resume instead of opening a second one).
    async fn latest_open_chat(
        &self,
        visitor: &VisitorRecord,
    ) -> Result<Option<ChatRecord>, ServiceError> {
        let Some(chat_id) = &visitor.latest_chat_id else {
            return Ok(None);
        };
        Ok(self
            .store
            .get_chat(chat_id)
            .await?
            .filter(|chat| chat.is_visible_to(&visitor.key) && chat.is_ended.is_unset()))
    }

    /// Starts the chat in Giosg. Giosg refuses a chat in a room with nobody online with a 4xx
    /// (giosg-api.md #7), but what a 4xx means is not documented: the room is asked again, and
    /// only an offline room makes it `AgentsOffline`.
    pub(super) async fn start_giosg_chat(
        &self,
        session: &mut VisitorSession,
    ) -> Result<ChatResource, ServiceError> {
        let error = match self.giosg.start_chat(session).await {
            Ok(resource) => return Ok(resource),
            Err(error) => error,
        };
        if !(error.is_refused() && matches!(error.status(), Some(400 | 403 | 409))) {
            return Err(error.into());
        }
        self.forget_availability();
        match self.availability().await {
            Ok(availability) if !availability.online => {
                if self.rules.allow_offline_chats {
                    tracing::warn!(%error, "Giosg refused to start a chat although offline chats are allowed");
                }
                Err(ServiceError::AgentsOffline)
            }
            Ok(_) => {
                tracing::warn!(%error, "Giosg refused to start a chat in a room with agents online");
                Err(error.into())
            }
            Err(lookup) => {
                tracing::warn!(%error, %lookup, "Giosg refused to start a chat and the room could not be read to tell why");
                Err(error.into())
            }
        }
    }

    /// Stores Giosg's answer as the chat's first snapshot, owned by the visitor (folded with
    /// whatever webhooks got there first), together with the visitor.
    pub(super) async fn store_started_chat(
        &self,
        visitor: &VisitorRecord,
        chat_id: &ChatId,
        mut resource: ChatResource,
    ) -> Result<ChatRecord, ServiceError> {
        if resource.room_id.is_absent() {
            resource.room_id = Field::Value(self.rules.room_id().clone());
        }
        let event = ChatEvent {
            action: EventAction::Added,
            resource: Some(resource),
            owner: Some(ChatOwner {
                visitor: visitor.key.clone(),
                visitor_name: visitor.name.clone(),
            }),
        };
        Ok(self
            .store
            .record_started_chat(visitor, chat_id, &event, &self.rules.store_context)
            .await?)
    }
}

/// Why a claimed start failed, by whether Giosg may hold a chat for it.
enum StartFailure {
    /// Certainly no chat in Giosg (refused, unreachable before the start call): release.
    NotStarted(ServiceError),
    /// Giosg may have started a chat (an unknown outcome, or storing it failed): keep the claim
    /// as an unknown outcome for the retry to find out.
    MayHaveStarted(ServiceError),
}

impl StartFailure {
    fn of_start(error: ServiceError) -> Self {
        match &error {
            ServiceError::Giosg(giosg) if giosg.may_have_acted() => Self::MayHaveStarted(error),
            _ => Self::NotStarted(error),
        }
    }

    fn into_error(self) -> ServiceError {
        match self {
            Self::NotStarted(error) | Self::MayHaveStarted(error) => error,
        }
    }
}

fn chat_id_of(resource: &ChatResource) -> Result<ChatId, ServiceError> {
    resource.id.clone().ok_or_else(|| {
        ServiceError::Giosg(GiosgError::InvalidResponse {
            endpoint: "start_chat",
            reason: "the chat has no id".into(),
        })
    })
}
