//! `flightdeck diff`: schema versions recorded by a run, the changes the run
//! made to the mapped schema with their compatibility, the migration path
//! and its rollback, and drift of an environment's live schema.

mod common;

use std::path::Path;

use serde_json::Value as Json;

fn diff(home: &Path, args: &[&str]) -> std::process::Output {
    common::flightdeck(home)
        .arg("diff")
        .arg(home.join("project.toml"))
        .args(args)
        .output()
        .unwrap()
}

fn json_of(out: &std::process::Output) -> Json {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_without_changes_is_compatible_and_an_evolved_one_is_breaking() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    common::sample(home, 1_500);

    // Nothing recorded before the first run.
    let out = diff(home, &[]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");

    // A run that changes nothing but builds each table's key after its load.
    common::run_ok(
        common::flightdeck(home)
            .args(["run", "--headless"])
            .arg(home.join("project.toml")),
    );
    let out = diff(home, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let j = json_of(&out);
    assert_eq!(j["from"], "the schema as mapped");
    assert_eq!(j["breaking"], 0);
    let changes = j["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 5, "{changes:?}");
    for c in changes {
        assert_eq!(c["compat"], "forward-compatible", "{c}");
        assert!(
            c["change"]
                .as_str()
                .unwrap()
                .starts_with("primary key () → (")
        );
    }
    let list = common::run_ok(
        common::flightdeck(home)
            .args(["diff", "--list"])
            .arg(home.join("project.toml")),
    );
    let list = String::from_utf8_lossy(&list.stdout);
    assert_eq!(list.lines().count(), 10, "{list}");
    assert!(list.contains("ml_models created as mapped"));
    assert!(list.contains("model_performance loaded"));

    // The same run again, now accepting what the profile recommends.
    common::run_ok(
        common::flightdeck(home)
            .args(["rollback", "--yes"])
            .arg(home.join("project.toml")),
    );
    // What the rollback left (no table) is a version too.
    let list = diff(home, &["--list"]);
    let list = String::from_utf8_lossy(&list.stdout);
    let last = list.lines().last().unwrap();
    assert!(last.starts_with("  11 "), "{list}");
    assert!(last.contains(" 0   tables  run rolled back"), "{last}");
    let run = common::run_ok(
        common::flightdeck(home)
            .args(["run", "--headless", "--accept-above", "0.9"])
            .arg(home.join("project.toml")),
    );
    let summary: Json = serde_json::from_slice(&run.stdout).unwrap();
    let out = diff(home, &["--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "breaking changes exit 1: {out:?}"
    );
    let j = json_of(&out);
    let changes = j["changes"].as_array().unwrap();
    let has = |compat: &str, table: &str, what: &str| {
        changes.iter().any(|c| {
            c["compat"] == compat
                && c["table"] == table
                && c["change"].as_str().unwrap().contains(what)
        })
    };
    // Each applied recommendation shows as the change it made.
    for r in summary["recommendations"].as_array().unwrap() {
        if r["state"] != "applied" || r["decided_by"] == "project" {
            continue;
        }
        let (table, column) = (r["table"].as_str().unwrap(), r["column"].as_str().unwrap());
        let (compat, what) = match r["kind"].as_str().unwrap() {
            "narrow_type" => ("breaking", format!("column {column} type narrowed")),
            // SQLite enforces it by trigger: a constraint, not the column's flag.
            "not_null" => ("breaking", format!("not null ({column}) added")),
            "check" => ("forward-compatible", format!("check ({column} IN (")),
            "unique" => ("forward-compatible", format!("unique ({column}) added")),
            "index" => ("backward-compatible", format!("index ({column}) added")),
            _ => continue,
        };
        assert!(has(compat, table, &what), "{} not in {changes:#?}", r["id"]);
    }
    assert!(j["breaking"].as_u64().unwrap() > 0);
    let forward = j["path"]["forward"].as_array().unwrap();
    let rollback = j["path"]["rollback"].as_array().unwrap();
    assert!(!forward.is_empty() && !rollback.is_empty());
    assert!(
        forward.iter().all(|s| !s
            .as_str()
            .unwrap()
            .starts_with("CREATE TABLE \"ml_models\"")),
        "the mapped tables' creation is not part of the run's changes"
    );

    // From a version to itself: nothing changed, exit 0.
    let latest = diff(home, &["--list"]);
    let n = String::from_utf8_lossy(&latest.stdout)
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let out = diff(home, &["--from", &n, "--to", &n, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(json_of(&out)["changes"].as_array().unwrap().is_empty());
    let out = diff(home, &["--from", "999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--list"));

    // Drift: a copy of the target matches; a column added by hand is drift.
    std::fs::copy(home.join("platform.db"), home.join("copy.db")).unwrap();
    let mut toml = std::fs::read_to_string(home.join("project.toml")).unwrap();
    toml.push_str("\n[environments.copy]\nurl = \"sqlite://copy.db\"\n");
    std::fs::write(home.join("project.toml"), toml).unwrap();
    let out = diff(home, &["--from", &n, "--env", "copy"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("environment copy (sqlite://copy.db) matches")
    );
    let copy = common::open_sqlite(&home.join("copy.db")).await;
    copy.execute("ALTER TABLE ml_models ADD COLUMN legacy_flag TEXT", &[])
        .await
        .unwrap();
    copy.execute("DROP TABLE experiment_logs", &[])
        .await
        .unwrap();
    // An index the run applied is lost; a unique key is added by hand.
    let applied = common::query(
        &copy,
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND name LIKE 'fd\\_%' ESCAPE '\\' AND tbl_name <> 'experiment_logs' ORDER BY name",
    )
    .await;
    assert!(!applied.is_empty(), "the accepted changes include an index");
    let (index, table) = (applied[0][0].render(), applied[0][1].render());
    let (kind, rest) = index
        .strip_prefix("fd_uq_")
        .map(|r| ("unique", r))
        .or_else(|| index.strip_prefix("fd_ix_").map(|r| ("index", r)))
        .unwrap();
    let column = rest.strip_prefix(&format!("{table}_")).unwrap().to_string();
    copy.execute(&format!("DROP INDEX \"{index}\""), &[])
        .await
        .unwrap();
    copy.execute(
        "CREATE UNIQUE INDEX by_hand ON ml_models (legacy_flag)",
        &[],
    )
    .await
    .unwrap();
    copy.close().await;
    let out = diff(home, &["--from", &n, "--env", "copy", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let d = json_of(&out)["drift"][0]["differences"].clone();
    let d: Vec<&str> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(
        d.contains(&"ml_models.legacy_flag is not in the expected schema"),
        "{d:?}"
    );
    assert!(d.contains(&"table experiment_logs is missing"), "{d:?}");
    let lost = format!("{table}: {kind} ({column}) is missing");
    assert!(d.contains(&lost.as_str()), "{lost} not in {d:?}");
    assert!(
        d.contains(&"ml_models has unique (legacy_flag) not in the expected schema"),
        "{d:?}"
    );
    assert_eq!(d.len(), 4, "nothing else differs: {d:?}");

    // An environment the project does not name, or whose variable is unset.
    let out = diff(home, &["--env", "cpy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean \"copy\"?"));
    let out = common::flightdeck(home)
        .args(["diff", "--env", "staging"])
        .arg(home.join("project.toml"))
        .env_remove("FLIGHTDECK_STAGING_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FLIGHTDECK_STAGING_URL"));
}
