//! Command line: parses nothing itself (clap does), dispatches to the library,
//! and turns outcomes into exit codes (SPEC §11).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::pipeline::{self, RunOptions};
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
        /// Slow the run down to at most this many rows per second. In the
        /// cockpit the demo goes at 1000 rows/s unless told otherwise, so an
        /// audience sees the profile and the queue grow; 0: full speed.
        #[arg(long)]
        pace: Option<f64>,
        /// Print progress and a JSON summary instead of opening the cockpit.
        #[arg(long)]
        headless: bool,
        /// Regenerate the demo from scratch (drops its previous target).
        #[arg(long)]
        fresh: bool,
        /// Cockpit theme: dark, light, high-contrast, monochrome or a user theme.
        #[arg(long)]
        theme: Option<String>,
    },
    /// Open the cockpit on a project (press `s` to start the run).
    Open {
        project: PathBuf,
        /// Hide and refuse every action that changes the target.
        #[arg(long)]
        read_only: bool,
        /// Cockpit theme: dark, light, high-contrast, monochrome or a user theme.
        #[arg(long)]
        theme: Option<String>,
        /// Slow the run down to at most this many rows per second.
        #[arg(long)]
        pace: Option<f64>,
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
        /// Overwrite an existing project and legacy database in DIR
        /// (ai-research-mysql: and replace the legacy tables in the server).
        #[arg(long)]
        force: bool,
        /// ai-research-mysql: the MariaDB/MySQL database the legacy tables are loaded into.
        #[arg(long)]
        source_url: Option<String>,
        /// ai-research-mysql: the PostgreSQL database the project migrates into.
        #[arg(long)]
        target_url: Option<String>,
    },
    /// Run a migration project: in the cockpit, or headless.
    Run {
        project: PathBuf,
        /// No cockpit: progress on stderr, one JSON summary on stdout.
        #[arg(long)]
        headless: bool,
        /// Slow the run down to at most this many rows per second.
        #[arg(long)]
        pace: Option<f64>,
        /// Take over the target's lock when the process holding it is gone.
        #[arg(long)]
        take_over: bool,
        /// Accept every recommendation whose confidence is at least C (0..1);
        /// `[evolution]` still decides what may be applied.
        #[arg(long, value_name = "C", value_parser = parse_confidence)]
        accept_above: Option<f64>,
    },
    /// Parse the project, connect to the source, run the pre-migration checks
    /// and print the plan. Writes nothing.
    Check { project: PathBuf },
    /// Undo the latest run (or everything after --to EVENT) from the event log.
    Rollback {
        project: PathBuf,
        /// Keep this event and everything before it; undo what came after.
        #[arg(long)]
        to: Option<i64>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Take over the target's lock when the process holding it is gone.
        #[arg(long)]
        take_over: bool,
        /// Undo at most this many steps per second (demos).
        #[arg(long)]
        pace: Option<f64>,
    },
    /// Write a report of the latest run (or --run) for stakeholders: HTML or
    /// Markdown, by the extension of --out.
    Report {
        project: PathBuf,
        /// The file to write: .html/.htm or .md/.markdown.
        #[arg(long)]
        out: PathBuf,
        /// A run id, or the start of one (`flightdeck log` shows them).
        #[arg(long)]
        run: Option<String>,
        /// Override the format the extension implies.
        #[arg(long, value_enum)]
        format: Option<crate::report::Format>,
    },
    /// Schema versions of the target: the changes between two, each
    /// classified backward-compatible, forward-compatible or breaking, with
    /// the migration path and its rollback; with --env, drift of an
    /// environment's live schema from the latest version. Exits 1 on a
    /// breaking change or on drift.
    Diff {
        project: PathBuf,
        /// From this version (default: the first version of the latest run).
        #[arg(long)]
        from: Option<i64>,
        /// To this version (default: the latest).
        #[arg(long)]
        to: Option<i64>,
        /// Compare [environments.NAME]'s live schema with the latest version
        /// (repeatable).
        #[arg(long = "env", value_name = "NAME")]
        envs: Vec<String>,
        /// List the versions instead.
        #[arg(long)]
        list: bool,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// The recommendations the latest completed run left, and decisions on
    /// them: accepted changes are applied now, in the run's name, so its
    /// rollback undoes them. Without a decision, lists the queue.
    #[command(alias = "recs")]
    Recommendations {
        project: PathBuf,
        #[command(flatten)]
        request: crate::decisions::Request,
    },
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

/// Set by `leave_now`: the process leaves without waiting for anything.
static LEAVING_AT_ONCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs a parsed command; returns the process exit code. Every SQLite
/// database it wrote is closed first, so the file is whole on its own.
pub async fn dispatch(cli: Cli) -> i32 {
    crate::db::hold_sqlite_open();
    let code = command(cli).await;
    if !LEAVING_AT_ONCE.load(std::sync::atomic::Ordering::Relaxed) {
        crate::db::close_sqlite(std::time::Duration::from_secs(5)).await;
    }
    code
}

async fn command(cli: Cli) -> i32 {
    match cli.command {
        Cmd::Sample {
            name,
            into,
            rows,
            seed,
            force,
            source_url,
            target_url,
        } if name == "ai-research-mysql" => {
            let opts = crate::sample::SampleOptions { rows, seed, force };
            sample_on_server(&into, &opts, source_url, target_url).await
        }
        Cmd::Sample {
            name,
            into,
            rows,
            seed,
            force,
            ..
        } => sample(&name, &into, rows, seed, force).await,
        Cmd::Demo {
            rows,
            pace,
            headless,
            fresh,
            theme,
        } => demo(rows, pace, fresh, headless, theme).await,
        Cmd::Open {
            project,
            read_only,
            theme,
            pace,
        } => {
            let options = crate::cockpit::OpenOptions {
                read_only,
                theme,
                autostart: false,
                pace,
                take_over: false,
            };
            crate::cockpit::open(&project, options).await
        }
        Cmd::Run {
            project,
            headless,
            pace,
            take_over,
            accept_above,
        } => {
            if headless || !crate::cockpit::interactive() {
                let options = RunOptions {
                    pace,
                    take_over,
                    accept_above,
                };
                crate::headless::run(&project, options).await
            } else {
                let options = crate::cockpit::OpenOptions {
                    autostart: true,
                    pace,
                    take_over,
                    ..Default::default()
                };
                crate::cockpit::open(&project, options).await
            }
        }
        Cmd::Check { project } => check(&project).await,
        Cmd::Rollback {
            project,
            to,
            yes,
            take_over,
            pace,
        } => rollback(&project, to, yes, take_over, pace).await,
        Cmd::Log {
            project,
            json,
            limit,
        } => log(&project, json, limit).await,
        Cmd::Recommendations { project, request } => crate::decisions::run(&project, request).await,
        Cmd::Report {
            project,
            out,
            run,
            format,
        } => report(&project, &out, run.as_deref(), format).await,
        Cmd::Diff {
            project,
            from,
            to,
            envs,
            list,
            json,
        } => diff(&project, from, to, &envs, list, json).await,
    }
}

pub(crate) fn load(path: &Path) -> Result<Project, i32> {
    project::load(path).map_err(|e| {
        crate::tell!("{e}");
        exit::USAGE
    })
}

async fn sample(name: &str, into: &Path, rows: u64, seed: u64, force: bool) -> i32 {
    let opts = crate::sample::SampleOptions { rows, seed, force };
    match crate::sample::install(name, into, &opts).await {
        Ok(s) => {
            for (table, n) in &s.tables {
                crate::tell!("  {table:<16} {n:>10} rows");
            }
            crate::say!("{}", s.project_file.display());
            exit::OK
        }
        Err(e) => {
            crate::tell!("flightdeck sample: {e}");
            exit::USAGE
        }
    }
}

/// `sample ai-research-mysql`: the legacy data goes into a server.
async fn sample_on_server(
    into: &Path,
    opts: &crate::sample::SampleOptions,
    source: Option<String>,
    target: Option<String>,
) -> i32 {
    let parse = |u: &str| crate::db::DbUrl::parse(u, into);
    let Some(source) = source else {
        crate::tell!(
            "flightdeck sample: ai-research-mysql needs --source-url mysql://USER@HOST/DB"
        );
        return exit::USAGE;
    };
    let (source, target) = match (parse(&source), target.as_deref().map(parse).transpose()) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) | (_, Err(e)) => {
            crate::tell!("flightdeck sample: {e}");
            return exit::USAGE;
        }
    };
    match crate::sample::install_on_server(into, opts, &source, target.as_ref()).await {
        Ok(s) => {
            for (table, n) in &s.tables {
                crate::tell!("  {table:<16} {n:>10} rows → {}", source.redacted());
            }
            crate::say!("{}", s.project_file.display());
            exit::OK
        }
        Err(e) => {
            crate::tell!("flightdeck sample: {e}");
            exit::RUNTIME
        }
    }
}

