//! `flightdeck report`: what a run did, for the people who were not watching
//! (SPEC §11). Read from the target's event log, checkpoints and quarantine,
//! so it can be written any time after the run, on any machine that reaches
//! the target: the run's outcome per table, why rows were quarantined, the
//! post-migration checks with the SQL they ran, every recommendation with its
//! decision and DDL, the schema changes and rollbacks, and the test-run plan.
//! Connection strings appear only redacted.

pub mod doc;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::db::{Database, DbError};
use crate::eventlog::store::{self, RunRecord};
use crate::eventlog::{EventRecord, kind};
use crate::project::Project;
use crate::recommend::thousands;
use crate::timeline::{self, PhaseState, Plan, RunProgress};
use crate::value::Value;
use doc::{Bar, Block, Cell, Doc, Tone};

/// Markdown or a self-contained HTML page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Markdown,
    Html,
}

impl Format {
    /// From the output file's extension: `.md`/`.markdown` or `.html`/`.htm`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" => Some(Format::Html),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    Db(#[from] DbError),
    /// Nothing to report, or the run asked for is not there; the message says which.
    #[error("{0}")]
    NoRun(String),
}

/// One table's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub source: String,
    pub target: String,
    pub read: u64,
    pub written: u64,
    pub quarantined: u64,
    pub rows_per_s: Option<f64>,
}

/// Quarantined rows of one table that one rule refused for one column.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineGroup {
    pub source_table: String,
    pub rule: String,
    pub column: String,
    pub rows: u64,
    pub example: String,
}

/// Everything the report shows, read from the target.
#[derive(Debug, Clone)]
pub struct Report {
    pub project: String,
    /// Redacted connection strings.
    pub source: String,
    pub target: String,
    pub generated_at: DateTime<Utc>,
    pub run: RunRecord,
    /// Runs of this project in the target, this one included.
    pub runs: usize,
    pub finished_at: Option<DateTime<Utc>>,
    pub elapsed_s: Option<f64>,
    pub tables: Vec<TableRow>,
    pub batches: u64,
    pub quarantine: Vec<QuarantineGroup>,
    /// The latest post-migration checks of the run, if any ran.
    pub checks: Option<Vec<Json>>,
    /// The recommendation queue as the run left it (runs of this version on).
    pub recommendations: Option<Vec<Json>>,
    /// Every event of the run but its batches and undo steps, oldest first.
    pub events: Vec<EventRecord>,
    /// The run's changes to the schema its mapping created, as `flightdeck
    /// diff` classifies them (empty when no version was recorded).
    pub schema_changes: Vec<crate::versions::SchemaChange>,
    pub plan: Plan,
    pub today: NaiveDate,
}

/// At most this many quarantine groups are listed (the largest).
const QUARANTINE_GROUPS: usize = 40;

/// Event kinds the report lists; batches and undo steps are counted instead.
const LISTED: &[&str] = &[
    kind::RUN_STARTED,
    kind::RUN_RESUMED,
    kind::RUN_FINISHED,
    kind::RUN_FAILED,
    kind::RUN_CANCELLED,
    kind::TABLE_CREATED,
    kind::KEY_BUILT,
    kind::DDL_INTENT,
    kind::DDL_APPLIED,
    kind::DDL_FAILED,
    kind::DECISION,
    kind::QUEUE_DECIDED,
    kind::VALIDATION,
    kind::ROLLBACK_STARTED,
    kind::ROLLBACK_STOPPED,
    kind::ROLLBACK_FINISHED,
];

