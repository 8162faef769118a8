//! Command line: parses nothing itself (clap does), dispatches to the library,
//! and turns outcomes into exit codes (SPEC §11).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::pipeline::{self, RunEvent, RunOptions, RunState, RunSummary};
use crate::project::{self, Project};

/// Exit codes: 0 success, 1 validation failed, 2 bad usage or project file,
/// 3 database or runtime failure.
pub mod exit {
    pub const OK: i32 = 0;
    pub const VALIDATION: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const RUNTIME: i32 = 3;
}

#[derive(Debug, Parser)]
#[command(
    name = "flightdeck",
    version,
    about = "A terminal cockpit for data migrations"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Generate the bundled sample on embedded SQLite (no server) and run it.
    Demo {
        /// Legacy `models` rows to generate the first time.
        #[arg(long, default_value_t = 5000)]
        rows: u64,
        /// Slow the run down to at most this many rows per second.
        #[arg(long)]
        pace: Option<f64>,
        /// Print progress and a JSON summary instead of opening the cockpit.
        #[arg(long)]
        headless: bool,
        /// Regenerate the demo from scratch (drops its previous target).
        #[arg(long)]
        fresh: bool,
    },
    /// Copy a bundled sample project into DIR and generate its legacy database.
    Sample {
        /// Sample name (ai-research).
        name: String,
        #[arg(long)]
        into: PathBuf,
        /// Legacy `models` rows (the other tables scale with it).
        #[arg(long, default_value_t = 5000)]
        rows: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Overwrite an existing project and legacy database in DIR.
        #[arg(long)]
        force: bool,
    },
    /// Run a migration project.
    Run {
        project: PathBuf,
        /// No cockpit: progress on stderr, one JSON summary on stdout.
        #[arg(long)]
        headless: bool,
        /// Slow the run down to at most this many rows per second.
        #[arg(long)]
        pace: Option<f64>,
        /// Accept every recommendation whose confidence is at least C (0..1);
        /// `[evolution]` still decides what may be applied.
        #[arg(long, value_name = "C", value_parser = parse_confidence)]
        accept_above: Option<f64>,
    },
    /// Parse the project, connect to the source, check tables and columns, and
    /// print the plan. Writes nothing.
    Check { project: PathBuf },
    /// Print the event log of the project's target, newest first.
    Log {
        project: PathBuf,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// At most this many events.
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
}

/// Runs a parsed command; returns the process exit code.
pub async fn dispatch(cli: Cli) -> i32 {
    match cli.command {
        Cmd::Sample {
            name,
            into,
            rows,
            seed,
            force,
        } => sample(&name, &into, rows, seed, force).await,
        Cmd::Demo {
            rows,
            pace,
            headless: _,
            fresh,
        } => demo(rows, pace, fresh).await,
        Cmd::Run {
            project,
            headless: _,
            pace,
            accept_above,
        } => {
            let options = RunOptions { pace, accept_above };
            run_headless(&project, options).await
        }
        Cmd::Check { project } => check(&project).await,
        Cmd::Log {
            project,
            json,
            limit,
        } => log(&project, json, limit).await,
    }
}

fn load(path: &Path) -> Result<Project, i32> {
    project::load(path).map_err(|e| {
        eprintln!("{e}");
        exit::USAGE
    })
}

async fn sample(name: &str, into: &Path, rows: u64, seed: u64, force: bool) -> i32 {
    let opts = crate::sample::SampleOptions { rows, seed, force };
    match crate::sample::install(name, into, &opts).await {
        Ok(s) => {
            for (table, n) in &s.tables {
                eprintln!("  {table:<16} {n:>10} rows");
            }
            println!("{}", s.project_file.display());
            exit::OK
        }
        Err(e) => {
            eprintln!("flightdeck sample: {e}");
            exit::USAGE
        }
    }
}

async fn demo(rows: u64, pace: Option<f64>, fresh: bool) -> i32 {
    let dir = crate::paths::data_dir().join("demo").join("ai-research");
    let project_file = dir.join("project.toml");
    if fresh && dir.exists() {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            eprintln!("flightdeck demo: cannot clear {}: {e}", dir.display());
            return exit::RUNTIME;
        }
    }
    if !project_file.exists() {
        eprintln!(
            "generating the ai-research sample ({rows} models) in {}",
            dir.display()
        );
        let code = sample("ai-research", &dir, rows, 42, false).await;
        if code != exit::OK {
            return code;
        }
    }
    let options = RunOptions {
        pace,
        ..RunOptions::default()
    };
    run_headless(&project_file, options).await
}