/// Rows per second of the demo in the cockpit: the 5,000-model sample
/// (22,750 rows) takes about 25 s, long enough to watch and decide.
const DEMO_PACE: f64 = 1000.0;

async fn demo(
    rows: u64,
    pace: Option<f64>,
    fresh: bool,
    headless: bool,
    theme: Option<String>,
) -> i32 {
    let dir = crate::paths::data_dir().join("demo").join("ai-research");
    let project_file = dir.join("project.toml");
    if fresh && dir.exists() {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            crate::tell!("flightdeck demo: cannot clear {}: {e}", dir.display());
            return exit::RUNTIME;
        }
    }
    if !project_file.exists() {
        crate::tell!(
            "generating the ai-research sample ({rows} models) in {}",
            dir.display()
        );
        let code = sample("ai-research", &dir, rows, 42, false).await;
        if code != exit::OK {
            return code;
        }
    }
    let code = if headless || !crate::cockpit::interactive() {
        if !headless {
            crate::tell!("no terminal for the cockpit: running headless");
        }
        let options = RunOptions {
            pace,
            ..Default::default()
        };
        crate::headless::run(&project_file, options).await
    } else {
        let options = crate::cockpit::OpenOptions {
            read_only: false,
            theme,
            autostart: true,
            pace: pace.or(Some(DEMO_PACE)),
            take_over: false,
        };
        crate::cockpit::open(&project_file, options).await
    };
    // The stakeholders' copy: the report of the run just shown (not after
    // a failure or leaving at once, when the run may still be writing).
    if code != exit::RUNTIME
        && let Ok(project) = project::load(&project_file)
    {
        let out = dir.join("report.html");
        if let Ok(covers) = write_report(&project, &out, None, crate::report::Format::Html).await {
            crate::tell!("report for stakeholders: {} ({covers})", out.display());
        }
    }
    code
}

