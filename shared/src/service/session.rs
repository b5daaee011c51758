//! A visitor's Giosg session and its sealed copy in the visitor record: opening it for a call,
//! and keeping what the call refreshed.

use super::ServiceError;
use crate::domain::visitor::{GiosgCredentials, SealedCredentials, VisitorRecord, VisitorToken};
use crate::giosg::VisitorSession;

/// The visitor's Giosg session, unsealed with the caller's token.
pub(super) fn open(
    visitor: &VisitorRecord,
    token: &VisitorToken,
) -> Result<VisitorSession, ServiceError> {
    let credentials = visitor
        .credentials
        .open(token)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(VisitorSession::from_parts(
        visitor.giosg_visitor_id.clone(),
        credentials.visitor_secret_id,
        credentials.access_token,
        credentials.access_token_expires_at,
    ))
}

/// The session sealed under the visitor's token, for the visitor record.
pub(super) fn seal(session: &VisitorSession, token: &VisitorToken) -> SealedCredentials {
    SealedCredentials::seal(
        &GiosgCredentials {
            visitor_secret_id: session.visitor_secret_id().clone(),
            access_token: session.access_token().clone(),
            access_token_expires_at: session.expires_at(),
        },
        token,
    )
}

/// Takes what a Giosg call refreshed (a renewed access token, or a visitor Giosg replaced) into
/// the visitor record. Returns whether the record changed and must be saved.
pub(super) fn keep_refreshed(
    visitor: &mut VisitorRecord,
    session: &mut VisitorSession,
    token: &VisitorToken,
) -> bool {
    if !session.take_changed() {
        return false;
    }
    visitor.giosg_visitor_id = session.visitor_id().clone();
    visitor.credentials = seal(session, token);
    true
}