async fn check(path: &Path) -> i32 {
    let project = match load(path) {
        Ok(p) => Arc::new(p),
        Err(code) => return code,
    };
    match pipeline::prepare(project.clone(), false).await {
        Ok(prepared) => {
            println!(
                "{}: {} → {}",
                project.name(),
                project.source_url.redacted(),
                project.target_url.redacted()
            );
            println!("plan (foreign-key order):");
            for (i, t) in prepared.tables.iter().enumerate() {
                println!(
                    "  {}. {} → {} ({} columns)",
                    i + 1,
                    t.source_table(),
                    t.target_table(),
                    t.target_columns().len()
                );
            }
            println!("ok: nothing was written");
            exit::OK
        }
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}

fn parse_confidence(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(c) if (0.0..=1.0).contains(&c) => Ok(c),
        _ => Err(format!("\"{s}\" is not a confidence between 0 and 1")),
    }
}

/// Runs the project to the end with progress on stderr and the JSON summary
/// on stdout. SIGINT/SIGTERM/SIGHUP stop it at a batch boundary.
pub async fn run_headless(path: &Path, options: RunOptions) -> i32 {
    let project = match load(path) {
        Ok(p) => Arc::new(p),
        Err(code) => return code,
    };
    let prepared = match pipeline::prepare(project.clone(), true).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return e.exit_code();
        }
    };
    let mut handle = pipeline::spawn(prepared, options);
    let progress = Progress::new();
    let mut summary: Option<RunSummary> = None;
    let mut failure: Option<String> = None;
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            event = handle.events.recv() => {
                let Some(event) = event else { break };
                progress.on(&event);
                match event {
                    RunEvent::Finished(s) => summary = Some(s),
                    RunEvent::Failed { error } => failure = Some(error),
                    _ => {}
                }
            }
            _ = &mut stop => {
                eprintln!("stopping at the next batch boundary…");
                handle.control.cancel();
            }
        }
    }
    progress.finish();
    if let Some(s) = summary {
        println!("{}", serde_json::to_string(&s).unwrap_or_default());
        return match s.status {
            RunState::Completed => exit::OK,
            _ => exit::RUNTIME,
        };
    }
    eprintln!(
        "flightdeck: {}",
        failure.unwrap_or_else(|| "the run ended without a summary".into())
    );
    exit::RUNTIME
}

/// Resolves on the first SIGINT, SIGTERM or SIGHUP.
pub async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    async fn wait(kind: SignalKind) {
        match signal(kind) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = wait(SignalKind::terminate()) => {}
        _ = wait(SignalKind::hangup()) => {}
    }
}

/// Headless progress on stderr; indicatif hides itself when stderr is not a
/// terminal.
struct Progress {
    bar: indicatif::ProgressBar,
    tables: std::cell::RefCell<Vec<(String, u64)>>,
}

impl Progress {
    fn new() -> Self {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} rows")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self {
            bar,
            tables: Default::default(),
        }
    }

    fn on(&self, e: &RunEvent) {
        match e {
            RunEvent::Started { tables, .. } => {
                *self.tables.borrow_mut() = tables
                    .iter()
                    .map(|t| (t.source.clone(), t.source_rows))
                    .collect();
            }
            RunEvent::TableStarted { table } => {
                if let Some((name, total)) = self.tables.borrow().get(*table) {
                    self.bar.set_length(*total);
                    self.bar.set_position(0);
                    self.bar.set_message(name.clone());
                }
            }
            RunEvent::Progress { progress, .. } | RunEvent::TableFinished { progress, .. } => {
                self.bar.set_position(progress.read);
            }
            _ => {}
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

async fn log(path: &Path, json: bool, limit: usize) -> i32 {
    let project = match load(path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(p) = project.target_url.sqlite_path()
        && !p.exists()
    {
        eprintln!(
            "no event log yet: {} does not exist (run the project first)",
            p.display()
        );
        return exit::RUNTIME;
    }
    let db = match crate::db::connect(&project.target_url, false).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("{e}");
            return exit::RUNTIME;
        }
    };
    if let Err(e) = crate::eventlog::store::ensure_schema(db.as_ref()).await {
        eprintln!("{e}");
        return exit::RUNTIME;
    }
    match crate::eventlog::store::read_events(db.as_ref(), None, limit).await {
        Ok(events) => {
            for e in events {
                if json {
                    println!("{}", serde_json::to_string(&e).unwrap_or_default());
                } else {
                    let run = e.run_id.to_string();
                    println!(
                        "{:>6}  {}  {}  {:<24} {}",
                        e.id,
                        e.at.format("%Y-%m-%d %H:%M:%S"),
                        &run[..8],
                        e.kind,
                        e.summary
                    );
                }
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("{e}");
            exit::RUNTIME
        }
    }
}
