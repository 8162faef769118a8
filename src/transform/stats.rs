//! What the rules saw: unmatched values and defaults, per target column, for reports.

use std::collections::{BTreeMap, HashMap};

/// Distinct unmatched values kept per column; the rest are only counted.
pub const MAX_UNMATCHED_PER_COLUMN: usize = 50;

/// Counters of one target column.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ColumnStats {
    /// Values a rule could not match (lookup, canonicalize, value_map), with counts.
    pub unmatched: HashMap<String, u64>,
    /// Occurrences of unmatched values beyond the first `MAX_UNMATCHED_PER_COLUMN` distinct ones.
    pub unmatched_overflow: u64,
    /// Times the configured `default` stood in for a missing value.
    pub defaults_used: u64,
}

impl ColumnStats {
    fn add_unmatched(&mut self, value: &str, count: u64) {
        if let Some(n) = self.unmatched.get_mut(value) {
            *n += count;
        } else if self.unmatched.len() < MAX_UNMATCHED_PER_COLUMN {
            self.unmatched.insert(value.to_string(), count);
        } else {
            self.unmatched_overflow += count;
        }
    }

    /// Unmatched values, most frequent first (ties by value, so reports are stable).
    pub fn unmatched_by_count(&self) -> Vec<(&str, u64)> {
        let mut list: Vec<(&str, u64)> = self
            .unmatched
            .iter()
            .map(|(v, n)| (v.as_str(), *n))
            .collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        list
    }

    /// All unmatched occurrences, listed or not.
    pub fn unmatched_total(&self) -> u64 {
        self.unmatched.values().sum::<u64>() + self.unmatched_overflow
    }
}

/// Per target column counters of a transform run; batches merge into a total.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TransformStats {
    columns: BTreeMap<String, ColumnStats>,
}

impl TransformStats {
    pub fn record_unmatched(&mut self, column: &str, value: &str) {
        self.column_mut(column).add_unmatched(value, 1);
    }

    pub fn record_default(&mut self, column: &str) {
        self.column_mut(column).defaults_used += 1;
    }

    pub fn merge(&mut self, other: &Self) {
        for (name, theirs) in &other.columns {
            let ours = self.column_mut(name);
            ours.defaults_used += theirs.defaults_used;
            ours.unmatched_overflow += theirs.unmatched_overflow;
            for (value, n) in &theirs.unmatched {
                ours.add_unmatched(value, *n);
            }
        }
    }

    pub fn column(&self, name: &str) -> Option<&ColumnStats> {
        self.columns.get(name)
    }

    /// Columns with something to report, by name.
    pub fn columns(&self) -> impl Iterator<Item = (&str, &ColumnStats)> {
        self.columns.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// One line per column, e.g. `algorithm: 2 defaults, unmatched "xgbst" ×3, "?" ×1`.
    pub fn report_lines(&self) -> Vec<String> {
        self.columns()
            .map(|(name, c)| {
                let mut line = format!("{name}: {} defaults", c.defaults_used);
                let listed = c.unmatched_by_count();
                if !listed.is_empty() {
                    line.push_str(", unmatched ");
                    let parts: Vec<String> = listed
                        .iter()
                        .map(|(v, n)| format!("\"{v}\" ×{n}"))
                        .collect();
                    line.push_str(&parts.join(", "));
                }
                if c.unmatched_overflow > 0 {
                    line.push_str(&format!(" and {} more", c.unmatched_overflow));
                }
                line
            })
            .collect()
    }

    fn column_mut(&mut self, name: &str) -> &mut ColumnStats {
        // Look up first so the hot path does not allocate the key each time.
        if !self.columns.contains_key(name) {
            self.columns
                .insert(name.to_string(), ColumnStats::default());
        }
        self.columns.get_mut(name).expect("inserted above")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmatched_values_are_bounded_and_merged() {
        let mut a = TransformStats::default();
        for i in 0..60 {
            a.record_unmatched("algo", &format!("v{i}"));
        }
        a.record_unmatched("algo", "v0");
        let c = a.column("algo").unwrap();
        assert_eq!(c.unmatched.len(), MAX_UNMATCHED_PER_COLUMN);
        assert_eq!(c.unmatched_overflow, 10);
        assert_eq!(c.unmatched_by_count()[0], ("v0", 2));
        assert_eq!(c.unmatched_total(), 61);

        let mut b = TransformStats::default();
        b.record_default("owner");
        b.record_unmatched("algo", "v1");
        b.record_unmatched("algo", "new");
        a.merge(&b);
        assert_eq!(a.column("owner").unwrap().defaults_used, 1);
        let c = a.column("algo").unwrap();
        assert_eq!(c.unmatched["v1"], 2);
        assert_eq!(
            c.unmatched_overflow, 11,
            "a new value past the bound is only counted"
        );
        assert_eq!(a.report_lines().len(), 2);
        assert!(
            a.report_lines()[0].starts_with("algo: 0 defaults, unmatched \"v0\" ×2, \"v1\" ×2")
        );
    }
}
