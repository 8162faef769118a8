//! From profiles to a queue of scored schema recommendations (SPEC §5), kept up
//! to date as data arrives: confidence moves, contradicted ones are withdrawn,
//! violated accepted ones raise an alert.

mod confidence;
#[cfg(test)]
mod tests;

/// Building blocks for other modules' tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub(crate) fn recommendation(
        kind: RecommendationKind,
        table: &str,
        column: &str,
        change: Change,
    ) -> Recommendation {
        Recommendation::new(kind, table, column, change)
    }
}

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::profile::{ColumnStats, Monotonic, Side, TableProfileSnapshot};
use crate::schema::{ColumnType, TableDef};
pub use confidence::{rows_held, support};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationKind {
    NarrowType,
    NotNull,
    Check,
    Unique,
    Index,
    Partition,
    EnumTable,
}

impl RecommendationKind {
    /// The name `[evolution] allow/deny` uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::NarrowType => "narrow_type",
            Self::NotNull => "not_null",
            Self::Check => "check",
            Self::Unique => "unique",
            Self::Index => "index",
            Self::Partition => "partition",
            Self::EnumTable => "enum_table",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationState {
    Pending,
    Accepted,
    Rejected,
    Deferred,
    Applied,
    Withdrawn,
}

impl RecommendationState {
    /// The state in the operator's words, as the queue and the log show it.
    pub fn word(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Deferred => "deferred",
            Self::Applied => "applied",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// The schema change itself, independent of any dialect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    NarrowType {
        from: String,
        to: String,
    },
    NotNull,
    /// Values allowed (NULL stays allowed: NOT NULL is its own change).
    Check {
        values: Vec<String>,
    },
    Unique,
    Index,
    /// Range partitions of column `by`, one a month from `from` up to (not
    /// including) `until`, both `YYYY-MM`, and a default partition for the
    /// rest.
    Partition {
        by: String,
        from: String,
        until: String,
    },
    EnumTable {
        lookup_table: String,
        values: Vec<String>,
    },
}

/// What the operator (or `--accept-above`) decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Accept,
    Reject,
    Defer,
}

impl Decision {
    /// "accepted", "rejected", "deferred": as the event log words it.
    pub fn past_tense(self) -> &'static str {
        match self {
            Decision::Accept => "accepted",
            Decision::Reject => "rejected",
            Decision::Defer => "deferred",
        }
    }
}

/// Who decided, for recommendations accepted by `--accept-above`.
pub fn accept_above_by(threshold: f64) -> String {
    format!("accept-above {threshold:.2}")
}

/// One proposed schema change, with its evidence and its DDL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Stable across recomputations: `kind:table.column`.
    pub id: String,
    pub kind: RecommendationKind,
    pub table: String,
    pub column: String,
    pub change: Change,
    /// In [0, 1]; see `confidence.rs` for the formula.
    pub confidence: f64,
    /// What the change buys, in a phrase.
    pub benefit: String,
    /// What applying it costs, in a phrase.
    pub cost: String,
    /// Rows the change must read or write when applied (for ordering and the lock budget).
    pub cost_rows: u64,
    /// One sentence of evidence.
    pub evidence: String,
    /// Statements that apply the change (dialect-specific; filled by `evolve`).
    pub forward: Vec<String>,
    /// Statements that undo it exactly.
    pub inverse: Vec<String>,
    pub state: RecommendationState,
    /// Who decided: "operator", "accept-above 0.90", "project" (already declared).
    pub decided_by: Option<String>,
    /// Why it is withdrawn, blocked, deferred or violated.
    pub note: Option<String>,
}

impl Recommendation {
    fn new(kind: RecommendationKind, table: &str, column: &str, change: Change) -> Self {
        Self {
            id: format!("{}:{table}.{column}", kind.name()),
            kind,
            table: table.into(),
            column: column.into(),
            change,
            confidence: 0.0,
            benefit: String::new(),
            cost: String::new(),
            cost_rows: 0,
            evidence: String::new(),
            forward: Vec::new(),
            inverse: Vec::new(),
            state: RecommendationState::Pending,
            decided_by: None,
            note: None,
        }
    }
}

