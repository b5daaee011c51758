//! `local-runner`: runs the Giosg chat bridge locally (see the crate documentation and
//! `local-runner/README.md`).

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use local_runner::options::Args;
use local_runner::{logging, runner};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(args.log_format);
    let options = match args.resolve(|name| std::env::var(name).ok()) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("local-runner: {error}");
            return ExitCode::from(2);
        }
    };
    let running = match runner::start(options).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("local-runner could not start: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "{}", running.banner());
    let _ = writeln!(stdout, "{}", running.listening_line());
    let _ = stdout.flush();
    drop(stdout);

    if let Err(error) = stop_signal().await {
        eprintln!("local-runner: {error:#}");
    }
    tracing::info!("stopping");
    match running.stop().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("local-runner: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            ctrl_c = tokio::signal::ctrl_c() => ctrl_c.context("cannot wait for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    Ok(())
}
