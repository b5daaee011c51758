//! Every Giosg call, against the simulator: visitors and their sessions, the room, presence,
//! chats and messages, memberships, and ending a chat.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use shared::domain::{Field, MessageType, RoomId, SenderType};
use shared::giosg::{GiosgError, VisitorSession};
use shared::secret::Secret;

use crate::{Harness, texts_from};

#[tokio::test]
async fn new_visitor_authenticates_and_joins_the_room() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.client.authenticate_visitor(None).await?;
    assert_eq!(session.visitor_id().as_str().len(), 32);
    assert!(!session.needs_refresh(Utc::now()));
    assert!(session.take_changed(), "a new session must be persisted");

    h.client.join_room(&mut session).await?;
    h.client.join_room(&mut session).await?;
    let statuses: Vec<u16> = h.calls_of("join_room").await?.iter().map(|c| c.0).collect();
    assert_eq!(
        statuses,
        [201, 200],
        "created, then already there: both fine"
    );

    let overview = h.visitor_overview(session.visitor_id()).await?;
    assert!(
        overview["rooms"]
            .as_array()
            .context("rooms")?
            .iter()
            .any(|r| r == h.sim.room_id())
    );
    assert!(!session.take_changed(), "nothing changed since");
    Ok(())
}

#[tokio::test]
async fn returning_visitor_keeps_its_id() -> Result<()> {
    let h = Harness::start().await?;
    let first = h.client.authenticate_visitor(None).await?;
    let again = h
        .client
        .authenticate_visitor(Some(first.visitor_secret_id()))
        .await?;
    assert_eq!(again.visitor_id(), first.visitor_id());
    assert_eq!(
        again.visitor_secret_id().expose(),
        first.visitor_secret_id().expose()
    );
    Ok(())
}

#[tokio::test]
async fn unknown_secret_gives_a_new_visitor_that_visitor_calls_report() -> Result<()> {
    unknown_secret_scenario("new_visitor").await
}

/// Giosg refusing an unknown secret (instead of answering with a new visitor) ends the same way.
#[tokio::test]
async fn refused_unknown_secret_gives_a_new_visitor_too() -> Result<()> {
    unknown_secret_scenario("error").await
}

async fn unknown_secret_scenario(behaviour: &str) -> Result<()> {
    let h = Harness::start().await?;
    h.sim_call(
        reqwest::Method::PUT,
        "/_sim/settings",
        Some(serde_json::json!({ "unknown_visitor_secret": behaviour })),
    )
    .await?;
    let (real, chat) = h.visitor_with_chat().await?;
    let forgotten = || {
        VisitorSession::from_parts(
            real.visitor_id().clone(),
            Secret::new("ab".repeat(32)),
            Secret::new("expired-access-token"),
            Utc::now() - chrono::Duration::minutes(5),
        )
    };

    let mut stale = forgotten();
    let error = h
        .client
        .send_message(&mut stale, &chat, "hello")
        .await
        .expect_err("the old visitor's chat cannot be used by a new visitor");
    match &error {
        GiosgError::VisitorReplaced {
            endpoint,
            previous,
            current,
        } => {
            assert_eq!(*endpoint, "send_message");
            assert_eq!(previous, real.visitor_id());
            assert_eq!(current, stale.visitor_id());
        }
        other => bail!("expected VisitorReplaced, got {other:?}"),
    }
    assert_ne!(stale.visitor_id(), real.visitor_id());
    assert!(stale.take_changed(), "the new visitor must be persisted");
    assert_eq!(h.count("send_message").await?, 0);

    let mut room_level = forgotten();
    let room = h.client.room(&mut room_level).await?;
    assert!(
        room.is_online,
        "room-level calls carry on as the new visitor"
    );

    let mut explicit = forgotten();
    let previous = h.client.reauthenticate(&mut explicit).await?;
    assert_eq!(previous.as_ref(), Some(real.visitor_id()));
    Ok(())
}