/// What the recommender knows about a table besides its profile.
#[derive(Debug, Clone)]
pub struct TableFacts {
    /// The target table as flightdeck declares it.
    pub def: TableDef,
    /// Target columns that reference another table.
    pub foreign_keys: Vec<String>,
    /// Foreign-key columns the loader sets to NULL for orphans, after the profile saw them.
    pub nulled_orphans: Vec<String>,
    /// Source rows this run will read for the table.
    pub expected_rows: u64,
    /// A table projected past this many rows in 12 months is proposed for
    /// partitioning (`[evolution] partition_above_rows`).
    pub partition_rows: f64,
}

/// A calendar month, as partition bounds count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    /// 1–12.
    pub month: u32,
}

impl Month {
    /// The month a timestamp's text starts with (`2024-03-…`).
    pub fn parse(s: &str) -> Option<Self> {
        let year = s.get(..4)?.parse().ok()?;
        let month = s.get(5..7)?.parse().ok()?;
        (s.as_bytes().get(4) == Some(&b'-') && (1..=12).contains(&month))
            .then_some(Self { year, month })
    }

    /// The month `n` months later.
    pub fn plus(self, n: u32) -> Self {
        let index = self.year * 12 + self.month as i32 - 1 + n as i32;
        Self {
            year: index.div_euclid(12),
            month: index.rem_euclid(12) as u32 + 1,
        }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Largest value set a CHECK or lookup table is proposed for.
const CHECK_MAX_VALUES: usize = 16;

/// The recommendations a profile supports right now (state `Pending`, except
/// changes the project already declares, which are `Applied`).
/// Rows a column must have been seen in before the profile says anything of it.
pub const MIN_EVIDENCE_ROWS: u64 = 100;

/// Whether `p` has seen enough of target column `column` to propose, or
/// contradict, a change to it.
pub fn judges(p: &TableProfileSnapshot, column: &str) -> bool {
    p.columns
        .iter()
        .any(|c| c.side == Side::Target && c.name == column && c.count >= MIN_EVIDENCE_ROWS)
}

pub fn recommend(p: &TableProfileSnapshot, facts: &TableFacts) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let scale = 1.0 / p.sample.max(1e-9);
    let remaining = facts.expected_rows.saturating_sub(p.rows_seen);
    let key = facts.def.primary_key.clone();
    for c in p.columns.iter().filter(|c| c.side == Side::Target) {
        let Some(def) = facts.def.columns.iter().find(|d| d.name == c.name) else {
            continue;
        };
        if key.contains(&c.name) || c.count < MIN_EVIDENCE_ROWS {
            continue;
        }
        let rows = |n: u64| (n as f64 * scale) as u64;
        let non_null = c.count - c.nulls;

        if c.nulls == 0 && !facts.nulled_orphans.contains(&c.name) {
            let mut r = Recommendation::new(
                RecommendationKind::NotNull,
                &p.table,
                &c.name,
                Change::NotNull,
            );
            r.confidence = confidence::zero_violations(rows(c.nulls_stable_for), remaining);
            r.evidence = format!(
                "0 NULLs in {} rows{}",
                thousands(rows(c.count)),
                stable_for(rows(c.nulls_stable_for), remaining)
            );
            r.benefit =
                "the database rejects missing values; the planner knows the column is always set"
                    .into();
            r.cost = "a scan to verify existing rows; a trigger check per write".into();
            r.cost_rows = p.rows_seen;
            if !def.nullable {
                r.state = RecommendationState::Applied;
                r.decided_by = Some("project".into());
                r.note = Some("already declared NOT NULL in the project".into());
            }
            out.push(r);
        }

        if let Some(values) = c.domain.as_ref().filter(|v| {
            (2..=CHECK_MAX_VALUES).contains(&v.len())
                && def.column_type.is_textual()
                && non_null >= 20 * v.len() as u64
        }) {
            let held = rows(c.domain_stable_for);
            let mut r = Recommendation::new(
                RecommendationKind::Check,
                &p.table,
                &c.name,
                Change::Check {
                    values: values.clone(),
                },
            );
            r.confidence = confidence::zero_violations(held, remaining);
            r.evidence = format!(
                "{} distinct values in {} rows ({}){}",
                values.len(),
                thousands(rows(non_null)),
                values.join(", "),
                stable_for(held, remaining).replace("stable", "no new value")
            );
            r.benefit = "typos and unknown codes are rejected at write time".into();
            r.cost = "a scan to verify existing rows; a trigger check per write".into();
            r.cost_rows = p.rows_seen;
            out.push(r.clone());

            let avg_len = c.max_len;
            if avg_len >= 8 {
                let lookup = format!("{}_{}_values", p.table, c.name);
                let mut e = Recommendation::new(
                    RecommendationKind::EnumTable,
                    &p.table,
                    &c.name,
                    Change::EnumTable {
                        lookup_table: lookup.clone(),
                        values: values.clone(),
                    },
                );
                // A lookup table is a design choice on top of a fact: it scores below the CHECK.
                e.confidence = r.confidence * 0.8;
                e.evidence = r.evidence.clone();
                e.benefit = format!(
                    "one place ({lookup}) lists the {} allowed values, for reports and forms",
                    values.len()
                );
                e.cost = format!("a new table of {} rows", values.len());
                e.cost_rows = values.len() as u64;
                out.push(e);
            }
        }

        let sequence = sequence_reach(c, p, remaining);
        if let Some(to) = narrower(c, def.column_type, sequence.as_ref()) {
            let mut r = Recommendation::new(
                RecommendationKind::NarrowType,
                &p.table,
                &c.name,
                Change::NarrowType {
                    from: def.column_type.to_string(),
                    to: to.to_string(),
                },
            );
            // Every value seen fits with headroom; the risk is a later value that does not.
            r.confidence = confidence::zero_violations(rows(c.count), remaining);
            r.evidence = match &sequence {
                Some(s) => format!(
                    "a sequence (strictly increasing, {} apart on average): up to {} now, about {} after {} more rows ({}); fits {to}, declared {}",
                    trim_float(s.step),
                    c.max.as_deref().unwrap_or("?"),
                    thousands(s.reach as u64),
                    thousands(s.more_rows),
                    s.basis,
                    def.column_type
                ),
                None => format!(
                    "all {} values fit {to} ({}), declared {}",
                    thousands(rows(non_null)),
                    fit_detail(c),
                    def.column_type
                ),
            };
            r.benefit = format!("{to} documents and bounds what the column holds");
            r.cost = "rebuilds the table (copy, swap) under one lock".into();
            r.cost_rows = p.rows_seen;
            out.push(r);
        }

        if c.monotonic == Monotonic::StrictlyIncreasing && c.nulls == 0 {
            let mut r = Recommendation::new(
                RecommendationKind::Unique,
                &p.table,
                &c.name,
                Change::Unique,
            );
            r.confidence = confidence::zero_violations(rows(c.count), remaining);
            r.evidence = format!(
                "strictly increasing over {} rows in key order, so no value repeats",
                thousands(rows(c.count))
            );
            r.benefit = "duplicates are rejected; lookups by this column use the index".into();
            r.cost = "an index build over the table; index maintenance per write".into();
            r.cost_rows = p.rows_seen;
            out.push(r);
        }

        if facts.foreign_keys.contains(&c.name) && non_null > 0 {
            let mut r =
                Recommendation::new(RecommendationKind::Index, &p.table, &c.name, Change::Index);
            r.confidence = confidence::index(rows(non_null), c.distinct);
            r.evidence = format!(
                "references another table; {} distinct values in {} rows (about {:.1} rows per value)",
                thousands(c.distinct),
                thousands(rows(non_null)),
                non_null as f64 / c.distinct.max(1) as f64
            );
            r.benefit =
                "joins to the parent and ON DELETE checks read a few rows instead of the table"
                    .into();
            r.cost =
                "an index build at the end of the table's load; index maintenance per write".into();
            r.cost_rows = p.rows_seen;
            out.push(r);
        }
    }
    // Monthly partitions over the months seen so far and the forecast's
    // year ahead. The partition column joins the primary key, which cannot
    // hold NULL: a column with NULLs is not proposed.
    if let Some(g) = &p.growth
        && g.high > facts.partition_rows
        && let Some(c) = p
            .columns
            .iter()
            .find(|c| c.side == Side::Target && c.declared_type == "timestamp" && c.nulls == 0)
        && let (Some(first), Some(last)) = (
            c.min.as_deref().and_then(Month::parse),
            c.max.as_deref().and_then(Month::parse),
        )
    {
        let by = c.name.clone();
        let mut r = Recommendation::new(
            RecommendationKind::Partition,
            &p.table,
            &by,
            Change::Partition {
                by: by.clone(),
                from: first.to_string(),
                until: last.plus(13).to_string(),
            },
        );
        r.confidence =
            confidence::exceeds(g.low, g.rows_in_12_months, g.high, facts.partition_rows);
        r.evidence = format!(
            "{:.0} rows a day now; {} rows projected in 12 months ({}–{})",
            g.rows_per_day,
            thousands(g.rows_in_12_months as u64),
            thousands(g.low as u64),
            thousands(g.high as u64)
        );
        r.benefit = "old periods can be archived or dropped without scanning the table".into();
        r.cost = format!(
            "a partitioned copy of the table under an exclusive lock; the primary key gains {by}, so the key alone is no longer enforced unique"
        );
        r.cost_rows = p.rows_seen;
        out.push(r);
    }
    out
}

/// Where an integer sequence (an id, a counter: strictly increasing in key
/// order) is headed: its values grow with the table, so a type that fits
/// today's largest value is not enough.
#[derive(Debug, Clone, PartialEq)]
struct SequenceReach {
    /// Average distance between consecutive values.
    step: f64,
    /// Rows it must still have room for.
    more_rows: u64,
    /// The value it reaches after them.
    reach: f64,
    /// Where `more_rows` comes from, in the evidence's words.
    basis: String,
}

/// A table's ids must have room for the rest of the run and at least ten
/// times the table, or the growth forecast's high band over a year if that
/// is more.
const SEQUENCE_GROWTH: f64 = 10.0;

fn sequence_reach(
    c: &ColumnStats,
    p: &TableProfileSnapshot,
    remaining: u64,
) -> Option<SequenceReach> {
    if c.monotonic != Monotonic::StrictlyIncreasing || c.nulls > 0 {
        return None;
    }
    let (lo, hi) = (c.min_number?, c.max_number?);
    let seen = (c.count as f64 / p.sample.max(1e-9)).max(2.0);
    let step = ((hi - lo) / (seen - 1.0)).max(1.0);
    let tenfold = seen * (SEQUENCE_GROWTH - 1.0);
    let forecast = p.growth.as_ref().map(|g| (g.high - g.rows_now).max(0.0));
    let (future, basis) = match forecast {
        Some(f) if f > tenfold => (f, "the high band of a year's forecast growth"),
        _ => (tenfold, "room for ten times the rows seen"),
    };
    let more_rows = (remaining as f64 + future) as u64;
    let basis = if remaining > 0 {
        format!("the rest of this run and {basis}")
    } else {
        basis.to_string()
    };
    Some(SequenceReach {
        step,
        more_rows,
        reach: hi + step * more_rows as f64,
        basis,
    })
}

/// 1.0 → "1", 2.5 → "2.5".
fn trim_float(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// The type every value fits with headroom, when narrower than the declared
/// one; an integer sequence must also fit where it is headed.
fn narrower(
    c: &ColumnStats,
    declared: ColumnType,
    sequence: Option<&SequenceReach>,
) -> Option<ColumnType> {
    use crate::profile::infer::{integer_type, varchar_size};
    match declared {
        ColumnType::BigInt | ColumnType::Int => {
            let (lo, hi) = (c.min_number?, c.max_number?);
            let hi = sequence.map_or(hi, |s| s.reach.max(hi));
            let t: ColumnType = integer_type(lo as i64, hi as i64).parse().ok()?;
            (width(t) < width(declared)).then_some(t)
        }
        ColumnType::Varchar(n) => {
            let m = varchar_size(c.max_len);
            (m < n && c.max_len > 0).then_some(ColumnType::Varchar(m))
        }
        ColumnType::Text => {
            let t: ColumnType = c.inferred_type.as_deref()?.parse().ok()?;
            (t != ColumnType::Json).then_some(t)
        }
        _ => None,
    }
}

fn width(t: ColumnType) -> u8 {
    match t {
        ColumnType::SmallInt => 2,
        ColumnType::Int => 4,
        _ => 8,
    }
}

fn fit_detail(c: &ColumnStats) -> String {
    match (&c.min, &c.max) {
        _ if c.max_len > 0 => format!("longest {} characters", c.max_len),
        (Some(lo), Some(hi)) => format!("range {lo}..{hi}"),
        _ => "all parse".into(),
    }
}

fn stable_for(held: u64, remaining: u64) -> String {
    let mut s = format!("; stable for the last {}", thousands(held));
    if remaining > 0 {
        s.push_str(&format!(", {} rows still to come", thousands(remaining)));
    }
    s
}

/// 1204331 → "1,204,331".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// "1 change", "2,000 changes": a count with its noun, singular for one.
pub fn counted(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{} {noun}s", thousands(n)),
    }
}

/// Every recommendation of the run, by id, with its decision history applied.
#[derive(Debug, Clone, Default)]
pub struct RecommendationBook {
    recs: BTreeMap<String, Recommendation>,
}

/// An accepted or applied recommendation that later data violates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: String,
    pub message: String,
}

