//! Schema versions, compatibility and drift (SPEC §9).
//!
//! Each schema state a run leaves on its target tables — a table created and
//! loaded, changes applied between batches, the run's end — is recorded as a
//! numbered version in `flightdeck_schema_versions`: the catalog's columns and
//! primary key of every target table of the project, and the constraints and
//! indexes flightdeck applied to it. Only a state that differs from the last
//! version is recorded.
//!
//! Between two versions each change is classified:
//! - backward-compatible: what worked against the old schema still works
//!   (new table, new nullable column, wider type, a constraint or NOT NULL
//!   dropped, an index added or dropped);
//! - forward-compatible: rows valid under the new schema are valid under the
//!   old one, but writers of the old may now be refused (CHECK, UNIQUE, a
//!   primary key on a table that had none);
//! - breaking: neither (table or column removed, narrowed or changed type,
//!   new NOT NULL without default, primary key changed).
//!
//! The migration path between two versions is the DDL of the events between
//! them, in order, with its rollback (their inverses, newest first). Drift
//! compares the latest version with the live schema of each
//! `[environments.NAME]` of the project.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::{Database, DbError, Dialect, Statement};
use crate::eventlog::store::{self, EVENTS};
use crate::eventlog::{EventRecord, kind};
use crate::schema::{ColumnDef, ColumnType, ConstraintInfo, ConstraintKind, TableDef, TableInfo};
use crate::value::Value;

