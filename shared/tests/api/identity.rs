//! Signed visitor identity (spec §1c): one person's devices share one Giosg visitor and its
//! chats, each with its own visitor token; refused tokens are 401 and change nothing.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use shared::api::OperatorStore;
use shared::config::SecretSource;
use shared::store::ChatStore;

use crate::admin::Operator;
use crate::support::harness::{Options, TestEnv, WEBHOOK_SECRET, start, start_with};

const IDENTITY_SECRET: &str = "identity-secret-for-the-tests-0123456789";

/// The product with HS256 identity configured (the secret's `identity_secret`).
async fn with_identity<S: ChatStore>(store: S) -> TestEnv<S> {
    // The simulator's API token is chosen here so the secret JSON can carry it.
    let api_token = format!("api-token-{}", uuid::Uuid::new_v4());
    let json = json!({
        "giosg_api_token": api_token,
        "webhook_secret": WEBHOOK_SECRET,
        "identity_secret": IDENTITY_SECRET,
    })
    .to_string();
    start_with(
        store,
        Options {
            api_token: Some(api_token),
            secrets: Some(SecretSource::StaticJson(json)),
            ..Options::default()
        },
    )
    .await
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A token signed with `key` under `algorithm`, with these claims.
fn signed(algorithm: Algorithm, key: &[u8], claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        &claims,
        &EncodingKey::from_secret(key),
    )
    .unwrap()
}

/// A valid token for `sub`, an hour long.
fn identity(sub: &str, name: Option<&str>) -> String {
    let mut claims = json!({"sub": sub, "exp": now() + 3600, "iat": now()});
    if let Some(name) = name {
        claims["name"] = json!(name);
    }
    signed(Algorithm::HS256, IDENTITY_SECRET.as_bytes(), claims)
}

async fn start_as<S: ChatStore>(
    env: &TestEnv<S>,
    token: Option<&str>,
    identity_token: &str,
) -> crate::support::harness::Reply {
    env.call(
        Method::POST,
        "/v1/chats",
        token,
        Some(json!({"visitor_name": "Visitor", "identity_token": identity_token})),
    )
    .await
}

fn chat_ids(reply: &crate::support::harness::Reply) -> Vec<String> {
    reply.body["chats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|chat| chat["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The visitor's messages in a history page (Giosg may add its own greeting).
fn texts(reply: &crate::support::harness::Reply) -> Vec<String> {
    reply.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["sender"]["type"] == "visitor")
        .filter_map(|message| message["text"].as_str().map(str::to_owned))
        .collect()
}

pub async fn devices_of_one_identity_share_chats_and_history<S: ChatStore>(store: S) {
    let env = with_identity(store).await;
    let ada = identity("user-ada", Some("Ada Lovelace"));
    // Two devices start at once: one Giosg chat, each device its own token.
    let (phone, laptop) = tokio::join!(start_as(&env, None, &ada), start_as(&env, None, &ada));
    let statuses = {
        let mut statuses = [phone.status, laptop.status];
        statuses.sort();
        statuses
    };
    assert_eq!(statuses, [200, 201], "{} {}", phone.body, laptop.body);
    assert_eq!(env.giosg_calls("start_chat").await, 1);
    let chat = phone.body["chat"]["id"].as_str().unwrap().to_owned();
    assert_eq!(laptop.body["chat"]["id"], chat.as_str());
    assert_eq!(phone.body["chat"]["visitor_name"], "Ada Lovelace");
    let phone = phone.body["visitor_token"].as_str().unwrap().to_owned();
    let laptop = laptop.body["visitor_token"].as_str().unwrap().to_owned();
    assert_ne!(phone, laptop);

    assert_eq!(env.send(&phone, &chat, "from the phone").await.status, 201);
    assert_eq!(
        env.send(&laptop, &chat, "from the laptop").await.status,
        201
    );
    env.flush_webhooks().await;
    for device in [&phone, &laptop] {
        let history = env.history(device, &chat, "").await;
        assert_eq!(history.status, 200, "{}", history.body);
        assert_eq!(texts(&history), ["from the phone", "from the laptop"]);
        let listed = env.call(Method::GET, "/v1/chats", Some(device), None).await;
        assert_eq!(chat_ids(&listed), [chat.as_str()]);
    }
    // A device that comes back with its token and the identity keeps its token.
    let again = start_as(&env, Some(&phone), &ada).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body.get("visitor_token").is_none(), "{}", again.body);

    // The chat ends: the next start from any device opens one new chat for the person.
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/end"),
        Some(json!({})),
    )
    .await;
    env.flush_webhooks().await;
    let next = start_as(&env, Some(&laptop), &ada).await;
    assert_eq!(next.status, 201, "{}", next.body);
    let next_chat = next.body["chat"]["id"].as_str().unwrap().to_owned();
    let listed = env.call(Method::GET, "/v1/chats", Some(&phone), None).await;
    assert_eq!(chat_ids(&listed), [next_chat.clone(), chat.clone()]);
    // A device token alone cannot start the person's chats.
    env.call(
        Method::POST,
        "/v1/chats",
        Some(&phone),
        Some(json!({"visitor_name": "Ada"})),
    )
    .await
    .assert_error(401, "unauthorized");

    // Another person sees none of them.
    let bob = start_as(&env, None, &identity("user-bob", None)).await;
    assert_eq!(bob.status, 201, "{}", bob.body);
    let bob_token = bob.body["visitor_token"].as_str().unwrap().to_owned();
    assert_ne!(bob.body["chat"]["id"], chat.as_str());
    let listed = env
        .call(Method::GET, "/v1/chats", Some(&bob_token), None)
        .await;
    assert_eq!(
        chat_ids(&listed),
        [bob.body["chat"]["id"].as_str().unwrap()]
    );
    for other in [&chat, &next_chat] {
        env.history(&bob_token, other, "")
            .await
            .assert_error(404, "not_found");
    }
    // An anonymous visitor neither.
    let (anonymous, _) = env.new_chat("Eve").await;
    env.history(&anonymous, &chat, "")
        .await
        .assert_error(404, "not_found");
    env.stop().await;
}

