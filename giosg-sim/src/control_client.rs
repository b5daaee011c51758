//! A typed async client of the control API, for Rust tests. Everything it does is plain HTTP
//! that any test can do with its own client too.

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{Behaviour, Profile};
use crate::control_types::{
    AgentMessageRequest, AgentRequest, ChatDetail, ChatOverview, EditMessageRequest, ExpiredTokens,
    FlushRequest, JoinOutcome, RoomOnlineRequest, SimInfo, VisitorMessageRequest, VisitorOverview,
    WebhookUrls, WidgetChat, WidgetChatRequest,
};
use crate::resources::{ChatResource, MessageResource, RoomResource};
use crate::traffic::{ActiveFaults, DelaySpec, FaultSpec, RequestLog};
use crate::webhooks::{WebhookFaultSpec, WebhookStatus};

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The request could not be made or the answer could not be read.
    #[error("control request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The control API refused.
    #[error("control API answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The answer body (`{"detail": ...}` or field errors).
        body: String,
    },
}

/// A client of `/_sim/`, the simulator's control API.
#[derive(Debug, Clone)]
pub struct SimControl {
    http: reqwest::Client,
    base_url: String,
}

type Result<T> = std::result::Result<T, ControlError>;

/// No request body.
const NO_BODY: Option<&()> = None;