pub const VERSIONS: &str = "flightdeck_schema_versions";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Snapshot {
    pub tables: Vec<TableShape>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableShape {
    pub name: String,
    pub columns: Vec<ColumnShape>,
    pub primary_key: Vec<String>,
    /// Constraints and indexes flightdeck applied, e.g. `unique (email)`,
    /// `check (status IN ('A', 'B'))`, sorted.
    #[serde(default)]
    pub constraints: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnShape {
    pub name: String,
    /// As the catalog spells it, lower case: `varchar(64)`, `bigint`.
    #[serde(rename = "type")]
    pub native_type: String,
    pub nullable: bool,
}

/// One recorded version.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub version: i64,
    pub run_id: Uuid,
    pub at: String,
    /// What produced it: "ml_models loaded", "changes applied", "run completed".
    pub cause: String,
    /// The newest event when it was taken: the path to it runs through the
    /// events up to this one.
    pub last_event: i64,
    pub snapshot: Snapshot,
}

pub fn schema_statement(d: &dyn Dialect) -> String {
    let col = |name: &str, column_type, nullable| ColumnDef {
        name: name.into(),
        column_type,
        nullable,
    };
    let def = TableDef {
        name: VERSIONS.into(),
        columns: vec![
            col("version", ColumnType::BigInt, false),
            col("run_id", ColumnType::Varchar(64), false),
            col("at", ColumnType::Text, false),
            col("cause", ColumnType::Text, false),
            col("last_event", ColumnType::BigInt, false),
            col("snapshot", ColumnType::Text, false),
        ],
        primary_key: vec!["version".into()],
    };
    store::create_if_missing(d, &def)
}

/// The constraint an applied change adds, from its `ddl_applied` event (a
/// narrower type shows in its column; NOT NULL too where the catalog has it,
/// else — SQLite enforces it by trigger — as a constraint).
fn constraint_of(detail: &serde_json::Value) -> Option<String> {
    let column = detail["column"].as_str()?;
    let change = &detail["change"];
    match detail["kind"].as_str()? {
        "check" => {
            let values: Vec<String> = change["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .map(|v| format!("'{}'", v.replace('\'', "''")))
                .collect();
            Some(format!("check ({column} IN ({}))", values.join(", ")))
        }
        "not_null" => Some(format!("not null ({column})")),
        "unique" => Some(format!("unique ({column})")),
        "index" => Some(format!("index ({column})")),
        "enum_table" => Some(format!(
            "lookup table {} ({column})",
            change["lookup_table"].as_str().unwrap_or("?")
        )),
        "partition" => Some(format!("partition by month ({column})")),
        _ => None,
    }
}

/// Table → the constraints of the changes applied to it and not undone,
/// across every run, from the event log.
async fn applied_constraints(db: &dyn Database) -> Result<BTreeMap<String, Vec<String>>, DbError> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in crate::eventlog::applied_changes(db).await? {
        if let (Some(table), Some(c)) = (e.table, constraint_of(&e.detail)) {
            out.entry(table).or_default().push(c);
        }
    }
    Ok(out)
}

/// The current shape of `tables` (those that exist) from the catalog, with
/// the constraints the event log shows applied.
pub async fn snapshot(db: &dyn Database, tables: &[String]) -> Result<Snapshot, DbError> {
    let mut constraints = applied_constraints(db).await?;
    let mut out = Snapshot::default();
    for name in tables {
        let Some(info) = db.table_info(name).await? else {
            continue;
        };
        let mut cons = constraints.remove(name.as_str()).unwrap_or_default();
        cons.retain(|c| {
            !info
                .columns
                .iter()
                .any(|col| !col.nullable && *c == format!("not null ({})", col.name))
        });
        cons.sort();
        cons.dedup();
        out.tables.push(TableShape {
            name: name.clone(),
            primary_key: info.primary_key(),
            columns: info
                .columns
                .iter()
                .map(|c| ColumnShape {
                    name: c.name.clone(),
                    native_type: c.native_type.to_ascii_lowercase(),
                    nullable: c.nullable,
                })
                .collect(),
            constraints: cons,
        });
    }
    Ok(out)
}

/// Every version, oldest first.
pub async fn read_versions(db: &dyn Database) -> Result<Vec<Version>, DbError> {
    select_versions(db, false).await
}

/// The newest version, if any.
pub async fn latest(db: &dyn Database) -> Result<Option<Version>, DbError> {
    Ok(select_versions(db, true).await?.pop())
}

async fn select_versions(db: &dyn Database, newest_only: bool) -> Result<Vec<Version>, DbError> {
    let d = db.dialect();
    let q = |c: &str| d.quote_ident(c);
    let order = if newest_only { " DESC LIMIT 1" } else { "" };
    let sql = format!(
        "SELECT {}, {}, {}, {}, {}, {} FROM {} ORDER BY {}{order}",
        q("version"),
        q("run_id"),
        q("at"),
        q("cause"),
        q("last_event"),
        q("snapshot"),
        q(VERSIONS),
        q("version")
    );
    let rows = db.query(&sql, &[]).await?;
    let text = |v: &Value| v.as_text().map(|s| s.into_owned()).unwrap_or_default();
    Ok(rows
        .iter()
        .map(|r| Version {
            version: r[0].as_i64().unwrap_or(0),
            run_id: Uuid::parse_str(&text(&r[1])).unwrap_or_default(),
            at: text(&r[2]),
            cause: text(&r[3]),
            last_event: r[4].as_i64().unwrap_or(0),
            snapshot: serde_json::from_str(&text(&r[5])).unwrap_or_default(),
        })
        .collect())
}

/// Records the schema as it is now when it differs from the latest version;
/// returns the new version's number. The caller holds the target's lock, so
/// nobody else numbers versions meanwhile.
pub async fn record(
    db: &dyn Database,
    run_id: Uuid,
    cause: &str,
    tables: &[String],
) -> Result<Option<i64>, DbError> {
    let now = snapshot(db, tables).await?;
    let d = db.dialect();
    let q = |c: &str| d.quote_ident(c);
    let last = latest(db).await?;
    match &last {
        Some(v) if v.snapshot == now => return Ok(None),
        None if now.tables.is_empty() => return Ok(None),
        _ => {}
    }
    let last_no = last.map_or(0, |v| v.version);
    let newest_event = db
        .query(&format!("SELECT MAX({}) FROM {}", q("id"), q(EVENTS)), &[])
        .await?
        .first()
        .and_then(|r| r[0].as_i64())
        .unwrap_or(0);
    let version = last_no + 1;
    let sql = format!(
        "INSERT INTO {} ({}, {}, {}, {}, {}, {}) VALUES ({}, {}, {}, {}, {}, {})",
        q(VERSIONS),
        q("version"),
        q("run_id"),
        q("at"),
        q("cause"),
        q("last_event"),
        q("snapshot"),
        d.placeholder(1),
        d.placeholder(2),
        d.placeholder(3),
        d.placeholder(4),
        d.placeholder(5),
        d.placeholder(6),
    );
    db.transaction(vec![Statement::new(
        sql,
        vec![
            Value::Int(version),
            Value::Text(run_id.to_string()),
            Value::Text(chrono::Utc::now().to_rfc3339()),
            Value::Text(cause.into()),
            Value::Int(newest_event),
            Value::Text(serde_json::to_string(&now).unwrap_or_default()),
        ],
    )])
    .await?;
    Ok(Some(version))
}

/// Records the tables the latest version knows as they are now (after a
/// rollback, which knows no project); nothing when no version exists yet.
pub async fn record_known(
    db: &dyn Database,
    run_id: Uuid,
    cause: &str,
) -> Result<Option<i64>, DbError> {
    let tables: Vec<String> = match latest(db).await? {
        Some(v) => v.snapshot.tables.into_iter().map(|t| t.name).collect(),
        None => return Ok(None),
    };
    if tables.is_empty() {
        return Ok(None);
    }
    record(db, run_id, cause, &tables).await
}

// ---------------------------------------------------------------- compatibility

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compat {
    BackwardCompatible,
    ForwardCompatible,
    Breaking,
}

impl fmt::Display for Compat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compat::BackwardCompatible => "backward-compatible",
            Compat::ForwardCompatible => "forward-compatible",
            Compat::Breaking => "breaking",
        })
    }
}

