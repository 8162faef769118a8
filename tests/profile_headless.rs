//! `run --headless --accept-above C`: the JSON summary lists every
//! recommendation with its decision, and what was applied is in the target.

mod common;

use serde_json::Value as Json;

#[tokio::test(flavor = "multi_thread")]
async fn headless_accept_above_reports_decisions_and_applies_them() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 6_000);
    let out = common::run_ok(
        common::flightdeck(dir.path())
            .args(["run", "--headless", "--accept-above", "0.95"])
            .arg(dir.path().join("project.toml")),
    );
    let summary: Json = serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    assert_eq!(summary["status"], "completed");
    let recs = summary["recommendations"]
        .as_array()
        .expect("recommendations in the summary");
    assert!(!recs.is_empty());
    let target = common::open_sqlite(&dir.path().join("platform.db")).await;
    let logged = common::query(
        &target,
        "SELECT detail, inverse FROM flightdeck_events WHERE kind = 'ddl_applied'",
    )
    .await;
    let mut applied = 0;
    for r in recs {
        let c = r["confidence"].as_f64().unwrap();
        let state = r["state"].as_str().unwrap();
        let by = r["decided_by"].as_str().unwrap_or("");
        if by.starts_with("accept-above") {
            assert!(c >= 0.95, "{} accepted at {c}", r["id"]);
            assert!(["accepted", "applied", "withdrawn"].contains(&state), "{r}");
        }
        if state == "pending" {
            assert!(c < 0.95, "{} left pending at {c}", r["id"]);
        }
        if state == "applied" && by != "project" {
            applied += 1;
            let id = r["id"].as_str().unwrap();
            let row = logged
                .iter()
                .find(|l| {
                    l[0].render()
                        .contains(&format!("\"recommendation\":\"{id}\""))
                })
                .unwrap_or_else(|| panic!("{id} not logged"));
            assert_ne!(row[1].render(), "[]", "{id} logged without inverse");
        }
    }
    assert!(applied > 0, "nothing applied at 0.95");
    assert_eq!(applied, logged.len());

    let bad = common::flightdeck(dir.path())
        .args(["run", "--headless", "--accept-above", "1.5"])
        .arg(dir.path().join("project.toml"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
