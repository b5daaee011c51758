//! The organization's two rooms: whether a room exists, its name and availability, the public
//! room resource and the agents online in it.

use crate::pagination::SortKey;
use crate::resources::{OnlineUserResource, RoomResource};

use super::SimState;
use super::error::StateError;
use super::model::RoomRules;

impl SimState {
    pub(super) fn require_room(&self, room_id: &str) -> Result<(), StateError> {
        if room_id == self.room_id || room_id == self.other_room_id {
            Ok(())
        } else {
            Err(StateError::RoomNotFound)
        }
    }

    pub(super) fn room_name(&self, room_id: &str) -> String {
        if room_id == self.room_id {
            "Simulated Support Room".to_owned()
        } else {
            "Simulated Website Room".to_owned()
        }
    }

    /// The automation rules of a room (the other room's for any room but the configured one).
    pub(super) fn rules_of(&self, room_id: &str) -> &RoomRules {
        if room_id == self.room_id {
            &self.rules[0]
        } else {
            &self.rules[1]
        }
    }

    pub(super) fn room_online(&self, room_id: &str) -> bool {
        if room_id == self.room_id {
            self.behaviour.room_online
        } else {
            self.other_room_online
        }
    }

    pub(crate) fn room_resource(&self, room_id: &str) -> Result<RoomResource, StateError> {
        self.require_room(room_id)?;
        Ok(RoomResource {
            id: room_id.to_owned(),
            display_name: self.room_name(room_id),
            language_code: "en".to_owned(),
            is_online: self.room_online(room_id),
            brand: None,
        })
    }

    /// The agents online in a room: the whole roster while the room is online, nobody otherwise.
    pub(crate) fn online_users(
        &self,
        room_id: &str,
    ) -> Result<Vec<(SortKey, OnlineUserResource)>, StateError> {
        self.require_room(room_id)?;
        if !self.room_online(room_id) {
            return Ok(Vec::new());
        }
        Ok(self
            .agents
            .iter()
            .map(|a| {
                let resource = OnlineUserResource {
                    id: a.id.clone(),
                    public_name: a.public_name.clone(),
                    avatar: a.avatar.clone(),
                };
                (SortKey::new(a.listed_at, &a.id), resource)
            })
            .collect())
    }

    /// Sets whether a room (configured or other) is online.
    pub(crate) fn set_room_online(
        &mut self,
        room_id: &str,
        online: bool,
    ) -> Result<(), StateError> {
        if room_id == self.room_id {
            self.behaviour.room_online = online;
        } else if room_id == self.other_room_id {
            self.other_room_online = online;
        } else {
            return Err(StateError::RoomNotFound);
        }
        Ok(())
    }
}
