//! `bench reconcile`: one reconciler run over N active chats, against moto (DynamoDB) and the
//! Giosg simulator in this process: the Giosg calls, the DynamoDB reads and writes (counted by
//! an SDK interceptor) and the time of the run, first when every chat misses an agent reply
//! whose webhook was lost (and no chat webhook told its counters), then again when nothing is
//! missing, then with the default cap of 200 Giosg calls when 1% of the chats lost a reply
//! whose chat `changed` (the counters) was delivered. Timing is printed, never asserted.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use giosg_sim::{SimConfig, Simulator};
use serde::Serialize;
use shared::aws::{OperationLog, sdk_config};
use shared::domain::chat::ChatEvent;
use shared::domain::input::VisitorName;
use shared::domain::{ChatId, ChatResource, EventAction, GiosgTime, OrgId, RoomId};
use shared::giosg::{GiosgClient, GiosgConfig};
use shared::secret::Secret;
use shared::service::{ReconcileLimits, Rules, Service, StartChat};
use shared::store::dynamodb::{DynamoStore, create_table};
use shared::store::{ChatStore, StoreContext};

use crate::emulators::Moto;

/// One measured run.
#[derive(Debug, Serialize)]
pub struct Row {
    pub active_chats: usize,
    /// `repair` (every chat missed a reply), `steady` (nothing missing) or `capped` (1% missed
    /// a reply, the counters told, 200 calls).
    pub run: &'static str,
    /// Chats whose counters disagreed with the stored messages (read first).
    pub chats_suspect: usize,
    pub chats_repaired: usize,
    pub giosg_calls: usize,
    pub dynamodb_reads: u64,
    pub dynamodb_writes: u64,
    pub seconds: f64,
}

/// Measures a repair run and a steady run for each chat count.
pub async fn measure(
    chat_counts: &[usize],
    concurrency: usize,
    moto_server: Option<std::path::PathBuf>,
) -> anyhow::Result<Vec<Row>> {
    let moto = Moto::start(moto_server).await?;
    let mut rows = Vec::new();
    for &count in chat_counts {
        eprintln!("== {count} active chats");
        let sim = Simulator::start(SimConfig::new("127.0.0.1:0".parse()?))
            .await
            .context("the Giosg simulator starts")?;
        let log = OperationLog::default();
        let sdk = sdk_config(Some(&moto.endpoint)).await;
        let plain = aws_sdk_dynamodb::Client::new(&sdk);
        let table = format!("reconcile-bench-{}", uuid::Uuid::new_v4().simple());
        create_table(&plain, &table).await?;
        let context = StoreContext::new(RoomId::new(sim.room_id()));
        let counted = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(log.clone())
                .build(),
        );
        let giosg = GiosgClient::new(GiosgConfig::new(
            sim.base_url().parse()?,
            OrgId::new(sim.org_id()),
            RoomId::new(sim.room_id()),
            Secret::new(sim.api_token()),
        ))?;
        let rules = Rules {
            org_id: OrgId::new(sim.org_id()),
            store_context: StoreContext::new(RoomId::new(sim.room_id())),
            allow_offline_chats: false,
            availability_cache: Duration::from_secs(60),
            send_claim_stale_after: shared::service::SEND_CLAIM_STALE_AFTER,
        };
        let plain_store = DynamoStore::new(plain, table.clone());
        let service = Service::new(DynamoStore::new(counted, table), giosg, rules);

        // The chats, each with an agent reply no webhook delivered (none is configured).
        let control = reqwest::Client::new();
        // moto serializes transactions: a few at a time, each retried once if moto refuses it.
        for batch in (0..count).collect::<Vec<_>>().chunks(8) {
            let start = |i: usize| {
                service.start_chat(StartChat {
                    token: None,
                    name: VisitorName::parse(Some(format!("Visitor {i}"))).expect("a name"),
                    request_id: format!("seed-{i}"),
                    visitor_ref: None,
                    source: None,
                })
            };
            let started = futures::future::join_all(batch.iter().map(|i| start(*i))).await;
            for (i, chat) in batch.iter().zip(started) {
                let chat = match chat {
                    Ok(chat) => chat,
                    Err(_) => start(*i).await.context("seeding a chat")?,
                };
                let chat = chat.chat.id;
                control
                    .post(format!("{}/_sim/chats/{chat}/messages", sim.base_url()))
                    .json(&serde_json::json!({"text": "a reply whose webhook was lost"}))
                    .send()
                    .await?
                    .error_for_status()?;
            }
        }
        log.take();

        let limits = ReconcileLimits {
            max_giosg_calls: usize::MAX,
            concurrency,
            ..ReconcileLimits::default()
        };
        let capped = ReconcileLimits {
            concurrency,
            ..ReconcileLimits::default()
        };
        for run_name in ["repair", "steady", "capped"] {
            let limits = if run_name == "capped" {
                lose_replies_but_tell_counters(&sim, &control, &plain_store, &context).await?;
                log.take();
                &capped
            } else {
                &limits
            };
            let started = Instant::now();
            let run = service.reconcile_active(limits).await?;
            let seconds = started.elapsed().as_secs_f64();
            let operations = log.take();
            let sum = |names: &[&str]| -> u64 {
                names
                    .iter()
                    .map(|name| operations.get(*name).copied().unwrap_or(0))
                    .sum()
            };
            let row = Row {
                active_chats: run.chats_active,
                run: run_name,
                chats_suspect: run.chats_suspect,
                chats_repaired: run.chats_repaired,
                giosg_calls: run.giosg_calls,
                dynamodb_reads: sum(&["GetItem", "BatchGetItem", "Query"]),
                dynamodb_writes: sum(&[
                    "PutItem",
                    "UpdateItem",
                    "DeleteItem",
                    "TransactWriteItems",
                ]),
                seconds,
            };
            eprintln!("   {row:?}");
            rows.push(row);
        }
        sim.shutdown().await;
    }
    Ok(rows)
}

