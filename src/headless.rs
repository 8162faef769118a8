//! `run --headless`: the run to its end without the cockpit. One JSON
//! summary goes to stdout for scripts; people get an account on stderr: a
//! progress bar on a terminal, or a line every few seconds in a log; a line
//! per finished table and per schema change; and at the end a table of what
//! each table read, wrote and quarantined, the checks, the recommendations
//! still waiting, and the commands that come next.

use std::cell::{Cell, RefCell};
use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::{exit, load, post_checks};
use crate::eventlog::kind;
use crate::pipeline::{self, RunEvent, RunOptions, RunState, RunSummary, TablePlan};
use crate::recommend::{RecommendationState, thousands};
use crate::validate::{CheckResult, CheckStatus};

/// How often a log (stderr that is not a terminal) gets a progress line.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Runs the project to the end. SIGINT/SIGTERM/SIGHUP stop it at a batch
/// boundary. Returns the exit code.
pub async fn run(path: &Path, options: RunOptions) -> i32 {
    let project = match load(path) {
        Ok(p) => Arc::new(p),
        Err(code) => return code,
    };
    let prepared = match pipeline::prepare(project.clone(), true).await {
        Ok(p) => p,
        Err(e) => {
            // Nothing ran: stderr and the exit code say why, stdout stays empty.
            crate::tell!("{e}");
            return e.exit_code();
        }
    };
    let checked = (
        prepared.source.clone(),
        prepared.target.clone(),
        prepared.tables.clone(),
    );
    let mut handle = pipeline::spawn(prepared, options);
    let progress = Progress::new(std::io::stderr().is_terminal());
    let mut summary: Option<RunSummary> = None;
    let mut failure: Option<String> = None;
    let mut run_id: Option<String> = None;
    let stop = crate::cli::stop_signal();
    tokio::pin!(stop);
    // The signal future resolves once; polling it again would panic.
    let mut stopping = false;
    let mut again = crate::cli::second_request();
    loop {
        tokio::select! {
            event = handle.events.recv() => {
                let Some(event) = event else { break };
                progress.on(&event);
                match event {
                    RunEvent::Started { run_id: id, .. } => run_id = Some(id.to_string()),
                    RunEvent::Finished(s) => summary = Some(s),
                    RunEvent::Failed { error } => failure = Some(error),
                    _ => {}
                }
            }
            _ = &mut stop, if !stopping => {
                stopping = true;
                progress.line("stopping at the next batch boundary… (Ctrl-C again: stop now)");
                handle.control.cancel();
                again = Box::pin(crate::cli::stop_signal());
            }
            _ = &mut again => {
                progress.finish();
                let resume = format!("flightdeck run {} --headless", shell_word(&path.display().to_string()));
                let what = "the batch under way was not committed";
                say_unfinished("interrupted", run_id.as_deref(), &format!("stopped at once on a second request: {what}"));
                return crate::cli::leave_now(checked.1.as_ref(), what, &resume).await;
            }
        }
    }
    progress.finish();
    let Some(s) = summary else {
        let error = failure.unwrap_or_else(|| "the run ended without a summary".into());
        crate::tell!("flightdeck: {error}");
        // A run refused before it started (the target is locked) leaves
        // stdout empty, as a project that cannot start does.
        if run_id.is_some() {
            say_unfinished("failed", run_id.as_deref(), &error);
        }
        return exit::RUNTIME;
    };
    let mut json = serde_json::to_value(&s).unwrap_or_default();
    let mut code = match s.status {
        RunState::Completed => exit::OK,
        _ => exit::RUNTIME,
    };
    let mut checks = None;
    let mut interrupted = false;
    if s.status == RunState::Completed && !stopping {
        let (source, target, tables) = checked;
        let rows = s
            .tables
            .iter()
            .map(|t| (t.target.clone(), t.written))
            .collect();
        crate::tell!("running the post-run checks…");
        let checking = std::time::Instant::now();
        let run = post_checks(&project, &source, &target, &tables, &s.run_id, rows);
        // They only read: a stop request drops them where they are.
        tokio::select! {
            results = run => {
                if crate::validate::any_failed(&results) {
                    code = exit::VALIDATION;
                }
                json["validation"] = serde_json::to_value(&results).unwrap_or_default();
                let seconds = checking.elapsed().as_secs_f64();
                json["checks_s"] = serde_json::json!(seconds);
                checks = Some((results, seconds));
            }
            _ = &mut stop => {
                interrupted = true;
                code = exit::RUNTIME;
            }
        }
    }
    let checked = checks.as_ref().map(|(r, secs)| (r.as_slice(), *secs));
    crate::tell_raw!("{}", account(&s, checked, path));
    if interrupted {
        crate::tell!(
            "the post-run checks were stopped on request; the run itself completed. To check it, run it again (it reads only the source rows added since, then checks): flightdeck run {} --headless",
            shell_word(&path.display().to_string())
        );
    }
    crate::say!("{json}");
    code
}

