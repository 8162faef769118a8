//! The edge-case corpus on SQLite: astral characters, NUL bytes, invalid
//! UTF-8, DST gaps and overlaps, zero dates, orphans, very long text. Every
//! source row must be byte-exact in the target or in quarantine with a reason,
//! and source = target + quarantine.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use flightdeck::db::{self, DbUrl};
use flightdeck::value::Value;

const PROJECT: &str = r#"
[project]
name = "edge corpus"

[source]
url = "sqlite://legacy.db"
timezone = "America/New_York"

[target]
url = "sqlite://platform.db"

[[tables]]
source = "parents"
target = "t_parents"
key = "id"
target_key = "parent_uuid"

[[tables.fields]]
source = "id"
target = "parent_uuid"
rule = "deterministic_key"

[[tables.fields]]
source = "label"
target = "label"

[[tables]]
source = "items"
target = "t_items"
key = "id"
target_key = "item_uuid"

[[tables.fields]]
source = "id"
target = "item_uuid"
rule = "deterministic_key"

[[tables.fields]]
source = "id"
target = "original_source_id"

[[tables.fields]]
source = "label"
target = "label"
type = "text"

[[tables.fields]]
source = "note"
target = "note"
type = "text"

[[tables.fields]]
source = "happened_at"
target = "happened_at"
rule = "to_utc"
dst_gap = "quarantine"
dst_overlap = "earliest"

[[tables.fields]]
source = "parent_id"
target = "parent_uuid"
rule = "foreign_key"
references = "parents"
on_orphan = "quarantine"
"#;

async fn build_source(dir: &Path) {
    let url = DbUrl::parse("sqlite://legacy.db", dir).unwrap();
    let src = db::connect(&url, true).await.unwrap();
    for sql in [
        "CREATE TABLE parents (id INTEGER PRIMARY KEY, label TEXT)",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT, note TEXT, happened_at DATETIME, parent_id INTEGER)",
        "INSERT INTO parents VALUES (1, 'one'), (2, 'two')",
        // Invalid UTF-8 stored as TEXT, as legacy latin-1 data often is.
        "INSERT INTO items VALUES (3, 'latin', CAST(x'6361666580ff' AS TEXT), '2024-06-01 09:00:00', 2)",
    ] {
        src.execute(sql, &[]).await.unwrap();
    }
    let long: String = "ÿ̈a\u{301}𝕏 ".repeat(40_000);
    let rows: Vec<(i64, Value, Value, Value, Value)> = vec![
        (
            1,
            "🚀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓ 漢字".into(),
            "astral and emoji".into(),
            "2024-06-01 12:00:00".into(),
            Value::Int(1),
        ),
        (
            2,
            "nul\0inside".into(),
            "a\0b\0".into(),
            "2024-06-01 12:00:00".into(),
            Value::Int(1),
        ),
        (
            4,
            "gap".into(),
            Value::Null,
            "2024-03-10 02:30:00".into(),
            Value::Int(1),
        ),
        (
            5,
            "overlap".into(),
            Value::Null,
            "2024-11-03 01:30:00".into(),
            Value::Int(2),
        ),
        (
            6,
            "zero date".into(),
            Value::Null,
            "0000-00-00 00:00:00".into(),
            Value::Int(2),
        ),
        (
            7,
            "orphan".into(),
            Value::Null,
            "2024-06-01 12:00:00".into(),
            Value::Int(99),
        ),
        (
            8,
            "long".into(),
            Value::Text(long),
            "2024-06-01 12:00:00".into(),
            Value::Int(2),
        ),
        (9, Value::Null, Value::Null, Value::Null, Value::Null),
        (
            10,
            "  spaces and\ttabs\r\n".into(),
            "'quotes' \"double\" \\ backslash".into(),
            "2024-01-01 00:00:00".into(),
            Value::Int(1),
        ),
    ];
    for (id, label, note, at, parent) in rows {
        src.execute(
            "INSERT INTO items VALUES (?, ?, ?, ?, ?)",
            &[Value::Int(id), label, note, at, parent],
        )
        .await
        .unwrap();
    }
    src.close().await;
}

/// Hex of each row's label and note as stored, by id.
async fn stored(
    db: &flightdeck::db::Db,
    table: &str,
    id_col: &str,
) -> BTreeMap<i64, (String, String)> {
    common::query(
        db,
        &format!(
            "SELECT {id_col}, {}, {} FROM {table}",
            hex_or_null("label"),
            hex_or_null("note")
        ),
    )
    .await
    .into_iter()
    .map(|r| (r[0].as_i64().unwrap(), (r[1].render(), r[2].render())))
    .collect()
}

