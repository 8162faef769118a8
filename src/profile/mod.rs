//! Live profiling: a tap in the transform stage keeps mergeable sketches per
//! column and hands out plain snapshots for the cockpit and the recommender.

pub mod growth;
pub mod infer;
pub mod sketch;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::hash::DefaultHasher;

use cardinality_estimator::CardinalityEstimator;
use chrono::NaiveDate;
use serde::Serialize;

use crate::project::model::ProfilingSection;
use crate::schema::ColumnType;
use crate::transform::CompiledTable;
use crate::value::{Row, Value};
use growth::{DailyCounts, GrowthForecast};
use infer::Candidates;
use sketch::{Moments, Quantiles, Reservoir, TopK, median_mad, splitmix, value_hash};

/// Precision 14: 16k registers, ~0.8% standard error on the distinct count.
type Hll = CardinalityEstimator<u64, DefaultHasher, 14, 6>;

/// Heavy-hitter counters per column; also the exact value domain while it fits.
const TOPK_CAPACITY: usize = 256;
/// A domain this small with no evictions is listed in full (CHECK, enum candidates).
pub const DOMAIN_LIMIT: usize = 64;
/// Values kept for median/MAD and the histogram.
const RESERVOIR: usize = 2048;
/// Values needed before the outlier fence is trusted.
const FENCE_WARMUP: usize = 200;
/// Values judged together against one refreshed fence.
const FENCE_BATCH: usize = 8192;
/// Robust z-score beyond which a value is an outlier. Above the usual 3.5 so that
/// skewed but clean columns stay quiet; a percentage among fractions is far beyond.
const FENCE_Z: f64 = 6.0;
const EXAMPLES: usize = 5;

/// Whether a column's values come from the source row or the transformed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Source,
    Target,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Monotonic {
    /// Each value greater than the one before (in key order).
    StrictlyIncreasing,
    Increasing,
    Decreasing,
    None,
    /// Not tracked for this type (text) or too few values.
    Unknown,
}

/// Sketches of one column; `merge` combines two workers' profiles, the second
/// having seen rows after the first.
#[derive(Debug, Clone)]
pub struct ColumnProfile {
    pub name: String,
    pub side: Side,
    pub declared: ColumnType,
    /// Business rule bounds of the field (`min`/`max` in the project).
    pub rule: (Option<f64>, Option<f64>),
    count: u64,
    nulls: u64,
    last_null_at: u64,
    hll: Hll,
    moments: Moments,
    quantiles: Quantiles,
    reservoir: Reservoir,
    topk: TopK,
    max_len: u64,
    text_seen: bool,
    candidates: Candidates,
    min: Option<Value>,
    max: Option<Value>,
    extremes_changed_at: u64,
    domain_grew_at: u64,
    first: Option<Value>,
    last: Option<Value>,
    non_decreasing: bool,
    non_increasing: bool,
    strictly_increasing: bool,
    /// Numbers not yet judged for outliers.
    fence_pending: Vec<f64>,
    outliers: u64,
    outlier_examples: Vec<f64>,
    out_of_rule: u64,
    rule_examples: Vec<String>,
}

impl ColumnProfile {
    pub fn new(
        name: &str,
        side: Side,
        declared: ColumnType,
        rule: (Option<f64>, Option<f64>),
    ) -> Self {
        Self {
            name: name.into(),
            side,
            declared,
            rule,
            count: 0,
            nulls: 0,
            last_null_at: 0,
            hll: Hll::new(),
            moments: Moments::default(),
            quantiles: Quantiles::default(),
            reservoir: Reservoir::new(RESERVOIR),
            topk: TopK::new(TOPK_CAPACITY),
            max_len: 0,
            text_seen: false,
            candidates: Candidates::default(),
            min: None,
            max: None,
            extremes_changed_at: 0,
            domain_grew_at: 0,
            first: None,
            last: None,
            non_decreasing: true,
            non_increasing: true,
            strictly_increasing: true,
            fence_pending: Vec::new(),
            outliers: 0,
            outlier_examples: Vec::new(),
            out_of_rule: 0,
            rule_examples: Vec::new(),
        }
    }

