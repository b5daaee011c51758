//! Signed identity with RS256/ES256 keys from a JWKS URL: keys fetched from a small local
//! server, a rotation picked up through a refetch on an unknown key id (at most one per
//! interval), and no HS256 token accepted, whatever it is signed with.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use shared::config::SecretSource;
use shared::store::ChatStore;

use crate::support::harness::{Options, Reply, TestEnv, WEBHOOK_SECRET, start_with};

const IDENTITY_SECRET: &str = "identity-secret-for-the-tests-0123456789";

/// An ES256 key pair made for the test: its private key and its public JWK.
struct TestKey {
    kid: String,
    pkcs8: Vec<u8>,
    jwk: Value,
}

impl TestKey {
    fn generate(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        // An uncompressed point: 0x04, x, y.
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Self {
            kid: kid.to_owned(),
            pkcs8: pkcs8.as_ref().to_vec(),
            jwk,
        }
    }

    /// A valid token for `sub`, signed with this key and naming `kid`.
    fn sign(&self, sub: &str, kid: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(
            &header,
            &claims(sub),
            &EncodingKey::from_ec_der(&self.pkcs8),
        )
        .unwrap()
    }
}

fn claims(sub: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "exp": now + 3600, "iat": now})
}

/// Serves a JWKS document that the test can replace, counting the fetches.
struct JwksServer {
    url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    async fn start(keys: Value) -> Self {
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let router = {
            let (keys, fetches) = (Arc::clone(&keys), Arc::clone(&fetches));
            axum::Router::new().route(
                "/.well-known/jwks.json",
                axum::routing::get(move || {
                    let (keys, fetches) = (Arc::clone(&keys), Arc::clone(&fetches));
                    async move {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        axum::Json(keys.lock().unwrap().clone())
                    }
                }),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            url,
            keys,
            fetches,
            server,
        }
    }

    fn serve(&self, keys: Value) {
        *self.keys.lock().unwrap() = keys;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn start_as<S: ChatStore>(env: &TestEnv<S>, identity_token: &str) -> Reply {
    env.call(
        Method::POST,
        "/v1/chats",
        None,
        Some(json!({"visitor_name": "Visitor", "identity_token": identity_token})),
    )
    .await
}

fn refused_as(reply: &Reply, says: &str) {
    reply.assert_error(401, "unauthorized");
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains(says), "{says}: {message}");
}

pub async fn jwks_keys_verify_rotate_and_refuse_hs256<S: ChatStore>(store: S) {
    let first = TestKey::generate("key-1");
    let second = TestKey::generate("key-2");
    let jwks = JwksServer::start(json!({"keys": [first.jwk]})).await;
    // The secret has an identity_secret too: with a JWKS configured, HS256 is still refused.
    let api_token = format!("api-token-{}", uuid::Uuid::new_v4());
    let secret = json!({
        "giosg_api_token": api_token,
        "webhook_secret": WEBHOOK_SECRET,
        "identity_secret": IDENTITY_SECRET,
    });
    let env = start_with(
        store,
        Options {
            env: vec![
                ("AVAILABILITY_CACHE_SECONDS", "0".into()),
                ("IDENTITY_JWKS_URL", jwks.url.clone()),
                ("IDENTITY_JWKS_REFETCH_SECONDS", "1".into()),
            ],
            api_token: Some(api_token),
            secrets: Some(SecretSource::StaticJson(secret.to_string())),
            ..Options::default()
        },
    )
    .await;

    let started = start_as(&env, &first.sign("user-ada", &first.kid)).await;
    assert_eq!(started.status, 201, "{}", started.body);
    let chat = started.body["chat"]["id"].as_str().unwrap().to_owned();
    assert_eq!(jwks.fetches(), 1);

    // HS256, signed with the identity_secret or with the public key's bytes: wrong algorithm.
    let hs256 = |key: &[u8]| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims("user-ada"),
            &EncodingKey::from_secret(key),
        )
        .unwrap()
    };
    refused_as(
        &start_as(&env, &hs256(IDENTITY_SECRET.as_bytes())).await,
        "wrong algorithm",
    );
    refused_as(
        &start_as(&env, &hs256(first.jwk.to_string().as_bytes())).await,
        "wrong algorithm",
    );
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims("user-ada").to_string())
    );
    refused_as(&start_as(&env, &unsigned).await, "wrong algorithm");
    // Signed by a key the JWKS does not hold, naming one it holds.
    refused_as(
        &start_as(&env, &second.sign("user-ada", &first.kid)).await,
        "bad signature",
    );

    // The keys rotate: a token naming the new key id makes the JWKS be fetched again.
    jwks.serve(json!({"keys": [second.jwk]}));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let rotated = start_as(&env, &second.sign("user-ada", &second.kid)).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_eq!(rotated.body["chat"]["id"], chat.as_str());
    assert_eq!(jwks.fetches(), 2);
    // Made-up key ids right after a fetch fetch nothing more.
    for _ in 0..3 {
        refused_as(
            &start_as(&env, &second.sign("user-ada", "key-made-up")).await,
            "bad signature",
        );
    }
    assert_eq!(jwks.fetches(), 2);
    assert_eq!(env.giosg_calls("start_chat").await, 1);
    jwks.server.abort();
    env.stop().await;
}