async fn check(path: &Path) -> i32 {
    let project = match load(path) {
        Ok(p) => Arc::new(p),
        Err(code) => return code,
    };
    match pipeline::prepare(project.clone(), false).await {
        Ok(prepared) => {
            crate::say!(
                "{}: {} → {}",
                project.name(),
                project.source_url.redacted(),
                project.target_url.redacted()
            );
            crate::say!("plan (foreign-key order):");
            for (i, t) in prepared.tables.iter().enumerate() {
                crate::say!(
                    "  {}. {} → {} ({} columns)",
                    i + 1,
                    t.source_table(),
                    t.target_table(),
                    t.target_columns().len()
                );
            }
            let checks =
                crate::validate::run_pre(&project, prepared.source.as_ref(), &prepared.tables)
                    .await;
            crate::say!("pre-migration checks on the source:");
            crate::say_raw!("{}", crate::validate::render_text(&checks));
            crate::say!("nothing was written");
            if crate::validate::any_failed(&checks) {
                exit::VALIDATION
            } else {
                exit::OK
            }
        }
        Err(e) => {
            crate::tell!("{e}");
            e.exit_code()
        }
    }
}

pub(crate) fn parse_confidence(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(c) if (0.0..=1.0).contains(&c) => Ok(c),
        _ => Err(format!("\"{s}\" is not a confidence between 0 and 1")),
    }
}