    pub fn push(&mut self, v: &Value) {
        self.count += 1;
        if v.is_null() {
            self.nulls += 1;
            self.last_null_at = self.count;
            return;
        }
        let h = value_hash(v);
        self.hll.insert_hash(h);
        let known = (self.topk.len(), self.topk.evictions);
        self.topk.push(h, v);
        if (self.topk.len(), self.topk.evictions) != known {
            self.domain_grew_at = self.count;
        }
        if let Value::Text(s) = v {
            self.text_seen = true;
            if s.len() as u64 > self.max_len {
                let chars = s.chars().count() as u64;
                if chars > self.max_len {
                    self.max_len = chars;
                    self.extremes_changed_at = self.count;
                }
            }
            self.candidates.observe(s);
        }
        self.track_extremes(v);
        if let Some(x) = numeric(v) {
            self.push_number(x, v);
        }
    }

    fn track_extremes(&mut self, v: &Value) {
        // Lexicographic extremes of text move all the time and mean little;
        // only numeric and temporal ones (and max length) count as instability.
        let ordered = !matches!(v, Value::Text(_) | Value::Bytes(_));
        if self
            .min
            .as_ref()
            .is_none_or(|m| compare(v, m) == Some(Ordering::Less))
        {
            self.min = Some(v.clone());
            if ordered {
                self.extremes_changed_at = self.count;
            }
        }
        if self
            .max
            .as_ref()
            .is_none_or(|m| compare(v, m) == Some(Ordering::Greater))
        {
            self.max = Some(v.clone());
            if ordered {
                self.extremes_changed_at = self.count;
            }
        }
        if !ordered {
            return;
        }
        match &self.last {
            None => self.first = Some(v.clone()),
            Some(prev) => match compare(v, prev) {
                Some(Ordering::Greater) => self.non_increasing = false,
                Some(Ordering::Less) => {
                    self.non_decreasing = false;
                    self.strictly_increasing = false;
                }
                Some(Ordering::Equal) => self.strictly_increasing = false,
                None => {
                    self.non_decreasing = false;
                    self.non_increasing = false;
                    self.strictly_increasing = false;
                }
            },
        }
        self.last = Some(v.clone());
    }

    fn push_number(&mut self, x: f64, v: &Value) {
        self.moments.push(x);
        self.quantiles.push(x);
        self.reservoir.push(x);
        let (lo, hi) = self.rule;
        if lo.is_some_and(|m| x < m) || hi.is_some_and(|m| x > m) {
            self.out_of_rule += 1;
            if self.rule_examples.len() < EXAMPLES {
                self.rule_examples.push(v.render());
            }
        }
        self.fence_pending.push(x);
        if self.fence_pending.len() >= FENCE_BATCH {
            self.check_pending();
        }
    }

    /// Judges the values waiting since the last check against a fence drawn
    /// from the reservoir, which samples the whole column so far. A fence fixed
    /// early would flag every later value of a column that drifts (ids, counters).
    fn check_pending(&mut self) {
        if self.fence_pending.is_empty() || self.reservoir.values.len() < FENCE_WARMUP {
            return;
        }
        let pending = std::mem::take(&mut self.fence_pending);
        let Some((m, mad)) = median_mad(&self.reservoir.values) else {
            return;
        };
        // 1.4826·MAD estimates σ for normal data; a zero MAD (one dominant value) gives no fence.
        let scale = 1.4826 * mad;
        if scale <= 0.0 {
            return;
        }
        let (lo, hi) = (m - FENCE_Z * scale, m + FENCE_Z * scale);
        for x in pending {
            if x < lo || x > hi {
                self.outliers += 1;
                if self.outlier_examples.len() < EXAMPLES {
                    self.outlier_examples.push(x);
                }
            }
        }
    }