/// The JSON object on stdout of a run that ended without its summary (it
/// failed, or a second stop request left at once), so a script reads one
/// object for every run that started: `{"status": …, "run_id": … or null, "error": …}`.
fn say_unfinished(status: &str, run_id: Option<&str>, error: &str) {
    crate::say!(
        "{}",
        serde_json::json!({ "status": status, "run_id": run_id, "error": error })
    );
}

/// What a person reads at the end of a headless run: the table of tables,
/// the checks (each one that did not pass, in full), the recommendations
/// left to decide, and what to run next. `checks` are the post-run checks'
/// results with the seconds they took (after the run's own time).
pub fn account(s: &RunSummary, checks: Option<(&[CheckResult], f64)>, project: &Path) -> String {
    let short = s.run_id.get(..8).unwrap_or(&s.run_id);
    let state = match s.status {
        RunState::Completed => "completed",
        RunState::Cancelled => "stopped",
        RunState::Failed => "failed",
        _ => "ended",
    };
    let mut out = format!("\nrun {short} {state} after {:.1} s\n", s.elapsed_s);
    out.push_str(&tables_table(s));

    if let Some((checks, seconds)) = checks {
        let n = |st: CheckStatus| checks.iter().filter(|c| c.status == st).count();
        out.push_str(&format!(
            "post-run checks: {} passed, {} warnings, {} failed, {} skipped, in {seconds:.1} s\n",
            n(CheckStatus::Passed),
            n(CheckStatus::Warning),
            n(CheckStatus::Failed),
            n(CheckStatus::Skipped),
        ));
        let unpassed: Vec<_> = checks
            .iter()
            .filter(|c| c.status != CheckStatus::Passed)
            .cloned()
            .collect();
        out.push_str(&crate::validate::render_text(&unpassed));
    }

    let count =
        |st: RecommendationState| s.recommendations.iter().filter(|r| r.state == st).count();
    let (pending, applied) = (
        count(RecommendationState::Pending) + count(RecommendationState::Deferred),
        count(RecommendationState::Applied),
    );
    if !s.recommendations.is_empty() {
        out.push_str(&format!(
            "recommendations: {applied} applied, {pending} waiting for a decision, {} rejected, {} withdrawn\n",
            count(RecommendationState::Rejected),
            count(RecommendationState::Withdrawn),
        ));
    }

    let p = shell_word(&project.display().to_string());
    out.push_str("next:\n");
    match s.status {
        RunState::Completed => {
            if pending > 0 {
                out.push_str(&format!(
                    "  flightdeck recommendations {p}           decide the {pending} pending recommendations\n"
                ));
            }
            out.push_str(&format!(
                "  flightdeck report {p} --out report.html  a report for stakeholders\n"
            ));
        }
        _ => out.push_str(&format!(
            "  flightdeck run {p} --headless            resume where this run stopped\n"
        )),
    }
    out.push_str(&format!(
        "  flightdeck rollback {p}                  undo everything the run did\n"
    ));
    out
}

