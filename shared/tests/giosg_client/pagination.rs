//! Pagination: `next` links followed across pages, always on Giosg's configured origin (a link
//! naming another origin is followed by its path) and never in a loop.

use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use serde_json::json;
use shared::domain::{ChatId, SenderType};
use shared::giosg::GiosgError;

use crate::{Harness, canned_client, canned_server, texts_from};

#[tokio::test]
async fn visitor_messages_follow_next_across_pages() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    let sent: Vec<String> = (0..8).map(|i| format!("message {i}")).collect();
    for text in &sent {
        h.client.send_message(&mut session, &chat, text).await?;
    }
    let messages = h.client.visitor_messages(&mut session, &chat).await?;
    assert_eq!(
        texts_from(&messages, SenderType::Visitor),
        sent,
        "all, in order"
    );
    assert!(h.count("visitor_messages").await? >= 3);
    Ok(())
}

#[tokio::test]
async fn visitor_chats_follow_next_across_pages() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    let mut started = Vec::new();
    for _ in 0..8 {
        started.push(h.client.start_chat(&mut session).await?.id.context("id")?);
    }
    let chats = h.client.visitor_chats(&mut session).await?;
    let mut listed: Vec<ChatId> = chats.into_iter().filter_map(|c| c.id).collect();
    listed.sort();
    started.sort();
    assert_eq!(listed, started);
    assert_eq!(h.count("visitor_chats").await?, 3, "8 chats in pages of 3");
    Ok(())
}

#[tokio::test]
async fn chat_memberships_follow_next_across_pages() -> Result<()> {
    let h = Harness::start().await?;
    let (session, chat) = h.visitor_with_chat().await?;
    for i in 0..7 {
        h.agent_joins(&chat, &format!("Agent {i}")).await?;
    }
    let members = h.client.chat_memberships(&chat).await?;
    assert_eq!(members.len(), 8, "the visitor and 7 agents");
    assert_eq!(
        members
            .iter()
            .filter_map(|m| m.visitor_id())
            .collect::<Vec<_>>(),
        [session.visitor_id().clone()]
    );
    assert_eq!(h.count("memberships").await?, 3);
    Ok(())
}

#[tokio::test]
async fn next_link_to_another_origin_is_followed_on_giosgs_origin_only() -> Result<()> {
    let (elsewhere, elsewhere_hits) =
        canned_server(200, r#"{"next":null,"results":[]}"#.into()).await?;
    let first_page = json!({
        "next": format!("http://{elsewhere}/api/v5/orgs/org/owned_chats/c/memberships?cursor=2"),
        "previous": null,
        "results": [{"member_id": "u1", "member_type": "user"}]
    });
    let (giosg, giosg_hits) = canned_server(200, first_page.to_string()).await?;
    let client = canned_client(giosg)?;
    // The canned server answers the second page like the first, so the client sees its own
    // rebased link again and stops: what matters is where the second request went.
    let error = client
        .chat_memberships(&ChatId::new("c"))
        .await
        .expect_err("the canned pages loop");
    assert!(
        matches!(&error, GiosgError::InvalidResponse { reason, .. } if reason.contains("already read")),
        "{error:?}"
    );
    assert_eq!(
        giosg_hits.load(Ordering::SeqCst),
        2,
        "the foreign link's path and query were followed on Giosg's origin"
    );
    assert_eq!(
        elsewhere_hits.load(Ordering::SeqCst),
        0,
        "the API token never went to another origin"
    );
    Ok(())
}

#[tokio::test]
async fn a_next_link_that_loops_is_not_followed_forever() -> Result<()> {
    let page =
        r#"{"next": "http://{self}/api/v5/orgs/org/owned_chats/c/memberships", "results": []}"#;
    let (server, hits) = canned_server(200, page.into()).await?;
    let client = canned_client(server)?;
    let error = client
        .chat_memberships(&ChatId::new("c"))
        .await
        .expect_err("loop");
    assert!(
        matches!(error, GiosgError::InvalidResponse { .. }),
        "{error:?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "a next link back to a page already read is never requested"
    );
    Ok(())
}