/// Reads the report of `run` (a run id or a unique prefix of one), else of
/// the project's latest run. Reads only.
pub async fn gather(
    project: &Project,
    db: &dyn Database,
    run: Option<&str>,
    today: NaiveDate,
) -> Result<Report, ReportError> {
    let runs: Vec<RunRecord> = store::list_runs(db)
        .await?
        .into_iter()
        .filter(|r| r.project == project.name())
        .collect();
    let chosen = match run {
        None => runs.last().cloned().ok_or_else(|| {
            ReportError::NoRun(format!(
                "no run of project \"{}\" in the event log of {}: run it first (`flightdeck run {}`)",
                project.name(),
                project.target_url.redacted(),
                project.path.display()
            ))
        })?,
        Some(prefix) => {
            let found: Vec<&RunRecord> = runs
                .iter()
                .filter(|r| r.run_id.to_string().starts_with(&prefix.to_ascii_lowercase()))
                .collect();
            match found.as_slice() {
                [one] => (*one).clone(),
                [] => {
                    return Err(ReportError::NoRun(format!(
                        "no run {prefix} of project \"{}\" in the event log; `flightdeck log {}` lists the runs",
                        project.name(),
                        project.path.display()
                    )));
                }
                _ => {
                    return Err(ReportError::NoRun(format!(
                        "{} runs start with {prefix}: give more of the run id",
                        found.len()
                    )));
                }
            }
        }
    };
    let events = store::read_run_events_of(db, chosen.run_id, LISTED).await?;
    let finished = events.iter().rev().find(|e| e.kind == kind::RUN_FINISHED);
    let tables = match finished.and_then(|e| e.detail["tables"].as_array()) {
        Some(list) => list.iter().map(table_row).collect(),
        None => tables_from_checkpoints(project, db, chosen.run_id).await?,
    };
    let started = DateTime::parse_from_rfc3339(&chosen.started_at)
        .ok()
        .map(|t| t.with_timezone(&Utc));
    let ended = events.iter().rev().find(|e| {
        matches!(
            e.kind.as_str(),
            kind::RUN_FINISHED | kind::RUN_FAILED | kind::RUN_CANCELLED
        )
    });
    let elapsed_s = finished
        .and_then(|e| e.detail["elapsed_s"].as_f64())
        .or_else(|| {
            let (s, e) = (started?, ended?.at);
            Some((e - s).num_milliseconds() as f64 / 1000.0)
        });
    let checks = events
        .iter()
        .rev()
        .find(|e| e.kind == kind::VALIDATION)
        .and_then(|e| e.detail["checks"].as_array().cloned());
    let recommendations = crate::evolve::after::latest_queue(&events).cloned();
    let versions = crate::versions::read_versions(db).await?;
    let schema_changes = match (
        crate::versions::as_mapped(&versions, chosen.run_id),
        versions.iter().rev().find(|v| v.run_id == chosen.run_id),
    ) {
        (Some((mapped, _)), Some(last)) => crate::versions::diff(&mapped, &last.snapshot),
        _ => Vec::new(),
    };
    Ok(Report {
        project: project.name().to_string(),
        source: project.source_url.redacted(),
        target: project.target_url.redacted(),
        generated_at: Utc::now(),
        runs: runs.len(),
        finished_at: ended.map(|e| e.at),
        elapsed_s,
        tables,
        batches: count_batches(db, chosen.run_id).await?,
        quarantine: quarantine_groups(db, chosen.run_id).await?,
        checks,
        recommendations,
        events,
        schema_changes,
        plan: timeline::for_project(project),
        today,
        run: chosen,
    })
}

fn table_row(t: &Json) -> TableRow {
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
    TableRow {
        source: s("source"),
        target: s("target"),
        read: n("read"),
        written: n("written"),
        quarantined: n("quarantined"),
        rows_per_s: t["rows_per_s"].as_f64(),
    }
}

/// A run that did not finish: what its checkpoints say, in run order.
async fn tables_from_checkpoints(
    project: &Project,
    db: &dyn Database,
    run_id: Uuid,
) -> Result<Vec<TableRow>, DbError> {
    let cps = store::read_checkpoints(db, run_id).await?;
    Ok(project
        .tables()
        .filter_map(|m| {
            let cp = cps.get(m.source.get_ref())?;
            Some(TableRow {
                source: m.source.get_ref().clone(),
                target: m.target.get_ref().clone(),
                read: cp.read,
                written: cp.written,
                quarantined: cp.quarantined,
                rows_per_s: None,
            })
        })
        .collect())
}

