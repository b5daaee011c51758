//! The webhooks a change emits (giosg-api.md §4): envelopes on the chats and messages channels,
//! `changed` resources holding only the fields that differ, and the `removed` resource chosen
//! by [`Behaviour::removed_resource`](crate::config::Behaviour::removed_resource). They are
//! queued in the outbox; `app` hands them to the webhook dispatcher.

use serde_json::{Map, Value};

use crate::config::{MessageChatId, RemovedResource};
use crate::emission::{ChannelKind, Emission};
use crate::ids;
use crate::resources::{AppUserAuth, WebhookAction, WebhookEnvelope, to_json};

use super::SimState;
use super::error::StateError;

impl SimState {
    fn envelope(
        &self,
        channel: String,
        action: WebhookAction,
        resource_id: &str,
        resource: Option<Value>,
    ) -> WebhookEnvelope {
        let app_user_auth = self.behaviour.include_app_user_auth.then(|| AppUserAuth {
            access_token: ids::access_token(),
            token_type: "Bearer".to_owned(),
            expires_in: 300,
            user_id: self.bot_user_id.clone(),
            organization_id: self.org_id.clone(),
        });
        WebhookEnvelope {
            channel,
            action,
            resource_id: resource_id.to_owned(),
            resource,
            app_user_auth,
        }
    }

    pub(super) fn emit_chat(
        &mut self,
        action: WebhookAction,
        chat_id: &str,
        resource: Option<Value>,
    ) {
        let channel = format!("/api/v5/orgs/{}/owned_chats", self.org_id);
        let envelope = self.envelope(channel, action, chat_id, resource);
        self.outbox.push(Emission {
            kind: ChannelKind::Chats,
            envelope,
        });
    }

    pub(super) fn emit_message(
        &mut self,
        action: WebhookAction,
        chat_id: &str,
        message_id: &str,
        resource: Option<Value>,
    ) {
        let channel = format!(
            "/api/v5/orgs/{}/owned_chats/{chat_id}/messages",
            self.org_id
        );
        let envelope = self.envelope(channel, action, message_id, resource);
        self.outbox.push(Emission {
            kind: ChannelKind::Messages,
            envelope,
        });
    }

    /// Emits chat `changed` with the fields that differ from `before`, always with `updated_at`.
    pub(super) fn emit_chat_changed(
        &mut self,
        chat_id: &str,
        before: &Value,
    ) -> Result<(), StateError> {
        let after = self.canonical_chat(chat_id)?;
        let mut keys = changed_keys(before, &after);
        if !keys.iter().any(|k| k == "updated_at") {
            keys.push("updated_at".to_owned());
        }
        if self.behaviour.changed_includes_id {
            keys.push("id".to_owned());
        }
        let rendered = to_json(&self.render_chat(chat_id, &self.stamper())?);
        self.emit_chat(WebhookAction::Changed, chat_id, Some(pick(rendered, &keys)));
        Ok(())
    }

    /// Emits message `changed` with the fields that differ from `before` (nothing if none do).
    pub(super) fn emit_message_changed(
        &mut self,
        chat_id: &str,
        message_id: &str,
        before: &Value,
    ) -> Result<(), StateError> {
        let after = self.canonical_message(chat_id, message_id)?;
        let mut keys = changed_keys(before, &after);
        if keys.is_empty() {
            return Ok(());
        }
        if self.behaviour.changed_includes_id {
            keys.push("id".to_owned());
        }
        if self.behaviour.message_chat_id == MessageChatId::Always {
            keys.push("chat_id".to_owned());
        }
        let rendered = to_json(&self.render_message(chat_id, message_id, &self.stamper())?);
        self.emit_message(
            WebhookAction::Changed,
            chat_id,
            message_id,
            Some(pick(rendered, &keys)),
        );
        Ok(())
    }

    pub(super) fn removed_resource(&self, last_state: Value) -> Option<Value> {
        match self.behaviour.removed_resource {
            RemovedResource::LastState => Some(last_state),
            RemovedResource::Empty => Some(Value::Object(Map::new())),
            RemovedResource::Absent => None,
        }
    }

    /// The `resource` of a message `removed` webhook: [`SimState::removed_resource`], with
    /// `chat_id` in a non-empty one when
    /// [`MessageChatId::Always`](crate::config::MessageChatId::Always).
    pub(super) fn removed_message_resource(
        &self,
        chat_id: &str,
        last_state: Value,
    ) -> Option<Value> {
        let mut resource = self.removed_resource(last_state);
        if self.behaviour.message_chat_id == MessageChatId::Always
            && let Some(Value::Object(fields)) = resource.as_mut()
            && !fields.is_empty()
        {
            fields.insert("chat_id".to_owned(), Value::from(chat_id));
        }
        resource
    }
}

/// Top-level keys of `after` whose value differs from `before`.
pub(super) fn changed_keys(before: &Value, after: &Value) -> Vec<String> {
    match (before.as_object(), after.as_object()) {
        (Some(before), Some(after)) => after
            .iter()
            .filter(|(key, value)| before.get(key.as_str()) != Some(*value))
            .map(|(key, _)| key.clone())
            .collect(),
        _ => Vec::new(),
    }
}

/// Only `keys` of an object.
fn pick(full: Value, keys: &[String]) -> Value {
    match full {
        Value::Object(mut object) => Value::Object(
            keys.iter()
                .filter_map(|key| object.remove(key).map(|value| (key.clone(), value)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_keys_lists_only_differences() {
        let before = json!({"a": 1, "b": 2, "c": null});
        let after = json!({"a": 1, "b": 3, "c": "x"});
        assert_eq!(
            changed_keys(&before, &after),
            vec!["b".to_owned(), "c".to_owned()]
        );
    }

    #[test]
    fn pick_keeps_only_named_keys() {
        let picked = pick(json!({"a": 1, "b": 2}), &["b".to_owned(), "z".to_owned()]);
        assert_eq!(picked, json!({"b": 2}));
    }
}
