//! `lookup = "table:NAME"`: the identity map read from a source table writes
//! the same rows as the same map read from a CSV file; a table or column the
//! source lacks is refused before anything is written.

mod common;

use std::path::Path;

use flightdeck::value::Value;

/// The sample's owners.csv as a table `owners` of the legacy database, and
/// the project pointed at it.
async fn owners_in_the_source(dir: &Path, table: &str, key: &str) {
    let legacy = common::open_sqlite(&dir.join("legacy.db")).await;
    legacy
        .execute(
            "CREATE TABLE owners (legacy_owner_id INTEGER, user_uuid TEXT, email TEXT)",
            &[],
        )
        .await
        .unwrap();
    let csv = std::fs::read_to_string(dir.join("owners.csv")).unwrap();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        legacy
            .execute(
                "INSERT INTO owners VALUES (?, ?, ?)",
                &[
                    Value::Int(f[0].parse().unwrap()),
                    Value::Text(f[1].into()),
                    Value::Text(f[2].into()),
                ],
            )
            .await
            .unwrap();
    }
    // A NULL key is skipped, as a CSV row without a key would be.
    legacy
        .execute(
            "INSERT INTO owners VALUES (NULL, '11111111-1111-1111-1111-111111111111', 'x')",
            &[],
        )
        .await
        .unwrap();
    legacy.close().await;
    let path = dir.join("project.toml");
    let toml = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "lookup = \"owners.csv\"",
            &format!("lookup = \"table:{table}\""),
        )
        .replace(
            "lookup_key = \"legacy_owner_id\"",
            &format!("lookup_key = \"{key}\""),
        );
    std::fs::write(&path, toml).unwrap();
}

fn run(dir: &Path) -> std::process::Output {
    common::flightdeck(dir)
        .args(["run", "--headless"])
        .arg(dir.join("project.toml"))
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_table_lookup_writes_what_the_csv_lookup_writes() {
    let from_csv = tempfile::tempdir().unwrap();
    let from_table = tempfile::tempdir().unwrap();
    common::sample(from_csv.path(), 800);
    common::sample(from_table.path(), 800);
    owners_in_the_source(from_table.path(), "owners", "legacy_owner_id").await;

    let a = run(from_csv.path());
    let b = run(from_table.path());
    assert_eq!(a.status.code(), Some(0), "{a:?}");
    assert_eq!(b.status.code(), Some(0), "{b:?}");
    let owners = |dir: &Path| {
        let path = dir.join("platform.db");
        async move {
            let db = common::open_sqlite(&path).await;
            let rows = common::query(
                &db,
                "SELECT model_uuid, owner_user_id FROM ml_models ORDER BY model_uuid",
            )
            .await;
            db.close().await;
            rows.iter()
                .map(|r| (r[0].render(), r[1].render()))
                .collect::<Vec<_>>()
        }
    };
    let (a, b) = (
        owners(from_csv.path()).await,
        owners(from_table.path()).await,
    );
    assert!(a.len() > 500);
    assert_eq!(a.len(), b.len());
    let differ: Vec<_> = a.iter().zip(&b).filter(|(x, y)| x != y).take(3).collect();
    assert!(differ.is_empty(), "CSV vs table lookup: {differ:?}");
    // The map resolved most owners; the rest got the default.
    let unassigned = "00000000-0000-0000-0000-000000000000";
    let resolved = b.iter().filter(|(_, o)| o != unassigned).count();
    assert!(resolved > b.len() / 2, "{resolved} of {}", b.len());
    assert!(
        b.iter()
            .all(|(_, o)| o != "11111111-1111-1111-1111-111111111111")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_table_or_column_the_source_lacks_is_refused_before_writing() {
    for (table, key, message) in [
        (
            "ownerz",
            "legacy_owner_id",
            "lookup table \"ownerz\" not found",
        ),
        (
            "owners",
            "legacy_owner",
            "column \"legacy_owner\" not found in lookup table \"owners\"",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        common::sample(dir.path(), 100);
        owners_in_the_source(dir.path(), table, key).await;
        let out = run(dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(message), "{err}");
        assert!(err.contains("did you mean"), "{err}");
        assert!(
            !dir.path().join("platform.db").exists()
                || common::count(
                    &common::open_sqlite(&dir.path().join("platform.db")).await,
                    "ml_models"
                )
                .await
                    == 0,
            "nothing is written"
        );
    }
}
