//! Signed visitor identity (spec §1c): the JWT a company's backend signs for a logged-in
//! customer, checked at `POST /v1/chats`. Either RS256/ES256 against the keys of a JWKS URL
//! (`IDENTITY_JWKS_URL`, [`jwks`]) or, without one, HS256 with `identity_secret` from the
//! secret's JSON. The algorithms come from the configuration, never from the token: no `none`,
//! no HS/RS confusion (an HS256 token is refused when a JWKS is configured, and RS256/ES256
//! without one). A verified token names a person ([`VerifiedIdentity`]); which key signed it is
//! never said.

pub mod jwks;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::SecretsCache;
use crate::domain::input::VisitorName;
use crate::domain::visitor::{PersonKey, VisitorToken};
use jwks::Jwks;

/// How far clocks may disagree when `exp`, `nbf` and `iat` are checked.
pub const CLOCK_LEEWAY_SECONDS: i64 = 60;
/// The latest `exp` accepted, ahead of now: a token is a sign-in, not a long-lived credential.
pub const MAX_LIFETIME_SECONDS: i64 = 24 * 3600;
/// The longest subject accepted, in characters: a person reference like a `visitor_ref`, so
/// that every subject accepted can be erased by an operator's `?ref=`.
pub const MAX_SUBJECT_CHARS: usize = crate::domain::input::MAX_VISITOR_REF_CHARS;
// The refusal names the limit (a `&'static str`): keep the two together.
const _: () = assert!(MAX_SUBJECT_CHARS == 128);

/// Why an identity token was refused. The message says which check failed, never which key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// No identity is configured: the field is not accepted at all (a 400).
    #[error("identity_token is not accepted: signed identity is not configured")]
    NotConfigured,
    #[error("the identity token has expired")]
    Expired,
    #[error("the identity token is not yet valid")]
    NotYetValid,
    #[error("the identity token expires more than 24 hours ahead")]
    TooLong,
    #[error("the identity token has a bad signature")]
    BadSignature,
    #[error("the identity token uses the wrong algorithm")]
    WrongAlgorithm,
    #[error("the identity token is malformed: {0}")]
    Malformed(&'static str),
    /// The keys could not be read (the secret): a 503, the caller may retry.
    #[error("the identity keys cannot be read right now")]
    Unavailable,
}

/// A person a valid identity token names.
#[derive(Clone, Debug)]
pub struct VerifiedIdentity {
    /// The subject, hashed: the person's stored key.
    pub person: PersonKey,
    /// The token's `name`, when it has one (the Giosg `username`).
    pub name: Option<VisitorName>,
    /// Seals the person's Giosg credentials ([`VisitorToken::for_identity`]).
    pub sealing: VisitorToken,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
}

/// Checks identity tokens against the configured keys.
pub struct IdentityVerifier {
    /// The Giosg API token (the sealing of [`VerifiedIdentity::sealing`]) and the HS256 key.
    secrets: Arc<SecretsCache>,
    /// RS256/ES256 keys; when set, HS256 is refused.
    jwks: Option<Jwks>,
}

impl IdentityVerifier {
    /// HS256 with the secret's `identity_secret` (when the secret has none, identity is not
    /// configured).
    pub fn new(secrets: Arc<SecretsCache>) -> Self {
        Self {
            secrets,
            jwks: None,
        }
    }

    /// RS256/ES256 with the keys of `jwks` instead of HS256.
    pub fn with_jwks(mut self, jwks: Jwks) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// The verifier the settings describe: with a JWKS when `IDENTITY_JWKS_URL` is set.
    pub fn from_settings(
        secrets: Arc<SecretsCache>,
        settings: &crate::config::Settings,
    ) -> Result<Self, crate::config::ConfigError> {
        let verifier = Self::new(secrets);
        Ok(match &settings.identity_jwks_url {
            Some(url) => verifier.with_jwks(
                Jwks::new(
                    url.clone(),
                    settings.identity_jwks_refresh,
                    settings.identity_jwks_refetch_floor,
                )
                .map_err(|reason| crate::config::ConfigError::Malformed {
                    name: "IDENTITY_JWKS_URL",
                    reason,
                })?,
            ),
            None => verifier,
        })
    }