async fn count_batches(db: &dyn Database, run_id: Uuid) -> Result<u64, DbError> {
    let d = db.dialect();
    let q = |c: &str| d.quote_ident(c);
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE {} = {} AND {} = {}",
        q(store::EVENTS),
        q("run_id"),
        d.placeholder(1),
        q("kind"),
        d.placeholder(2)
    );
    let rows = db
        .query(
            &sql,
            &[
                Value::Text(run_id.to_string()),
                Value::from(kind::BATCH_COMMITTED),
            ],
        )
        .await?;
    Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0) as u64)
}

async fn quarantine_groups(
    db: &dyn Database,
    run_id: Uuid,
) -> Result<Vec<QuarantineGroup>, DbError> {
    let d = db.dialect();
    let q = |c: &str| d.quote_ident(c);
    let (table, rule, column, reason) =
        (q("source_table"), q("rule"), q("column_name"), q("reason"));
    let sql = format!(
        "SELECT {table}, {rule}, {column}, COUNT(*), MIN({reason}) FROM {} WHERE {} = {} \
         GROUP BY {table}, {rule}, {column} ORDER BY COUNT(*) DESC, {table}, {rule}, {column} LIMIT {QUARANTINE_GROUPS}",
        q(store::QUARANTINE),
        q("run_id"),
        d.placeholder(1),
    );
    let rows = db.query(&sql, &[Value::Text(run_id.to_string())]).await?;
    let text = |v: &Value| v.as_text().map(|s| s.into_owned()).unwrap_or_default();
    Ok(rows
        .iter()
        .map(|r| QuarantineGroup {
            source_table: text(&r[0]),
            rule: text(&r[1]),
            column: text(&r[2]),
            rows: r[3].as_i64().unwrap_or(0) as u64,
            example: text(&r[4]),
        })
        .collect())
}

// ---------------------------------------------------------------- the document

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn duration(s: f64) -> String {
    let s = s.max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let whole = s.round() as u64;
        if whole >= 3600 {
            format!("{} h {:02} min", whole / 3600, whole / 60 % 60)
        } else {
            format!("{} min {:02} s", whole / 60, whole % 60)
        }
    }
}

fn status_tone(status: &str) -> Tone {
    match status {
        "completed" | "passed" | "applied" => Tone::Good,
        "failed" | "ddl_failed" => Tone::Bad,
        "pending" | "accepted" | "deferred" => Tone::Plain,
        _ => Tone::Warn,
    }
}

fn num(n: u64) -> Cell {
    Cell::new(thousands(n), Tone::Number)
}

fn check_counts(checks: &[Json]) -> (usize, usize, usize) {
    let n = |s: &str| checks.iter().filter(|c| c["status"] == s).count();
    (n("passed"), n("warning"), n("failed"))
}

