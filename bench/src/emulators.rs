//! The emulators a deployed function talks to: moto's server for DynamoDB and Secrets Manager,
//! the Giosg simulator, each behind a [`CountingProxy`], and the emulators' own latency.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aws_sdk_dynamodb::types::AttributeValue;
use giosg_sim::{SimConfig, SimHandle, Simulator};
use serde::{Deserialize, Serialize};
use shared::aws::sdk_config;
use shared::domain::{OrgId, RoomId};
use shared::giosg::{GiosgClient, GiosgConfig};
use shared::secret::Secret;
use shared::store::dynamodb::{TableStream, create_table_with};

use crate::proxy::{CountingProxy, Labeling};
use crate::stats::Summary;
use crate::tls::{TestCa, TlsFront};

/// The fixed values the recorded events in `events/` were made with (events/README.md).
pub mod fixed {
    pub const ORG_ID: &str = "6f2b6d0e-0000-4000-8000-000000000001";
    pub const ROOM_ID: &str = "0b2f3c4d-0000-4000-8000-0000000000aa";
    pub const OTHER_ROOM_ID: &str = "0b2f3c4d-0000-4000-8000-0000000000bb";
    pub const WEBHOOK_SECRET: &str = "local-webhook-secret-0123456789";
    pub const REGION: &str = "eu-west-1";
}

pub const TABLE_NAME: &str = "giosg-bridge-bench";
pub const SECRET_NAME: &str = "giosg-bridge/bench";

/// A `moto_server` process, stopped (by its watchdog) soon after this process ends.
pub struct Moto {
    pub endpoint: String,
    _child: tokio::process::Child,
}

impl Moto {
    pub async fn start(program: Option<PathBuf>) -> anyhow::Result<Self> {
        let program = program
            .or_else(|| std::env::var_os("MOTO_SERVER_BIN").map(PathBuf::from))
            .or_else(|| {
                let venv = PathBuf::from(".venv/bin/moto_server");
                venv.is_file().then_some(venv)
            })
            .unwrap_or_else(|| PathBuf::from("moto_server"));
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        // A watchdog shell stops moto when this process is gone, however it ends.
        let watchdog = r#"
            "$1" -H 127.0.0.1 -p "$2" >/dev/null 2>&1 &
            server=$!
            trap 'kill $server 2>/dev/null' EXIT INT TERM
            while kill -0 "$3" 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.5; done
        "#;
        let child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(watchdog)
            .arg("moto-watchdog")
            .arg(&program)
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (run `bash scripts/test --no-run` once to install moto into .venv)",
                    program.display()
                )
            })?;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                bail!("moto_server did not answer on {address} within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            endpoint: format!("http://{address}"),
            _child: child,
        })
    }
}

/// Everything a function process is pointed at.
pub struct Emulators {
    pub moto: Moto,
    /// In front of moto: counts `X-Amz-Target`s.
    pub aws: CountingProxy,
    pub sim: SimHandle,
    /// In front of the simulator: times Giosg calls (the simulator counts them).
    pub giosg: CountingProxy,
    pub secret_id: String,
    /// TLS in front of the proxies, once [`Emulators::serve_tls`] has started it.
    tls: Vec<TlsFront>,
}

impl Emulators {
    /// Starts moto (with the table and the secret) and the simulator (with the events' ids).
    pub async fn start(moto_program: Option<PathBuf>) -> anyhow::Result<Self> {
        let moto = Moto::start(moto_program).await?;
        let sdk = aws_config(&moto.endpoint).await;
        // No stream: nothing here reads it, and moto's transactions slow down with every
        // stream record it keeps (see `TableStream::Off`).
        create_table_with(
            &aws_sdk_dynamodb::Client::new(&sdk),
            TABLE_NAME,
            TableStream::Off,
        )
        .await
        .context("creating the table on moto")?;

        let mut config = SimConfig::new("127.0.0.1:0".parse()?);
        config.org_id = fixed::ORG_ID.into();
        config.room_id = fixed::ROOM_ID.into();
        config.other_room_id = fixed::OTHER_ROOM_ID.into();
        let sim = Simulator::start(config).await?;

        let secret = serde_json::json!({
            "giosg_api_token": sim.api_token(),
            "webhook_secret": fixed::WEBHOOK_SECRET,
        });
        let created = aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(SECRET_NAME)
            .secret_string(secret.to_string())
            .send()
            .await
            .context("creating the secret on moto")?;
        let secret_id = created.arn().unwrap_or(SECRET_NAME).to_owned();

        let aws = CountingProxy::start(&moto.endpoint, Labeling::AwsTarget).await?;
        let giosg = CountingProxy::start(&sim.base_url(), Labeling::MethodAndPath).await?;
        Ok(Self {
            moto,
            aws,
            sim,
            giosg,
            secret_id,
            tls: Vec::new(),
        })
    }