/// The RSA test key (`tests/fixtures/rs256-test-key.pem`, PKCS#1, made for these tests only):
/// its DER and its public JWK.
fn rsa_test_key(kid: &str) -> (Vec<u8>, Value) {
    let pem = include_str!("../fixtures/rs256-test-key.pem");
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let pair = ring::signature::RsaKeyPair::from_der(&der).unwrap();
    let public: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
    let jwk = json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(&public.n),
        "e": URL_SAFE_NO_PAD.encode(&public.e),
    });
    (der, jwk)
}

/// RS256 beside ES256 in one JWKS: each verifies with its own key; a key is used only under the
/// algorithm it declares, and an HS256 token keyed with the RSA public key (the classic
/// confusion) is refused.
pub async fn rs256_keys_verify_and_each_key_keeps_its_algorithm<S: ChatStore>(store: S) {
    let (rsa_der, rsa_jwk) = rsa_test_key("rsa-1");
    let ec = TestKey::generate("ec-1");
    let jwks = JwksServer::start(json!({"keys": [rsa_jwk, ec.jwk]})).await;
    let api_token = format!("api-token-{}", uuid::Uuid::new_v4());
    let secret = json!({"giosg_api_token": api_token, "webhook_secret": WEBHOOK_SECRET});
    let env = start_with(
        store,
        Options {
            env: vec![
                ("AVAILABILITY_CACHE_SECONDS", "0".into()),
                ("IDENTITY_JWKS_URL", jwks.url.clone()),
            ],
            api_token: Some(api_token),
            secrets: Some(SecretSource::StaticJson(secret.to_string())),
            ..Options::default()
        },
    )
    .await;
    let rs256 = |sub: &str, kid: &str| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, &claims(sub), &EncodingKey::from_rsa_der(&rsa_der)).unwrap()
    };

    let ada = start_as(&env, &rs256("user-ada", "rsa-1")).await;
    assert_eq!(ada.status, 201, "{}", ada.body);
    let bob = start_as(&env, &ec.sign("user-bob", "ec-1")).await;
    assert_eq!(bob.status, 201, "{}", bob.body);
    assert_ne!(ada.body["chat"]["id"], bob.body["chat"]["id"]);
    let again = start_as(&env, &rs256("user-ada", "rsa-1")).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["chat"]["id"], ada.body["chat"]["id"]);

    // An RS256 token naming the EC key, an ES256 one naming the RSA key: wrong algorithm.
    refused_as(
        &start_as(&env, &rs256("user-ada", "ec-1")).await,
        "wrong algorithm",
    );
    refused_as(
        &start_as(&env, &ec.sign("user-ada", "rsa-1")).await,
        "wrong algorithm",
    );
    // HS256 keyed with the RSA public key as published (its JWK, its modulus): never accepted.
    let jwk = jwks.keys.lock().unwrap()["keys"][0].clone();
    for key in [
        jwk.to_string().into_bytes(),
        jwk["n"].as_str().unwrap().as_bytes().to_vec(),
    ] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rsa-1".into());
        let token = jsonwebtoken::encode(
            &header,
            &claims("user-ada"),
            &EncodingKey::from_secret(&key),
        )
        .unwrap();
        refused_as(&start_as(&env, &token).await, "wrong algorithm");
    }
    // Tampered: Bob's claims under Ada's RS256 signature.
    let mut parts: Vec<String> = rs256("user-ada", "rsa-1")
        .split('.')
        .map(str::to_owned)
        .collect();
    parts[1] = URL_SAFE_NO_PAD.encode(claims("user-bob").to_string());
    refused_as(&start_as(&env, &parts.join(".")).await, "bad signature");
    assert_eq!(env.giosg_calls("start_chat").await, 2);
    assert_eq!(jwks.fetches(), 1);
    jwks.server.abort();
    env.stop().await;
}
