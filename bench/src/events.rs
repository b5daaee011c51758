//! The recorded Lambda events in `events/` (see events/README.md): the manifest, placeholder
//! substitution, and variants that make an event new each time (a fresh message id, a fresh
//! `client_message_id`) so that a loop measures the path a new delivery takes.

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::Value;

#[derive(Clone, Debug, Deserialize)]
pub struct ManifestEntry {
    pub file: String,
    pub function: String,
    pub expected_status: u16,
}

/// A recorded event: its manifest entry and its JSON text as recorded.
#[derive(Clone, Debug)]
pub struct RecordedEvent {
    pub entry: ManifestEntry,
    pub text: String,
}

impl RecordedEvent {
    /// The file name without directory and extension, e.g. `send-message`.
    pub fn name(&self) -> &str {
        let file = self
            .entry
            .file
            .rsplit('/')
            .next()
            .unwrap_or(&self.entry.file);
        file.strip_suffix(".json").unwrap_or(file)
    }
}

/// Every event of the manifest, in manifest order.
pub fn load(dir: &Path) -> anyhow::Result<Vec<RecordedEvent>> {
    let manifest = dir.join("manifest.json");
    let entries: Vec<ManifestEntry> = serde_json::from_str(
        &std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?,
    )
    .with_context(|| format!("parsing {}", manifest.display()))?;
    entries
        .into_iter()
        .map(|entry| {
            let path = dir.join(&entry.file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(RecordedEvent { entry, text })
        })
        .collect()
}

/// What the placeholders stand for (events/README.md, "Placeholders").
#[derive(Clone, Debug, Default)]
pub struct Substitutions {
    pub visitor_token: Option<String>,
    pub chat_id: Option<String>,
    pub cursor: Option<String>,
}

impl Substitutions {
    pub fn apply(&self, text: &str) -> String {
        let mut text = text.to_owned();
        let pairs = [
            ("VISITOR_TOKEN_PLACEHOLDER", &self.visitor_token),
            ("CHAT_ID_PLACEHOLDER", &self.chat_id),
            ("CURSOR_PLACEHOLDER", &self.cursor),
        ];
        for (placeholder, value) in pairs {
            if let Some(value) = value {
                text = text.replace(placeholder, value);
            }
        }
        text
    }
}

/// Rewrites an event's JSON body with `change`, keeping `content-length` right.
pub fn with_body(event: &str, change: impl FnOnce(&mut Value)) -> anyhow::Result<String> {
    let mut event: Value = serde_json::from_str(event).context("the event is not JSON")?;
    let body = event["body"].as_str().context("the event has no body")?;
    let mut body: Value = serde_json::from_str(body).context("the event body is not JSON")?;
    change(&mut body);
    let body = body.to_string();
    if let Some(length) = event
        .get_mut("headers")
        .and_then(|headers| headers.get_mut("content-length"))
    {
        *length = Value::String(body.len().to_string());
    }
    event["body"] = Value::String(body);
    Ok(event.to_string())
}

/// A webhook envelope about another resource: `resource_id` and `resource.id` replaced by `id`.
pub fn with_resource_id(event: &str, id: &str) -> anyhow::Result<String> {
    with_body(event, |body| {
        body["resource_id"] = Value::String(id.to_owned());
        if let Some(resource) = body.get_mut("resource").and_then(Value::as_object_mut)
            && resource.contains_key("id")
        {
            resource.insert("id".into(), Value::String(id.to_owned()));
        }
    })
}

/// A message webhook for the chat `chat_id` (in the channel path and the resource).
pub fn with_chat(event: &str, chat_id: &str, created_at: &str) -> anyhow::Result<String> {
    with_body(event, |body| {
        if let Some(channel) = body["channel"].as_str() {
            let parts: Vec<&str> = channel.split('/').collect();
            if let [.., _, "messages"] = parts.as_slice() {
                let mut parts: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
                let at = parts.len() - 2;
                parts[at] = chat_id.to_owned();
                body["channel"] = Value::String(parts.join("/"));
            }
        }
        if let Some(resource) = body.get_mut("resource").and_then(Value::as_object_mut) {
            resource.insert("chat_id".into(), Value::String(chat_id.to_owned()));
            resource.insert("created_at".into(), Value::String(created_at.to_owned()));
        }
    })
}

/// A webhook event for another organization, room and webhook secret (a server with its own).
pub fn with_org_room(
    event: &str,
    org_id: &str,
    room_id: &str,
    old_secret: &str,
    new_secret: &str,
) -> anyhow::Result<String> {
    let event = event.replace(old_secret, new_secret);
    with_body(&event, |body| {
        if let Some(channel) = body["channel"].as_str() {
            let mut parts: Vec<String> = channel.split('/').map(str::to_owned).collect();
            if let Some(at) = parts.iter().position(|p| p == "orgs")
                && let Some(org) = parts.get_mut(at + 1)
            {
                *org = org_id.to_owned();
            }
            body["channel"] = Value::String(parts.join("/"));
        }
        if let Some(resource) = body.get_mut("resource").and_then(Value::as_object_mut)
            && resource.contains_key("room_id")
        {
            resource.insert("room_id".into(), Value::String(room_id.to_owned()));
        }
    })
}

/// A UUID-shaped id unique within a run: `prefix` (a namespace) and a counter.
pub fn numbered_id(namespace: u16, n: u64) -> String {
    format!("be9c0000-{namespace:04x}-4000-8000-{n:012x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_changes_keep_content_length_right() {
        let event = r#"{"headers": {"content-length": "2"}, "body": "{\"a\":1}"}"#;
        let changed = with_body(event, |body| body["a"] = Value::from("longer")).unwrap();
        let changed: Value = serde_json::from_str(&changed).unwrap();
        let body = changed["body"].as_str().unwrap();
        assert_eq!(changed["headers"]["content-length"], body.len().to_string());
    }

    #[test]
    fn substitutes_every_placeholder() {
        let subs = Substitutions {
            visitor_token: Some("tok".into()),
            chat_id: Some("c1".into()),
            cursor: None,
        };
        assert_eq!(
            subs.apply(
                "Bearer VISITOR_TOKEN_PLACEHOLDER /CHAT_ID_PLACEHOLDER/x/CHAT_ID_PLACEHOLDER"
            ),
            "Bearer tok /c1/x/c1"
        );
    }

    #[test]
    fn message_webhooks_move_to_another_chat() {
        let event = serde_json::json!({"headers": {}, "body": serde_json::json!({
            "channel": "/api/v5/orgs/o/owned_chats/old/messages", "action": "added",
            "resource_id": "m", "resource": {"id": "m", "chat_id": "old"}}).to_string()});
        let moved = with_chat(&event.to_string(), "new", "2025-01-01T00:00:00Z").unwrap();
        let moved: Value = serde_json::from_str(&moved).unwrap();
        let body: Value = serde_json::from_str(moved["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["channel"], "/api/v5/orgs/o/owned_chats/new/messages");
        assert_eq!(body["resource"]["chat_id"], "new");
    }
}
