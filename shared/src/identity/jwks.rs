//! The public keys of RS256/ES256 identities: a JWKS document fetched from the configured URL,
//! cached for a refresh interval, and fetched again when a token names a key id the cache does
//! not hold (a rotation), at most once per short interval so that made-up key ids cannot turn
//! into a stream of fetches.

use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use tokio::sync::Mutex;
use url::Url;

use super::IdentityError;

/// How long a JWKS fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// The JWKS cache.
pub struct Jwks {
    url: Url,
    http: reqwest::Client,
    /// How long fetched keys are used before they are fetched again.
    refresh: Duration,
    /// The shortest time between two fetches caused by unknown key ids.
    refetch_floor: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    keys: Vec<Jwk>,
    /// When the keys were last fetched successfully.
    fetched_at: Option<Instant>,
    /// When a fetch was last attempted (successful or not).
    attempted_at: Option<Instant>,
}

impl Jwks {
    pub fn new(url: Url, refresh: Duration, refetch_floor: Duration) -> Result<Self, String> {
        let http = crate::tls::with_giosg_roots(reqwest::Client::builder().use_rustls_tls())?
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the JWKS client: {e}"))?;
        Ok(Self {
            url,
            http,
            refresh,
            refetch_floor,
            state: Mutex::new(State::default()),
        })
    }

    /// The key `kid` names (the only key, when the token names none and the set has one).
    pub async fn key(&self, kid: Option<&str>) -> Result<(Jwk, DecodingKey), IdentityError> {
        let mut state = self.state.lock().await;
        let stale = state
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.refresh);
        if stale && self.may_fetch(&state, self.refetch_floor.min(self.refresh)) {
            self.fetch(&mut state).await;
        }
        if let Some(found) = find(&state.keys, kid) {
            return found;
        }
        if kid.is_some() && self.may_fetch(&state, self.refetch_floor) {
            self.fetch(&mut state).await;
            if let Some(found) = find(&state.keys, kid) {
                return found;
            }
        }
        if state.fetched_at.is_none() {
            return Err(IdentityError::Unavailable);
        }
        Err(IdentityError::BadSignature)
    }

    fn may_fetch(&self, state: &State, floor: Duration) -> bool {
        state.attempted_at.is_none_or(|at| at.elapsed() >= floor)
    }

    async fn fetch(&self, state: &mut State) {
        state.attempted_at = Some(Instant::now());
        match self.read().await {
            Ok(set) => {
                state.keys = set.keys;
                state.fetched_at = Some(Instant::now());
            }
            Err(error) => {
                tracing::warn!(%error, url = %self.url, "the JWKS could not be fetched; keeping the keys held")
            }
        }
    }

    async fn read(&self) -> Result<JwkSet, String> {
        let response = self
            .http
            .get(self.url.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        response.json().await.map_err(|e| e.to_string())
    }
}

fn find(keys: &[Jwk], kid: Option<&str>) -> Option<Result<(Jwk, DecodingKey), IdentityError>> {
    let jwk = match kid {
        Some(kid) => keys
            .iter()
            .find(|key| key.common.key_id.as_deref() == Some(kid))?,
        None if keys.len() == 1 => &keys[0],
        None => return None,
    };
    Some(
        DecodingKey::from_jwk(jwk)
            .map(|key| (jwk.clone(), key))
            .map_err(|_| IdentityError::BadSignature),
    )
}
