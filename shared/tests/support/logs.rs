//! Captures everything a test binary logs (except the simulator's own lines) at TRACE, so tests
//! can check what reaches the log and, above all, what never does.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once per test binary: JSON lines (as in Lambda) when
/// `json`, the plain format otherwise. The first call decides.
pub fn capture(json: bool) -> &'static LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        let filter = Targets::new()
            .with_default(LevelFilter::TRACE)
            .with_target("giosg_sim", LevelFilter::OFF);
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone());
        let installed = if json {
            tracing_subscriber::registry()
                .with(layer.json().flatten_event(true))
                .with(filter)
                .try_init()
        } else {
            tracing_subscriber::registry()
                .with(layer)
                .with(filter)
                .try_init()
        };
        installed.expect("install the capturing subscriber");
        buffer
    })
}

/// Everything captured so far.
pub fn text() -> String {
    let buffer = capture(false);
    String::from_utf8_lossy(&buffer.0.lock().expect("log buffer")).into_owned()
}