    pub async fn verify(&self, token: &str) -> Result<VerifiedIdentity, IdentityError> {
        // One read of the cached secrets: the HS256 key and the Giosg API token (the sealing).
        let secrets = self
            .secrets
            .get()
            .await
            .map_err(|_| IdentityError::Unavailable)?;
        let claims = match &self.jwks {
            Some(jwks) => {
                let header = header_of(token)?;
                let algorithm = match header.alg.as_deref() {
                    Some("RS256") => Algorithm::RS256,
                    Some("ES256") => Algorithm::ES256,
                    Some(_) => return Err(IdentityError::WrongAlgorithm),
                    None => return Err(IdentityError::Malformed("the header has no alg")),
                };
                let (jwk, key) = jwks.key(header.kid.as_deref()).await?;
                if jwk
                    .common
                    .key_algorithm
                    .is_some_and(|declared| declared.to_string() != format!("{algorithm:?}"))
                {
                    return Err(IdentityError::WrongAlgorithm);
                }
                decode(token, &key, algorithm)?
            }
            None => {
                let key = secrets
                    .identity_secret
                    .as_ref()
                    .ok_or(IdentityError::NotConfigured)?;
                if header_of(token)?.alg.as_deref() != Some("HS256") {
                    return Err(IdentityError::WrongAlgorithm);
                }
                decode(
                    token,
                    &DecodingKey::from_secret(key.expose().as_bytes()),
                    Algorithm::HS256,
                )?
            }
        };
        identity_of(claims, |subject| {
            VisitorToken::for_identity(&secrets.giosg_api_token, subject)
        })
    }
}

/// The header (`alg`, `kid`), read before any key is chosen.
fn header_of(token: &str) -> Result<Header, IdentityError> {
    let header = token
        .split('.')
        .next()
        .ok_or(IdentityError::Malformed("not a JWT"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| IdentityError::Malformed("the header is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| IdentityError::Malformed("the header is not JSON"))
}

/// Checks the signature with `key` under `algorithm` and the time claims.
fn decode(token: &str, key: &DecodingKey, algorithm: Algorithm) -> Result<Claims, IdentityError> {
    let mut validation = Validation::new(algorithm);
    validation.leeway = CLOCK_LEEWAY_SECONDS as u64;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map_err(|error| match error.kind() {
            ErrorKind::ExpiredSignature => IdentityError::Expired,
            ErrorKind::ImmatureSignature => IdentityError::NotYetValid,
            ErrorKind::InvalidSignature => IdentityError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                IdentityError::WrongAlgorithm
            }
            ErrorKind::MissingRequiredClaim(_) => {
                IdentityError::Malformed("sub and exp are required")
            }
            _ => IdentityError::Malformed("the token cannot be read"),
        })?
        .claims;
    let now = Utc::now().timestamp();
    let exp = claims
        .exp
        .ok_or(IdentityError::Malformed("exp is required"))?;
    if exp > now + MAX_LIFETIME_SECONDS + CLOCK_LEEWAY_SECONDS {
        return Err(IdentityError::TooLong);
    }
    if claims
        .iat
        .is_some_and(|iat| iat > now + CLOCK_LEEWAY_SECONDS)
    {
        return Err(IdentityError::NotYetValid);
    }
    Ok(claims)
}

fn identity_of(
    claims: Claims,
    sealing: impl FnOnce(&str) -> VisitorToken,
) -> Result<VerifiedIdentity, IdentityError> {
    let subject = claims
        .sub
        .filter(|sub| !sub.trim().is_empty())
        .ok_or(IdentityError::Malformed("sub is required"))?;
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(IdentityError::Malformed(
            "sub is longer than 128 characters",
        ));
    }
    let name = match claims.name.filter(|name| !name.trim().is_empty()) {
        Some(name) => Some(
            VisitorName::parse(Some(name))
                .map_err(|_| IdentityError::Malformed("name is not a usable visitor name"))?,
        ),
        None => None,
    };
    Ok(VerifiedIdentity {
        person: PersonKey::of(&subject),
        name,
        sealing: sealing(&subject),
    })
}