    /// Puts TLS with `ca`'s certificate in front of the proxies, one port per service as AWS
    /// has one host per service (so each client pays its own handshake), and returns the
    /// environment that points a function at them.
    pub async fn serve_tls(&mut self, ca: &TestCa) -> anyhow::Result<Vec<(String, String)>> {
        let mut env = Vec::new();
        for (name, upstream) in [
            ("AWS_ENDPOINT_URL_DYNAMODB", self.aws.address()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", self.aws.address()),
            // SNS and API Gateway's management API (the feed functions).
            ("AWS_ENDPOINT_URL", self.aws.address()),
            ("GIOSG_BASE_URL", self.giosg.address()),
        ] {
            let front = TlsFront::start(ca, upstream).await?;
            env.push((name.to_owned(), front.url()));
            self.tls.push(front);
        }
        Ok(env)
    }

    /// Stops the TLS fronts: the functions talk plain HTTP to the proxies again.
    pub fn stop_tls(&mut self) {
        self.tls.clear();
    }

    /// TLS handshakes completed since the last call, over every front.
    pub fn take_handshakes(&self) -> u64 {
        self.tls.iter().map(TlsFront::take_handshakes).sum()
    }

    /// The emulators' own latency, for telling handler time from emulator time.
    pub async fn own_latency(&self, samples: usize) -> anyhow::Result<EmulatorLatency> {
        let direct = dynamodb_get_item(&self.moto.endpoint, samples).await?;
        self.aws.take();
        let via_proxy = dynamodb_get_item(&self.aws.url(), samples).await?;
        self.aws.take();
        let sim_direct = giosg_room(&self.sim.base_url(), samples).await?;
        let sim_via_proxy = giosg_room(&self.giosg.url(), samples).await?;
        self.giosg.take();
        Ok(EmulatorLatency {
            moto_get_item_direct: direct,
            moto_get_item_via_proxy: via_proxy,
            sim_room_direct: sim_direct,
            sim_room_via_proxy: sim_via_proxy,
        })
    }
}

/// Raw round trips to the emulators, through the same SDK and Giosg client the functions use.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EmulatorLatency {
    /// A consistent `GetItem` of a missing key, straight to moto.
    pub moto_get_item_direct: Summary,
    /// The same through the counting proxy (what a function sees).
    pub moto_get_item_via_proxy: Summary,
    /// `GET` of the room (a visitor call), straight to the simulator.
    pub sim_room_direct: Summary,
    /// The same through the timing proxy.
    pub sim_room_via_proxy: Summary,
}

/// The SDK configuration the functions use, for an endpoint, in the functions' region.
async fn aws_config(endpoint: &str) -> aws_config::SdkConfig {
    sdk_config(Some(endpoint))
        .await
        .to_builder()
        .region(aws_config::Region::new(fixed::REGION))
        .build()
}

async fn dynamodb_get_item(endpoint: &str, samples: usize) -> anyhow::Result<Summary> {
    let client = aws_sdk_dynamodb::Client::new(&aws_config(endpoint).await);
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples + 10 {
        let started = Instant::now();
        client
            .get_item()
            .table_name(TABLE_NAME)
            .key("pk", AttributeValue::S("CHAT#bench-missing".into()))
            .key("sk", AttributeValue::S("CHAT".into()))
            .consistent_read(true)
            .send()
            .await
            .context("GetItem on moto")?;
        if i >= 10 {
            times.push(started.elapsed());
        }
    }
    Ok(Summary::of(&times))
}

async fn giosg_room(base_url: &str, samples: usize) -> anyhow::Result<Summary> {
    let config = GiosgConfig::new(
        base_url.parse()?,
        OrgId::new(fixed::ORG_ID),
        RoomId::new(fixed::ROOM_ID),
        Secret::new("unused-for-visitor-calls"),
    );
    let client = GiosgClient::new(config)?;
    let mut session = client.authenticate_visitor(None).await?;
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples + 10 {
        let started = Instant::now();
        client.room(&mut session).await?;
        if i >= 10 {
            times.push(started.elapsed());
        }
    }
    Ok(Summary::of(&times))
}

