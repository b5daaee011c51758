//! The Giosg side of the run: the simulator started with the fixed ids and the local webhook
//! URLs, or real Giosg as the options name it; either way where to reach it and with which
//! secrets.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context as _;
use giosg_sim::{SimConfig, SimHandle, Simulator};
use shared::secret::Secret;
use url::Url;

use super::webhook::{WebhookKind, webhook_url};
use crate::options::GiosgChoice;

/// The simulator's ids are fixed, so a `--data-file` written by one run belongs to the same
/// organization and room in the next.
pub const SIM_ORG_ID: &str = "10ca1000-0000-4000-8000-000000000001";
pub const SIM_ROOM_ID: &str = "10ca1000-0000-4000-8000-000000000002";
pub const SIM_OTHER_ROOM_ID: &str = "10ca1000-0000-4000-8000-000000000003";

/// How to reach Giosg (or the simulator standing in for it).
pub(super) struct GiosgTarget {
    pub(super) base_url: Url,
    pub(super) org_id: String,
    pub(super) room_id: String,
    pub(super) api_token: Secret,
    pub(super) webhook_secret: Secret,
}

pub(super) async fn connect_giosg(
    choice: GiosgChoice,
    bind: IpAddr,
    api_url: &str,
) -> anyhow::Result<(GiosgTarget, Option<SimHandle>)> {
    match choice {
        GiosgChoice::Real {
            base_url,
            org_id,
            room_id,
            api_token,
            webhook_secret,
        } => Ok((
            GiosgTarget {
                base_url,
                org_id,
                room_id,
                api_token,
                webhook_secret,
            },
            None,
        )),
        GiosgChoice::Simulator {
            port,
            webhook_secret,
            profile,
        } => {
            let bind = SocketAddr::new(bind, port);
            let mut config = SimConfig::new(bind);
            config.behaviour = profile.behaviour();
            config.org_id = SIM_ORG_ID.to_owned();
            config.room_id = SIM_ROOM_ID.to_owned();
            config.other_room_id = SIM_OTHER_ROOM_ID.to_owned();
            config.chat_webhook_url = Some(webhook_url(
                api_url,
                WebhookKind::Chats,
                Some(&webhook_secret),
            ));
            config.message_webhook_url = Some(webhook_url(
                api_url,
                WebhookKind::Messages,
                Some(&webhook_secret),
            ));
            let sim = Simulator::start(config).await.with_context(|| {
                format!(
                    "cannot start the Giosg simulator on {bind} (pass --sim-port with a free port, or --sim-port 0)"
                )
            })?;
            let base_url = Url::parse(&sim.base_url()).context("the simulator's base URL")?;
            Ok((
                GiosgTarget {
                    base_url,
                    org_id: sim.org_id().to_owned(),
                    room_id: sim.room_id().to_owned(),
                    api_token: Secret::new(sim.api_token()),
                    webhook_secret,
                },
                Some(sim),
            ))
        }
    }
}
