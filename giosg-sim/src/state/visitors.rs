//! Visitors: authentication with a secret, access tokens, presence in a room and visitor
//! variables (`username` renames the visitor in their chats).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::ids;
use crate::resources::{RoomVisitorResource, VariableResource, VisitorAuthResource};

use super::SimState;
use super::error::{StateError, TokenProblem};
use super::model::{Grant, USERNAME_VARIABLE, Visitor};

/// `presence_expires_in` when the visitor does not say.
const DEFAULT_PRESENCE_EXPIRES_IN: u64 = 60;

/// What the visitor auth endpoint answers.
pub(crate) struct VisitorAuthOutcome {
    pub resource: VisitorAuthResource,
    pub created: bool,
}

impl SimState {
    /// Visitor auth: a new visitor, or a returning one by secret; always a new access token.
    pub(crate) fn authenticate_visitor(
        &mut self,
        secret: Option<&str>,
    ) -> Result<VisitorAuthOutcome, StateError> {
        let known = secret.and_then(|s| self.visitor_by_secret.get(s).cloned());
        let (visitor_id, created) = match (secret, known) {
            (_, Some(visitor_id)) => (visitor_id, false),
            (None, None) => (self.create_visitor(), true),
            (Some(_), None) => match self.behaviour.unknown_visitor_secret {
                crate::config::UnknownSecret::Error => return Err(StateError::UnknownSecret),
                crate::config::UnknownSecret::NewVisitor => (self.create_visitor(), true),
            },
        };
        let visitor = self
            .visitors
            .get(&visitor_id)
            .ok_or(StateError::VisitorNotFound)?;
        let secret = visitor.secret.clone();
        let token = ids::access_token();
        let ttl = i64::try_from(self.access_token_ttl_secs).unwrap_or(i64::MAX);
        let expires_at = Utc::now()
            .checked_add_signed(TimeDelta::try_seconds(ttl).unwrap_or(TimeDelta::MAX))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.grants.insert(
            token.clone(),
            Grant {
                visitor_id: visitor_id.clone(),
                expires_at,
            },
        );
        let resource = VisitorAuthResource {
            visitor_id,
            visitor_secret_id: secret,
            organization_id: self.org_id.clone(),
            access_token: token,
            expires_at: self.stamper().stamp(expires_at),
            expires_in: self.access_token_ttl_secs,
            socket_url: self.socket_url.clone(),
        };
        Ok(VisitorAuthOutcome { resource, created })
    }

    pub(super) fn create_visitor(&mut self) -> String {
        let visitor = Visitor {
            id: ids::visitor_id(),
            secret: ids::visitor_secret(),
            variables: BTreeMap::new(),
            presence: BTreeMap::new(),
        };
        let id = visitor.id.clone();
        self.visitor_by_secret
            .insert(visitor.secret.clone(), id.clone());
        self.visitors.insert(id.clone(), visitor);
        tracing::info!(visitor_id = %id, "new visitor");
        id
    }

    /// The visitor a bearer token belongs to.
    pub(crate) fn visitor_for_token(&self, token: &str) -> Result<String, TokenProblem> {
        let grant = self.grants.get(token).ok_or(TokenProblem::Unknown)?;
        if grant.expires_at <= Utc::now() {
            return Err(TokenProblem::Expired);
        }
        Ok(grant.visitor_id.clone())
    }

    /// Expires every access token of a visitor; answers how many there were.
    pub(crate) fn expire_visitor_tokens(&mut self, visitor_id: &str) -> Result<usize, StateError> {
        if !self.visitors.contains_key(visitor_id) {
            return Err(StateError::VisitorNotFound);
        }
        let past = Utc::now() - TimeDelta::seconds(1);
        let mut count = 0;
        for grant in self
            .grants
            .values_mut()
            .filter(|g| g.visitor_id == visitor_id)
        {
            grant.expires_at = past;
            count += 1;
        }
        Ok(count)
    }

    /// Puts a visitor in a room; answers whether the presence is new.
    pub(crate) fn join_room(
        &mut self,
        visitor_id: &str,
        room_id: &str,
        presence_expires_in: Option<u64>,
    ) -> Result<(RoomVisitorResource, bool), StateError> {
        self.require_room(room_id)?;
        let visitor = self
            .visitors
            .get_mut(visitor_id)
            .ok_or(StateError::VisitorNotFound)?;
        let expires_in = presence_expires_in.unwrap_or(DEFAULT_PRESENCE_EXPIRES_IN);
        let created = visitor
            .presence
            .insert(room_id.to_owned(), expires_in)
            .is_none();
        let resource = RoomVisitorResource {
            id: visitor_id.to_owned(),
            room_id: room_id.to_owned(),
            presence_expires_in: expires_in,
        };
        Ok((resource, created))
    }

    /// Refreshes the presence of a visitor already in the room.
    pub(crate) fn refresh_presence(
        &mut self,
        visitor_id: &str,
        room_id: &str,
        presence_expires_in: Option<u64>,
    ) -> Result<RoomVisitorResource, StateError> {
        self.require_room(room_id)?;
        let visitor = self
            .visitors
            .get_mut(visitor_id)
            .ok_or(StateError::VisitorNotFound)?;
        let current = visitor
            .presence
            .get_mut(room_id)
            .ok_or(StateError::NotInRoom)?;
        if let Some(expires_in) = presence_expires_in {
            *current = expires_in;
        }
        Ok(RoomVisitorResource {
            id: visitor_id.to_owned(),
            room_id: room_id.to_owned(),
            presence_expires_in: *current,
        })
    }

    /// Sets a visitor variable; `username` renames the visitor in the memberships of their chats.
    pub(crate) fn set_variable(
        &mut self,
        visitor_id: &str,
        room_id: &str,
        key: String,
        value: String,
    ) -> Result<VariableResource, StateError> {
        self.require_room(room_id)?;
        let visitor = self
            .visitors
            .get_mut(visitor_id)
            .ok_or(StateError::VisitorNotFound)?;
        visitor.variables.insert(key.clone(), value.clone());
        if key == USERNAME_VARIABLE {
            let now = self.now();
            for chat in self
                .chats
                .values_mut()
                .filter(|c| c.visitor_id == visitor_id)
            {
                if let Some(membership) = chat.membership_mut(visitor_id) {
                    membership.member.name = Some(value.clone());
                    membership.member.public_name = Some(value.clone());
                    membership.updated_at = now;
                }
            }
        }
        Ok(VariableResource { key, value })
    }
}
