//! Rendering the records as the resources Giosg sends: chats, messages and memberships, with
//! timestamps written by a [`Stamper`] (the current format, or the canonical one used to compare
//! a resource before and after a change).

use serde_json::Value;

use crate::resources::{
    ChatResource, ChatType, MembershipResource, MessageResource, MessageType, ParticipantType,
    to_json,
};
use crate::time::Stamper;

use super::SimState;
use super::error::StateError;
use super::model::{Chat, Membership, Message};

impl SimState {
    pub(super) fn render_chat(
        &self,
        chat_id: &str,
        stamper: &Stamper<'_>,
    ) -> Result<ChatResource, StateError> {
        let chat = self.chats.get(chat_id).ok_or(StateError::ChatNotFound)?;
        Ok(self.chat_resource(chat, stamper))
    }

    pub(super) fn canonical_chat(&self, chat_id: &str) -> Result<Value, StateError> {
        Ok(to_json(&self.render_chat(chat_id, &Stamper::canonical())?))
    }

    pub(super) fn render_message(
        &self,
        chat_id: &str,
        message_id: &str,
        stamper: &Stamper<'_>,
    ) -> Result<MessageResource, StateError> {
        let chat = self.chats.get(chat_id).ok_or(StateError::ChatNotFound)?;
        let message = &chat.messages[chat.message_index(message_id)?];
        Ok(self.message_resource(chat, message, stamper))
    }

    pub(super) fn canonical_message(
        &self,
        chat_id: &str,
        message_id: &str,
    ) -> Result<Value, StateError> {
        Ok(to_json(&self.render_message(
            chat_id,
            message_id,
            &Stamper::canonical(),
        )?))
    }

    pub(super) fn chat_resource(&self, chat: &Chat, stamper: &Stamper<'_>) -> ChatResource {
        let msgs = chat.messages.iter().filter(|m| m.kind == MessageType::Msg);
        let user_messages = msgs
            .clone()
            .filter(|m| m.sender.kind == ParticipantType::User)
            .count();
        let visitor_messages = msgs
            .clone()
            .filter(|m| m.sender.kind == ParticipantType::Visitor)
            .count();
        let members = |kind: Option<ParticipantType>, present_only: bool| {
            chat.memberships
                .iter()
                .filter(|m| kind.is_none_or(|k| m.member.kind == k))
                .filter(|m| !present_only || (m.is_participating && m.is_present))
                .count() as u64
        };
        let message_count = msgs.count() as u64;
        ChatResource {
            id: chat.id.clone(),
            chat_type: ChatType::Visitor,
            created_at: stamper.stamp(chat.created_at),
            updated_at: stamper.stamp(chat.updated_at),
            is_ended: chat.is_ended,
            ended_at: stamper.stamp_opt(chat.ended_at),
            is_waiting: chat.is_waiting,
            waiting_started_at: stamper.stamp_opt(chat.waiting_started_at),
            room_id: chat.room_id.clone(),
            room_name: self.room_name(&chat.room_id),
            room_organization_id: self.org_id.clone(),
            is_private: false,
            is_real_conversation: user_messages > 0 && visitor_messages > 0,
            is_autosuggested: false,
            is_encrypted: false,
            is_pending: false,
            message_count,
            user_message_count: user_messages as u64,
            visitor_message_count: visitor_messages as u64,
            member_count: members(None, false),
            user_member_count: members(Some(ParticipantType::User), false),
            visitor_member_count: members(Some(ParticipantType::Visitor), false),
            present_participant_count: members(None, true),
            present_user_participant_count: members(Some(ParticipantType::User), true),
            present_visitor_participant_count: members(Some(ParticipantType::Visitor), true),
            tag_count: 0,
            has_messages: message_count > 0,
            has_user_messages: user_messages > 0,
            has_visitor_messages: visitor_messages > 0,
        }
    }

    pub(super) fn message_resource(
        &self,
        chat: &Chat,
        message: &Message,
        stamper: &Stamper<'_>,
    ) -> MessageResource {
        MessageResource {
            id: message.id.clone(),
            kind: message.kind,
            chat_id: chat.id.clone(),
            room_id: self.behaviour.message_room_id.then(|| chat.room_id.clone()),
            created_at: stamper.stamp(message.created_at),
            sender_type: message.sender.kind,
            sender_id: message.sender.id.clone(),
            sender_name: message.sender.name.clone(),
            sender_public_name: message.sender.public_name.clone(),
            sender_avatar: message.sender.avatar.clone(),
            message: message.text.clone(),
            is_encrypted: false,
            sensitive_data_purged_at: stamper.stamp_opt(message.purged_at),
            attachments: message.attachments.clone(),
            response_to_message_id: None,
            response_to_attachment_id: None,
            response_to_action_id: None,
            response_value: None,
        }
    }
}

pub(super) fn membership_resource(
    chat: &Chat,
    membership: &Membership,
    stamper: &Stamper<'_>,
) -> MembershipResource {
    MembershipResource {
        member_id: membership.member.id.clone(),
        member_type: membership.member.kind,
        member_name: membership.member.name.clone(),
        member_public_name: membership.member.public_name.clone(),
        member_avatar: membership.member.avatar.clone(),
        room_id: chat.room_id.clone(),
        chat_id: chat.id.clone(),
        created_at: stamper.stamp(membership.created_at),
        updated_at: stamper.stamp(membership.updated_at),
        is_participating: membership.is_participating,
        is_present: membership.is_present,
        composing_status: "idle".to_owned(),
        message_count: membership.message_count,
    }
}
