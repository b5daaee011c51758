//! The operator API (spec §1d) over HTTP, served as the local runner serves it (behind the admin
//! token): export, erasure of a chat and of a person by `visitor_ref`. After an erasure, the
//! store's inventory (memory: its listing; DynamoDB: a scan of moto's table) holds nothing about
//! what was erased, and everything else as it was.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use shared::api::{self, Api, OperatorAccess, OperatorStore};
use shared::domain::ChatId;
use shared::domain::connection::ConnectionId;
use shared::domain::feed::FeedCursor;
use shared::domain::visitor::VisitorToken;
use shared::giosg::RotatingGiosg;
use shared::secret::Secret;

use crate::support::harness::{Options, Reply, TestEnv, start, start_with};
use crate::support::inventory::{Held, Inventory};
use crate::support::management::ManagementApi;
use crate::support::openapi::openapi;

const ADMIN_TOKEN: &str = "admin-token-for-the-tests-0123456789";

/// The operator routes on a port of their own, behind the admin token.
pub(crate) struct Operator {
    pub(crate) url: String,
    http: reqwest::Client,
    pub(crate) server: tokio::task::JoinHandle<()>,
}

impl Operator {
    pub(crate) async fn serve<S: OperatorStore>(app: Arc<Api<S, RotatingGiosg>>) -> Self {
        let access = OperatorAccess::Token(Secret::new(ADMIN_TOKEN));
        let router = api::local_routes(app, Some(access));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            url,
            http: reqwest::Client::new(),
            server,
        }
    }

    /// A call with `token` (the admin token unless given), checked against openapi.yaml.
    async fn call_as(&self, method: Method, path: &str, token: Option<&str>) -> Reply {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        let route = path.split('?').next().unwrap();
        if let Err(problem) = openapi().check_response(method.as_str(), route, status, &body) {
            panic!("response does not match openapi.yaml: {problem}");
        }
        Reply {
            status,
            body,
            retry_after: None,
        }
    }

    pub(crate) async fn call(&self, method: Method, path: &str) -> Reply {
        self.call_as(method, path, Some(ADMIN_TOKEN)).await
    }
}

/// A visitor named `name` with `visitor_ref` `reference`, a chat with two of its messages and
/// an agent's reply: (token, chat id).
async fn visitor_with_a_chat<S: OperatorStore>(
    env: &TestEnv<S>,
    name: &str,
    reference: &str,
) -> (String, String) {
    let started = env
        .call(
            Method::POST,
            "/v1/chats",
            None,
            Some(json!({"visitor_name": name, "visitor_ref": reference})),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.body);
    let token = started.body["visitor_token"].as_str().unwrap().to_owned();
    let chat = started.body["chat"]["id"].as_str().unwrap().to_owned();
    for text in ["Hello", "Anyone there?"] {
        assert_eq!(env.send(&token, &chat, text).await.status, 201);
    }
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/messages"),
        Some(json!({"text": "Hi, how can I help?"})),
    )
    .await;
    env.flush_webhooks().await;
    (token, chat)
}

/// A real-time feed connection of the visitor, subscribed to the chat.
async fn subscribed<S: OperatorStore>(
    env: &TestEnv<S>,
    management: &ManagementApi,
    token: &str,
    chat: &str,
    connection: &str,
) {
    let token = VisitorToken::parse(token).unwrap();
    let id = ConnectionId::new(connection);
    let service = &env.app.service;
    service
        .open_connection(&token, id.clone(), management.url.clone())
        .await
        .unwrap();
    let pusher = management.pusher().await;
    service
        .subscribe(&id, &ChatId::new(chat), FeedCursor::start(), &pusher)
        .await
        .unwrap();
}

fn mentioning(held: &[Held], text: &str) -> Vec<Held> {
    held.iter()
        .filter(|item| item.text.contains(text))
        .cloned()
        .collect()
}