/// Post-migration checks of a completed run, recorded in the event log.
/// `table_rows`: rows per target table, when known, to start the longest
/// checks first.
pub(crate) async fn post_checks(
    project: &Project,
    source: &crate::db::Db,
    target: &crate::db::Db,
    tables: &[Arc<crate::transform::CompiledTable>],
    run_id: &str,
    table_rows: std::collections::HashMap<String, u64>,
) -> Vec<crate::validate::CheckResult> {
    use crate::eventlog::{kind, store};
    use crate::validate::CheckStatus;
    let run_id = uuid::Uuid::parse_str(run_id).unwrap_or_default();
    let options = crate::validate::PostOptions {
        run_id: Some(run_id),
        table_rows,
        in_flight: target.dialect().concurrent_scans(),
        ..Default::default()
    };
    let checks =
        crate::validate::run_post(project, source.as_ref(), target.as_ref(), tables, &options)
            .await;
    let n = |st: CheckStatus| checks.iter().filter(|c| c.status == st).count();
    let event = store::NewEvent {
        run_id,
        kind: kind::VALIDATION,
        table: None,
        summary: format!(
            "post-migration checks: {} passed, {} warnings, {} failed",
            n(CheckStatus::Passed),
            n(CheckStatus::Warning),
            n(CheckStatus::Failed)
        ),
        detail: serde_json::json!({ "checks": checks }),
        inverse: vec![],
    };
    let d = target.dialect();
    if let Err(e) = target
        .transaction(vec![store::event_statement(d, &event)])
        .await
    {
        tracing::warn!(error = %e, "could not log the validation");
    }
    checks
}