impl SimControl {
    /// A client of the simulator at `base_url` (`http://HOST:PORT`).
    pub fn new(base_url: impl Into<String>) -> Self {
        // The simulator is local: never go through a proxy from the environment.
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            http,
            base_url: base_url.into(),
        }
    }

    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            Err(ControlError::Status { status, body })
        }
    }

    async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        Ok(self.send(method, path, body).await?.json().await?)
    }

    async fn call_empty<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<()> {
        self.send(method, path, body).await.map(drop)
    }

    /// `GET /_sim/config`.
    pub async fn info(&self) -> Result<SimInfo> {
        self.call(Method::GET, "/_sim/config", NO_BODY).await
    }

    /// `GET /_sim/chats`: every chat of both rooms.
    pub async fn chats(&self) -> Result<Vec<ChatOverview>> {
        self.call(Method::GET, "/_sim/chats", NO_BODY).await
    }

    /// `GET /_sim/chats/{chat}`: a chat with its messages and memberships.
    pub async fn chat(&self, chat_id: &str) -> Result<ChatDetail> {
        self.call(Method::GET, &format!("/_sim/chats/{chat_id}"), NO_BODY)
            .await
    }

    /// `POST /_sim/chats/{chat}/join`; `None` is the default agent (Smith).
    pub async fn join(&self, chat_id: &str, agent_name: Option<&str>) -> Result<JoinOutcome> {
        let body = AgentRequest {
            agent_name: agent_name.map(str::to_owned),
        };
        self.call(
            Method::POST,
            &format!("/_sim/chats/{chat_id}/join"),
            Some(&body),
        )
        .await
    }

    /// `POST /_sim/chats/{chat}/messages`: the default agent replies (joining first if needed).
    pub async fn agent_message(&self, chat_id: &str, text: &str) -> Result<MessageResource> {
        let body = AgentMessageRequest {
            text: Some(text.to_owned()),
            ..Default::default()
        };
        self.send_agent_message(chat_id, &body).await
    }

    /// `POST /_sim/chats/{chat}/messages` with every option.
    pub async fn send_agent_message(
        &self,
        chat_id: &str,
        request: &AgentMessageRequest,
    ) -> Result<MessageResource> {
        self.call(
            Method::POST,
            &format!("/_sim/chats/{chat_id}/messages"),
            Some(request),
        )
        .await
    }

    /// `POST /_sim/chats/{chat}/visitor_messages`: a visitor message not sent through the API.
    pub async fn visitor_message(&self, chat_id: &str, text: &str) -> Result<MessageResource> {
        let body = VisitorMessageRequest {
            text: text.to_owned(),
        };
        self.call(
            Method::POST,
            &format!("/_sim/chats/{chat_id}/visitor_messages"),
            Some(&body),
        )
        .await
    }

    /// `POST /_sim/chats/{chat}/leave`.
    pub async fn leave(&self, chat_id: &str, agent_name: Option<&str>) -> Result<MessageResource> {
        let body = AgentRequest {
            agent_name: agent_name.map(str::to_owned),
        };
        self.call(
            Method::POST,
            &format!("/_sim/chats/{chat_id}/leave"),
            Some(&body),
        )
        .await
    }

    /// `POST /_sim/chats/{chat}/end`.
    pub async fn end_chat(&self, chat_id: &str) -> Result<ChatResource> {
        self.call(Method::POST, &format!("/_sim/chats/{chat_id}/end"), NO_BODY)
            .await
    }

    /// `PATCH /_sim/chats/{chat}/messages/{msg}` with a new text.
    pub async fn edit_message(
        &self,
        chat_id: &str,
        message_id: &str,
        text: &str,
    ) -> Result<MessageResource> {
        let body = EditMessageRequest {
            text: Some(text.to_owned()),
            purge: false,
        };
        let path = format!("/_sim/chats/{chat_id}/messages/{message_id}");
        self.call(Method::PATCH, &path, Some(&body)).await
    }

    /// `PATCH /_sim/chats/{chat}/messages/{msg}` with `{"purge": true}`.
    pub async fn purge_message(&self, chat_id: &str, message_id: &str) -> Result<MessageResource> {
        let body = EditMessageRequest {
            text: None,
            purge: true,
        };
        let path = format!("/_sim/chats/{chat_id}/messages/{message_id}");
        self.call(Method::PATCH, &path, Some(&body)).await
    }

    /// `DELETE /_sim/chats/{chat}/messages/{msg}`.
    pub async fn delete_message(&self, chat_id: &str, message_id: &str) -> Result<()> {
        let path = format!("/_sim/chats/{chat_id}/messages/{message_id}");
        self.call_empty(Method::DELETE, &path, NO_BODY).await
    }

    /// `DELETE /_sim/chats/{chat}`.
    pub async fn delete_chat(&self, chat_id: &str) -> Result<()> {
        self.call_empty(Method::DELETE, &format!("/_sim/chats/{chat_id}"), NO_BODY)
            .await
    }

    /// `PUT /_sim/room`: the configured room online or offline.
    pub async fn set_room_online(&self, online: bool) -> Result<RoomResource> {
        let body = RoomOnlineRequest {
            online,
            room_id: None,
        };
        self.call(Method::PUT, "/_sim/room", Some(&body)).await
    }

    /// `POST /_sim/other_room/chats`: a website widget visitor starts a chat in the other room.
    pub async fn start_widget_chat(&self, request: &WidgetChatRequest) -> Result<WidgetChat> {
        self.call(Method::POST, "/_sim/other_room/chats", Some(request))
            .await
    }

    /// `GET /_sim/visitors`.
    pub async fn visitors(&self) -> Result<Vec<VisitorOverview>> {
        self.call(Method::GET, "/_sim/visitors", NO_BODY).await
    }

    /// `POST /_sim/visitors/{vid}/expire_token`: every access token of the visitor expires.
    pub async fn expire_tokens(&self, visitor_id: &str) -> Result<ExpiredTokens> {
        let path = format!("/_sim/visitors/{visitor_id}/expire_token");
        self.call(Method::POST, &path, NO_BODY).await
    }

    /// `POST /_sim/faults`.
    pub async fn add_fault(&self, fault: &FaultSpec) -> Result<ActiveFaults> {
        self.call(Method::POST, "/_sim/faults", Some(fault)).await
    }

    /// `POST /_sim/delays`.
    pub async fn add_delay(&self, delay: &DelaySpec) -> Result<ActiveFaults> {
        self.call(Method::POST, "/_sim/delays", Some(delay)).await
    }

    /// `DELETE /_sim/faults`: clears faults and delays.
    pub async fn clear_faults(&self) -> Result<()> {
        self.call_empty(Method::DELETE, "/_sim/faults", NO_BODY)
            .await
    }

    /// `GET /_sim/requests`.
    pub async fn requests(&self) -> Result<RequestLog> {
        self.call(Method::GET, "/_sim/requests", NO_BODY).await
    }

    /// `DELETE /_sim/requests`.
    pub async fn reset_requests(&self) -> Result<()> {
        self.call_empty(Method::DELETE, "/_sim/requests", NO_BODY)
            .await
    }

    /// `GET /_sim/settings`.
    pub async fn settings(&self) -> Result<Behaviour> {
        self.call(Method::GET, "/_sim/settings", NO_BODY).await
    }

    /// `PUT /_sim/settings` with some keys, e.g. `json!({"removed_resource": "absent"})`.
    pub async fn update_settings(&self, changes: &serde_json::Value) -> Result<Behaviour> {
        self.call(Method::PUT, "/_sim/settings", Some(changes))
            .await
    }

    /// `PUT /_sim/settings` with a whole [`Behaviour`].
    pub async fn set_settings(&self, behaviour: &Behaviour) -> Result<Behaviour> {
        self.call(Method::PUT, "/_sim/settings", Some(behaviour))
            .await
    }

    /// `PUT /_sim/settings/profile/{name}`: every setting replaced by the profile's.
    pub async fn set_profile(&self, profile: Profile) -> Result<Behaviour> {
        let path = format!("/_sim/settings/profile/{}", profile.name());
        self.call(Method::PUT, &path, NO_BODY).await
    }

    /// `GET /_sim/webhooks`: delivery log, emitted webhooks, queue state.
    pub async fn webhooks(&self) -> Result<WebhookStatus> {
        self.call(Method::GET, "/_sim/webhooks", NO_BODY).await
    }

    /// `DELETE /_sim/webhooks`: forgets the delivery and emission logs.
    pub async fn clear_webhook_log(&self) -> Result<()> {
        self.call_empty(Method::DELETE, "/_sim/webhooks", NO_BODY)
            .await
    }

    /// `POST /_sim/webhooks/faults`.
    pub async fn add_webhook_fault(&self, fault: &WebhookFaultSpec) -> Result<WebhookStatus> {
        self.call(Method::POST, "/_sim/webhooks/faults", Some(fault))
            .await
    }

    /// `DELETE /_sim/webhooks/faults`.
    pub async fn clear_webhook_faults(&self) -> Result<()> {
        self.call_empty(Method::DELETE, "/_sim/webhooks/faults", NO_BODY)
            .await
    }

    /// `POST /_sim/webhooks/pause`.
    pub async fn pause_webhooks(&self) -> Result<()> {
        self.call_empty(Method::POST, "/_sim/webhooks/pause", NO_BODY)
            .await
    }

    /// `POST /_sim/webhooks/resume`.
    pub async fn resume_webhooks(&self) -> Result<()> {
        self.call_empty(Method::POST, "/_sim/webhooks/resume", NO_BODY)
            .await
    }

    /// `POST /_sim/webhooks/flush`: returns once every queued webhook has been attempted.
    pub async fn flush_webhooks(&self) -> Result<()> {
        self.call_empty(
            Method::POST,
            "/_sim/webhooks/flush",
            Some(&FlushRequest::default()),
        )
        .await
    }

    /// `PUT /_sim/webhooks/urls`.
    pub async fn set_webhook_urls(&self, urls: &WebhookUrls) -> Result<WebhookUrls> {
        self.call(Method::PUT, "/_sim/webhooks/urls", Some(urls))
            .await
    }
}