/// One difference between two schema states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaChange {
    pub table: String,
    pub change: String,
    pub compat: Compat,
}

/// How much a type holds, when the two can be compared: integers by width,
/// strings by length (`text` and friends unbounded).
fn capacity(t: &str) -> Option<(u8, u64)> {
    let t = t.trim();
    let base = t.split(['(', ' ']).next().unwrap_or(t);
    let ints = [
        ("tinyint", 1),
        ("smallint", 2),
        ("int2", 2),
        ("mediumint", 3),
        ("int", 4),
        ("integer", 4),
        ("int4", 4),
        ("bigint", 8),
        ("int8", 8),
    ];
    if let Some((_, w)) = ints.iter().find(|(n, _)| *n == base)
        && !t.contains("unsigned")
        && !t.starts_with("tinyint(1)")
    {
        return Some((0, *w));
    }
    let len = || {
        t.split_once('(')
            .and_then(|(_, r)| r.trim_end_matches(')').parse::<u64>().ok())
    };
    match base {
        "varchar" | "character varying" | "char" | "character" | "nvarchar" => {
            Some((1, len().unwrap_or(u64::MAX)))
        }
        "text" | "mediumtext" | "longtext" | "clob" => Some((1, u64::MAX)),
        _ => None,
    }
}

fn type_change(from: &str, to: &str) -> Compat {
    match (capacity(from), capacity(to)) {
        (Some((fa, fw)), Some((ta, tw))) if fa == ta && tw >= fw => Compat::BackwardCompatible,
        _ => Compat::Breaking,
    }
}

