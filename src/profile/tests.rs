//! Sketches against synthetic columns whose truth is known by construction.

use super::sketch::{Moments, Quantiles, TopK, splitmix, value_hash};
use super::*;

fn col(t: ColumnType) -> ColumnProfile {
    ColumnProfile::new("c", Side::Target, t, (None, None))
}

fn unit(rng: &mut u64) -> f64 {
    (splitmix(rng) >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn distinct_estimate_within_two_percent_at_a_million() {
    let mut p = col(ColumnType::BigInt);
    let mut rng = 7u64;
    // 1M values drawn from 400k distinct ids, each id at least once.
    let truth = 400_000u64;
    for i in 0..1_000_000u64 {
        let id = if i < truth {
            i
        } else {
            splitmix(&mut rng) % truth
        };
        p.push(&Value::Int(id as i64 * 7919));
    }
    let s = p.snapshot(5);
    let err = (s.distinct as f64 - truth as f64).abs() / truth as f64;
    assert!(
        err < 0.02,
        "estimate {} vs {truth}: {:.3}%",
        s.distinct,
        err * 100.0
    );
}

#[test]
fn distinct_estimate_of_text_within_two_percent() {
    // Structured text is where a weak hash shows: shared prefixes, digits
    // that differ in one place, lengths that cross a word boundary.
    let truth = 300_000u64;
    for shape in [
        "user-{}",
        "{}",
        "s3://bucket/models/{}/model.pkl",
        "x{}\u{0}",
    ] {
        let mut p = col(ColumnType::Text);
        for i in 0..truth * 2 {
            p.push(&Value::Text(shape.replace("{}", &(i % truth).to_string())));
        }
        let s = p.snapshot(5);
        let err = (s.distinct as f64 - truth as f64).abs() / truth as f64;
        assert!(err < 0.02, "{shape}: estimate {} vs {truth}", s.distinct);
    }
}

#[test]
fn value_hash_separates_a_million_close_values() {
    // No two of these should share a 64-bit hash (a collision among 4M
    // well-spread hashes has odds of about one in two million).
    let mut seen = std::collections::HashSet::new();
    for i in 0..1_000_000i64 {
        for v in [
            Value::Int(i),
            Value::Text(i.to_string()),
            Value::Text(format!("{i}\u{0}")),
            Value::Float(i as f64),
        ] {
            assert!(seen.insert(value_hash(&v)), "collision at {v:?}");
        }
    }
    // And the bits are balanced: each output bit set for about half.
    let mut ones = [0u32; 64];
    for i in 0..100_000i64 {
        let h = value_hash(&Value::Int(i));
        for (b, n) in ones.iter_mut().enumerate() {
            *n += ((h >> b) & 1) as u32;
        }
    }
    for (b, n) in ones.iter().enumerate() {
        assert!(
            (48_000..52_000).contains(n),
            "bit {b} set {n} times in 100000"
        );
    }
}

#[test]
fn quantiles_within_one_percent_rank_error() {
    let mut q = Quantiles::default();
    let mut rng = 11u64;
    let mut all = Vec::new();
    for _ in 0..200_000 {
        // A skewed column: exponential.
        let x = -unit(&mut rng).max(1e-12).ln() * 10.0;
        q.push(x);
        all.push(x);
    }
    all.sort_by(f64::total_cmp);
    for p in [0.5, 0.95, 0.99] {
        let est = q.quantile(p).unwrap();
        let rank = all.partition_point(|x| *x < est) as f64 / all.len() as f64;
        assert!(
            (rank - p).abs() < 0.01,
            "p{p}: estimate {est} has rank {rank}"
        );
    }
}

#[test]
fn top_k_is_exact_on_a_zipf_column() {
    let mut rng = 3u64;
    let n_items = 5_000usize;
    // Zipf(1.1) by inverse CDF over the item weights.
    let weights: Vec<f64> = (1..=n_items).map(|k| 1.0 / (k as f64).powf(1.1)).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(n_items);
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cdf.push(acc);
    }
    let mut exact = vec![0u64; n_items];
    let mut top = TopK::new(256);
    for _ in 0..300_000 {
        let u = unit(&mut rng);
        let k = cdf.partition_point(|c| *c < u).min(n_items - 1);
        exact[k] += 1;
        let v = Value::Int(k as i64);
        top.push(value_hash(&v), &v);
    }
    let mut truth: Vec<(usize, u64)> = exact.iter().copied().enumerate().collect();
    truth.sort_by_key(|t| std::cmp::Reverse(t.1));
    let got: Vec<i64> = top
        .top(10)
        .iter()
        .map(|(v, _, _)| v.as_i64().unwrap())
        .collect();
    let want: Vec<i64> = truth[..10].iter().map(|(k, _)| *k as i64).collect();
    assert_eq!(got, want);
    for ((_, count, err), (_, t)) in top.top(10).iter().zip(&truth[..10]) {
        assert!(
            *count >= *t && count - err <= *t,
            "count {count}±{err} vs {t}"
        );
    }
}

#[test]
fn top_k_finds_a_heavy_value_among_unique_ones_within_its_bounds() {
    // Every 10th row is the same value; every other row is new, so counters
    // are replaced all the time and the minimum moves with them.
    let mut top = TopK::new(64);
    let n = 200_000i64;
    for i in 0..n {
        let v = if i % 10 == 0 {
            Value::Int(-1)
        } else {
            Value::Int(i)
        };
        top.push(value_hash(&v), &v);
    }
    let heavy = n / 10;
    let best = top.top(2);
    assert_eq!(best[0].0, &Value::Int(-1));
    let (count, err) = (best[0].1, best[0].2);
    assert!(
        count >= heavy as u64 && count - err <= heavy as u64,
        "{count}±{err}"
    );
    // A unique value never earns more than the smallest counter it replaced plus one.
    assert!(best[1].1 - best[1].2 <= 1, "{:?}", best[1]);
    assert!(top.evictions > 0);
    assert_eq!(top.len(), 64);
    // Space-Saving only ever replaces a smallest counter, so the counts add
    // up to the stream's length.
    let all = top.top(64);
    assert_eq!(all.iter().map(|t| t.1).sum::<u64>(), n as u64);

    // Slightly more values than counters, drawn at random: counters listed
    // at the minimum keep growing before they are used.
    let mut top = TopK::new(64);
    let mut rng = 11u64;
    for _ in 0..50_000 {
        let v = Value::Int((splitmix(&mut rng) % 80) as i64);
        top.push(value_hash(&v), &v);
    }
    assert_eq!(top.top(64).iter().map(|t| t.1).sum::<u64>(), 50_000);
}

#[test]
fn top_k_keeps_each_text_whole_when_counters_are_replaced() {
    // Unique texts of changing lengths replace counters on every value; one
    // text recurs.
    let text = |i: usize| format!("{i}-{}", "x".repeat(i % 37));
    let heavy = Value::Text("the recurring one".into());
    let mut top = TopK::new(16);
    let mut pushed = std::collections::HashSet::new();
    for i in 0..5_000 {
        let v = if i % 5 == 0 {
            heavy.clone()
        } else {
            Value::Text(text(i))
        };
        top.push(value_hash(&v), &v);
        pushed.insert(v.render());
    }
    assert!(top.evictions > 3_900, "{}", top.evictions);
    let all = top.top(16);
    assert_eq!(all[0].0, &heavy);
    for (v, _, _) in &all {
        assert!(pushed.contains(&v.render()), "{v:?} was never pushed");
    }
    // The last value pushed took a replaced counter; it reads back whole.
    let last = Value::Text(text(4_999));
    assert!(all.iter().any(|(v, _, _)| **v == last), "{all:?}");
}

#[test]
fn welford_merged_with_chan_equals_one_pass() {
    let xs: Vec<f64> = (0..1000)
        .map(|i| ((i * 37) % 101) as f64 * 1.5 - 20.0)
        .collect();
    let mut whole = Moments::default();
    xs.iter().for_each(|x| whole.push(*x));
    let (mut a, mut b) = (Moments::default(), Moments::default());
    xs[..333].iter().for_each(|x| a.push(*x));
    xs[333..].iter().for_each(|x| b.push(*x));
    a.merge(&b);
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
    assert!((a.mean - mean).abs() < 1e-9 && (whole.mean - mean).abs() < 1e-9);
    assert!((a.stddev() - var.sqrt()).abs() < 1e-9);
}

#[test]
fn merged_profiles_agree_with_one_profile() {
    let values: Vec<Value> = (0..20_000)
        .map(|i| {
            if i % 97 == 0 {
                Value::Null
            } else {
                Value::Int(i)
            }
        })
        .collect();
    let mut one = col(ColumnType::BigInt);
    values.iter().for_each(|v| one.push(v));
    let (mut a, mut b) = (col(ColumnType::BigInt), col(ColumnType::BigInt));
    values[..7000].iter().for_each(|v| a.push(v));
    values[7000..].iter().for_each(|v| b.push(v));
    a.merge(&b);
    let (s1, s2) = (one.snapshot(3), a.snapshot(3));
    assert_eq!((s1.count, s1.nulls), (s2.count, s2.nulls));
    assert_eq!((s1.min, s1.max), (s2.min, s2.max));
    assert_eq!(s2.monotonic, Monotonic::StrictlyIncreasing);
    assert_eq!(s1.nulls_stable_for, s2.nulls_stable_for);
    assert!((s1.mean.unwrap() - s2.mean.unwrap()).abs() < 1e-6);
}

#[test]
fn type_inference_on_mixed_text_columns() {
    let cases: &[(&[&str], Option<&str>)] = &[
        (&["1", "42", "-7"], Some("bigint")),
        (&["1", "2.5", "3"], Some("double")),
        (&["true", "false", "yes"], Some("bool")),
        (&["2024-01-02", "1999-12-31"], Some("date")),
        (
            &["2024-01-02 10:00:00", "2024-01-03T11:30:00.5"],
            Some("datetime"),
        ),
        (
            &[
                "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
                "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            ],
            Some("uuid"),
        ),
        (&["{\"a\": 1}", "[1, 2]"], Some("json")),
        (&["12", "twelve"], None),
        (&["2024-01-02", "2024-13-40"], None),
        (&["{\"a\": 1}", "{\"a\": "], None),
    ];
    for (values, want) in cases {
        let mut p = col(ColumnType::Text);
        values.iter().for_each(|v| p.push(&Value::from(*v)));
        assert_eq!(p.snapshot(3).inferred_type.as_deref(), *want, "{values:?}");
    }
}

#[test]
fn anomalies_flag_percentages_among_fractions_and_nothing_in_a_clean_column() {
    let mut rng = 5u64;
    let mut dirty = ColumnProfile::new(
        "acc",
        Side::Source,
        ColumnType::Double,
        (Some(0.0), Some(1.0)),
    );
    let mut clean = ColumnProfile::new("gpu", Side::Target, ColumnType::Double, (Some(0.0), None));
    let mut seeded = 0;
    for i in 0..100_000 {
        let f = 0.5 + unit(&mut rng) * 0.49;
        let v = if i % 50 == 7 {
            seeded += 1;
            f * 100.0
        } else {
            f
        };
        dirty.push(&Value::Float(v));
        // Product of two uniforms: skewed, bounded, clean.
        let g = (5.0 + unit(&mut rng) * 4000.0) * (1.0 + (unit(&mut rng) * 8.0).floor()) / 60.0;
        clean.push(&Value::Float(g));
    }
    let d = dirty.snapshot(3);
    assert_eq!(d.out_of_rule, seeded);
    assert_eq!(d.outliers, seeded);
    let c = clean.snapshot(3);
    assert_eq!(
        (c.outliers, c.out_of_rule),
        (0, 0),
        "{:?}",
        c.outlier_examples
    );
}

#[test]
fn domain_is_exact_and_stability_counts_rows_since_last_new_value() {
    let mut p = col(ColumnType::Varchar(32));
    let set = ["Draft", "Active", "Pending Review"];
    for i in 0..10_000 {
        p.push(&Value::from(set[i % 3]));
    }
    p.push(&Value::from("Retired"));
    for i in 0..99 {
        p.push(&Value::from(set[i % 3]));
    }
    let s = p.snapshot(10);
    assert_eq!(
        s.domain.as_deref(),
        Some(&["Active", "Draft", "Pending Review", "Retired"].map(String::from)[..])
    );
    assert_eq!(s.domain_stable_for, 99);
    assert_eq!(s.max_len, 14);
    // A value new in the last 1% of rows: the domain is still open.
    assert!(s.domain_growing());
}

#[test]
fn holt_projects_a_linear_trend_within_its_band() {
    let mut daily = growth::DailyCounts::default();
    let start = NaiveDate::from_ymd_opt(2022, 1, 1).unwrap();
    let mut rng = 9u64;
    let mut total = 0u64;
    // 100 rows a day growing by 0.1 a day, with noise.
    for d in 0..730 {
        let n = (100.0 + 0.1 * d as f64 + (unit(&mut rng) - 0.5) * 20.0) as u64;
        total += n;
        for _ in 0..n {
            daily.add(start + chrono::Days::new(d));
        }
    }
    let f = daily.forecast(1.0).unwrap();
    // Truth: the next 365 days add sum(173 + 0.1 h) ≈ 63,145 + 6,679.
    let truth = total as f64 + (1..=365).map(|h| 173.0 + 0.1 * h as f64).sum::<f64>();
    assert!(f.low <= truth && truth <= f.high, "{truth} outside {f:?}");
    assert!(
        (f.rows_in_12_months - truth).abs() / truth < 0.05,
        "{f:?} vs {truth}"
    );
}

#[test]
fn a_drifting_column_has_no_outliers_but_a_spike_in_it_does() {
    let mut p = col(ColumnType::BigInt);
    for i in 0..100_000i64 {
        p.push(&Value::Int(if i == 77_777 { 10_000_000 } else { i }));
    }
    let s = p.snapshot(3);
    assert_eq!(s.outliers, 1, "{:?}", s.outlier_examples);
    assert_eq!(s.outlier_examples, vec!["10000000".to_string()]);
}