impl RecommendationBook {
    pub fn all(&self) -> Vec<Recommendation> {
        let mut v: Vec<_> = self.recs.values().cloned().collect();
        v.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then_with(|| a.id.cmp(&b.id))
        });
        v
    }

    pub fn get(&self, id: &str) -> Option<&Recommendation> {
        self.recs.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Recommendation> {
        self.recs.get_mut(id)
    }

    /// A book holding a queue as recorded (a completed run's last one).
    pub fn recorded(recs: Vec<Recommendation>) -> Self {
        Self {
            recs: recs.into_iter().map(|r| (r.id.clone(), r)).collect(),
        }
    }

    /// Replaces `table`'s recommendations by `fresh`, keeping decisions.
    /// Returns alerts for accepted or applied ones the data now contradicts.
    /// Only the columns `judged` says the fresh profile has seen enough of
    /// can withdraw or contradict what the book holds: a rerun's few new
    /// rows say nothing of the rows before them.
    pub fn update(
        &mut self,
        table: &str,
        fresh: Vec<Recommendation>,
        judged: impl Fn(&str) -> bool,
    ) -> Vec<Alert> {
        use RecommendationState::*;
        let mut alerts = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for mut r in fresh {
            seen.insert(r.id.clone());
            match self.recs.get_mut(&r.id) {
                None => {
                    self.recs.insert(r.id.clone(), r);
                }
                Some(old) => match old.state {
                    Accepted | Applied => {
                        if old.change != r.change && old.decided_by.as_deref() != Some("project") {
                            alerts.push(violated(old, &r.evidence));
                        } else {
                            old.confidence = r.confidence;
                            old.evidence = r.evidence;
                        }
                    }
                    Withdrawn => {
                        // Back in the data's favour: offered again, undecided.
                        r.note = Some(format!(
                            "offered again after: {}",
                            old.note.clone().unwrap_or_default()
                        ));
                        *old = r;
                    }
                    Pending | Rejected | Deferred => {
                        r.state = old.state;
                        r.decided_by = old.decided_by.take();
                        r.note = old.note.take();
                        *old = r;
                    }
                },
            }
        }
        for old in self
            .recs
            .values_mut()
            .filter(|r| r.table == table && !seen.contains(&r.id) && judged(&r.column))
        {
            match old.state {
                Pending | Deferred => {
                    old.state = Withdrawn;
                    old.note = Some("withdrawn: later data contradicts it".into());
                }
                Accepted | Applied
                    if old
                        .note
                        .as_deref()
                        .is_none_or(|n| !n.starts_with("violated")) =>
                {
                    alerts.push(violated(old, "later data contradicts it"));
                }
                _ => {}
            }
        }
        alerts
    }

    /// Records a decision; returns false for an unknown id or a final state.
    pub fn decide(&mut self, id: &str, d: Decision, by: &str) -> bool {
        use RecommendationState::*;
        let Some(r) = self.recs.get_mut(id) else {
            return false;
        };
        if matches!(r.state, Applied | Withdrawn) {
            return false;
        }
        r.state = match d {
            Decision::Accept => Accepted,
            Decision::Reject => Rejected,
            Decision::Defer => Deferred,
        };
        r.decided_by = Some(by.into());
        true
    }

    /// Accepts every pending recommendation at or above `threshold`.
    pub fn accept_above(&mut self, threshold: f64) -> Vec<String> {
        let by = accept_above_by(threshold);
        let ids: Vec<String> = self
            .recs
            .values()
            .filter(|r| r.state == RecommendationState::Pending && r.confidence >= threshold)
            .map(|r| r.id.clone())
            .collect();
        for id in &ids {
            self.decide(id, Decision::Accept, &by);
        }
        ids
    }
}

fn violated(r: &mut Recommendation, why: &str) -> Alert {
    r.note = Some(format!("violated: {why}"));
    Alert {
        id: r.id.clone(),
        message: format!(
            "{} {} on {}.{} is violated by later data: {why}",
            r.state_word(),
            r.kind.name(),
            r.table,
            r.column
        ),
    }
}

impl Recommendation {
    fn state_word(&self) -> &'static str {
        match self.state {
            RecommendationState::Applied => "applied",
            _ => "accepted",
        }
    }
}