/// Every change from `a` to `b`, table by table, in `b`'s order (removed
/// tables last).
pub fn diff(a: &Snapshot, b: &Snapshot) -> Vec<SchemaChange> {
    use Compat::*;
    let mut out = Vec::new();
    let mut push = |table: &str, change: String, compat| {
        out.push(SchemaChange {
            table: table.into(),
            change,
            compat,
        })
    };
    for tb in &b.tables {
        let t = tb.name.as_str();
        let Some(ta) = a.tables.iter().find(|x| x.name == tb.name) else {
            push(t, "table added".into(), BackwardCompatible);
            continue;
        };
        for cb in &tb.columns {
            let Some(ca) = ta.columns.iter().find(|c| c.name == cb.name) else {
                if cb.nullable {
                    push(
                        t,
                        format!("column {} {} added", cb.name, cb.native_type),
                        BackwardCompatible,
                    );
                } else {
                    push(
                        t,
                        format!("column {} {} NOT NULL added", cb.name, cb.native_type),
                        Breaking,
                    );
                }
                continue;
            };
            if ca.native_type != cb.native_type {
                let compat = type_change(&ca.native_type, &cb.native_type);
                let how = if compat == Breaking {
                    "narrowed or changed"
                } else {
                    "widened"
                };
                push(
                    t,
                    format!(
                        "column {} type {how}: {} → {}",
                        cb.name, ca.native_type, cb.native_type
                    ),
                    compat,
                );
            }
            match (ca.nullable, cb.nullable) {
                (true, false) => push(t, format!("column {} made NOT NULL", cb.name), Breaking),
                (false, true) => push(
                    t,
                    format!("column {} NOT NULL dropped", cb.name),
                    BackwardCompatible,
                ),
                _ => {}
            }
        }
        for ca in &ta.columns {
            if !tb.columns.iter().any(|c| c.name == ca.name) {
                push(t, format!("column {} removed", ca.name), Breaking);
            }
        }
        if ta.primary_key != tb.primary_key {
            let compat = if ta.primary_key.is_empty() {
                ForwardCompatible
            } else if tb.primary_key.is_empty() {
                BackwardCompatible
            } else {
                Breaking
            };
            push(
                t,
                format!(
                    "primary key ({}) → ({})",
                    ta.primary_key.join(", "),
                    tb.primary_key.join(", ")
                ),
                compat,
            );
        }
        for c in &tb.constraints {
            if !ta.constraints.contains(c) {
                let compat = if c.starts_with("index ") {
                    BackwardCompatible
                } else if c.starts_with("not null ") {
                    // A new NOT NULL without default refuses the writers
                    // that leave the column out.
                    Breaking
                } else {
                    ForwardCompatible
                };
                push(t, format!("{c} added"), compat);
            }
        }
        for c in &ta.constraints {
            if !tb.constraints.contains(c) {
                push(t, format!("{c} dropped"), BackwardCompatible);
            }
        }
    }
    for ta in &a.tables {
        if !b.tables.iter().any(|x| x.name == ta.name) {
            push(&ta.name, "table removed".into(), Breaking);
        }
    }
    out
}

/// What each table looked like when `run` created it, before any row or
/// change: the schema the project's mapping asked for. With the newest
/// event before the first of those versions, where the run's path starts.
pub fn as_mapped(all: &[Version], run: Uuid) -> Option<(Snapshot, i64)> {
    let created: Vec<&Version> = all
        .iter()
        .filter(|v| v.run_id == run && v.cause.ends_with(CREATED))
        .collect();
    let first = created.first()?;
    let start = all
        .iter()
        .rev()
        .find(|v| v.version < first.version)
        .map_or(0, |v| v.last_event);
    let mut tables = Vec::new();
    for v in &created {
        let name = v.cause.trim_end_matches(CREATED);
        if let Some(t) = v.snapshot.tables.iter().find(|t| t.name == name) {
            tables.push(t.clone());
        }
    }
    Some((Snapshot { tables }, start))
}

/// The cause of the version taken when a run creates a table: "T created as mapped".
pub const CREATED: &str = " created as mapped";

/// The DDL from version `from` to `to` (event ids `(from, to]`) in order,
/// with the statements that undo it, newest first.
pub struct MigrationPath {
    pub forward: Vec<String>,
    pub rollback: Vec<String>,
}

/// Schema-changing events with the statements they ran.
const SCHEMA_EVENTS: &[&str] = &[kind::TABLE_CREATED, kind::KEY_BUILT, kind::DDL_APPLIED];

pub async fn path(
    db: &dyn Database,
    from_event: i64,
    to_event: i64,
    with_creates: bool,
) -> Result<MigrationPath, DbError> {
    let (lo, hi) = (from_event.min(to_event), from_event.max(to_event));
    let events: Vec<EventRecord> = store::read_events_of(db, SCHEMA_EVENTS)
        .await?
        .into_iter()
        .filter(|e| e.id > lo && e.id <= hi)
        .filter(|e| with_creates || e.kind != kind::TABLE_CREATED)
        .collect();
    let ddl = |e: &EventRecord| -> Vec<String> {
        match &e.detail["ddl"] {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        }
    };
    let forward: Vec<String> = events.iter().flat_map(ddl).collect();
    let rollback: Vec<String> = events
        .iter()
        .rev()
        .flat_map(|e| e.inverse.clone())
        .collect();
    Ok(if from_event <= to_event {
        MigrationPath { forward, rollback }
    } else {
        // Going back: the inverses are the way, the DDL the way back.
        MigrationPath {
            forward: rollback,
            rollback: forward,
        }
    })
}