/// The report as a document, ready for either rendering.
pub fn document(r: &Report) -> Doc {
    let mut doc = Doc {
        title: format!("Migration report: {}", r.project),
        blocks: Vec::new(),
    };
    let read: u64 = r.tables.iter().map(|t| t.read).sum();
    let written: u64 = r.tables.iter().map(|t| t.written).sum();
    let quarantined: u64 = r.tables.iter().map(|t| t.quarantined).sum();
    let applied = r
        .events
        .iter()
        .filter(|e| e.kind == kind::DDL_APPLIED)
        .count();

    doc.push(Block::Para(verdict(r, read, written, quarantined)));
    let mut facts = vec![
        ("Source".to_string(), Cell::from(r.source.clone())),
        ("Target".to_string(), Cell::from(r.target.clone())),
        ("Run".to_string(), Cell::from(r.run.run_id.to_string())),
        (
            "Status".to_string(),
            Cell::new(r.run.status.clone(), status_tone(&r.run.status)),
        ),
        ("Started".to_string(), Cell::from(started_text(&r.run))),
    ];
    if let Some(t) = r.finished_at {
        facts.push(("Ended".into(), Cell::from(when(t))));
    }
    if let Some(s) = r.elapsed_s {
        facts.push(("Duration".into(), Cell::from(duration(s))));
    }
    facts.push((
        "Rows".into(),
        Cell::from(format!(
            "{} read, {} written, {} quarantined, in {} batches",
            thousands(read),
            thousands(written),
            thousands(quarantined),
            thousands(r.batches)
        )),
    ));
    if let Some(checks) = &r.checks {
        let (p, w, f) = check_counts(checks);
        let tone = if f > 0 {
            Tone::Bad
        } else if w > 0 {
            Tone::Warn
        } else {
            Tone::Good
        };
        facts.push((
            "Post-migration checks".into(),
            Cell::new(format!("{p} passed, {w} warnings, {f} failed"), tone),
        ));
    }
    facts.push((
        "Schema changes applied".into(),
        Cell::from(applied.to_string()),
    ));
    if r.runs > 1 {
        facts.push((
            "Runs of this project".into(),
            Cell::from(format!(
                "{} in this target (this report covers one; `--run ID` picks another)",
                r.runs
            )),
        ));
    }
    facts.push(("Report written".into(), Cell::from(when(r.generated_at))));
    doc.push(Block::Facts(facts));

    tables_section(&mut doc, r);
    quarantine_section(&mut doc, r);
    checks_section(&mut doc, r);
    recommendations_section(&mut doc, r);
    timeline_section(&mut doc, r);
    events_section(&mut doc, r);
    doc
}

fn started_text(run: &RunRecord) -> String {
    DateTime::parse_from_rfc3339(&run.started_at)
        .map(|t| when(t.with_timezone(&Utc)))
        .unwrap_or_else(|_| run.started_at.clone())
}

/// One paragraph a stakeholder can read without the tables.
fn verdict(r: &Report, read: u64, written: u64, quarantined: u64) -> String {
    let outcome = match r.run.status.as_str() {
        "completed" => "The run completed".to_string(),
        "failed" => "The run failed".to_string(),
        "cancelled" => "The run was stopped by the operator".to_string(),
        "rolled_back" => "The run was rolled back: nothing of it is left in the target".to_string(),
        "partially_rolled_back" => "The run was partly rolled back".to_string(),
        "running" => "The run has not finished: it is still going, or it stopped without recording its end (`flightdeck run` resumes it from its checkpoints)".to_string(),
        other => format!("The run is {other}"),
    };
    let mut out = format!(
        "{outcome}. {} of {} source rows read are in the target; {} were quarantined with their reason and counted.",
        thousands(written),
        thousands(read),
        thousands(quarantined)
    );
    match &r.checks {
        Some(checks) => {
            let (p, w, f) = check_counts(checks);
            if f == 0 && w == 0 {
                out.push_str(&format!(" All {p} post-migration checks passed."));
            } else {
                out.push_str(&format!(
                    " Post-migration checks: {p} passed, {w} with warnings, {f} failed (details below)."
                ));
            }
        }
        None => out.push_str(" No post-migration checks were recorded for this run."),
    }
    out
}

fn tables_section(doc: &mut Doc, r: &Report) {
    doc.push(Block::Heading(2, "Tables".into()));
    if r.tables.is_empty() {
        doc.push(Block::Para("No table was loaded by this run.".into()));
        return;
    }
    doc.push(Block::Table {
        head: [
            "Source",
            "Target",
            "Read",
            "Written",
            "Quarantined",
            "Rows/s",
        ]
        .map(String::from)
        .to_vec(),
        rows: r
            .tables
            .iter()
            .map(|t| {
                vec![
                    t.source.clone().into(),
                    t.target.clone().into(),
                    num(t.read),
                    num(t.written),
                    num(t.quarantined),
                    match t.rows_per_s {
                        Some(v) => num(v.round() as u64),
                        None => Cell::new("-", Tone::Number),
                    },
                ]
            })
            .collect(),
    });
}