pub async fn refused_identity_tokens_are_401_and_change_nothing<S: ChatStore>(store: S) {
    let env = with_identity(store).await;
    let key = IDENTITY_SECRET.as_bytes();
    let valid = identity("user-ada", None);
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
    parts[1] = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"sub": "user-mallory", "exp": now() + 3600}).to_string())
    };
    let tampered = parts.join(".");
    let unsigned = {
        use base64::Engine;
        let encode = |value: Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        format!(
            "{}.{}.",
            encode(json!({"alg": "none", "typ": "JWT"})),
            encode(json!({"sub": "user-ada", "exp": now() + 3600}))
        )
    };
    let cases = [
        (
            signed(
                Algorithm::HS256,
                key,
                json!({"sub": "a", "exp": now() - 3600}),
            ),
            "expired",
        ),
        (
            signed(
                Algorithm::HS256,
                key,
                json!({"sub": "a", "exp": now() + 3600, "nbf": now() + 1800}),
            ),
            "not yet valid",
        ),
        (
            signed(
                Algorithm::HS256,
                key,
                json!({"sub": "a", "exp": now() + 3600, "iat": now() + 1800}),
            ),
            "not yet valid",
        ),
        (
            signed(
                Algorithm::HS256,
                key,
                json!({"sub": "a", "exp": now() + 25 * 3600}),
            ),
            "24 hours",
        ),
        (unsigned, "wrong algorithm"),
        (
            signed(
                Algorithm::HS384,
                key,
                json!({"sub": "a", "exp": now() + 3600}),
            ),
            "wrong algorithm",
        ),
        (
            signed(
                Algorithm::HS256,
                b"another-secret-of-at-least-32-characters",
                json!({"sub": "a", "exp": now() + 3600}),
            ),
            "bad signature",
        ),
        (tampered, "bad signature"),
        (
            signed(Algorithm::HS256, key, json!({"exp": now() + 3600})),
            "malformed",
        ),
        (
            signed(
                Algorithm::HS256,
                key,
                json!({"sub": "", "exp": now() + 3600}),
            ),
            "malformed",
        ),
        (
            signed(
                Algorithm::HS256,
                key,
                json!({"sub": "x".repeat(129), "exp": now() + 3600}),
            ),
            "malformed",
        ),
        (
            signed(Algorithm::HS256, key, json!({"sub": "a"})),
            "malformed",
        ),
        ("not-a-jwt".to_owned(), "malformed"),
    ];
    for (token, says) in cases {
        let reply = start_as(&env, None, &token).await;
        reply.assert_error(401, "unauthorized");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{says}: {message}");
        assert!(!message.contains(IDENTITY_SECRET), "{message}");
    }
    assert_eq!(env.giosg_calls("start_chat").await, 0);
    assert_eq!(env.giosg_calls("visitor_auth").await, 0);
    env.stop().await;
}