// ---------------------------------------------------------------- drift

/// Differences between the expected schema and an environment's live one.
pub async fn drift(expected: &Snapshot, live: &dyn Database) -> Result<Vec<String>, DbError> {
    let mut out = Vec::new();
    for t in &expected.tables {
        let Some(info) = live.table_info(&t.name).await? else {
            out.push(format!("table {} is missing", t.name));
            continue;
        };
        for c in &t.columns {
            match info.columns.iter().find(|x| x.name == c.name) {
                None => out.push(format!("{}.{} is missing", t.name, c.name)),
                Some(x) => {
                    let live_type = x.native_type.to_ascii_lowercase();
                    if live_type != c.native_type {
                        out.push(format!(
                            "{}.{} is {live_type}, expected {}",
                            t.name, c.name, c.native_type
                        ));
                    }
                    if x.nullable != c.nullable {
                        out.push(format!(
                            "{}.{} is {}, expected {}",
                            t.name,
                            c.name,
                            if x.nullable { "nullable" } else { "NOT NULL" },
                            if c.nullable { "nullable" } else { "NOT NULL" }
                        ));
                    }
                }
            }
        }
        for x in &info.columns {
            if !t.columns.iter().any(|c| c.name == x.name) {
                out.push(format!(
                    "{}.{} is not in the expected schema",
                    t.name, x.name
                ));
            }
        }
        let live_pk = info.primary_key();
        if live_pk != t.primary_key {
            out.push(format!(
                "{} has primary key ({}), expected ({})",
                t.name,
                live_pk.join(", "),
                t.primary_key.join(", ")
            ));
        }
        let live_constraints = live.constraints(&t.name).await?;
        let mut claimed = vec![false; live_constraints.len()];
        for c in &t.constraints {
            let found = match Expected::parse(c) {
                Some(Expected::LookupTable(table)) => live.table_info(table).await?.is_some(),
                Some(e) => {
                    let hit = live_constraints
                        .iter()
                        .enumerate()
                        .filter(|(_, l)| e.satisfied_by(l))
                        .map(|(i, _)| i)
                        .collect::<Vec<_>>();
                    for &i in &hit {
                        claimed[i] = true;
                    }
                    !hit.is_empty() || e.in_columns(&info)
                }
                None => true, // a kind drift cannot see (partitioning)
            };
            if !found {
                out.push(format!("{}: {c} is missing", t.name));
            }
        }
        // What the environment enforces beyond the expected schema. Plain
        // indexes only change speed (and MySQL adds one under every foreign
        // key), so only what rejects rows counts as drift.
        for (l, _) in live_constraints
            .iter()
            .zip(&claimed)
            .filter(|(l, claimed)| !**claimed && l.kind != ConstraintKind::Index)
        {
            out.push(format!(
                "{} has {} not in the expected schema",
                t.name,
                describe_live(l)
            ));
        }
    }
    Ok(out)
}