/// SQLite's hex(NULL) is '', which would equal an empty string.
fn hex_or_null(col: &str) -> String {
    format!("CASE WHEN {col} IS NULL THEN 'NULL' ELSE hex(CAST({col} AS BLOB)) END")
}

/// Hex of a raw-row JSON value: text as UTF-8, bytes as recorded.
fn json_hex(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "NULL".into(),
        serde_json::Value::String(s) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        serde_json::Value::Object(o) => o["hex"].as_str().unwrap().to_ascii_uppercase(),
        other => panic!("unexpected raw value {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_edge_case_row_is_byte_exact_in_target_or_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    build_source(dir.path()).await;
    std::fs::write(dir.path().join("project.toml"), PROJECT).unwrap();
    let out = common::run_ok(
        common::flightdeck(dir.path())
            .args(["run", "--headless"])
            .arg(dir.path().join("project.toml")),
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = summary["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["source"] == "items")
        .unwrap();
    assert_eq!(items["read"], 10);
    assert_eq!(
        items["read"].as_i64().unwrap(),
        items["written"].as_i64().unwrap() + items["quarantined"].as_i64().unwrap()
    );

    let source = common::open_sqlite(&dir.path().join("legacy.db")).await;
    let target = common::open_sqlite(&dir.path().join("platform.db")).await;
    let src = stored(&source, "items", "id").await;
    let landed = stored(&target, "t_items", "original_source_id").await;
    let quarantined: BTreeMap<i64, (String, serde_json::Value)> = common::query(
        &target,
        "SELECT source_key, reason, raw_row FROM flightdeck_quarantine WHERE source_table = 'items'",
    )
    .await
    .into_iter()
    .map(|r| {
        (
            r[0].render().parse().unwrap(),
            (r[1].render(), serde_json::from_str(&r[2].render()).unwrap()),
        )
    })
    .collect();

    for (id, (label, note)) in &src {
        match (landed.get(id), quarantined.get(id)) {
            (Some(t), None) => assert_eq!(
                t,
                &(label.clone(), note.clone()),
                "row {id} changed on the way"
            ),
            (None, Some((reason, raw))) => {
                assert!(
                    !reason.trim().is_empty(),
                    "row {id} quarantined without a reason"
                );
                assert_eq!(
                    json_hex(&raw["label"]),
                    *label,
                    "row {id}: label in quarantine"
                );
                assert_eq!(
                    json_hex(&raw["note"]),
                    *note,
                    "row {id}: note in quarantine"
                );
            }
            (t, q) => panic!(
                "row {id}: in target {} and in quarantine {}",
                t.is_some(),
                q.is_some()
            ),
        }
    }
    // The rows the rules must refuse, and only those (row 3 may go either way:
    // bytes that are not UTF-8 are kept as bytes or quarantined, never mangled).
    let refused: BTreeSet<i64> = quarantined.keys().copied().filter(|id| *id != 3).collect();
    assert_eq!(refused, BTreeSet::from([4, 6, 7]), "{quarantined:#?}");

    let overlap = common::query(
        &target,
        "SELECT happened_at FROM t_items WHERE original_source_id = 5",
    )
    .await;
    assert_eq!(
        overlap[0][0].render(),
        "2024-11-03T05:30:00Z",
        "earliest of the two 01:30 instants"
    );
}

#[test]
fn a_key_with_duplicates_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = DbUrl::parse("sqlite://legacy.db", dir.path()).unwrap();
        let src = db::connect(&url, true).await.unwrap();
        src.execute("CREATE TABLE parents (id INTEGER, label TEXT)", &[])
            .await
            .unwrap();
        src.execute(
            "INSERT INTO parents VALUES (1, 'a'), (1, 'b'), (2, 'c')",
            &[],
        )
        .await
        .unwrap();
        src.close().await;
    });
    let project = PROJECT
        .split("[[tables]]\nsource = \"items\"")
        .next()
        .unwrap();
    std::fs::write(dir.path().join("project.toml"), project).unwrap();
    let out = common::flightdeck(dir.path())
        .args(["run", "--headless"])
        .arg(dir.path().join("project.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("key column \"id\" of source table \"parents\" is not unique (1 duplicated values, 0 NULLs)"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("platform.db").exists(),
        "the target was written"
    );
}