/// Read, written and quarantined rows, seconds and rows per second (while
/// loading) of each table, and a total line. A table an earlier run finished
/// shows no time.
fn tables_table(s: &RunSummary) -> String {
    let names: Vec<String> = s
        .tables
        .iter()
        .map(|t| format!("{} → {}", t.source, t.target))
        .collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .chain([5])
        .max()
        .unwrap_or(5);
    let pad = |n: &str| {
        let len = n.chars().count();
        format!("{n}{}", " ".repeat(width.saturating_sub(len)))
    };
    let timing = |elapsed: f64, rate: f64| {
        if elapsed > 0.0 {
            format!("{elapsed:>9.1} {:>11}", thousands(rate.round() as u64))
        } else {
            format!("{:>9} {:>11}", "-", "-")
        }
    };
    let mut out = format!(
        "  {} {:>12} {:>12} {:>12} {:>9} {:>11}\n",
        pad("table"),
        "read",
        "written",
        "quarantined",
        "seconds",
        "rows/s"
    );
    let (mut read, mut written, mut quarantined) = (0, 0, 0);
    for (t, name) in s.tables.iter().zip(&names) {
        out.push_str(&format!(
            "  {} {:>12} {:>12} {:>12} {}\n",
            pad(name),
            thousands(t.read),
            thousands(t.written),
            thousands(t.quarantined),
            timing(t.elapsed_s, t.rows_per_s)
        ));
        read += t.read;
        written += t.written;
        quarantined += t.quarantined;
    }
    out.push_str(&format!(
        "  {} {:>12} {:>12} {:>12} {:>9.1}\n",
        pad("total"),
        thousands(read),
        thousands(written),
        thousands(quarantined),
        s.elapsed_s,
    ));
    out
}

/// `path` as one shell word, quoted only when it has to be.
pub fn shell_word(path: &str) -> String {
    let plain = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c));
    if plain {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', r"'\''"))
    }
}

/// Progress on stderr: a bar on a terminal, lines in a log.
struct Progress {
    bar: indicatif::ProgressBar,
    /// stderr is a terminal: the bar draws, and lines go above it.
    terminal: bool,
    /// Each table of the plan.
    tables: RefCell<Vec<TablePlan>>,
    current: Cell<Option<usize>>,
    table_started: Cell<Option<Instant>>,
    last_line: Cell<Instant>,
}

