//! How sure a recommendation is, from the evidence the profile holds.
//!
//! A "zero violations" claim (NOT NULL, CHECK, a narrower type, UNIQUE) is the
//! bet that the `remaining` rows of the load keep a property that the last
//! `held` rows kept without exception. Laplace's rule of succession, extended to
//! m future trials, gives that probability under a uniform prior on the
//! violation rate: (held + 1) / (held + remaining + 1). It is multiplied by a
//! support factor held / (held + 100), so that a handful of rows never yields a
//! confident claim even at the end of a tiny table. Confidence therefore rises
//! as the load progresses and the property keeps holding, and resets when a
//! value breaks the streak (the `*_stable_for` counters of the profile).

/// Rows below which evidence is weak: support is 1/2 at this many rows.
const SUPPORT_HALF: f64 = 100.0;

pub fn support(rows: u64) -> f64 {
    rows as f64 / (rows as f64 + SUPPORT_HALF)
}

/// Probability that `remaining` more rows keep a property `held` rows kept.
pub fn rows_held(held: u64, remaining: u64) -> f64 {
    (held as f64 + 1.0) / (held as f64 + remaining as f64 + 1.0)
}

pub fn zero_violations(held: u64, remaining: u64) -> f64 {
    (rows_held(held, remaining) * support(held)).clamp(0.0, 1.0)
}

/// An index cannot be violated; its worth is selectivity: the share of the
/// table an equality lookup skips, 1 − 1/distinct, times the support.
pub fn index(rows: u64, distinct: u64) -> f64 {
    if distinct == 0 {
        return 0.0;
    }
    ((1.0 - 1.0 / distinct as f64) * support(rows)).clamp(0.0, 1.0)
}

/// Chance the projection exceeds `threshold`, reading the band as uniform
/// around the point forecast on each side.
pub fn exceeds(low: f64, mid: f64, high: f64, threshold: f64) -> f64 {
    let p = if threshold <= low {
        1.0
    } else if threshold >= high {
        0.0
    } else if threshold <= mid {
        1.0 - 0.5 * (threshold - low) / (mid - low).max(1e-9)
    } else {
        0.5 * (high - threshold) / (high - mid).max(1e-9)
    };
    p.clamp(0.0, 1.0)
}
