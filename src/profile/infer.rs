//! The narrowest type every text value of a column fits, narrowed as values arrive.

use chrono::{NaiveDate, NaiveDateTime};

/// Candidate types still consistent with every value seen, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidates(u8);

const BOOL: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 4;
const DATE: u8 = 8;
const DATETIME: u8 = 16;
const UUID: u8 = 32;
const JSON: u8 = 64;

impl Default for Candidates {
    fn default() -> Self {
        Self(BOOL | INT | FLOAT | DATE | DATETIME | UUID | JSON)
    }
}

impl Candidates {
    /// Drops every candidate `s` does not parse as; cheap once few remain.
    pub fn observe(&mut self, s: &str) {
        if self.0 == 0 {
            return;
        }
        let t = s.trim();
        let mut keep = 0;
        if self.0 & BOOL != 0 && is_bool(t) {
            keep |= BOOL;
        }
        if self.0 & INT != 0 && t.parse::<i64>().is_ok() {
            keep |= INT;
        }
        if self.0 & FLOAT != 0 && t.parse::<f64>().is_ok_and(f64::is_finite) {
            keep |= FLOAT;
        }
        if self.0 & DATE != 0 && t.len() == 10 && NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok() {
            keep |= DATE;
        }
        if self.0 & DATETIME != 0 && parse_datetime(t).is_some() {
            keep |= DATETIME;
        }
        if self.0 & UUID != 0 && t.len() == 36 && uuid::Uuid::parse_str(t).is_ok() {
            keep |= UUID;
        }
        if self.0 & JSON != 0
            && (t.starts_with('{') || t.starts_with('['))
            && serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok()
        {
            keep |= JSON;
        }
        self.0 &= keep;
    }

    pub fn merge(&mut self, o: Candidates) {
        self.0 &= o.0;
    }

    /// The narrowest remaining type, by the order a DBA would pick.
    pub fn narrowest(self) -> Option<&'static str> {
        [
            (BOOL, "bool"),
            (INT, "bigint"),
            (FLOAT, "double"),
            (UUID, "uuid"),
            (DATE, "date"),
            (DATETIME, "datetime"),
            (JSON, "json"),
        ]
        .into_iter()
        .find(|(bit, _)| self.0 & bit != 0)
        .map(|(_, name)| name)
    }
}

fn is_bool(t: &str) -> bool {
    matches!(
        t.to_ascii_lowercase().as_str(),
        "true" | "false" | "t" | "f" | "yes" | "no" | "y" | "n" | "0" | "1"
    )
}

pub fn parse_datetime(t: &str) -> Option<NaiveDateTime> {
    if t.len() < 16 {
        return None;
    }
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
}

/// Smallest integer type holding `[min, max]`, keeping half the range as headroom.
pub fn integer_type(min: i64, max: i64) -> &'static str {
    let fits = |limit: i64| min >= -limit / 2 && max <= limit / 2;
    if fits(i16::MAX as i64) {
        "smallint"
    } else if fits(i32::MAX as i64) {
        "int"
    } else {
        "bigint"
    }
}

/// A varchar size with at least 50% headroom over the longest value seen.
pub fn varchar_size(max_len: u64) -> u32 {
    let want = max_len + max_len / 2;
    [16u32, 32, 64, 128, 255, 512, 1024, 4096]
        .into_iter()
        .find(|n| *n as u64 >= want.max(1))
        .unwrap_or(u32::MAX)
}