/// An expected constraint, read back from its line in a snapshot (see
/// [`constraint_of`]).
#[derive(Debug, PartialEq)]
enum Expected<'a> {
    Unique(&'a str),
    Index(&'a str),
    NotNull(&'a str),
    /// The column and its allowed values as SQL literals.
    Check(&'a str, Vec<&'a str>),
    LookupTable(&'a str),
}

impl<'a> Expected<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let inner = |prefix: &str| {
            line.strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('('))
                .and_then(|r| r.strip_suffix(')'))
        };
        if let Some(c) = inner("unique ") {
            return Some(Self::Unique(c));
        }
        if let Some(c) = inner("index ") {
            return Some(Self::Index(c));
        }
        if let Some(c) = inner("not null ") {
            return Some(Self::NotNull(c));
        }
        if let Some(rest) = inner("check ") {
            let (column, values) = rest.split_once(" IN (")?;
            return Some(Self::Check(column, sql_literals(values.strip_suffix(')')?)));
        }
        let table = line.strip_prefix("lookup table ")?.split_once(" (")?.0;
        Some(Self::LookupTable(table))
    }

    /// Whether a live index or constraint does this one's work.
    fn satisfied_by(&self, l: &ConstraintInfo) -> bool {
        let mentions = |col: &str| l.definition.contains(col);
        match self {
            Self::Unique(c) => l.kind == ConstraintKind::Unique && l.columns == [*c],
            // Any index led by the column serves its lookups.
            Self::Index(c) => {
                matches!(l.kind, ConstraintKind::Index | ConstraintKind::Unique)
                    && l.columns.first().is_some_and(|f| f == c)
            }
            Self::NotNull(c) => {
                l.kind == ConstraintKind::Check
                    && mentions(c)
                    && l.definition.to_ascii_uppercase().contains("NULL")
            }
            Self::Check(c, values) => {
                l.kind == ConstraintKind::Check && mentions(c) && values.iter().all(|v| mentions(v))
            }
            Self::LookupTable(_) => false,
        }
    }

    /// Whether the column itself carries it (NOT NULL in the catalog).
    fn in_columns(&self, info: &TableInfo) -> bool {
        matches!(self, Self::NotNull(c) if info.column(c).is_some_and(|col| !col.nullable))
    }
}

/// The SQL string literals in `s`, each as written (`'it''s'`).
fn sql_literals(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\'' {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < bytes.len() {
            if bytes[i] == b'\'' {
                if bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                break;
            }
            i += 1;
        }
        out.push(&s[start..(i + 1).min(s.len())]);
        i += 1;
    }
    out
}