/// In 1% of the chats (at least one, spread over the sweep's order), an agent reply whose
/// message webhook is lost while its chat `changed`, carrying the counters, is delivered
/// (folded into the store as the chat webhook would).
async fn lose_replies_but_tell_counters(
    sim: &giosg_sim::SimHandle,
    control: &reqwest::Client,
    store: &DynamoStore,
    context: &StoreContext,
) -> anyhow::Result<()> {
    let mut chats: Vec<ChatId> = store
        .active_chats(GiosgTime::from(chrono::DateTime::<chrono::Utc>::MIN_UTC))
        .await?
        .into_iter()
        .map(|chat| chat.id)
        .collect();
    chats.sort();
    let lost = (chats.len() / 100).max(1);
    for chat in chats.iter().rev().step_by(chats.len() / lost).take(lost) {
        let base = format!("{}/_sim/chats/{chat}", sim.base_url());
        control
            .post(format!("{base}/messages"))
            .json(&serde_json::json!({"text": "another reply whose webhook was lost"}))
            .send()
            .await?
            .error_for_status()?;
        let detail: serde_json::Value = control.get(&base).send().await?.json().await?;
        let resource: ChatResource = serde_json::from_value(detail["chat"].clone())?;
        let changed = ChatEvent {
            action: EventAction::Changed,
            resource: Some(resource),
            owner: None,
        };
        store.apply_chat_event(chat, &changed, context).await?;
    }
    Ok(())
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut text = String::from(
        "| active chats | run | suspects | chats repaired | Giosg calls | DynamoDB reads | DynamoDB writes | time |\n|--:|---|--:|--:|--:|--:|--:|--:|\n",
    );
    for row in rows {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} s |\n",
            row.active_chats,
            row.run,
            row.chats_suspect,
            row.chats_repaired,
            row.giosg_calls,
            row.dynamodb_reads,
            row.dynamodb_writes,
            row.seconds
        ));
    }
    text
}
