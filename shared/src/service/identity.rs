//! Starting a chat as an identified person (spec §1c): one Giosg visitor and one set of chats
//! per identity subject, each device with its own visitor token.
//!
//! The person has a visitor of its own, stored under [`VisitorKey::for_identity`] and never
//! handed to any client: it owns the person's chats, holds their latest chat and takes the start
//! claim, so a start from any device is a returning visitor's start of that one visitor (two
//! devices starting at once open at most one Giosg chat, as two starts with one token do). Its
//! Giosg credentials are sealed under a token only the service can derive
//! ([`VisitorToken::for_identity`]). Each device gets a visitor record of its own (its token
//! hashed, a copy of the person's Giosg credentials sealed under that token, the hashed subject
//! in `identity`), which reaches the person's chats ([`VisitorRecord::chat_owner`]) in reads and
//! sends with no extra round trip, and is found with the person by an operator's erasure.

use chrono::Utc;

use super::{Service, ServiceError, StartChat, StartedChat, session};
use crate::domain::input::VisitorName;
use crate::domain::visitor::{VisitorKey, VisitorRecord, VisitorToken};
use crate::giosg::GiosgPort;
use crate::identity::VerifiedIdentity;
use crate::store::{ChatStore, Claim, Reservation};

/// How long a start waits for the one creating the person's visitor, in steps.
const CREATE_WAIT_STEPS: u32 = 40;
const CREATE_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(100);

impl<S: ChatStore, G: GiosgPort> Service<S, G> {
    /// `POST /v1/chats` with a verified `identity_token`: resumes or starts the person's chat.
    /// The caller's visitor token is kept when it is already one of this person's devices; any
    /// other (none, an anonymous visitor's, another person's) gets the device a new token.
    pub async fn start_chat_as(
        &self,
        command: StartChat,
        identity: VerifiedIdentity,
    ) -> Result<StartedChat, ServiceError> {
        let key = VisitorKey::for_identity(&identity.person);
        let name = identity.name.clone().unwrap_or(command.name);
        let claim = Claim {
            owner: command.request_id.clone(),
            text_digest: String::new(),
        };
        self.ensure_person_visitor(&key, &identity, &name, &claim)
            .await?;
        let mut started = self
            .start_for_returning_visitor(
                key.clone(),
                identity.sealing.clone(),
                name,
                command.request_id,
            )
            .await?;
        let person = self
            .store
            .get_visitor(&key)
            .await?
            .ok_or_else(|| ServiceError::Internal("the person's visitor vanished".into()))?;
        let device = match command.token {
            Some(token) => match self.store.get_visitor(&token.key()).await? {
                Some(record) if record.identity.as_ref() == Some(&identity.person) => {
                    Some((token, record))
                }
                _ => None,
            },
            None => None,
        };
        let visitor_ref = command.visitor_ref.map(|r| r.as_str().to_owned());
        // On the person's visitor too, the chats' owner: away notifications and exports name it.
        if let Some(visitor_ref) = &visitor_ref {
            self.remember_visitor_ref(&key, visitor_ref.clone()).await?;
        }
        match device {
            Some((token, mut record)) => {
                if record.giosg_visitor_id != person.giosg_visitor_id
                    || record.latest_chat_id.as_ref() != Some(&started.chat.id)
                    || (visitor_ref.is_some() && record.visitor_ref != visitor_ref)
                {
                    let session = session::open(&person, &identity.sealing)?;
                    record.giosg_visitor_id = person.giosg_visitor_id.clone();
                    record.credentials = session::seal(&session, &token);
                    record.latest_chat_id = Some(started.chat.id.clone());
                    record.name = person.name.clone();
                    if visitor_ref.is_some() {
                        record.visitor_ref = visitor_ref;
                    }
                    self.store
                        .put_visitor(&record, &self.rules.store_context)
                        .await?;
                }
            }
            None => {
                let token = VisitorToken::generate();
                let session = session::open(&person, &identity.sealing)?;
                let record = VisitorRecord {
                    key: token.key(),
                    giosg_visitor_id: person.giosg_visitor_id.clone(),
                    credentials: session::seal(&session, &token),
                    name: person.name.clone(),
                    latest_chat_id: Some(started.chat.id.clone()),
                    created_at: Utc::now(),
                    visitor_ref,
                    identity: Some(identity.person.clone()),
                };
                self.store
                    .put_visitor(&record, &self.rules.store_context)
                    .await?;
                started.issued_token = Some(token);
            }
        }
        Ok(started)
    }

    /// Makes the person's own visitor (a Giosg visitor, no chat yet) when there is none, or when
    /// its credentials no longer open (the Giosg API token they are sealed under was rotated),
    /// under the person's start claim, so that devices starting at once make one.
    async fn ensure_person_visitor(
        &self,
        key: &VisitorKey,
        identity: &VerifiedIdentity,
        name: &VisitorName,
        claim: &Claim,
    ) -> Result<(), ServiceError> {
        for _ in 0..CREATE_WAIT_STEPS {
            if self.usable_person_visitor(key, identity).await? {
                return Ok(());
            }
            let reservation = match self.store.claim_start(key, claim).await? {
                Reservation::Taken(held) => {
                    match held.to_find_out(Utc::now(), self.rules.send_claim_stale_after) {
                        // A creator that died before storing anything made no chat: take over.
                        Some((holder, _)) => {
                            self.store
                                .take_over_start(key, &holder.owner, claim)
                                .await?
                        }
                        None => Reservation::Taken(held),
                    }
                }
                reserved => reserved,
            };
            if reservation == Reservation::Reserved {
                let created = self.create_person_visitor(key, identity, name).await;
                if let Err(error) = self.store.release_start(key, &claim.owner).await {
                    tracing::warn!(%error, "could not release a person's start claim");
                }
                return created;
            }
            tokio::time::sleep(CREATE_WAIT_STEP).await;
        }
        tracing::warn!("another start is still making this person's visitor");
        Err(ServiceError::StartInProgress)
    }

    async fn create_person_visitor(
        &self,
        key: &VisitorKey,
        identity: &VerifiedIdentity,
        name: &VisitorName,
    ) -> Result<(), ServiceError> {
        if self.usable_person_visitor(key, identity).await? {
            return Ok(());
        }
        self.ensure_agents_online().await?;
        let session = self.giosg.authenticate_visitor(None).await?;
        self.giosg
            .set_username(session.visitor_id(), name.as_str())
            .await?;
        let record = VisitorRecord {
            key: key.clone(),
            giosg_visitor_id: session.visitor_id().clone(),
            credentials: session::seal(&session, &identity.sealing),
            name: name.as_str().to_owned(),
            latest_chat_id: None,
            created_at: Utc::now(),
            visitor_ref: None,
            identity: Some(identity.person.clone()),
        };
        self.store
            .put_visitor(&record, &self.rules.store_context)
            .await?;
        Ok(())
    }

    /// Whether the person's visitor exists and its credentials open with the identity's
    /// sealing token. One that does not open is replaced (a new Giosg visitor, no latest chat:
    /// the person's next start opens a new chat; the chats so far stay theirs).
    async fn usable_person_visitor(
        &self,
        key: &VisitorKey,
        identity: &VerifiedIdentity,
    ) -> Result<bool, ServiceError> {
        Ok(match self.store.get_visitor(key).await? {
            Some(record) if record.credentials.open(&identity.sealing).is_ok() => true,
            Some(_) => {
                tracing::warn!(
                    "an identified person's Giosg credentials no longer open (the Giosg API token rotated?); making a new Giosg visitor for them"
                );
                false
            }
            None => false,
        })
    }
}