fn describe_live(l: &ConstraintInfo) -> String {
    match l.kind {
        ConstraintKind::Unique => format!("unique ({})", l.columns.join(", ")),
        ConstraintKind::Index => format!("index ({})", l.columns.join(", ")),
        ConstraintKind::ForeignKey => {
            format!("foreign key ({}) → {}", l.columns.join(", "), l.definition)
        }
        ConstraintKind::Check => {
            let one_line: String = l
                .definition
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            format!("check {one_line}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, cols: &[(&str, &str, bool)], pk: &[&str], cons: &[&str]) -> TableShape {
        TableShape {
            name: name.into(),
            columns: cols
                .iter()
                .map(|(n, t, null)| ColumnShape {
                    name: n.to_string(),
                    native_type: t.to_string(),
                    nullable: *null,
                })
                .collect(),
            primary_key: pk.iter().map(|s| s.to_string()).collect(),
            constraints: cons.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn classes(a: Vec<TableShape>, b: Vec<TableShape>) -> Vec<(String, Compat)> {
        diff(&Snapshot { tables: a }, &Snapshot { tables: b })
            .into_iter()
            .map(|c| (c.change, c.compat))
            .collect()
    }

    #[test]
    fn each_kind_of_change_is_classified() {
        use Compat::*;
        let before = vec![
            table(
                "m",
                &[
                    ("id", "bigint", false),
                    ("name", "varchar(255)", true),
                    ("n", "int", true),
                    ("old", "text", true),
                    ("s", "varchar(10)", false),
                ],
                &[],
                &["index (name)", "check (s IN (a))"],
            ),
            table("gone", &[("id", "int", false)], &["id"], &[]),
        ];
        let after = vec![
            table(
                "m",
                &[
                    ("id", "bigint", false),
                    ("name", "varchar(64)", false),
                    ("n", "bigint", true),
                    ("s", "varchar(10)", true),
                    ("note", "text", true),
                ],
                &["id"],
                &["unique (id)", "index (n)", "not null (n)"],
            ),
            table("fresh", &[("id", "int", false)], &["id"], &[]),
        ];
        assert_eq!(
            classes(before, after),
            vec![
                (
                    "column name type narrowed or changed: varchar(255) → varchar(64)".into(),
                    Breaking
                ),
                ("column name made NOT NULL".into(), Breaking),
                (
                    "column n type widened: int → bigint".into(),
                    BackwardCompatible
                ),
                ("column s NOT NULL dropped".into(), BackwardCompatible),
                ("column note text added".into(), BackwardCompatible),
                ("column old removed".into(), Breaking),
                ("primary key () → (id)".into(), ForwardCompatible),
                ("unique (id) added".into(), ForwardCompatible),
                ("index (n) added".into(), BackwardCompatible),
                ("not null (n) added".into(), Breaking),
                ("index (name) dropped".into(), BackwardCompatible),
                ("check (s IN (a)) dropped".into(), BackwardCompatible),
                ("table added".into(), BackwardCompatible),
                ("table removed".into(), Breaking),
            ]
        );
    }

    #[test]
    fn types_compare_only_within_their_family() {
        use Compat::*;
        assert_eq!(type_change("smallint", "integer"), BackwardCompatible);
        assert_eq!(type_change("bigint", "integer"), Breaking);
        assert_eq!(type_change("varchar(16)", "text"), BackwardCompatible);
        assert_eq!(
            type_change("character varying(64)", "character varying(16)"),
            Breaking
        );
        assert_eq!(type_change("int", "varchar(20)"), Breaking);
        assert_eq!(type_change("int unsigned", "bigint"), Breaking);
        assert_eq!(type_change("double precision", "real"), Breaking);
    }

    #[test]
    fn the_same_schema_has_no_changes() {
        let t = vec![table(
            "m",
            &[("id", "int", false)],
            &["id"],
            &["unique (id)"],
        )];
        assert!(classes(t.clone(), t).is_empty());
    }

    #[test]
    fn expected_constraints_read_back_from_their_lines() {
        assert_eq!(
            Expected::parse("unique (email)"),
            Some(Expected::Unique("email"))
        );
        assert_eq!(
            Expected::parse("index (owner)"),
            Some(Expected::Index("owner"))
        );
        assert_eq!(
            Expected::parse("not null (n)"),
            Some(Expected::NotNull("n"))
        );
        assert_eq!(
            Expected::parse("check (status IN ('A', 'it''s', 'x, y'))"),
            Some(Expected::Check("status", vec!["'A'", "'it''s'", "'x, y'"]))
        );
        assert_eq!(
            Expected::parse("lookup table status_values (status)"),
            Some(Expected::LookupTable("status_values"))
        );
        assert_eq!(Expected::parse("partition by month (created_at)"), None);
    }

    #[test]
    fn live_constraints_satisfy_what_they_enforce() {
        let live = |kind, columns: &[&str], definition: &str| ConstraintInfo {
            kind,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            definition: definition.into(),
        };
        use ConstraintKind::*;
        let pg_check = live(
            Check,
            &[],
            "CHECK (((status)::text = ANY ((ARRAY['A'::character varying, 'B'::character varying])::text[])))",
        );
        let check = Expected::parse("check (status IN ('A', 'B'))").unwrap();
        assert!(check.satisfied_by(&pg_check));
        let mysql_check = live(Check, &[], "`status` in ('A','B','C')");
        assert!(check.satisfied_by(&mysql_check));
        let narrower = live(Check, &[], "`status` in ('A')");
        assert!(!check.satisfied_by(&narrower), "a value it lacks");

        let unique = Expected::parse("unique (email)").unwrap();
        assert!(unique.satisfied_by(&live(Unique, &["email"], "uq")));
        assert!(!unique.satisfied_by(&live(Unique, &["email", "org"], "uq")));
        assert!(!unique.satisfied_by(&live(Index, &["email"], "ix")));
        let index = Expected::parse("index (email)").unwrap();
        assert!(index.satisfied_by(&live(Index, &["email", "org"], "ix")));
        assert!(index.satisfied_by(&live(Unique, &["email"], "uq")));
        assert!(!index.satisfied_by(&live(Index, &["org", "email"], "ix")));

        let trigger = "CREATE TRIGGER fd_nn_m_n BEFORE INSERT ON m WHEN NEW.\"n\" IS NULL BEGIN SELECT RAISE(ABORT, 'm.n must not be NULL'); END";
        let nn = Expected::parse("not null (n)").unwrap();
        assert!(nn.satisfied_by(&live(Check, &[], trigger)));
        assert!(!nn.satisfied_by(&live(Index, &["n"], "ix")));
    }
}