    /// Adds `o`, a profile of rows that came after this one's.
    pub fn merge(&mut self, o: &ColumnProfile) {
        let offset = self.count;
        if o.nulls > 0 {
            self.last_null_at = offset + o.last_null_at;
        }
        if o.extremes_changed_at > 0 {
            self.extremes_changed_at = offset + o.extremes_changed_at;
        }
        if o.domain_grew_at > 0 {
            self.domain_grew_at = offset + o.domain_grew_at;
        }
        self.count += o.count;
        self.nulls += o.nulls;
        self.hll.merge(&o.hll);
        self.moments.merge(&o.moments);
        self.quantiles.merge(&o.quantiles);
        self.reservoir.merge(&o.reservoir);
        self.topk.merge(&o.topk);
        self.max_len = self.max_len.max(o.max_len);
        self.text_seen |= o.text_seen;
        if o.text_seen {
            self.candidates.merge(o.candidates);
        }
        for v in [&o.min, &o.max].into_iter().flatten() {
            self.track_extremes_only(v);
        }
        if let (Some(last), Some(first)) = (&self.last, &o.first) {
            match compare(first, last) {
                Some(Ordering::Greater) => self.non_increasing = false,
                Some(Ordering::Less) => {
                    self.non_decreasing = false;
                    self.strictly_increasing = false;
                }
                _ => self.strictly_increasing = false,
            }
        }
        self.non_decreasing &= o.non_decreasing;
        self.non_increasing &= o.non_increasing;
        self.strictly_increasing &= o.strictly_increasing;
        if self.first.is_none() {
            self.first = o.first.clone();
        }
        if o.last.is_some() {
            self.last = o.last.clone();
        }
        self.outliers += o.outliers;
        self.outlier_examples.extend(&o.outlier_examples);
        self.outlier_examples.truncate(EXAMPLES);
        self.out_of_rule += o.out_of_rule;
        self.rule_examples.extend(o.rule_examples.iter().cloned());
        self.rule_examples.truncate(EXAMPLES);
        self.fence_pending.extend(&o.fence_pending);
        if self.fence_pending.len() >= FENCE_BATCH {
            self.check_pending();
        }
    }

    fn track_extremes_only(&mut self, v: &Value) {
        if self
            .min
            .as_ref()
            .is_none_or(|m| compare(v, m) == Some(Ordering::Less))
        {
            self.min = Some(v.clone());
        }
        if self
            .max
            .as_ref()
            .is_none_or(|m| compare(v, m) == Some(Ordering::Greater))
        {
            self.max = Some(v.clone());
        }
    }

    pub fn snapshot(&mut self, top_k: usize) -> ColumnStats {
        self.check_pending();
        let non_null = self.count - self.nulls;
        let exact = self.topk.evictions == 0 && self.topk.len() <= DOMAIN_LIMIT;
        let distinct = if self.topk.evictions == 0 {
            self.topk.len() as u64
        } else {
            self.hll.estimate() as u64
        };
        let numeric_seen = self.moments.n > 0;
        let monotonic = if non_null < 2 || self.first.is_none() {
            Monotonic::Unknown
        } else if self.strictly_increasing {
            Monotonic::StrictlyIncreasing
        } else if self.non_decreasing {
            Monotonic::Increasing
        } else if self.non_increasing {
            Monotonic::Decreasing
        } else {
            Monotonic::None
        };
        let inferred = if self.text_seen && non_null > 0 {
            self.candidates.narrowest().map(str::to_string)
        } else {
            None
        };
        let mut domain: Option<Vec<String>> = exact.then(|| {
            self.topk
                .top(DOMAIN_LIMIT)
                .iter()
                .map(|(v, _, _)| v.render())
                .collect()
        });
        if let Some(d) = domain.as_mut() {
            d.sort();
        }
        ColumnStats {
            name: self.name.clone(),
            side: self.side,
            declared_type: self.declared.to_string(),
            count: self.count,
            nulls: self.nulls,
            distinct,
            min: self.min.as_ref().map(Value::render),
            max: self.max.as_ref().map(Value::render),
            min_number: self.min.as_ref().and_then(numeric),
            max_number: self.max.as_ref().and_then(numeric),
            mean: numeric_seen.then_some(self.moments.mean),
            stddev: numeric_seen.then(|| self.moments.stddev()),
            p50: self.quantiles.quantile(0.5),
            p95: self.quantiles.quantile(0.95),
            p99: self.quantiles.quantile(0.99),
            top: self
                .topk
                .top(top_k)
                .into_iter()
                .map(|(v, count, _)| TopValue {
                    value: v.render(),
                    count,
                })
                .collect(),
            domain,
            max_len: self.max_len,
            inferred_type: inferred,
            monotonic,
            nulls_stable_for: self.count - self.last_null_at,
            extremes_stable_for: self.count - self.extremes_changed_at,
            domain_stable_for: self.count - self.domain_grew_at,
            outliers: self.outliers,
            outlier_examples: self
                .outlier_examples
                .iter()
                .map(|x| x.to_string())
                .collect(),
            rule_min: self.rule.0,
            rule_max: self.rule.1,
            out_of_rule: self.out_of_rule,
            out_of_rule_examples: self.rule_examples.clone(),
            histogram: histogram(&self.reservoir.values, 16),
        }
    }
}