/// The token's `name` is the name agents see and stands in for `visitor_name`; without either,
/// the start is a 400 that creates nothing.
pub async fn the_tokens_name_is_the_visitors_name<S: ChatStore>(store: S) {
    let env = with_identity(store).await;
    let start = |identity_token: String| {
        env.call(
            Method::POST,
            "/v1/chats",
            None,
            Some(json!({"identity_token": identity_token})),
        )
    };
    let named = start(identity("user-grace", Some("Grace Hopper"))).await;
    assert_eq!(named.status, 201, "{}", named.body);
    assert_eq!(named.body["chat"]["visitor_name"], "Grace Hopper");
    let unnamed = start(identity("user-alan", None)).await;
    unnamed.assert_error(400, "invalid_request");
    let message = unnamed.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("visitor_name"), "{message}");
    // The token is checked first: a bad one is a 401 whatever the body lacks.
    let expired = signed(
        Algorithm::HS256,
        IDENTITY_SECRET.as_bytes(),
        json!({"sub": "user-alan", "exp": now() - 3600}),
    );
    start(expired).await.assert_error(401, "unauthorized");
    // The token's name wins over visitor_name.
    let both = env
        .call(
            Method::POST,
            "/v1/chats",
            None,
            Some(json!({"visitor_name": "Someone", "identity_token": identity("user-ida", Some("Ida"))})),
        )
        .await;
    assert_eq!(both.status, 201, "{}", both.body);
    assert_eq!(both.body["chat"]["visitor_name"], "Ida");
    assert_eq!(env.giosg_calls("start_chat").await, 2);
    env.stop().await;
}

pub async fn identity_token_without_identity_configured_is_400<S: ChatStore>(store: S) {
    let env = start(store).await;
    let reply = start_as(&env, None, &identity("user-ada", None)).await;
    reply.assert_error(400, "invalid_request");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("identity_token"),
        "{}",
        reply.body
    );
    assert_eq!(env.giosg_calls("start_chat").await, 0);
    env.stop().await;
}

pub async fn erasing_by_subject_erases_the_person_and_every_device<S: OperatorStore>(store: S) {
    let env = with_identity(store).await;
    let operator = Operator::serve(env.app.clone()).await;
    let ada = identity("user-ada", None);
    let phone = start_as(&env, None, &ada).await;
    assert_eq!(phone.status, 201, "{}", phone.body);
    let chat = phone.body["chat"]["id"].as_str().unwrap().to_owned();
    let phone = phone.body["visitor_token"].as_str().unwrap().to_owned();
    // The laptop says who the customer is: the chat's export (and its away notifications) name
    // that visitor_ref, though the chat belongs to the person rather than to a device.
    let laptop = env
        .call(
            Method::POST,
            "/v1/chats",
            None,
            Some(json!({"visitor_name": "Visitor", "identity_token": ada, "visitor_ref": "customer-ada"})),
        )
        .await;
    let laptop = laptop.body["visitor_token"].as_str().unwrap().to_owned();
    assert_eq!(env.send(&laptop, &chat, "hello").await.status, 201);
    let export = operator
        .call(Method::GET, &format!("/admin/v1/chats/{chat}/export"))
        .await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(
        export.body["visitor"]["visitor_ref"], "customer-ada",
        "{}",
        export.body
    );
    let bob = start_as(&env, None, &identity("user-bob", None)).await;
    let bob = bob.body["visitor_token"].as_str().unwrap().to_owned();

    let erased = operator
        .call(Method::DELETE, "/admin/v1/visitors?ref=user-ada")
        .await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    // The person's own visitor and both devices; the one chat.
    assert_eq!(erased.body["visitors_found"], 3, "{}", erased.body);
    assert_eq!(erased.body["erased"]["chats"], 1, "{}", erased.body);
    for device in [&phone, &laptop] {
        env.call(Method::GET, "/v1/chats", Some(device), None)
            .await
            .assert_error(401, "unauthorized");
    }
    let bobs = env.call(Method::GET, "/v1/chats", Some(&bob), None).await;
    assert_eq!(chat_ids(&bobs).len(), 1);
    // The person starts afresh after erasure.
    let fresh = start_as(&env, None, &ada).await;
    assert_eq!(fresh.status, 201, "{}", fresh.body);
    assert_ne!(fresh.body["chat"]["id"], chat.as_str());
    operator.server.abort();
    env.stop().await;
}
