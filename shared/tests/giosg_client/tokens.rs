//! Visitor tokens: refreshed before expiry, renewed after a 401 (a send is sent once more and
//! only once), and a second 401 refused.

use anyhow::Result;
use chrono::Utc;
use shared::domain::SenderType;
use shared::giosg::VisitorSession;

use crate::{Harness, texts_from};

#[tokio::test]
async fn session_close_to_expiry_is_refreshed_before_the_call() -> Result<()> {
    let h = Harness::start().await?;
    let fresh = h.visitor().await?;
    let mut session = VisitorSession::from_parts(
        fresh.visitor_id().clone(),
        fresh.visitor_secret_id().clone(),
        fresh.access_token().clone(),
        Utc::now() + chrono::Duration::seconds(20),
    );
    let auths_before = h.count("visitor_auth").await?;
    h.client.room(&mut session).await?;
    assert_eq!(h.count("visitor_auth").await?, auths_before + 1);
    assert_eq!(h.count("room").await?, 1, "no 401 was needed");
    assert!(
        session.take_changed(),
        "the renewed session must be persisted"
    );
    assert_eq!(session.visitor_id(), fresh.visitor_id());
    assert!(!session.needs_refresh(Utc::now()));
    Ok(())
}

#[tokio::test]
async fn expired_token_gets_401_then_reauthenticates_and_succeeds() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    let old_token = session.access_token().clone();
    h.expire_token(session.visitor_id()).await?;
    let auths_before = h.count("visitor_auth").await?;

    h.client.room(&mut session).await?;
    let statuses: Vec<u16> = h.calls_of("room").await?.iter().map(|c| c.0).collect();
    assert_eq!(statuses, [401, 200]);
    assert_eq!(h.count("visitor_auth").await?, auths_before + 1);
    assert!(session.take_changed());
    assert_ne!(session.access_token(), &old_token);
    Ok(())
}

#[tokio::test]
async fn send_after_401_is_sent_once_more_and_only_once() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    h.expire_token(session.visitor_id()).await?;
    h.client
        .send_message(&mut session, &chat, "after re-auth")
        .await?;
    let statuses: Vec<u16> = h
        .calls_of("send_message")
        .await?
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(statuses, [401, 201]);
    let messages = h.client.visitor_messages(&mut session, &chat).await?;
    assert_eq!(
        texts_from(&messages, SenderType::Visitor),
        ["after re-auth"]
    );
    Ok(())
}

#[tokio::test]
async fn second_401_after_reauthentication_is_refused() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault("room", 401, 2).await?;
    let auths_before = h.count("visitor_auth").await?;
    let error = h.client.room(&mut session).await.expect_err("401 twice");
    assert!(error.is_refused(), "{error:?}");
    assert_eq!(error.status(), Some(401));
    assert_eq!(h.count("room").await?, 2);
    assert_eq!(
        h.count("visitor_auth").await?,
        auths_before + 1,
        "re-authenticated once"
    );
    h.clear_faults().await?;
    h.client.room(&mut session).await?;
    Ok(())
}
