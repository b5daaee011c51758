//! A running product for tests: the shared handlers served over HTTP on a free port, the Giosg
//! simulator posting its webhooks to them, and a chosen store.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use giosg_sim::{Profile, SimConfig, SimHandle, Simulator};
use reqwest::Method;
use serde_json::{Value, json};
use shared::api::{self, Api, ClientAddress};
use shared::config::{SecretSource, Secrets, SecretsCache, Settings, lookup_in};
use shared::domain::{OrgId, RoomId};
use shared::giosg::{GiosgClient, GiosgConfig, RotatingGiosg};
use shared::metrics::Metrics;
use shared::secret::Secret;
use shared::service::{Clock, Rules, Service};
use shared::store::ChatStore;

pub const WEBHOOK_SECRET: &str = "test-webhook-secret-0123456789";

pub struct TestEnv<S: ChatStore> {
    /// Our API, e.g. `http://127.0.0.1:PORT`.
    pub api: String,
    pub sim: SimHandle,
    /// What the routers serve: the service over `S` and the simulator, the webhook secret.
    pub app: Arc<Api<S, RotatingGiosg>>,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

/// Options for [`start_with`].
pub struct Options {
    /// Extra or overriding environment settings.
    pub env: Vec<(&'static str, String)>,
    /// Fixed organization, room and other-room ids (random when `None`).
    pub ids: Option<(String, String, String)>,
    pub webhook_secret: String,
    /// The simulator's organization API token (random when `None`).
    pub api_token: Option<String>,
    /// Where the app reads its secrets (fixed values matching the simulator when `None`).
    pub secrets: Option<SecretSource>,
    /// Where each request's metrics go (the settings' choice, off, when `None`).
    pub metrics: Option<Metrics>,
    /// The clock the token buckets count on (the system clock when `None`).
    pub clock: Option<Arc<dyn Clock>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            // Tests start and send faster than any person: the limits only where a test sets
            // them (shared/tests/api/limits.rs).
            env: vec![
                ("AVAILABILITY_CACHE_SECONDS", "0".into()),
                ("SEND_RATE_PER_MINUTE", "0".into()),
                ("START_RATE_PER_MINUTE", "0".into()),
                ("ANONYMOUS_START_RATE_PER_MINUTE", "0".into()),
            ],
            ids: None,
            webhook_secret: WEBHOOK_SECRET.to_owned(),
            api_token: None,
            secrets: None,
            metrics: None,
            clock: None,
        }
    }
}

/// The simulator behaviour of the profile this run uses (`GIOSG_SIM_PROFILE`), for the few
/// expectations that depend on what Giosg does.
pub fn behaviour() -> giosg_sim::Behaviour {
    Profile::from_env()
        .expect("GIOSG_SIM_PROFILE names a simulator profile")
        .behaviour()
}

pub async fn start<S: ChatStore>(store: S) -> TestEnv<S> {
    start_with(store, Options::default()).await
}

