//! Logs go to a file through a non-blocking writer, never to the terminal.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Installs the file logger; keep the guard alive for the program's life so
/// buffered lines are flushed on exit.
pub fn init(dir: &Path) -> std::io::Result<(WorkerGuard, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let appender = tracing_appender::rolling::never(dir, "flightdeck.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter =
        EnvFilter::try_from_env("FLIGHTDECK_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok((guard, dir.join("flightdeck.log")))
}