/// `flightdeck rollback`: lock, plan, confirm, undo with progress, unlock.
async fn rollback(
    path: &Path,
    to: Option<i64>,
    yes: bool,
    take_over: bool,
    pace: Option<f64>,
) -> i32 {
    use crate::eventlog::{lock, rollback, store};
    use std::io::{BufRead, IsTerminal, Write};
    let project = match load(path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(p) = project.target_url.sqlite_path()
        && !p.exists()
    {
        crate::say!("nothing to roll back: {} does not exist", p.display());
        return exit::OK;
    }
    let db = match crate::db::connect(&project.target_url, false).await {
        Ok(db) => db,
        Err(e) => {
            crate::tell!("{e}");
            return exit::RUNTIME;
        }
    };
    if let Err(e) = store::ensure_schema(db.as_ref()).await {
        crate::tell!("{e}");
        return exit::RUNTIME;
    }
    let held = match lock::acquire(db.as_ref(), "rollback", take_over).await {
        Ok(l) => l,
        Err(e) => {
            crate::tell!("flightdeck rollback: {e}");
            return exit::RUNTIME;
        }
    };
    // Set when a second stop request left at once: `leave_now` has dealt
    // with the lock row, within its own bound.
    let mut left_at_once = false;
    let code = async {
        let plan = match rollback::plan(db.as_ref(), to).await {
            Ok(p) => p,
            Err(e) => {
                crate::tell!("flightdeck rollback: {e}");
                return match e {
                    rollback::RollbackError::NoSuchEvent(_) => exit::USAGE,
                    _ => exit::RUNTIME,
                };
            }
        };
        for line in plan.describe() {
            crate::say!("{line}");
        }
        if plan.is_empty() {
            return exit::OK;
        }
        if !yes {
            if !std::io::stdin().is_terminal() {
                crate::tell!(
                    "flightdeck rollback: no terminal to confirm on; pass --yes to roll back"
                );
                return exit::USAGE;
            }
            crate::tell_raw!("roll back? [y/N] ");
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            if !matches!(answer.trim(), "y" | "Y" | "yes") {
                crate::say!("nothing was undone");
                return exit::OK;
            }
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let printer = tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                if let rollback::RollbackProgress::Step {
                    done,
                    total,
                    summary,
                    ..
                } = p
                {
                    crate::tell!("  [{done}/{total}] undid {summary}");
                }
            }
        });
        let lock_wait = std::time::Duration::from_millis(project.file.evolution.lock_budget_ms);
        // Ctrl-C, SIGTERM or a dropped SSH link: finish the step under way,
        // log where the rollback stopped, release the lock.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let execute = rollback::execute(db.as_ref(), &plan, tx, pace, lock_wait, stop_rx);
        tokio::pin!(execute);
        let signal = stop_signal();
        tokio::pin!(signal);
        let mut again = second_request();
        let mut stopping = false;
        let result = loop {
            tokio::select! {
                result = &mut execute => break result,
                _ = &mut signal, if !stopping => {
                    stopping = true;
                    crate::tell!("stopping after the step under way… (Ctrl-C again: stop now)");
                    stop_tx.send_replace(true);
                    again = Box::pin(stop_signal());
                }
                _ = &mut again => {
                    let resume = format!("flightdeck rollback {}", crate::headless::shell_word(&path.display().to_string()));
                    left_at_once = true;
                    return leave_now(db.as_ref(), "the step under way was not committed", &resume).await;
                }
            }
        };
        let _ = printer.await;
        match result {
            Ok(n) => {
                crate::say!("rolled back: {n} steps undone");
                exit::OK
            }
            Err(e) => {
                crate::tell!("flightdeck rollback: {e}");
                exit::RUNTIME
            }
        }
    }
    .await;
    // Releasing waits for the database, which may be what would not let the
    // step end; a second request does not wait for it.
    if !left_at_once && let Err(e) = held.release(db.as_ref()).await {
        tracing::warn!(error = %e, "could not release the target lock");
    }
    code
}

/// What waits for a second stop request: nothing until the first came
/// (a listener made earlier would see the first one too).
pub fn second_request() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(std::future::pending())
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

/// A second stop request: leave at once, without waiting for the batch or
/// rollback step under way (`what`), which the database rolls back. The
/// target's lock row goes with us when the database lets us delete it in a
/// moment; otherwise the command to go on (`resume`) needs `--take-over`.
pub async fn leave_now(target: &dyn crate::db::Database, what: &str, resume: &str) -> i32 {
    LEAVING_AT_ONCE.store(true, std::sync::atomic::Ordering::Relaxed);
    let released =
        crate::eventlog::lock::release_own(target, std::time::Duration::from_secs(2)).await;
    crate::tell!("flightdeck: stopped at once on a second request: {what}");
    if released {
        crate::tell!("to go on from the last commit: {resume}");
    } else {
        crate::tell!(
            "to go on from the last commit: {resume} --take-over (the target's lock could not be released)"
        );
    }
    exit::RUNTIME
}

/// The project's target with its event log, for commands that only read
/// it: an embedded target that does not exist yet is not created.
pub(crate) async fn open_event_log(project: &Project) -> Result<crate::db::Db, i32> {
    if let Some(p) = project.target_url.sqlite_path()
        && !p.exists()
    {
        crate::tell!(
            "no event log yet: {} does not exist (run the project first)",
            p.display()
        );
        return Err(exit::RUNTIME);
    }
    let db = crate::db::connect(&project.target_url, false)
        .await
        .map_err(|e| {
            crate::tell!("{e}");
            exit::RUNTIME
        })?;
    crate::eventlog::store::ensure_schema(db.as_ref())
        .await
        .map_err(|e| {
            crate::tell!("{e}");
            exit::RUNTIME
        })?;
    Ok(db)
}

