//! Visitors: the opaque token a frontend holds, the hash we store, and the Giosg credentials we
//! keep for them, sealed with a key only the token's holder can provide.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ChatId, VisitorId};
use crate::secret::Secret;

/// The bearer token issued to a frontend: 256 random bits, URL-safe. Never stored.
#[derive(Clone, Debug)]
pub struct VisitorToken(Secret);

impl VisitorToken {
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(Secret::new(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Accepts a token presented by a client; anything that is not the shape we issue is
    /// rejected before any lookup.
    pub fn parse(presented: &str) -> Option<Self> {
        let well_formed = presented.len() == 43
            && presented
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self(Secret::new(presented)))
    }

    /// The token of this service's own Giosg visitor (the one that reads the room's
    /// availability), derived from a secret only the service holds (the Giosg API token), so
    /// every instance finds and opens the same stored visitor and no client can present it.
    pub fn for_service_visitor(secret: &Secret) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"giosg-bridge/service-visitor/v1\0");
        hasher.update(secret.expose().as_bytes());
        Self(Secret::new(URL_SAFE_NO_PAD.encode(hasher.finalize())))
    }

    /// The token that seals the Giosg credentials of an identified person's visitor (see
    /// [`VisitorKey::for_identity`]), derived from a secret only the service holds (the Giosg API
    /// token) and the person's subject: no client ever holds it, and the table alone does not
    /// open those credentials.
    pub fn for_identity(secret: &Secret, subject: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"giosg-bridge/identity-visitor/v1\0");
        hasher.update(secret.expose().as_bytes());
        hasher.update(b"\0");
        hasher.update(subject.as_bytes());
        Self(Secret::new(URL_SAFE_NO_PAD.encode(hasher.finalize())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The storage key of this token's visitor: a SHA-256 of the token. The token has 256 bits
    /// of entropy, so a fast hash is enough; a leaked table reveals no usable token.
    pub fn key(&self) -> VisitorKey {
        VisitorKey(hex::encode(Sha256::digest(self.expose().as_bytes())))
    }

    fn sealing_key(&self) -> chacha20poly1305::Key {
        let mut hasher = Sha256::new();
        hasher.update(b"giosg-bridge/visitor-credentials/v1\0");
        hasher.update(self.expose().as_bytes());
        hasher.finalize()
    }
}

/// The stored identity of a visitor: the hex SHA-256 of its token.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VisitorKey(String);

impl VisitorKey {
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// The key of an identified person's own visitor, the one that owns the person's chats and
    /// holds their latest chat and start claim: derived from the hashed subject alone, so it
    /// stays the same whatever secret rotates.
    pub fn for_identity(person: &PersonKey) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"giosg-bridge/identity-key/v1\0");
        hasher.update(person.as_str().as_bytes());
        Self(hex::encode(hasher.finalize()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The Giosg credentials of a visitor: what re-authenticates it and the cached access token.
#[derive(Clone, Debug)]
pub struct GiosgCredentials {
    pub visitor_secret_id: Secret,
    pub access_token: Secret,
    pub access_token_expires_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct CredentialsPlain {
    visitor_secret_id: String,
    access_token: String,
    expires_at: DateTime<Utc>,
}

/// [`GiosgCredentials`] encrypted (XChaCha20-Poly1305) under a key derived from the visitor's
/// token: the table alone does not let anyone act as a Giosg visitor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedCredentials(String);

/// The sealed credentials did not open with this token (tampered, or not this visitor's).
#[derive(Debug, thiserror::Error)]
#[error("stored visitor credentials could not be opened")]
pub struct UnsealError;

impl SealedCredentials {
    pub fn seal(credentials: &GiosgCredentials, token: &VisitorToken) -> Self {
        let plain = CredentialsPlain {
            visitor_secret_id: credentials.visitor_secret_id.expose().to_owned(),
            access_token: credentials.access_token.expose().to_owned(),
            expires_at: credentials.access_token_expires_at,
        };
        let plaintext = serde_json::to_vec(&plain).expect("credentials serialize");
        let nonce_bytes: [u8; 24] = rand::random();
        let cipher = XChaCha20Poly1305::new(&token.sealing_key());
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce_bytes), plaintext.as_slice())
            .expect("encryption of a small buffer cannot fail");
        let mut blob = nonce_bytes.to_vec();
        blob.extend_from_slice(&ciphertext);
        Self(URL_SAFE_NO_PAD.encode(blob))
    }

    pub fn open(&self, token: &VisitorToken) -> Result<GiosgCredentials, UnsealError> {
        let blob = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| UnsealError)?;
        if blob.len() < 24 {
            return Err(UnsealError);
        }
        let (nonce, ciphertext) = blob.split_at(24);
        let cipher = XChaCha20Poly1305::new(&token.sealing_key());
        let plaintext = cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| UnsealError)?;
        let plain: CredentialsPlain =
            serde_json::from_slice(&plaintext).map_err(|_| UnsealError)?;
        Ok(GiosgCredentials {
            visitor_secret_id: Secret::new(plain.visitor_secret_id),
            access_token: Secret::new(plain.access_token),
            access_token_expires_at: plain.expires_at,
        })
    }

    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A visitor as stored: keyed by the token's hash, never the token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitorRecord {
    pub key: VisitorKey,
    pub giosg_visitor_id: VisitorId,
    pub credentials: SealedCredentials,
    /// The name last set as the Giosg `username` variable.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_chat_id: Option<ChatId>,
    pub created_at: DateTime<Utc>,
    /// What the frontend calls this visitor (`visitor_ref` at start), for away notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_ref: Option<String>,
    /// The signed identity's subject, hashed ([`PersonKey::of`]), when the visitor is an
    /// identified person's own visitor or one of their devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<PersonKey>,
}