#[tokio::test]
async fn room_reports_whether_agents_are_online() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    let room = h.client.room(&mut session).await?;
    assert_eq!(room.id.as_ref().map(RoomId::as_str), Some(h.sim.room_id()));
    assert!(room.is_online);

    h.set_room_online(false).await?;
    assert!(!h.client.room(&mut session).await?.is_online);
    Ok(())
}

#[tokio::test]
async fn online_users_are_read_across_pages() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    let users = h.client.online_users(&mut session).await?;
    assert!(users.len() > 3, "more than one page of 3: {}", users.len());
    assert!(
        users
            .iter()
            .all(|u| u.id.is_some() && u.public_name.is_some())
    );
    assert_eq!(h.count("online_users").await?, users.len().div_ceil(3));
    Ok(())
}

#[tokio::test]
async fn username_and_variables_reach_the_visitor() -> Result<()> {
    let h = Harness::start().await?;
    let session = h.visitor().await?;
    h.client.set_username(session.visitor_id(), "Ada").await?;
    h.client
        .set_variable(session.visitor_id(), "plan", "premium")
        .await?;
    let overview = h.visitor_overview(session.visitor_id()).await?;
    assert_eq!(overview["name"], "Ada");
    assert_eq!(overview["variables"]["plan"], "premium");
    Ok(())
}

#[tokio::test]
async fn presence_refresh_is_accepted() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.client
        .refresh_presence(&mut session, Duration::from_secs(120))
        .await?;
    assert_eq!(h.count("refresh_presence").await?, 1);
    Ok(())
}

#[tokio::test]
async fn chat_started_and_message_sent_are_read_back() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    let chat = h.client.start_chat(&mut session).await?;
    let chat_id = chat.id.clone().context("chat id")?;
    assert_eq!(
        chat.room_id.value().map(RoomId::as_str),
        Some(h.sim.room_id())
    );
    assert_eq!(chat.is_ended, Field::Value(false));
    assert!(chat.created_at.value().is_some());

    let sent = h
        .client
        .send_message(&mut session, &chat_id, "Hello from the visitor")
        .await?;
    assert!(sent.id.is_some());
    assert_eq!(sent.message_type, Field::Value(MessageType::Msg));
    assert_eq!(sent.sender_type, Field::Value(SenderType::Visitor));
    assert_eq!(sent.chat_id, Field::Value(chat_id.clone()));
    assert_eq!(
        sent.message.value().map(String::as_str),
        Some("Hello from the visitor")
    );

    let owned = h.client.owned_chat(&chat_id).await?;
    assert_eq!(owned.id.as_ref(), Some(&chat_id));
    assert_eq!(owned.visitor_message_count, Field::Value(1));

    let members = h.client.chat_memberships(&chat_id).await?;
    assert!(
        members
            .iter()
            .any(|m| m.visitor_id().as_ref() == Some(session.visitor_id()))
    );

    let chats = h.client.visitor_chats(&mut session).await?;
    assert!(chats.iter().any(|c| c.id.as_ref() == Some(&chat_id)));

    let messages = h.client.visitor_messages(&mut session, &chat_id).await?;
    assert!(messages.iter().any(|m| m.id == sent.id));
    Ok(())
}

#[tokio::test]
async fn agent_reply_is_read_by_the_visitor() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    h.agent_says(&chat, "Hi, how can I help?").await?;
    let messages = h.client.visitor_messages(&mut session, &chat).await?;
    assert_eq!(
        texts_from(&messages, SenderType::User),
        ["Hi, how can I help?"]
    );
    let reply = messages
        .iter()
        .find(|m| m.message.value().map(String::as_str) == Some("Hi, how can I help?"))
        .context("reply")?;
    assert!(reply.sender_public_name.value().is_some());
    Ok(())
}

#[tokio::test]
async fn visitor_can_end_a_chat() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    h.client.end_chat_as_visitor(&mut session, &chat).await?;
    let owned = h.client.owned_chat(&chat).await?;
    assert_eq!(owned.is_ended, Field::Value(true));
    assert!(owned.ended_at.value().is_some());
    Ok(())
}