/// `flightdeck report`: the run's report, written whole or not at all.
async fn report(
    path: &Path,
    out: &Path,
    run: Option<&str>,
    format: Option<crate::report::Format>,
) -> i32 {
    let Some(format) = format.or_else(|| crate::report::Format::from_path(out)) else {
        crate::tell!(
            "flightdeck report: cannot tell the format of {} from its extension: name it .html or .md, or pass --format html|markdown",
            out.display()
        );
        return exit::USAGE;
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        crate::tell!(
            "flightdeck report: the folder {} does not exist: create it or write the report elsewhere",
            dir.display()
        );
        return exit::USAGE;
    }
    let project = match load(path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match write_report(&project, out, run, format).await {
        Ok(status) => {
            crate::tell!("report written to {} ({status})", out.display());
            exit::OK
        }
        Err(code) => code,
    }
}

/// Gathers and writes the report; returns what it covers ("run 1a2b3c4d,
/// completed") or the exit code after saying why not.
async fn write_report(
    project: &Project,
    out: &Path,
    run: Option<&str>,
    format: crate::report::Format,
) -> Result<String, i32> {
    let db = open_event_log(project).await?;
    let today = chrono::Local::now().date_naive();
    let report = crate::report::gather(project, db.as_ref(), run, today)
        .await
        .map_err(|e| {
            crate::tell!("flightdeck report: {e}");
            exit::RUNTIME
        })?;
    crate::report::write(&report, out, format).map_err(|e| {
        crate::tell!("flightdeck report: cannot write {}: {e}", out.display());
        exit::RUNTIME
    })?;
    let id = report.run.run_id.to_string();
    Ok(format!("run {}, {}", &id[..8], report.run.status))
}

/// `flightdeck diff`: compatibility between schema versions, and drift.
async fn diff(
    path: &Path,
    from: Option<i64>,
    to: Option<i64>,
    envs: &[String],
    list: bool,
    json: bool,
) -> i32 {
    use crate::versions::{self, Compat};
    let project = match load(path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // Every environment is resolved before anything is read.
    let mut env_urls = Vec::new();
    for name in envs {
        match project.environment_url(name) {
            Ok(url) => env_urls.push((name.clone(), url)),
            Err(e) => {
                crate::tell!("{e}");
                return exit::USAGE;
            }
        }
    }
    let db = match open_event_log(&project).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let all = match versions::read_versions(db.as_ref()).await {
        Ok(v) => v,
        Err(e) => {
            crate::tell!("{e}");
            return exit::RUNTIME;
        }
    };
    let Some(latest) = all.last() else {
        crate::tell!(
            "no schema version recorded in {} yet: run the project first (`flightdeck run {}`)",
            project.target_url.redacted(),
            path.display()
        );
        return exit::RUNTIME;
    };
    if list {
        for v in &all {
            let run = v.run_id.to_string();
            crate::say!(
                "{:>4}  {}  {}  {:<3} tables  {}",
                v.version,
                v.at.get(..19).unwrap_or(&v.at),
                &run[..8],
                v.snapshot.tables.len(),
                v.cause
            );
        }
        return exit::OK;
    }
    // A version asked for must exist; --list shows which do.
    let find = |n: Option<i64>| {
        match n {
        None => Ok(None),
        Some(n) => all.iter().find(|v| v.version == n).map(Some).ok_or_else(|| {
            crate::tell!(
                "no schema version {n}: the versions are 1..{} (`flightdeck diff --list` shows them)",
                latest.version
            );
            exit::USAGE
        }),
    }
    };
    let (to_v, from_v) = match (find(to), find(from)) {
        (Ok(t), Ok(f)) => (t.unwrap_or(latest), f),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    // By default the run's changes: each table as its run created it (the
    // mapping), against the version asked for.
    let (from_label, from_snapshot, from_event, mapped) = match from_v {
        None => match versions::as_mapped(&all, to_v.run_id) {
            Some((snapshot, start)) => ("the schema as mapped".to_string(), snapshot, start, true),
            None => (String::from("nothing"), Default::default(), 0, true),
        },
        Some(v) => (
            format!("v{} ({})", v.version, v.cause),
            v.snapshot.clone(),
            v.last_event,
            false,
        ),
    };
    let changes = versions::diff(&from_snapshot, &to_v.snapshot);
    let path_ddl = match versions::path(db.as_ref(), from_event, to_v.last_event, !mapped).await {
        Ok(p) => p,
        Err(e) => {
            crate::tell!("{e}");
            return exit::RUNTIME;
        }
    };
    let mut drift = Vec::new();
    for (name, url) in &env_urls {
        let live = match crate::db::connect(url, false).await {
            Ok(db) => db,
            Err(e) => {
                crate::tell!("environment {name} ({}): {e}", url.redacted());
                return exit::RUNTIME;
            }
        };
        match versions::drift(&latest.snapshot, live.as_ref()).await {
            Ok(found) => drift.push((name.clone(), url.redacted(), found)),
            Err(e) => {
                crate::tell!("environment {name} ({}): {e}", url.redacted());
                return exit::RUNTIME;
            }
        }
    }
    let count = |c: Compat| changes.iter().filter(|x| x.compat == c).count();
    let breaking = count(Compat::Breaking);
    let drifted = drift.iter().any(|(_, _, d)| !d.is_empty());
    if json {
        let out = serde_json::json!({
            "from": from_label,
            "to": { "version": to_v.version, "cause": to_v.cause },
            "changes": changes,
            "breaking": breaking,
            "path": { "forward": path_ddl.forward, "rollback": path_ddl.rollback },
            "drift": drift.iter().map(|(n, u, d)| serde_json::json!({
                "environment": n, "url": u, "differences": d,
            })).collect::<Vec<_>>(),
        });
        crate::say!("{out}");
    } else {
        crate::say!(
            "{from_label} → v{} ({}): {} changes: {} breaking, {} forward-compatible, {} backward-compatible",
            to_v.version,
            to_v.cause,
            changes.len(),
            breaking,
            count(Compat::ForwardCompatible),
            count(Compat::BackwardCompatible)
        );
        let table_w = changes.iter().map(|c| c.table.len()).max().unwrap_or(0);
        for c in &changes {
            crate::say!(
                "  {:<19}  {:<table_w$}  {}",
                c.compat.to_string(),
                c.table,
                c.change
            );
        }
        if !path_ddl.forward.is_empty() {
            crate::say!("\nmigration path ({} statements):", path_ddl.forward.len());
            for s in &path_ddl.forward {
                crate::say!("  {s};");
            }
            crate::say!("rollback (newest first):");
            for s in &path_ddl.rollback {
                crate::say!("  {s};");
            }
        }
        for (name, url, found) in &drift {
            if found.is_empty() {
                crate::say!(
                    "\ndrift: environment {name} ({url}) matches v{}",
                    latest.version
                );
            } else {
                crate::say!(
                    "\ndrift: environment {name} ({url}) differs from v{} in {} places:",
                    latest.version,
                    found.len()
                );
                for d in found {
                    crate::say!("  {d}");
                }
            }
        }
    }
    if breaking > 0 || drifted {
        exit::VALIDATION
    } else {
        exit::OK
    }
}

async fn log(path: &Path, json: bool, limit: usize) -> i32 {
    let project = match load(path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let db = match open_event_log(&project).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    // Text lists summaries only; JSON carries each event whole.
    let events = if json {
        crate::eventlog::store::read_events(db.as_ref(), None, limit).await
    } else {
        crate::eventlog::store::list_events(db.as_ref(), limit).await
    };
    match events {
        Ok(events) => {
            for e in events {
                if json {
                    crate::say!("{}", serde_json::to_string(&e).unwrap_or_default());
                } else {
                    let run = e.run_id.to_string();
                    crate::say!(
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
            crate::tell!("{e}");
            exit::RUNTIME
        }
    }
}