fn quarantine_section(doc: &mut Doc, r: &Report) {
    doc.push(Block::Heading(2, "Quarantine".into()));
    if r.quarantine.is_empty() {
        doc.push(Block::Para("No row was quarantined.".into()));
        return;
    }
    doc.push(Block::Para(format!(
        "Rows the rules refused stay in the target's flightdeck_quarantine table with the whole source row and the reason; grouped here by table, rule and column{}.",
        if r.quarantine.len() >= QUARANTINE_GROUPS {
            format!(" (the {QUARANTINE_GROUPS} largest groups)")
        } else {
            String::new()
        }
    )));
    doc.push(Block::Table {
        head: ["Source table", "Rule", "Column", "Rows", "Example reason"]
            .map(String::from)
            .to_vec(),
        rows: r
            .quarantine
            .iter()
            .map(|g| {
                vec![
                    g.source_table.clone().into(),
                    g.rule.clone().into(),
                    g.column.clone().into(),
                    num(g.rows),
                    g.example.clone().into(),
                ]
            })
            .collect(),
    });
}

fn checks_section(doc: &mut Doc, r: &Report) {
    doc.push(Block::Heading(2, "Post-migration checks".into()));
    let Some(checks) = &r.checks else {
        doc.push(Block::Para(
            "No post-migration checks were recorded for this run (they run when a run completes)."
                .into(),
        ));
        return;
    };
    let s = |c: &Json, k: &str| c[k].as_str().unwrap_or_default().to_string();
    doc.push(Block::Table {
        head: ["Check", "Table", "Status", "Result"]
            .map(String::from)
            .to_vec(),
        rows: checks
            .iter()
            .map(|c| {
                let status = s(c, "status");
                vec![
                    s(c, "name").into(),
                    s(c, "table").into(),
                    Cell::new(status.clone(), status_tone(&status)),
                    s(c, "message").into(),
                ]
            })
            .collect(),
    });
    for c in checks.iter().filter(|c| c["status"] != "passed") {
        doc.push(Block::Heading(
            3,
            format!("{} ({})", s(c, "name"), s(c, "status")),
        ));
        doc.push(Block::Para(s(c, "message")));
        let examples: Vec<Cell> = c["examples"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str())
            .map(Cell::from)
            .collect();
        if !examples.is_empty() {
            doc.push(Block::Para("Example offending rows:".into()));
            doc.push(Block::List(examples));
        }
        let sql: Vec<&str> = c["sql"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str())
            .collect();
        if !sql.is_empty() {
            doc.push(Block::Code(sql.join(";\n")));
        }
    }
}

/// The statements of every recommendation the run did not apply (pending,
/// deferred, accepted too late), each with its inverse: what a reviewer, or
/// a migration tool of the operator's own, can take from here.
fn pending_ddl(doc: &mut Doc, recs: &[Json]) {
    let open: Vec<&Json> = recs
        .iter()
        .filter(|x| {
            matches!(
                x["state"].as_str(),
                Some("pending" | "deferred" | "accepted")
            )
        })
        .filter(|x| x["forward"].as_array().is_some_and(|f| !f.is_empty()))
        .collect();
    if open.is_empty() {
        return;
    }
    doc.push(Block::Heading(3, "DDL of the changes not applied".into()));
    doc.push(Block::Para(format!(
        "{} recommendations were not applied by the run. Each as flightdeck would apply it to this target, with its inverse:",
        open.len()
    )));
    let statement = |s: &Json| {
        let s = s.as_str().unwrap_or_default().trim();
        if s.ends_with(';') {
            s.to_string()
        } else {
            format!("{s};")
        }
    };
    let mut text = String::new();
    for x in open {
        text.push_str(&format!(
            "-- {} {}.{} ({}, confidence {:.2})\n",
            x["kind"].as_str().unwrap_or_default(),
            x["table"].as_str().unwrap_or_default(),
            x["column"].as_str().unwrap_or_default(),
            x["state"].as_str().unwrap_or_default(),
            x["confidence"].as_f64().unwrap_or(0.0)
        ));
        for f in x["forward"].as_array().into_iter().flatten() {
            text.push_str(&statement(f));
            text.push('\n');
        }
        for i in x["inverse"].as_array().into_iter().flatten() {
            text.push_str(&format!("-- inverse: {}\n", statement(i)));
        }
        text.push('\n');
    }
    doc.push(Block::Code(text.trim_end().to_string()));
}

