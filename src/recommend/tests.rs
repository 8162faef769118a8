//! Recommendations from profiles of synthetic tables with known truth.

use super::*;
use crate::profile::{ColumnProfile, Side};
use crate::schema::ColumnDef;
use crate::value::Value;

fn snapshot(cols: Vec<(ColumnProfile, &[Value])>, rows: u64) -> TableProfileSnapshot {
    let columns = cols
        .into_iter()
        .map(|(mut p, vals)| {
            vals.iter().for_each(|v| p.push(v));
            p.snapshot(5)
        })
        .collect();
    TableProfileSnapshot {
        source_table: "s".into(),
        table: "t".into(),
        rows_seen: rows,
        rows_profiled: rows,
        sample: 1.0,
        columns,
        growth: None,
    }
}

fn facts(cols: &[(&str, ColumnType)], expected: u64) -> TableFacts {
    TableFacts {
        def: TableDef {
            name: "t".into(),
            columns: cols
                .iter()
                .map(|(n, t)| ColumnDef {
                    name: n.to_string(),
                    column_type: *t,
                    nullable: true,
                })
                .collect(),
            primary_key: vec![],
        },
        foreign_keys: vec!["parent".into()],
        nulled_orphans: vec![],
        expected_rows: expected,
        partition_rows: 10_000_000.0,
    }
}

fn values(n: usize, f: impl Fn(usize) -> Value) -> Vec<Value> {
    (0..n).map(f).collect()
}

#[test]
fn recommends_what_holds_and_nothing_the_data_violates() {
    let n = 10_000;
    let status = values(n, |i| Value::from(["Draft", "Active", "Retired"][i % 3]));
    let name = values(n, |i| {
        if i == 5000 {
            Value::Null
        } else {
            Value::Text(format!("model_{i}"))
        }
    });
    let parent = values(n, |i| Value::Int((i % 500) as i64));
    let seq = values(n, |i| Value::Int(i as i64 + 1));
    let p = snapshot(
        vec![
            (
                ColumnProfile::new(
                    "status",
                    Side::Target,
                    ColumnType::Varchar(64),
                    (None, None),
                ),
                &status,
            ),
            (
                ColumnProfile::new("name", Side::Target, ColumnType::Varchar(255), (None, None)),
                &name,
            ),
            (
                ColumnProfile::new("parent", Side::Target, ColumnType::BigInt, (None, None)),
                &parent,
            ),
            (
                ColumnProfile::new("seq", Side::Target, ColumnType::BigInt, (None, None)),
                &seq,
            ),
        ],
        n as u64,
    );
    let f = facts(
        &[
            ("status", ColumnType::Varchar(64)),
            ("name", ColumnType::Varchar(255)),
            ("parent", ColumnType::BigInt),
            ("seq", ColumnType::BigInt),
        ],
        n as u64,
    );
    let recs = recommend(&p, &f);
    let ids: Vec<&str> = recs.iter().map(|r| r.id.as_str()).collect();
    for want in [
        "not_null:t.status",
        "check:t.status",
        "index:t.parent",
        "unique:t.seq",
        "narrow_type:t.seq",
        "narrow_type:t.name",
    ] {
        assert!(ids.contains(&want), "missing {want} in {ids:?}");
    }
    // name has a NULL; parent repeats; status is not monotonic.
    for never in [
        "not_null:t.name",
        "unique:t.parent",
        "unique:t.status",
        "index:t.status",
    ] {
        assert!(!ids.contains(&never), "{never} contradicts the data");
    }
    let check = recs.iter().find(|r| r.id == "check:t.status").unwrap();
    assert_eq!(
        check.change,
        Change::Check {
            values: vec!["Active".into(), "Draft".into(), "Retired".into()]
        }
    );
    assert!(check.confidence > 0.98, "{}", check.confidence);
}

/// An id or counter grows with its table: it is narrowed only to a type with
/// room for ten times the table (or the year's forecast, if larger), while a
/// column whose values do not grow with the rows narrows to what they fit.
#[test]
fn a_sequence_is_narrowed_only_to_a_type_it_can_grow_into() {
    let n = 10_000;
    let seq = values(n, |i| Value::Int(i as i64 + 1));
    let code = values(n, |i| Value::Int((i % 500) as i64));
    let profile = |growth: Option<crate::profile::growth::GrowthForecast>| {
        let mut p = snapshot(
            vec![
                (
                    ColumnProfile::new("seq", Side::Target, ColumnType::BigInt, (None, None)),
                    &seq,
                ),
                (
                    ColumnProfile::new("code", Side::Target, ColumnType::BigInt, (None, None)),
                    &code,
                ),
            ],
            n as u64,
        );
        p.growth = growth;
        recommend(
            &p,
            &facts(
                &[("seq", ColumnType::BigInt), ("code", ColumnType::BigInt)],
                n as u64,
            ),
        )
    };
    let narrowed = |recs: &[Recommendation], column: &str| {
        recs.iter()
            .find(|r| r.kind == RecommendationKind::NarrowType && r.column == column)
            .map(|r| match &r.change {
                Change::NarrowType { to, .. } => (to.clone(), r.evidence.clone()),
                other => panic!("{other:?}"),
            })
    };
    let recs = profile(None);
    // 1..10,000 fits smallint with room to spare today, but not ten times over.
    let (to, evidence) = narrowed(&recs, "seq").expect("seq narrows");
    assert_eq!(to, "int", "{evidence}");
    assert!(
        evidence.contains("a sequence")
            && evidence.contains("about 100,000 after 90,000 more rows"),
        "{evidence}"
    );
    assert_eq!(
        narrowed(&recs, "code").map(|(to, _)| to).as_deref(),
        Some("smallint")
    );

    // A forecast of 2 billion rows within the year leaves it a bigint.
    let growth = crate::profile::growth::GrowthForecast {
        days_observed: 90,
        rows_per_day: 5_000_000.0,
        trend_per_day: 0.0,
        rows_now: 10_000.0,
        rows_in_12_months: 1_800_000_000.0,
        low: 1_600_000_000.0,
        high: 2_000_000_000.0,
    };
    let recs = profile(Some(growth));
    assert_eq!(narrowed(&recs, "seq"), None);
    assert_eq!(
        narrowed(&recs, "code").map(|(to, _)| to).as_deref(),
        Some("smallint")
    );
}

