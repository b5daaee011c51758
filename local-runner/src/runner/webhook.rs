//! Giosg's two webhooks on the API: their paths, their URLs (with the run's secret in
//! `?token=` for the simulator, without it for what is printed), and the Giosg channels an
//! operator subscribes them to.

use shared::secret::Secret;
use url::Url;

/// Where Giosg's two webhooks go: `/webhooks/giosg/{chats,messages}`.
#[derive(Clone, Copy, Debug)]
pub enum WebhookKind {
    Chats,
    Messages,
}

impl WebhookKind {
    pub(super) fn path(self) -> &'static str {
        match self {
            Self::Chats => "/webhooks/giosg/chats",
            Self::Messages => "/webhooks/giosg/messages",
        }
    }

    /// The Giosg channel to subscribe the webhook to.
    pub(super) fn channel(self, org_id: &str) -> String {
        match self {
            Self::Chats => format!("/api/v5/orgs/{org_id}/owned_chats"),
            Self::Messages => format!("/api/v5/orgs/{org_id}/owned_chats/*/messages"),
        }
    }
}

/// A webhook URL on the API, with `?token=` when a secret is given.
pub(super) fn webhook_url(api_url: &str, kind: WebhookKind, secret: Option<&Secret>) -> String {
    let mut url = Url::parse(api_url)
        .and_then(|base| base.join(kind.path()))
        .expect("the API URL is an absolute http URL");
    if let Some(secret) = secret {
        url.query_pairs_mut().append_pair("token", secret.expose());
    }
    url.to_string()
}