/// Numbers that sketches summarise: integers and floats only.
fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

/// Order of two values of the same kind; `None` across kinds.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Float(x), Float(y)) => x.partial_cmp(y),
        (Int(x), Float(y)) => (*x as f64).partial_cmp(y),
        (Float(x), Int(y)) => x.partial_cmp(&(*y as f64)),
        (Text(x), Text(y)) => Some(x.cmp(y)),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Uuid(x), Uuid(y)) => Some(x.cmp(y)),
        (Date(x), Date(y)) => Some(x.cmp(y)),
        (DateTime(x), DateTime(y)) => Some(x.cmp(y)),
        (Timestamp(x), Timestamp(y)) => Some(x.cmp(y)),
        (Bytes(x), Bytes(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn histogram(values: &[f64], bins: usize) -> Vec<u64> {
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
            (l.min(*x), h.max(*x))
        });
    if values.is_empty() || hi <= lo {
        return Vec::new();
    }
    let mut out = vec![0u64; bins];
    for x in values {
        let i = (((x - lo) / (hi - lo)) * bins as f64) as usize;
        out[i.min(bins - 1)] += 1;
    }
    out
}

/// One value and how often it was seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopValue {
    pub value: String,
    pub count: u64,
}

/// What the profile says about one column at one moment: plain data to render.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnStats {
    pub name: String,
    pub side: Side,
    pub declared_type: String,
    /// Values profiled (NULLs included).
    pub count: u64,
    pub nulls: u64,
    /// Exact while the column has few values, else a HyperLogLog estimate.
    pub distinct: u64,
    pub min: Option<String>,
    pub max: Option<String>,
    pub min_number: Option<f64>,
    pub max_number: Option<f64>,
    pub mean: Option<f64>,
    pub stddev: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub top: Vec<TopValue>,
    /// Every distinct value, sorted, when there are at most [`DOMAIN_LIMIT`].
    pub domain: Option<Vec<String>>,
    /// Longest text value, in characters.
    pub max_len: u64,
    /// Narrowest type all text values parse as.
    pub inferred_type: Option<String>,
    pub monotonic: Monotonic,
    /// Profiled values since the last NULL (all of them if none).
    pub nulls_stable_for: u64,
    /// Profiled values since min, max or max length last moved.
    pub extremes_stable_for: u64,
    /// Profiled values since a value not seen before.
    pub domain_stable_for: u64,
    /// Robust outliers (beyond 6 scaled MADs from the median).
    pub outliers: u64,
    pub outlier_examples: Vec<String>,
    pub rule_min: Option<f64>,
    pub rule_max: Option<f64>,
    /// Values outside the field's business rule (`min`/`max`).
    pub out_of_rule: u64,
    pub out_of_rule_examples: Vec<String>,
    /// Counts in 16 equal-width bins between the sampled min and max.
    pub histogram: Vec<u64>,
}

impl ColumnStats {
    /// Whether the set of values is still growing (prediction of the value domain).
    pub fn domain_growing(&self) -> bool {
        let non_null = self.count - self.nulls;
        non_null > 0 && self.domain_stable_for * 2 < non_null
    }
}

/// The profile of one table at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableProfileSnapshot {
    pub source_table: String,
    pub table: String,
    /// Rows the tap saw (transformed or quarantined).
    pub rows_seen: u64,
    /// Rows profiled (after sampling).
    pub rows_profiled: u64,
    pub sample: f64,
    /// Target columns first, then source columns kept for their business rules.
    pub columns: Vec<ColumnStats>,
    pub growth: Option<GrowthForecast>,
}

impl TableProfileSnapshot {
    pub fn column(&self, side: Side, name: &str) -> Option<&ColumnStats> {
        self.columns
            .iter()
            .find(|c| c.side == side && c.name == name)
    }
}

