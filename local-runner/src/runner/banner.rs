//! What a running local-runner tells its user: the URLs to open (the visitor page, the agent
//! console, the API, the webhooks without their token), how to register the webhooks with real
//! Giosg, and the one `listening` line tests and scripts wait for.

use giosg_sim::SimHandle;

use super::Running;
use super::webhook::{WebhookKind, webhook_url};

impl Running {
    /// `http://127.0.0.1:PORT`: the API, the webhooks and the visitor page.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The simulator's base URL, when the simulator runs.
    pub fn sim_url(&self) -> Option<String> {
        self.sim.as_ref().map(SimHandle::base_url)
    }

    /// A webhook URL without its token (the banner never prints a secret).
    pub fn webhook_url(&self, kind: WebhookKind) -> String {
        webhook_url(&self.api_url, kind, None)
    }

    /// The one line tests and scripts wait for.
    pub fn listening_line(&self) -> String {
        format!(
            "listening api={} sim={}",
            self.api_url,
            self.sim_url().as_deref().unwrap_or("none")
        )
    }

    /// What to open, for a person.
    pub fn banner(&self) -> String {
        let mut text = String::new();
        let mut line = |s: String| {
            text.push_str(&s);
            text.push('\n');
        };
        line(String::new());
        line("Giosg chat bridge, running locally".to_owned());
        line(String::new());
        line(format!("  Visitor chat page    {}/", self.api_url));
        if let Some(sim) = self.sim_url() {
            line(format!(
                "  Agent console        {sim}/_sim/console   (Giosg simulator: play the agent here)"
            ));
        }
        line(format!("  API base             {}/v1", self.api_url));
        line(format!(
            "  Real-time feed       {}/v1/feed   (WebSocket: ?token=<visitor token>, then subscribe)",
            self.api_url.replacen("http", "ws", 1)
        ));
        let token_note = if self.sim.is_some() {
            "?token=<secret made for this run>"
        } else {
            "?token=<your WEBHOOK_SECRET>"
        };
        for kind in [WebhookKind::Chats, WebhookKind::Messages] {
            let label = match kind {
                WebhookKind::Chats => "Chats webhook",
                WebhookKind::Messages => "Messages webhook",
            };
            line(format!(
                "  {label:<20} {}{token_note}",
                self.webhook_url(kind)
            ));
        }
        line(String::new());
        line(format!("  Store                {}", self.store_description));
        line(format!("  Giosg                {}", self.giosg_description));
        line(match self.reconcile_every {
            Some(every) => format!(
                "  Reconciler           every {} s: repairs lost webhooks from Giosg's API (--reconcile-every 0: off)",
                every.as_secs()
            ),
            None => "  Reconciler           off (--reconcile-every SECONDS turns it on)".to_owned(),
        });
        if let Some(sim) = self.sim_url() {
            line(format!(
                "  Simulator control    {sim}/_sim/chats, /_sim/webhooks (see giosg-sim/README.md)"
            ));
        } else {
            line(String::new());
            line(
                "  Giosg must reach the webhooks: expose this port through a tunnel (for example"
                    .to_owned(),
            );
            line(format!(
                "  `cloudflared tunnel --url {}`) and register in your Giosg App:",
                self.api_url
            ));
            for kind in [WebhookKind::Chats, WebhookKind::Messages] {
                line(format!(
                    "    channel {}  ->  https://<tunnel host>{}?token=<your WEBHOOK_SECRET>",
                    kind.channel(&self.org_id),
                    kind.path()
                ));
            }
        }
        line(String::new());
        line("Ctrl-C stops.".to_owned());
        text
    }
}
