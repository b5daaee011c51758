//! Logs on standard error: one line per event, readable in a terminal (`pretty`) or one JSON
//! object per line (`json`). `RUST_LOG` overrides the levels. The handlers log one line per
//! request (method, route, status, duration) and never a token, secret or message text.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::options::LogFormat;

/// Our own crates at `info`; the AWS SDK and HTTP internals only when something is wrong.
const DEFAULT_FILTER: &str =
    "info,aws_config=warn,aws_smithy_runtime=warn,hyper=warn,hyper_util=warn,reqwest=warn";

pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder
            .compact()
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_ansi(false)
            .init(),
    }
}
