//! Growth forecast from a timestamp column: daily counts, smoothed with Holt's
//! linear method, projected a year ahead with an uncertainty band.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

/// Rows per day, filled as rows stream (in any order); merges by addition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DailyCounts {
    pub days: BTreeMap<NaiveDate, u64>,
}

/// A projection of the table's size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrowthForecast {
    /// Days from the first to the last observed date.
    pub days_observed: u64,
    /// Smoothed rows per day at the end of the series.
    pub rows_per_day: f64,
    /// Smoothed change of rows per day, per day.
    pub trend_per_day: f64,
    /// Rows the table holds now (observed rows scaled by the sampling fraction).
    pub rows_now: f64,
    /// Projected rows in 12 months, with a ~95% band.
    pub rows_in_12_months: f64,
    pub low: f64,
    pub high: f64,
}

/// Heavy smoothing: daily counts are noisy, the trend is slow.
const ALPHA: f64 = 0.1;
const BETA: f64 = 0.01;
const HORIZON: usize = 365;

impl DailyCounts {
    pub fn add(&mut self, day: NaiveDate) {
        *self.days.entry(day).or_insert(0) += 1;
    }

    pub fn merge(&mut self, o: &DailyCounts) {
        for (d, n) in &o.days {
            *self.days.entry(*d).or_insert(0) += n;
        }
    }

    /// Holt's linear smoothing over the gap-filled daily series; `scale` turns
    /// sampled counts back into table rows.
    pub fn forecast(&self, scale: f64) -> Option<GrowthForecast> {
        let (first, last) = (*self.days.keys().next()?, *self.days.keys().next_back()?);
        let span = (last - first).num_days() as usize + 1;
        if span < 14 {
            return None;
        }
        let mut series = vec![0.0; span];
        for (d, n) in &self.days {
            series[(*d - first).num_days() as usize] = *n as f64 * scale;
        }
        let mut level = series[0];
        let mut trend = 0.0;
        let mut sq = 0.0;
        for &y in &series[1..] {
            // One-step-ahead error before the update: the residuals behind the band.
            let err = y - (level + trend);
            sq += err * err;
            let prev = level;
            level = ALPHA * y + (1.0 - ALPHA) * (level + trend);
            trend = BETA * (level - prev) + (1.0 - BETA) * trend;
        }
        let sigma = (sq / (span - 1) as f64).sqrt();
        let mut total = 0.0;
        let mut band = 0.0;
        for h in 1..=HORIZON {
            let hf = h as f64;
            total += (level + hf * trend).max(0.0);
            // Holt's h-step forecast variance (in units of sigma²), summed over the
            // horizon as if the daily errors were independent.
            let var = 1.0
                + (hf - 1.0)
                    * (ALPHA * ALPHA
                        + ALPHA * BETA * hf
                        + BETA * BETA * hf * (2.0 * hf - 1.0) / 6.0);
            band += var;
        }
        let band = 1.96 * sigma * band.sqrt();
        let rows_now: f64 = series.iter().sum();
        Some(GrowthForecast {
            days_observed: span as u64,
            rows_per_day: level,
            trend_per_day: trend,
            rows_now,
            rows_in_12_months: rows_now + total,
            low: rows_now + (total - band).max(0.0),
            high: rows_now + total + band,
        })
    }
}