impl VisitorRecord {
    /// The key under which the visitor is found by who the company says the person is: the
    /// identity subject when it has one, else its `visitor_ref`, both hashed by
    /// [`PersonKey::of`], so that an operator's `?ref=` finds either with one lookup.
    pub fn person_key(&self) -> Option<PersonKey> {
        self.identity
            .clone()
            .or_else(|| self.visitor_ref.as_deref().map(PersonKey::of))
    }

    /// The visitor whose chats this visitor reaches: an identified device reaches its person's
    /// ([`VisitorKey::for_identity`]), any other visitor its own.
    pub fn chat_owner(&self) -> VisitorKey {
        match &self.identity {
            Some(person) => VisitorKey::for_identity(person),
            None => self.key.clone(),
        }
    }

    /// A device of an identified person: it reaches the person's chats but starts none of its
    /// own (a start needs the signed identity).
    pub fn is_identified_device(&self) -> bool {
        self.identity.is_some() && self.chat_owner() != self.key
    }
}

/// Who the company says a visitor is (a `visitor_ref`, later an identity subject), hashed: the
/// stored lookup key of an operator's `?ref=` ([`VisitorRecord::person_key`]). A hash has one
/// shape whatever the reference holds, and keeps the reference itself out of index keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonKey(String);

impl PersonKey {
    pub fn of(reference: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"giosg-bridge/person/v1\0");
        hasher.update(reference.as_bytes());
        Self(hex::encode(hasher.finalize()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> GiosgCredentials {
        GiosgCredentials {
            visitor_secret_id: Secret::new("secret-id-123"),
            access_token: Secret::new("access-456"),
            access_token_expires_at: Utc::now(),
        }
    }

    #[test]
    fn tokens_are_url_safe_and_unique() {
        let a = VisitorToken::generate();
        let b = VisitorToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert!(VisitorToken::parse(a.expose()).is_some());
        assert_ne!(a.key(), b.key());
        assert_eq!(a.key(), VisitorToken::parse(a.expose()).unwrap().key());
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        assert!(VisitorToken::parse("").is_none());
        assert!(VisitorToken::parse("short").is_none());
        assert!(VisitorToken::parse(&"a".repeat(42)).is_none());
        assert!(VisitorToken::parse(&format!("{}=", "a".repeat(42))).is_none());
    }

    #[test]
    fn sealed_credentials_open_only_with_their_token() {
        let token = VisitorToken::generate();
        let sealed = SealedCredentials::seal(&credentials(), &token);
        assert!(!sealed.as_str().contains("secret-id-123"));
        let opened = sealed.open(&token).unwrap();
        assert_eq!(opened.visitor_secret_id.expose(), "secret-id-123");
        assert_eq!(opened.access_token.expose(), "access-456");
        assert!(sealed.open(&VisitorToken::generate()).is_err());
    }
}