/// A visitor with one chat of `messages` messages, written straight into the table (not through
/// a function): what `chat-history` reads. Returns the visitor token and the chat id.
pub async fn prepare_history_chat(
    emulators: &Emulators,
    events: &[crate::events::RecordedEvent],
    messages: u64,
) -> anyhow::Result<(String, String)> {
    use shared::domain::EventAction;
    use shared::domain::VisitorId;
    use shared::domain::chat::{ChatEvent, ChatOwner};
    use shared::domain::visitor::{
        GiosgCredentials, SealedCredentials, VisitorRecord, VisitorToken,
    };
    use shared::domain::webhook::{parse_chat_webhook, parse_message_webhook};
    use shared::store::{ChatStore, StoreContext, dynamodb::DynamoStore};

    let body_of = |file: &str| -> anyhow::Result<serde_json::Value> {
        let event = events
            .iter()
            .find(|e| e.entry.file == file)
            .with_context(|| format!("{file} is not in the manifest"))?;
        let event: serde_json::Value = serde_json::from_str(&event.text)?;
        Ok(serde_json::from_str(
            event["body"].as_str().context("no body")?,
        )?)
    };
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&aws_config(&emulators.moto.endpoint).await),
        TABLE_NAME,
    );
    let context = StoreContext::new(RoomId::new(fixed::ROOM_ID));
    let token = VisitorToken::generate();
    let chat_id = crate::events::numbered_id(2, 1);

    let mut chat = body_of("webhooks/chat-added.json")?;
    chat["resource_id"] = chat_id.clone().into();
    chat["resource"]["id"] = chat_id.clone().into();
    let chat = parse_chat_webhook(chat.to_string().as_bytes())?;
    let visitor = VisitorRecord {
        key: token.key(),
        giosg_visitor_id: VisitorId::new("3f0c9e1a2b4d4c6e8a0b1c2d3e4f5a6b"),
        credentials: SealedCredentials::seal(
            &GiosgCredentials {
                visitor_secret_id: Secret::new("bench-visitor-secret"),
                access_token: Secret::new("bench-access-token"),
                access_token_expires_at: chrono::Utc::now(),
            },
            &token,
        ),
        name: "Ada Lovelace".into(),
        latest_chat_id: Some(chat.chat_id.clone()),
        created_at: chrono::Utc::now(),
        visitor_ref: None,
        identity: None,
    };
    store.put_visitor(&visitor, &context).await?;
    let event = ChatEvent {
        action: EventAction::Added,
        resource: chat.event.resource.clone(),
        owner: Some(ChatOwner {
            visitor: token.key(),
            visitor_name: visitor.name.clone(),
        }),
    };
    store
        .apply_chat_event(&chat.chat_id, &event, &context)
        .await?;

    let template = body_of("webhooks/message-added-visitor.json")?;
    for n in 0..messages {
        let id = crate::events::numbered_id(3, n);
        let mut body = template.clone();
        body["channel"] = format!(
            "/api/v5/orgs/{}/owned_chats/{chat_id}/messages",
            fixed::ORG_ID
        )
        .into();
        body["resource_id"] = id.clone().into();
        body["resource"]["id"] = id.into();
        body["resource"]["chat_id"] = chat_id.clone().into();
        body["resource"]["created_at"] =
            chrono::DateTime::from_timestamp(1_741_774_504 + n as i64, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into();
        let hook = parse_message_webhook(body.to_string().as_bytes())?;
        store
            .apply_message_event(&hook.chat_id, &hook.message_id, &hook.event, &context)
            .await?;
    }
    Ok((token.expose().to_owned(), chat_id))
}

impl Emulators {
    /// Empties the table except the items `keep` selects, by recreating it: moto copies every
    /// table on each `TransactWriteItems` (its rollback), so its latency grows with the items
    /// stored, and a long run would otherwise measure mostly that.
    pub async fn compact_table(
        &self,
        keep: impl Fn(&std::collections::HashMap<String, AttributeValue>) -> bool,
    ) -> anyhow::Result<()> {
        let client = aws_sdk_dynamodb::Client::new(&aws_config(&self.moto.endpoint).await);
        let mut kept = Vec::new();
        let mut total = 0usize;
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(TABLE_NAME)
                .set_exclusive_start_key(start)
                .send()
                .await
                .context("scanning the table")?;
            for item in page.items.unwrap_or_default() {
                total += 1;
                if keep(&item) {
                    kept.push(item);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        if total == kept.len() {
            return Ok(());
        }
        client
            .delete_table()
            .table_name(TABLE_NAME)
            .send()
            .await
            .context("deleting the table")?;
        create_table_with(&client, TABLE_NAME, TableStream::Off)
            .await
            .context("recreating the table")?;
        for item in kept {
            client
                .put_item()
                .table_name(TABLE_NAME)
                .set_item(Some(item))
                .send()
                .await
                .context("restoring an item")?;
        }
        Ok(())
    }
}