impl Progress {
    fn new(terminal: bool) -> Self {
        let target = if terminal {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        };
        let bar = indicatif::ProgressBar::with_draw_target(None, target);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} rows")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self {
            bar,
            terminal,
            tables: Default::default(),
            current: Default::default(),
            table_started: Default::default(),
            last_line: Cell::new(Instant::now()),
        }
    }

    /// A line that stays: above the bar on a terminal.
    fn line(&self, text: &str) {
        if self.terminal {
            self.bar.println(text);
        } else {
            crate::tell!("{text}");
        }
    }

    fn on(&self, e: &RunEvent) {
        for line in self.lines_for(e) {
            self.line(&line);
        }
        match e {
            RunEvent::TableStarted { table } => {
                if let Some(plan) = self.tables.borrow().get(*table) {
                    // Position and name first, so no frame shows one table's
                    // name with another's length.
                    self.bar.set_position(0);
                    self.bar.set_message(plan.source.clone());
                    match plan.source_rows {
                        Some(n) => self.bar.set_length(n),
                        None => self.bar.unset_length(),
                    }
                }
            }
            RunEvent::Counted {
                table, source_rows, ..
            } if self.current.get() == Some(*table) => self.bar.set_length(*source_rows),
            RunEvent::Progress { progress, .. } | RunEvent::TableFinished { progress, .. } => {
                self.bar.set_position(progress.read);
            }
            _ => {}
        }
    }

    /// The lines one event adds, updating what later lines need to know.
    fn lines_for(&self, e: &RunEvent) -> Vec<String> {
        match e {
            RunEvent::Started {
                run_id,
                tables,
                resumed,
            } => {
                *self.tables.borrow_mut() = tables.clone();
                let short = run_id.to_string()[..8].to_string();
                let done: u64 = tables.iter().map(|t| t.already_read).sum();
                let n = tables.len();
                let done = thousands(done);
                vec![match resumed.as_deref() {
                    None => format!("run {short} started: {n} tables"),
                    Some("completed") => format!(
                        "run {short} completed before; reading the source rows added since: {n} tables, {done} rows read by earlier sessions"
                    ),
                    Some(status) => format!(
                        "resuming run {short}, which {}: {n} tables, {done} rows read by earlier sessions",
                        crate::pipeline::how_it_ended(status)
                    ),
                }]
            }
            RunEvent::TableStarted { table } => {
                self.current.set(Some(*table));
                self.table_started.set(Some(Instant::now()));
                self.last_line.set(Instant::now());
                Vec::new()
            }
            RunEvent::Counted {
                table, source_rows, ..
            } => {
                if let Some(t) = self.tables.borrow_mut().get_mut(*table) {
                    t.source_rows = Some(*source_rows);
                }
                Vec::new()
            }
            RunEvent::Progress {
                table,
                progress,
                rows_per_s,
                ..
            } if !self.terminal && self.last_line.get().elapsed() >= LOG_EVERY => {
                self.last_line.set(Instant::now());
                let tables = self.tables.borrow();
                let Some(plan) = tables.get(*table) else {
                    return Vec::new();
                };
                let of = match plan.source_rows {
                    Some(n) if n > 0 => format!(
                        " of {} ({}%)",
                        thousands(n),
                        (progress.read * 100 / n).min(100)
                    ),
                    _ => String::new(),
                };
                vec![format!(
                    "  {}: {} rows read{of}, {} rows/s",
                    plan.source,
                    thousands(progress.read),
                    thousands(rows_per_s.round() as u64)
                )]
            }
            RunEvent::TableFinished { table, progress } => {
                let tables = self.tables.borrow();
                let Some(plan) = tables.get(*table) else {
                    return Vec::new();
                };
                let started = self.table_started.take();
                let took = match started {
                    _ if plan.already_read > 0 && progress.read == plan.already_read => {
                        " (by an earlier session)".into()
                    }
                    Some(t) => format!(" in {:.1} s", t.elapsed().as_secs_f64()),
                    None => String::new(),
                };
                vec![format!(
                    "  {} → {}: {} read, {} written, {} quarantined{took}",
                    plan.source,
                    plan.target,
                    thousands(progress.read),
                    thousands(progress.written),
                    thousands(progress.quarantined),
                )]
            }
            RunEvent::Logged {
                kind: k, summary, ..
            } if k == kind::DDL_APPLIED || k == kind::DDL_FAILED || k == kind::KEY_BUILT => {
                vec![format!("  {summary}")]
            }
            RunEvent::RecommendationAlert(a) => vec![format!("  alert: {}", a.message)],
            _ => Vec::new(),
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{TableProgress, TableSummary};

    fn table(source: &str, target: &str, read: u64, q: u64, elapsed_s: f64) -> TableSummary {
        TableSummary {
            source: source.into(),
            target: target.into(),
            read,
            written: read - q,
            quarantined: q,
            rows_per_s: if elapsed_s > 0.0 {
                read as f64 / elapsed_s
            } else {
                0.0
            },
            elapsed_s,
        }
    }

    fn summary(status: RunState) -> RunSummary {
        RunSummary {
            status,
            run_id: "6b0ea02c-0000-4000-8000-000000000000".into(),
            elapsed_s: 12.34,
            tables: vec![
                table("datasets", "data_sources", 5_000, 0, 0.0),
                table("models", "ml_models", 1_000_000, 32_410, 4.0),
            ],
            recommendations: Vec::new(),
        }
    }

    #[test]
    fn the_account_tables_each_table_and_the_total() {
        let text = account(
            &summary(RunState::Completed),
            Some((&[], 2.96)),
            Path::new("/tmp/my project/project.toml"),
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "run 6b0ea02c completed after 12.3 s");
        assert!(lines[2].contains("read") && lines[2].contains("quarantined"));
        // The earlier session's table shows no time; this run's its rate.
        assert!(lines[3].starts_with("  datasets → data_sources"));
        assert!(lines[3].contains("5,000") && lines[3].trim_end().ends_with('-'));
        assert!(lines[4].contains("1,000,000") && lines[4].contains("967,590"));
        assert!(lines[4].contains("32,410") && lines[4].trim_end().ends_with("250,000"));
        assert!(lines[5].starts_with("  total") && lines[5].contains("1,005,000"));
        assert!(lines[5].trim_end().ends_with("12.3"));
        // Columns line up: every number column ends at the same place.
        let end = |l: &str, word: &str| l.find(word).map(|i| l[..i + word.len()].chars().count());
        assert_eq!(end(lines[2], "quarantined"), end(lines[4], "32,410"));
        assert_eq!(
            lines[6],
            "post-run checks: 0 passed, 0 warnings, 0 failed, 0 skipped, in 3.0 s"
        );
        // A path with a space is quoted for the shell.
        assert!(text.contains("flightdeck report '/tmp/my project/project.toml' --out"));
        assert!(text.contains("flightdeck rollback '/tmp/my project/project.toml'"));
        assert!(!text.contains("--headless"), "{text}");
    }

    #[test]
    fn a_completed_runs_pending_recommendations_are_pointed_to_the_recommendations_command() {
        use crate::recommend::{Change, Recommendation, RecommendationKind, RecommendationState};
        let mut s = summary(RunState::Completed);
        let rec = |column: &str, state| Recommendation {
            id: format!("not_null:ml_models.{column}"),
            kind: RecommendationKind::NotNull,
            table: "ml_models".into(),
            column: column.into(),
            change: Change::NotNull,
            confidence: 0.99,
            benefit: String::new(),
            cost: String::new(),
            cost_rows: 0,
            evidence: "0 NULLs".into(),
            forward: vec![],
            inverse: vec![],
            state,
            decided_by: None,
            note: None,
        };
        s.recommendations = vec![
            rec("a", RecommendationState::Pending),
            rec("b", RecommendationState::Applied),
            rec("c", RecommendationState::Deferred),
        ];
        let text = account(&s, Some((&[], 0.5)), Path::new("p.toml"));
        assert!(
            text.contains("recommendations: 1 applied, 2 waiting for a decision"),
            "{text}"
        );
        assert!(
            text.contains(
                "flightdeck recommendations p.toml           decide the 2 pending recommendations"
            ),
            "{text}"
        );
        assert!(
            text.contains("flightdeck report p.toml --out report.html  a report for stakeholders"),
            "{text}"
        );
    }

    #[test]
    fn a_stopped_run_says_how_to_resume_and_has_no_checks() {
        let text = account(&summary(RunState::Cancelled), None, Path::new("p.toml"));
        assert!(text.contains("run 6b0ea02c stopped after 12.3 s"));
        assert!(!text.contains("post-run checks"));
        assert!(text.contains("flightdeck run p.toml --headless"));
        assert!(!text.contains("report"));
    }

    #[test]
    fn only_checks_that_did_not_pass_are_spelled_out() {
        let check = |name: &str, status| CheckResult {
            status,
            message: format!("{name} said so"),
            ..CheckResult::new(name, crate::validate::Phase::Post, Some("t"))
        };
        let checks = [
            check("counts agree", CheckStatus::Passed),
            check("keys resolve", CheckStatus::Failed),
        ];
        let text = account(
            &summary(RunState::Completed),
            Some((&checks, 0.5)),
            Path::new("p"),
        );
        assert!(
            text.contains("post-run checks: 1 passed, 0 warnings, 1 failed, 0 skipped, in 0.5 s")
        );
        assert!(text.contains("[FAIL] keys resolve: keys resolve said so"));
        assert!(!text.contains("counts agree said so"));
    }

    #[test]
    fn a_log_gets_a_line_per_table_and_a_progress_line_only_now_and_then() {
        let p = Progress::new(false);
        let plan = |source: &str, rows: Option<u64>, already_read| TablePlan {
            source: source.into(),
            target: format!("new_{source}"),
            source_rows: rows,
            estimated: false,
            already_read,
        };
        let started = p.lines_for(&RunEvent::Started {
            run_id: uuid::Uuid::nil(),
            tables: vec![plan("a", Some(10), 10), plan("b", None, 0)],
            resumed: Some("cancelled".into()),
        });
        assert_eq!(
            started,
            [
                "resuming run 00000000, which was stopped: 2 tables, 10 rows read by earlier sessions"
            ]
        );
        let again = p.lines_for(&RunEvent::Started {
            run_id: uuid::Uuid::nil(),
            tables: vec![plan("a", Some(10), 10), plan("b", None, 0)],
            resumed: Some("completed".into()),
        });
        assert_eq!(
            again,
            [
                "run 00000000 completed before; reading the source rows added since: 2 tables, 10 rows read by earlier sessions"
            ]
        );
        assert!(p.lines_for(&RunEvent::TableStarted { table: 1 }).is_empty());
        let progress = |read| RunEvent::Progress {
            table: 1,
            progress: TableProgress {
                read,
                written: read,
                quarantined: 0,
            },
            batch_size: 100,
            rows_per_s: 1234.4,
            sample: None,
        };
        // Too soon after the table started.
        assert!(p.lines_for(&progress(50)).is_empty());
        p.last_line.set(Instant::now() - LOG_EVERY);
        assert_eq!(
            p.lines_for(&progress(60)),
            ["  b: 60 rows read, 1,234 rows/s"]
        );
        assert!(p.lines_for(&progress(70)).is_empty());
        p.lines_for(&RunEvent::Counted {
            table: 1,
            source_rows: 200,
            estimated: false,
        });
        p.last_line.set(Instant::now() - LOG_EVERY);
        assert_eq!(
            p.lines_for(&progress(80)),
            ["  b: 80 rows read of 200 (40%), 1,234 rows/s"]
        );
        let finished = p.lines_for(&RunEvent::TableFinished {
            table: 1,
            progress: TableProgress {
                read: 200,
                written: 190,
                quarantined: 10,
            },
        });
        assert_eq!(finished.len(), 1);
        assert!(
            finished[0].starts_with("  b → new_b: 200 read, 190 written, 10 quarantined in "),
            "{finished:?}"
        );
        // A table an earlier session finished reports without a time.
        let earlier = p.lines_for(&RunEvent::TableFinished {
            table: 0,
            progress: TableProgress {
                read: 10,
                written: 10,
                quarantined: 0,
            },
        });
        assert_eq!(
            earlier,
            ["  a → new_a: 10 read, 10 written, 0 quarantined (by an earlier session)"]
        );
        let ddl = p.lines_for(&RunEvent::Logged {
            id: 7,
            kind: kind::DDL_APPLIED.into(),
            summary: "applied NOT NULL on b.x".into(),
        });
        assert_eq!(ddl, ["  applied NOT NULL on b.x"]);
        let batch = p.lines_for(&RunEvent::Logged {
            id: 8,
            kind: kind::BATCH_COMMITTED.into(),
            summary: "batch 1".into(),
        });
        assert!(batch.is_empty());
    }

    #[test]
    fn a_path_is_quoted_only_when_the_shell_needs_it() {
        assert_eq!(shell_word("/tmp/a-b_c.toml"), "/tmp/a-b_c.toml");
        assert_eq!(shell_word("it's here"), r"'it'\''s here'");
        assert_eq!(shell_word(""), "''");
    }
}