/// The tap of one table: feed it every source row and its transformed row.
#[derive(Debug, Clone)]
pub struct TableProfiler {
    source_table: String,
    table: String,
    sample: f64,
    top_k: usize,
    rng: u64,
    rows_seen: u64,
    rows_profiled: u64,
    target: Vec<ColumnProfile>,
    /// (position in the source row, profile).
    source: Vec<(usize, ColumnProfile)>,
    growth_column: Option<usize>,
    daily: DailyCounts,
}

impl TableProfiler {
    /// `growth_column` is the source column name feeding the growth forecast.
    pub fn new(table: &CompiledTable, cfg: &ProfilingSection, growth_column: Option<&str>) -> Self {
        let target = table
            .target_columns()
            .iter()
            .zip(&table.fields)
            .map(|(c, f)| ColumnProfile::new(&c.name, Side::Target, c.column_type, (f.min, f.max)))
            .collect();
        // Source values of fields with business rules: the dirt the rules catch.
        let mut source: Vec<(usize, ColumnProfile)> = Vec::new();
        for f in &table.fields {
            if let Some(i) = f.source
                && (f.min.is_some() || f.max.is_some())
                && !source.iter().any(|(j, _)| *j == i)
            {
                let name = &table.source_columns()[i];
                source.push((
                    i,
                    ColumnProfile::new(name, Side::Source, ColumnType::Text, (f.min, f.max)),
                ));
            }
        }
        Self {
            source_table: table.source_table().into(),
            table: table.target_table().into(),
            sample: if cfg.sample > 0.0 {
                cfg.sample.min(1.0)
            } else {
                1.0
            },
            top_k: cfg.top_k,
            rng: 0x5EED,
            rows_seen: 0,
            rows_profiled: 0,
            target,
            source,
            growth_column: growth_column
                .and_then(|g| table.source_columns().iter().position(|c| c == g)),
            daily: DailyCounts::default(),
        }
    }

    /// One source row and what it became (`None` if quarantined).
    pub fn observe(&mut self, src: &Row, out: Option<&Row>) {
        self.rows_seen += 1;
        if self.sample < 1.0 {
            let u = (splitmix(&mut self.rng) >> 11) as f64 / (1u64 << 53) as f64;
            if u >= self.sample {
                return;
            }
        }
        self.rows_profiled += 1;
        if let Some(out) = out {
            for (p, v) in self.target.iter_mut().zip(out) {
                p.push(v);
            }
        }
        for (i, p) in &mut self.source {
            p.push(&src[*i]);
        }
        if let Some(day) = self.growth_column.and_then(|g| day_of(&src[g])) {
            self.daily.add(day);
        }
    }

    /// Adds a profile of later rows of the same table (another worker's).
    pub fn merge(&mut self, o: &TableProfiler) {
        self.rows_seen += o.rows_seen;
        self.rows_profiled += o.rows_profiled;
        for (a, b) in self.target.iter_mut().zip(&o.target) {
            a.merge(b);
        }
        for ((_, a), (_, b)) in self.source.iter_mut().zip(&o.source) {
            a.merge(b);
        }
        self.daily.merge(&o.daily);
    }

    pub fn snapshot(&mut self) -> TableProfileSnapshot {
        let top_k = self.top_k;
        let mut columns: Vec<ColumnStats> =
            self.target.iter_mut().map(|c| c.snapshot(top_k)).collect();
        columns.extend(self.source.iter_mut().map(|(_, c)| c.snapshot(top_k)));
        TableProfileSnapshot {
            source_table: self.source_table.clone(),
            table: self.table.clone(),
            rows_seen: self.rows_seen,
            rows_profiled: self.rows_profiled,
            sample: self.sample,
            columns,
            growth: self.daily.forecast(1.0 / self.sample),
        }
    }
}

/// The calendar day of a timestamp-like value (text is read by its date prefix).
fn day_of(v: &Value) -> Option<NaiveDate> {
    match v {
        Value::Date(d) => Some(*d),
        Value::DateTime(d) => Some(d.date()),
        Value::Timestamp(t) => Some(t.date_naive()),
        Value::Text(s) => s
            .get(..10)
            .and_then(|p| NaiveDate::parse_from_str(p, "%Y-%m-%d").ok()),
        _ => None,
    }
}