pub async fn export_returns_the_chat_its_messages_and_its_visitor<S: OperatorStore>(store: S) {
    let env = start(store).await;
    let operator = Operator::serve(env.app.clone()).await;
    let (_, chat) = visitor_with_a_chat(&env, "Ada", "customer-ada").await;

    let export = operator
        .call(Method::GET, &format!("/admin/v1/chats/{chat}/export"))
        .await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(export.body["chat"]["id"], chat.as_str());
    assert_eq!(
        export.body["visitor"],
        json!({"name": "Ada", "visitor_ref": "customer-ada"})
    );
    let texts: Vec<&str> = export.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        // Giosg's own rules may post too (the contrary profile greets): from `system`.
        .filter(|message| message["type"] == "msg" && message["sender"]["type"] != "system")
        .map(|message| message["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Hello", "Anyone there?", "Hi, how can I help?"]);

    let unknown = "00000000-0000-4000-8000-00000000dead";
    operator
        .call(Method::GET, &format!("/admin/v1/chats/{unknown}/export"))
        .await
        .assert_error(404, "not_found");
    operator
        .call(Method::GET, "/admin/v1/chats/a%01b/export")
        .await
        .assert_error(400, "invalid_request");
    let path = format!("/admin/v1/chats/{chat}/export");
    for token in [None, Some("wrong-token-wrong-token-wrong-token")] {
        operator
            .call_as(Method::GET, &path, token)
            .await
            .assert_error(401, "unauthorized");
    }
    // Not on the frontend's router: the operator routes are not served without the token.
    env.call(Method::GET, &path, None, None)
        .await
        .assert_error(404, "not_found");
    operator.server.abort();
    env.stop().await;
}

pub async fn erasing_a_chat_leaves_nothing_of_it<S: OperatorStore + Inventory>(store: S) {
    let env = start(store).await;
    let operator = Operator::serve(env.app.clone()).await;
    let management = ManagementApi::start().await;
    let (ada, adas_chat) = visitor_with_a_chat(&env, "Ada", "customer-ada").await;
    let (bob, bobs_chat) = visitor_with_a_chat(&env, "Bob", "customer-bob").await;
    subscribed(&env, &management, &ada, &adas_chat, "conn-ada").await;
    subscribed(&env, &management, &bob, &bobs_chat, "conn-bob").await;
    let before = env.app.service.store().held().await;
    let bobs = mentioning(&before, &bobs_chat);
    assert!(!mentioning(&before, &adas_chat).is_empty());

    let export = operator
        .call(Method::GET, &format!("/admin/v1/chats/{adas_chat}/export"))
        .await;
    let shown = export.body["messages"].as_array().unwrap().len();
    let path = format!("/admin/v1/chats/{adas_chat}");
    let erased = operator.call(Method::DELETE, &path).await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    let counts = &erased.body["erased"];
    assert_eq!(counts["chats"], 1);
    assert_eq!(counts["messages"], shown, "{counts}");
    assert_eq!(counts["feed_entries"], shown, "{counts}");
    assert_eq!(counts["feed_positions"], 1);
    assert_eq!(counts["subscriptions"], 1);
    assert_eq!(counts["visitors"], 0, "a chat's erasure keeps its visitor");
    assert!(erased.body["total"].as_u64().unwrap() >= 9);

    let after = env.app.service.store().held().await;
    assert_eq!(
        mentioning(&after, &adas_chat),
        [],
        "items about the erased chat"
    );
    assert!(
        mentioning(&after, &bobs_chat) == bobs,
        "another chat's items changed"
    );
    env.history(&ada, &adas_chat, "")
        .await
        .assert_error(404, "not_found");
    // The visitor is still there, and starts a new chat.
    let again = env
        .call(
            Method::POST,
            "/v1/chats",
            Some(&ada),
            Some(json!({"visitor_name": "Ada"})),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);

    let second = operator.call(Method::DELETE, &path).await;
    assert_eq!(second.status, 200);
    assert_eq!(
        second.body["total"], 0,
        "the second call erases nothing: {}",
        second.body
    );
    // The new chat's webhooks land first (the contrary simulator sends more of them).
    env.flush_webhooks().await;
    let unchanged = env.app.service.store().held().await;
    operator
        .call(Method::DELETE, "/admin/v1/chats/a%00b")
        .await
        .assert_error(400, "invalid_request");
    assert!(
        env.app.service.store().held().await == unchanged,
        "a refused call changed the store"
    );
    operator.server.abort();
    env.stop().await;
}