pub async fn start_with<S: ChatStore>(store: S, options: Options) -> TestEnv<S> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_addr: SocketAddr = listener.local_addr().unwrap();
    let api = format!("http://{api_addr}");

    let secret = options.webhook_secret.clone();
    let mut sim_config = SimConfig::new("127.0.0.1:0".parse().unwrap());
    // The profile the suite runs under: `GIOSG_SIM_PROFILE=contrary` flips every guess.
    sim_config.behaviour = behaviour();
    if let Some(api_token) = &options.api_token {
        sim_config.api_token = api_token.clone();
    }
    if let Some((org, room, other_room)) = &options.ids {
        sim_config.org_id = org.clone();
        sim_config.room_id = room.clone();
        sim_config.other_room_id = other_room.clone();
    }
    sim_config.chat_webhook_url = Some(format!("{api}/webhooks/giosg/chats?token={secret}"));
    sim_config.message_webhook_url = Some(format!("{api}/webhooks/giosg/messages?token={secret}"));
    let sim = Simulator::start(sim_config)
        .await
        .expect("simulator starts");

    let mut env: HashMap<String, String> = [
        ("TABLE_NAME", "unused-by-memory-store".to_owned()),
        ("GIOSG_BASE_URL", sim.base_url()),
        ("GIOSG_ORG_ID", sim.org_id().to_owned()),
        ("GIOSG_ROOM_ID", sim.room_id().to_owned()),
        ("SECRET_ID", "local".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in options.env {
        env.insert(k.to_owned(), v);
    }
    let settings = Settings::from_lookup(lookup_in(&env)).expect("test settings are valid");
    let source = options.secrets.unwrap_or_else(|| {
        SecretSource::Static(Secrets {
            giosg_api_token: Secret::new(sim.api_token()),
            webhook_secret: Secret::new(secret),
            previous_webhook_secret: None,
            identity_secret: None,
        })
    });
    let secrets = SecretsCache::load(source, settings.secrets_refresh)
        .await
        .unwrap();
    let mut giosg_config = GiosgConfig::new(
        settings.giosg_base_url.clone(),
        OrgId::new(sim.org_id()),
        RoomId::new(sim.room_id()),
        Secret::new(sim.api_token()),
    );
    giosg_config.retry_budget = Duration::from_secs(2);
    giosg_config.backoff_base = Duration::from_millis(10);
    giosg_config.backoff_max = Duration::from_millis(100);
    let giosg = GiosgClient::new(giosg_config).unwrap();
    let secrets = Arc::new(secrets);
    let giosg = RotatingGiosg::new(giosg, Arc::clone(&secrets));
    let mut service =
        Service::new(store, giosg, Rules::from_settings(&settings)).with_limits(settings.limits);
    if let Some(clock) = options.clock {
        service = service.with_clock(clock);
    }
    let identity = Arc::new(
        shared::identity::IdentityVerifier::from_settings(Arc::clone(&secrets), &settings)
            .expect("the identity settings are valid"),
    );
    let mut app = Api::new(service, &settings)
        .with_webhook_secrets(secrets)
        .with_identity(identity);
    if let Some(metrics) = options.metrics {
        app = app.with_metrics(metrics);
    }
    let app = Arc::new(app);
    let router = api::all_routes(Arc::clone(&app));
    let server = tokio::spawn(async move {
        axum_serve(listener, router).await;
    });
    TestEnv {
        api,
        sim,
        app,
        http: reqwest::Client::new(),
        server,
    }
}

/// Serves `router`, each request with its peer's address as its [`ClientAddress`] (as the
/// local runner does).
async fn axum_serve(listener: tokio::net::TcpListener, router: axum::Router) {
    let router = router.layer(axum::middleware::map_request(
        |ConnectInfo(peer): ConnectInfo<SocketAddr>, mut request: axum::extract::Request| async move {
            request.extensions_mut().insert(ClientAddress(peer.ip()));
            request
        },
    ));
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .unwrap();
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

impl Reply {
    /// Asserts the error shape and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status, body: {}",
            self.body
        );
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.body);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error message missing: {}",
            self.body
        );
        assert_eq!(
            self.body.as_object().unwrap().len(),
            1,
            "only `error`: {}",
            self.body
        );
    }
}

impl<S: ChatStore> TestEnv<S> {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method_name = method.to_string();
        let mut request = self.http.request(method, format!("{}{path}", self.api));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("API answers");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .map(|value| value.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body expected: {text}"))
        };
        // Every answer a test receives must be what openapi.yaml documents.
        let route = path.split('?').next().unwrap_or(path);
        if let Err(problem) =
            super::openapi::openapi().check_response(method_name.as_str(), route, status, &body)
        {
            panic!("response does not match openapi.yaml: {problem}");
        }
        Reply {
            status,
            body,
            retry_after,
        }
    }

    /// Starts a chat as a new visitor: (visitor token, chat id).
    pub async fn new_chat(&self, name: &str) -> (String, String) {
        let reply = self
            .call(
                Method::POST,
                "/v1/chats",
                None,
                Some(json!({"visitor_name": name})),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        (
            reply.body["visitor_token"].as_str().unwrap().to_owned(),
            reply.body["chat"]["id"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn send(&self, token: &str, chat: &str, text: &str) -> Reply {
        self.call(
            Method::POST,
            &format!("/v1/chats/{chat}/messages"),
            Some(token),
            Some(json!({"text": text})),
        )
        .await
    }

    pub async fn history(&self, token: &str, chat: &str, query: &str) -> Reply {
        self.call(
            Method::GET,
            &format!("/v1/chats/{chat}/messages{query}"),
            Some(token),
            None,
        )
        .await
    }

    /// A call to the simulator's control API.
    pub async fn sim(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("simulator answers");
        assert!(
            response.status().is_success(),
            "simulator refused {path}: {}",
            response.status()
        );
        let text = response.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Waits until every webhook the simulator queued has been delivered.
    pub async fn flush_webhooks(&self) {
        self.sim(Method::POST, "/_sim/webhooks/flush", Some(json!({})))
            .await;
    }

    /// How many calls the simulator saw for a Giosg endpoint name.
    pub async fn giosg_calls(&self, endpoint: &str) -> u64 {
        let log = self.sim(Method::GET, "/_sim/requests", None).await;
        log["counts"][endpoint].as_u64().unwrap_or(0)
    }

    pub async fn stop(self) {
        self.server.abort();
        self.sim.shutdown().await;
    }
}