fn recommendations_section(doc: &mut Doc, r: &Report) {
    doc.push(Block::Heading(2, "Schema evolution".into()));
    let s = |c: &Json, k: &str| c[k].as_str().unwrap_or_default().to_string();
    match &r.recommendations {
        Some(recs) if !recs.is_empty() => {
            let by_state = |st: &str| recs.iter().filter(|x| x["state"] == st).count();
            doc.push(Block::Para(format!(
                "{} recommendations from the live profile: {} applied, {} accepted and not applied, {} rejected, {} left pending, {} withdrawn by later data.",
                recs.len(),
                by_state("applied"),
                by_state("accepted"),
                by_state("rejected"),
                by_state("pending") + by_state("deferred"),
                by_state("withdrawn")
            )));
            doc.push(Block::Table {
                head: ["Change", "Column", "Confidence", "State", "Decided by", "Evidence"]
                    .map(String::from)
                    .to_vec(),
                rows: recs
                    .iter()
                    .map(|x| {
                        let state = s(x, "state");
                        vec![
                            s(x, "kind").into(),
                            format!("{}.{}", s(x, "table"), s(x, "column")).into(),
                            Cell::new(
                                format!("{:.2}", x["confidence"].as_f64().unwrap_or(0.0)),
                                Tone::Number,
                            ),
                            Cell::new(state.clone(), status_tone(&state)),
                            s(x, "decided_by").into(),
                            s(x, "evidence").into(),
                        ]
                    })
                    .collect(),
            });
            pending_ddl(doc, recs);
        }
        Some(_) => doc.push(Block::Para("The live profile recommended no change.".into())),
        None => doc.push(Block::Para(
            "The run did not record its recommendation queue (it did not complete, or an older flightdeck ran it); the schema changes below come from the event log."
                .into(),
        )),
    }
    if !r.schema_changes.is_empty() {
        use crate::versions::Compat;
        let n = |c: Compat| r.schema_changes.iter().filter(|x| x.compat == c).count();
        doc.push(Block::Heading(
            3,
            "Compatibility with the mapped schema".into(),
        ));
        doc.push(Block::Para(format!(
            "Against each table as the run created it from the mapping: {} breaking, {} forward-compatible, {} backward-compatible changes (`flightdeck diff` shows them with the migration path and its rollback).",
            n(Compat::Breaking),
            n(Compat::ForwardCompatible),
            n(Compat::BackwardCompatible)
        )));
        doc.push(Block::Table {
            head: ["Compatibility", "Table", "Change"]
                .map(String::from)
                .to_vec(),
            rows: r
                .schema_changes
                .iter()
                .map(|c| {
                    vec![
                        Cell::new(
                            c.compat.to_string(),
                            match c.compat {
                                Compat::Breaking => Tone::Bad,
                                Compat::ForwardCompatible => Tone::Warn,
                                Compat::BackwardCompatible => Tone::Good,
                            },
                        ),
                        c.table.clone().into(),
                        c.change.clone().into(),
                    ]
                })
                .collect(),
        });
    }
    let changes: Vec<&EventRecord> = r
        .events
        .iter()
        .filter(|e| matches!(e.kind.as_str(), kind::DDL_APPLIED | kind::DDL_FAILED))
        .collect();
    if changes.is_empty() {
        doc.push(Block::Para(
            "No schema change was applied to the target.".into(),
        ));
        return;
    }
    doc.push(Block::Heading(3, "Changes applied to the target".into()));
    for e in changes {
        let tone = status_tone(&e.kind);
        let mut items = vec![Cell::new(
            format!("event {} · {} · {}", e.id, when(e.at), e.summary),
            tone,
        )];
        if let Some(why) = e.detail["error"].as_str() {
            items.push(Cell::new(format!("not applied: {why}"), Tone::Bad));
        }
        doc.push(Block::List(items));
        let ddl: Vec<&str> = e.detail["ddl"]
            .as_array()
            .or_else(|| e.detail["forward"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str())
            .collect();
        if !ddl.is_empty() {
            let mut text = ddl.join(";\n");
            text.push(';');
            if !e.inverse.is_empty() {
                text.push_str("\n-- undone by:\n");
                text.push_str(&e.inverse.join(";\n"));
                text.push(';');
            }
            doc.push(Block::Code(text));
        }
    }
}

fn timeline_section(doc: &mut Doc, r: &Report) {
    doc.push(Block::Heading(2, "Test-run timeline".into()));
    let progress = match r.run.status.as_str() {
        "completed" => RunProgress::Completed,
        "running" => RunProgress::Live,
        _ => RunProgress::NotStarted,
    };
    let states = r.plan.states(r.today, progress);
    let total = r.plan.total_working_days();
    let mut offset = 0;
    let bars = r
        .plan
        .phases
        .iter()
        .zip(&states)
        .map(|(p, st)| {
            let bar = Bar {
                label: p.name.clone(),
                offset,
                length: p.working_days,
                total,
                note: format!(
                    "{} → {}, {} working day{}, {}",
                    p.start,
                    p.end,
                    p.working_days,
                    if p.working_days == 1 { "" } else { "s" },
                    st.label()
                ),
                tone: match st {
                    PhaseState::Done => Tone::Good,
                    PhaseState::Slipped { .. } => Tone::Bad,
                    PhaseState::InProgress => Tone::Warn,
                    PhaseState::Planned => Tone::Plain,
                },
            };
            offset += p.working_days;
            bar
        })
        .collect();
    let today = (r.today >= r.plan.start && r.today <= r.plan.end()).then(|| {
        let first = r.plan.phases.first().map_or(r.plan.start, |p| p.start);
        timeline::working_days_after(first, r.today, &r.plan.holidays)
    });
    doc.push(Block::Para(format!(
        "{} working days from {} to {}; today is {}.",
        total,
        r.plan.phases.first().map_or(r.plan.start, |p| p.start),
        r.plan.end(),
        r.today
    )));
    doc.push(Block::Gantt { bars, today });
}

fn events_section(doc: &mut Doc, r: &Report) {
    doc.push(Block::Heading(2, "Event log".into()));
    doc.push(Block::Para(format!(
        "The run's events in the target's flightdeck_events table, oldest first; its {} batch commits are counted above, not listed. `flightdeck log` prints them all, `flightdeck rollback` undoes them.",
        thousands(r.batches)
    )));
    doc.push(Block::Table {
        head: ["Event", "Time", "Kind", "Table", "Summary"]
            .map(String::from)
            .to_vec(),
        rows: r
            .events
            .iter()
            .map(|e| {
                vec![
                    Cell::new(e.id.to_string(), Tone::Number),
                    when(e.at).into(),
                    Cell::new(
                        e.kind.clone(),
                        match e.kind.as_str() {
                            kind::RUN_FAILED | kind::DDL_FAILED => Tone::Bad,
                            kind::RUN_CANCELLED
                            | kind::ROLLBACK_STARTED
                            | kind::ROLLBACK_STOPPED => Tone::Warn,
                            _ => Tone::Plain,
                        },
                    ),
                    e.table.clone().unwrap_or_default().into(),
                    e.summary.clone().into(),
                ]
            })
            .collect(),
    });
}

/// Renders `report` and writes it to `out` whole (a temporary file renamed
/// into place): a failed write leaves no half report behind.
pub fn write(report: &Report, out: &Path, format: Format) -> std::io::Result<()> {
    let d = document(report);
    let text = match format {
        Format::Markdown => doc::markdown(&d),
        Format::Html => doc::html(&d),
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp: PathBuf = out.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, out).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