#[test]
fn confidence_rises_with_rows_held_and_remaining_rows_lower_it() {
    assert!(confidence::zero_violations(1_000, 9_000) < 0.2);
    assert!(confidence::zero_violations(9_000, 1_000) > 0.85);
    assert!(confidence::zero_violations(10_000, 0) > 0.98);
    assert!(confidence::zero_violations(10, 0) < 0.1);
}

#[test]
fn contradicted_pending_is_withdrawn_and_violated_accepted_alerts() {
    let mut book = RecommendationBook::default();
    let mut a = Recommendation::new(RecommendationKind::NotNull, "t", "a", Change::NotNull);
    a.confidence = 0.95;
    let b = Recommendation::new(RecommendationKind::NotNull, "t", "b", Change::NotNull);
    assert!(book.update("t", vec![a.clone(), b], |_| true).is_empty());
    assert_eq!(book.accept_above(0.9), vec!["not_null:t.a".to_string()]);
    // Both columns now hold NULLs: neither recommendation is produced any more.
    let alerts = book.update("t", vec![], |_| true);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].id, "not_null:t.a");
    assert_eq!(
        book.get("not_null:t.b").unwrap().state,
        RecommendationState::Withdrawn
    );
    assert_eq!(
        book.get("not_null:t.a").unwrap().state,
        RecommendationState::Accepted
    );
}

#[test]
fn a_profile_too_small_to_judge_a_column_withdraws_nothing_of_it() {
    let mut book = RecommendationBook::recorded(vec![
        Recommendation::new(RecommendationKind::NotNull, "t", "a", Change::NotNull),
        Recommendation::new(RecommendationKind::NotNull, "t", "b", Change::NotNull),
    ]);
    assert!(book.decide("not_null:t.b", Decision::Accept, "operator"));
    // A rerun saw a few new rows: too few to say anything of either column.
    assert!(book.update("t", vec![], |_| false).is_empty());
    let state = |book: &RecommendationBook, id: &str| book.get(id).unwrap().state;
    assert_eq!(state(&book, "not_null:t.a"), RecommendationState::Pending);
    assert_eq!(state(&book, "not_null:t.b"), RecommendationState::Accepted);
    // Enough rows of `a`, and it is no longer proposed: withdrawn.
    assert!(book.update("t", vec![], |c| c == "a").is_empty());
    assert_eq!(state(&book, "not_null:t.a"), RecommendationState::Withdrawn);
    assert_eq!(state(&book, "not_null:t.b"), RecommendationState::Accepted);
}

#[test]
fn a_fast_growing_table_is_partitioned_by_month_over_what_was_seen_and_a_year() {
    use chrono::TimeZone;
    let n = 1_000;
    let at = |i: usize| {
        Value::Timestamp(
            chrono::Utc.with_ymd_and_hms(2023, 11, 1, 0, 0, 0).unwrap()
                + chrono::Duration::days((i % 90) as i64),
        )
    };
    let growth = crate::profile::growth::GrowthForecast {
        days_observed: 90,
        rows_per_day: 40_000.0,
        trend_per_day: 0.0,
        rows_now: 1_000_000.0,
        rows_in_12_months: 15_000_000.0,
        low: 12_000_000.0,
        high: 18_000_000.0,
    };
    let profile = |with_null: bool| {
        let vals = values(n, |i| {
            if with_null && i == 7 {
                Value::Null
            } else {
                at(i)
            }
        });
        let mut p = snapshot(
            vec![(
                ColumnProfile::new(
                    "created_at",
                    Side::Target,
                    ColumnType::Timestamp,
                    (None, None),
                ),
                &vals,
            )],
            n as u64,
        );
        p.growth = Some(growth.clone());
        recommend(
            &p,
            &facts(&[("created_at", ColumnType::Timestamp)], n as u64),
        )
        .into_iter()
        .find(|r| r.kind == RecommendationKind::Partition)
    };
    let r = profile(false).expect("a partitioning");
    assert_eq!(
        r.change,
        Change::Partition {
            by: "created_at".into(),
            from: "2023-11".into(),
            until: "2025-02".into(),
        }
    );
    assert!(r.cost.contains("no longer enforced unique"), "{}", r.cost);
    assert!(profile(true).is_none(), "a NULL cannot be in the key");
}

#[test]
fn months_count_across_years() {
    let m = Month::parse("2024-11-30T10:00:00Z").unwrap();
    assert_eq!(m.to_string(), "2024-11");
    assert_eq!(m.plus(2).to_string(), "2025-01");
    assert_eq!(m.plus(14).to_string(), "2026-01");
    assert_eq!(Month::parse("2024-13-01"), None);
    assert_eq!(Month::parse("24-01-01"), None);
}