pub async fn erasing_a_person_erases_every_visitor_and_chat_of_theirs<
    S: OperatorStore + Inventory,
>(
    store: S,
) {
    // At the default limits: the person's sends and starts leave token buckets to erase too.
    let options = Options {
        env: vec![("AVAILABILITY_CACHE_SECONDS", "0".into())],
        ..Options::default()
    };
    let env = start_with(store, options).await;
    let operator = Operator::serve(env.app.clone()).await;
    let management = ManagementApi::start().await;
    // Ada on two devices, the same visitor_ref; her first visitor with two chats.
    let (ada, first_chat) = visitor_with_a_chat(&env, "Ada", "customer-ada").await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{first_chat}/end"),
        Some(json!({})),
    )
    .await;
    env.flush_webhooks().await;
    let second = env
        .call(
            Method::POST,
            "/v1/chats",
            Some(&ada),
            Some(json!({"visitor_name": "Ada"})),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.body);
    let second_chat = second.body["chat"]["id"].as_str().unwrap().to_owned();
    let (ada_phone, phone_chat) = visitor_with_a_chat(&env, "Ada", "customer-ada").await;
    subscribed(&env, &management, &ada_phone, &phone_chat, "conn-ada-phone").await;
    let (_, bobs_chat) = visitor_with_a_chat(&env, "Bob", "customer-bob").await;
    let ada_keys = [ada.as_str(), ada_phone.as_str()].map(|token| {
        VisitorToken::parse(token)
            .unwrap()
            .key()
            .as_str()
            .to_owned()
    });
    let before = env.app.service.store().held().await;
    let unrelated: Vec<Held> = before
        .iter()
        .filter(|item| {
            !(ada_keys.iter().any(|key| item.text.contains(key.as_str()))
                || [&first_chat, &second_chat, &phone_chat]
                    .iter()
                    .any(|chat| item.text.contains(chat.as_str()))
                || item.text.contains("conn-ada-phone"))
        })
        .cloned()
        .collect();
    assert!(!mentioning(&unrelated, &bobs_chat).is_empty());

    // Bad input changes nothing.
    for query in [
        "",
        "?ref=",
        "?ref=a&ref=b",
        &format!("?ref={}", "r".repeat(129)),
    ] {
        operator
            .call(Method::DELETE, &format!("/admin/v1/visitors{query}"))
            .await
            .assert_error(400, "invalid_request");
    }
    assert!(
        env.app.service.store().held().await == before,
        "a refused call changed the store"
    );

    let erased = operator
        .call(Method::DELETE, "/admin/v1/visitors?ref=customer-ada")
        .await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(erased.body["visitors_found"], 2, "{}", erased.body);
    let counts = &erased.body["erased"];
    assert_eq!(counts["visitors"], 2, "{counts}");
    assert_eq!(counts["chats"], 3, "{counts}");
    assert_eq!(counts["connections"], 1, "{counts}");
    // Ada's sends and starts (a start with her token), her phone's sends.
    assert_eq!(counts["rate_buckets"], 3, "{counts}");
    let after = env.app.service.store().held().await;
    let left: Vec<&Held> = after
        .iter()
        .filter(|item| !unrelated.contains(item))
        .collect();
    assert!(left.is_empty(), "items about the erased person: {left:#?}");
    assert_eq!(
        after.len(),
        unrelated.len(),
        "another person's items changed"
    );
    env.call(Method::GET, "/v1/chats", Some(&ada), None)
        .await
        .assert_error(401, "unauthorized");

    let second = operator
        .call(Method::DELETE, "/admin/v1/visitors?ref=customer-ada")
        .await;
    assert_eq!(second.status, 200);
    assert_eq!(
        (&second.body["visitors_found"], &second.body["total"]),
        (&json!(0), &json!(0)),
        "the second call erases nothing: {}",
        second.body
    );
    operator.server.abort();
    env.stop().await;
}
