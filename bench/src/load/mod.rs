//! The local HTTP server under load: a closed-loop HTTP/1.1 load generator (keep-alive
//! connections, each sending its next request when the previous answer is complete) against a
//! server process whose CPU time and peak memory are read from `/proc`.
//!
//! This module owns the scenarios ([`run`]): distinct message webhooks, then history reads of a
//! filled chat, each at every connection count, on a fresh server:
//! - [`generator`]: the HTTP/1.1 load generator, and the HTTP request a recorded event stands for;
//! - [`server`]: the server process under test, started and probed;
//! - [`measure`](mod@measure): one measured run, beside Django's figures, and its report line.

mod generator;
mod measure;
mod server;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::emulators::fixed;
use crate::events::{self, RecordedEvent};
use generator::{LoadRequest, drive};
pub use measure::LoadResult;
use measure::{Reference, measure, print_load};
pub use server::ServerKind;
use server::{Identity, Server};

pub struct Options {
    pub server: ServerKind,
    pub events_dir: PathBuf,
    pub connections: Vec<usize>,
    pub webhooks: usize,
    pub history_reads: usize,
    pub history_messages: usize,
    pub history_limit: usize,
    pub logs_dir: PathBuf,
}

/// Recorded webhooks made new: message `added` envelopes with their own ids (in `namespace`), in
/// the server's organization and room, optionally moved to `chat` with increasing `created_at`.
struct Webhooks {
    template: String,
    namespace: u16,
}

impl Webhooks {
    fn make(
        &mut self,
        identity: &Identity,
        count: usize,
        chat: Option<&str>,
    ) -> anyhow::Result<Vec<LoadRequest>> {
        self.namespace += 1;
        let template = events::with_org_room(
            &self.template,
            &identity.org_id,
            &identity.room_id,
            fixed::WEBHOOK_SECRET,
            &identity.webhook_secret,
        )?;
        (0..count)
            .map(|n| {
                let id = events::numbered_id(self.namespace, n as u64);
                let mut event = events::with_resource_id(&template, &id)?;
                if let Some(chat) = chat {
                    let at = chrono::DateTime::from_timestamp(1_741_774_504 + n as i64, 0)
                        .unwrap_or_default()
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    event = events::with_chat(&event, chat, &at)?;
                }
                LoadRequest::from_event(&event)
            })
            .collect()
    }
}

pub async fn run(options: &Options) -> anyhow::Result<Vec<LoadResult>> {
    std::fs::create_dir_all(&options.logs_dir)?;
    let events = events::load(&options.events_dir)?;
    let find = |file: &str| -> anyhow::Result<&RecordedEvent> {
        events
            .iter()
            .find(|e| e.entry.file == file)
            .with_context(|| format!("{file} is not in the manifest"))
    };
    let webhooks = std::sync::Mutex::new(Webhooks {
        template: find("webhooks/message-added-visitor.json")?.text.clone(),
        namespace: 0x100,
    });
    let make = |identity: &Identity, count: usize, chat: Option<&str>| {
        webhooks
            .lock()
            .expect("webhooks lock")
            .make(identity, count, chat)
    };
    let probe = |identity: &Identity| -> anyhow::Result<LoadRequest> {
        Ok(make(identity, 1, None)?.remove(0))
    };
    let start_chat = find("api/start-chat-new-visitor.json")?.text.clone();
    let history = find("api/history.json")?.text.clone();
    let log = options.logs_dir.join("local-server.log");
    let mut results = Vec::new();

    for &connections in &options.connections {
        let server = Server::start(&options.server, log.clone(), probe).await?;
        let warmup = Arc::new(make(&server.identity, 100, None)?);
        drive(server.address, warmup, connections).await?;
        let requests = Arc::new(make(&server.identity, options.webhooks, None)?);
        let result = measure(
            &server,
            format!("webhook: {} distinct message added", options.webhooks),
            requests,
            connections,
            Reference {
                rps_low: if connections == 1 { 123.0 } else { 203.0 },
                rps_high: if connections == 1 { 155.0 } else { 241.0 },
                cpu_ms_per_request_low: 5.0,
                cpu_ms_per_request_high: 7.0,
                work_ratio: 1.0,
            },
        )
        .await?;
        print_load(&result);
        results.push(result);
        server.stop().await;
    }

    for &connections in &options.connections {
        let server = Server::start(&options.server, log.clone(), probe).await?;
        // A visitor's chat with `history_messages` messages, delivered as webhooks.
        let started = drive(
            server.address,
            Arc::new(vec![LoadRequest::from_event(&start_chat)?]),
            1,
        )
        .await?;
        let answer: Value = serde_json::from_slice(&started.last_body)?;
        let (Some(token), Some(chat)) = (
            answer["visitor_token"].as_str(),
            answer["chat"]["id"].as_str(),
        ) else {
            bail!("the server did not start a chat: {answer}");
        };
        let fill = Arc::new(make(
            &server.identity,
            options.history_messages,
            Some(chat),
        )?);
        let filled = drive(server.address, fill, 1).await?;
        if filled.statuses.keys().any(|status| *status != 200) {
            bail!("filling the chat answered {:?}", filled.statuses);
        }
        let substitutions = events::Substitutions {
            visitor_token: Some(token.to_owned()),
            chat_id: Some(chat.to_owned()),
            cursor: None,
        };
        let mut read = LoadRequest::from_event(&substitutions.apply(&history))?;
        read.path_and_query = format!("/v1/chats/{chat}/messages?limit={}", options.history_limit);
        let check = drive(server.address, Arc::new(vec![read.clone()]), 1).await?;
        let page: Value = serde_json::from_slice(&check.last_body)?;
        let returned = page["messages"].as_array().map_or(0, Vec::len);
        if returned != options.history_limit.min(options.history_messages) {
            bail!("a history page had {returned} messages: {page}");
        }
        drive(
            server.address,
            Arc::new(vec![read.clone(); 50]),
            connections,
        )
        .await?;
        let requests = Arc::new(vec![read; options.history_reads]);
        let result = measure(
            &server,
            format!(
                "history: {} reads, {} of a {}-message chat",
                options.history_reads, options.history_limit, options.history_messages
            ),
            requests,
            connections,
            Reference {
                rps_low: 56.0,
                rps_high: 67.0,
                cpu_ms_per_request_low: 15.0,
                cpu_ms_per_request_high: 15.0,
                work_ratio: 200.0 / options.history_limit as f64,
            },
        )
        .await?;
        print_load(&result);
        results.push(result);
        server.stop().await;
    }
    Ok(results)
}
