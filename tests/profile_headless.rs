//! `run --headless --accept-above C`: the JSON summary lists every
//! recommendation with its decision, each decision is in the event log, and
//! what was applied is in the target.

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

    // A type an applied recommendation narrowed is not the mapping's, on
    // purpose: the post-run type check counts it as narrowed and passes.
    let narrowed = |table: &str| {
        recs.iter()
            .filter(|r| r["table"] == table && r["state"] == "applied")
            .filter(|r| r["change"]["change"] == "narrow_type")
            .count() as i64
    };
    let type_checks: Vec<&Json> = summary["validation"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"].as_str().unwrap().ends_with(": column types"))
        .collect();
    assert_eq!(type_checks.len(), 5);
    assert!(narrowed("ml_models") > 0);
    for c in type_checks {
        assert_eq!(c["status"], "passed", "{c}");
        assert_eq!(
            c["counts"]["narrowed"],
            narrowed(c["table"].as_str().unwrap()),
            "{c}"
        );
        assert_eq!(c["counts"]["different_type"], 0, "{c}");
    }

    // Every decision the threshold took is an event, once, with who took it.
    let decisions = common::query(
        &target,
        "SELECT detail, summary FROM flightdeck_events WHERE kind = 'recommendation_decision'",
    )
    .await;
    let decided: Vec<&str> = recs
        .iter()
        .filter(|r| {
            r["decided_by"]
                .as_str()
                .is_some_and(|b| b.starts_with("accept-above"))
        })
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(!decided.is_empty());
    assert_eq!(decisions.len(), decided.len(), "{decisions:?}");
    for id in decided {
        let d: Json = decisions
            .iter()
            .map(|r| serde_json::from_str::<Json>(&r[0].render()).unwrap())
            .find(|d| d["recommendation"] == id)
            .unwrap_or_else(|| panic!("no decision event for {id}"));
        assert_eq!(d["decision"], "accepted");
        assert_eq!(d["by"], "accept-above 0.95");
    }
    // A decision is on record before the change it let through.
    let order = common::query(
        &target,
        "SELECT d.id, a.id FROM flightdeck_events d JOIN flightdeck_events a \
         ON a.kind = 'ddl_applied' AND d.kind = 'recommendation_decision' \
         AND json_extract(a.detail, '$.recommendation') = json_extract(d.detail, '$.recommendation')",
    )
    .await;
    assert_eq!(order.len(), applied, "{order:?}");
    for r in &order {
        assert!(
            r[0].as_i64() < r[1].as_i64(),
            "decision logged after its change: {r:?}"
        );
    }
    // The run's last event keeps the queue as it ended, for `report`.
    let finished = common::query(
        &target,
        "SELECT detail FROM flightdeck_events WHERE kind = 'run_finished'",
    )
    .await;
    let finished: Json = serde_json::from_str(&finished[0][0].render()).unwrap();
    assert_eq!(
        finished["recommendations"].as_array().unwrap().len(),
        recs.len()
    );

    let bad = common::flightdeck(dir.path())
        .args(["run", "--headless", "--accept-above", "1.5"])
        .arg(dir.path().join("project.toml"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
