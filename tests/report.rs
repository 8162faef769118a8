//! `flightdeck report PROJECT --out FILE`: the stakeholders' report of a run,
//! read back from the target, in HTML or Markdown; and the one `demo` leaves.

mod common;

use std::path::Path;

use serde_json::Value as Json;

fn report(home: &Path, args: &[&str]) -> std::process::Output {
    common::flightdeck(home)
        .arg("report")
        .arg(home.join("project.toml"))
        .args(args)
        .output()
        .unwrap()
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_tells_what_the_run_did_in_html_and_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    common::sample(home, 2_000);

    // Before any run there is nothing to report, and no file is written.
    let out = report(home, &["--out", home.join("early.html").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(!home.join("early.html").exists());

    let run = common::run_ok(
        common::flightdeck(home)
            .args(["run", "--headless", "--accept-above", "0.95"])
            .arg(home.join("project.toml")),
    );
    let summary: Json = serde_json::from_slice(&run.stdout).unwrap();
    let run_id = summary["run_id"].as_str().unwrap();

    let html_path = home.join("report.html");
    common::run_ok(
        common::flightdeck(home)
            .arg("report")
            .arg(home.join("project.toml"))
            .arg("--out")
            .arg(&html_path),
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(run_id), "run id missing");
    assert_eq!(
        html.matches("<table").count(),
        html.matches("</table>").count()
    );

    // Every table with the numbers the run printed.
    let (mut read, mut written, mut quarantined) = (0, 0, 0);
    for t in summary["tables"].as_array().unwrap() {
        let n = |k: &str| t[k].as_u64().unwrap();
        let row = format!(
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            t["source"].as_str().unwrap(),
            t["target"].as_str().unwrap(),
            thousands(n("read")),
            thousands(n("written")),
        );
        assert!(html.contains(&row), "no row {row}");
        read += n("read");
        written += n("written");
        quarantined += n("quarantined");
    }
    assert!(quarantined > 0, "the sample always quarantines dirt");
    let verdict = format!(
        "The run completed. {} of {} source rows read are in the target; {} were quarantined",
        thousands(written),
        thousands(read),
        thousands(quarantined)
    );
    assert!(html.contains(&verdict), "no verdict: {verdict}");

    // Each quarantine group the target holds, with its count.
    let target = common::open_sqlite(&home.join("platform.db")).await;
    let groups = common::query(
        &target,
        "SELECT source_table, rule, column_name, COUNT(*) FROM flightdeck_quarantine \
         GROUP BY source_table, rule, column_name",
    )
    .await;
    assert!(!groups.is_empty());
    for g in &groups {
        let cells = format!(
            "<td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>",
            g[0].render(),
            g[1].render(),
            g[2].render(),
            thousands(g[3].as_i64().unwrap() as u64)
        );
        assert!(html.contains(&cells), "no quarantine group {cells}");
    }

    // Every post-migration check with its status and message.
    let checks = summary["validation"].as_array().unwrap();
    assert!(!checks.is_empty());
    for c in checks {
        let status = c["status"].as_str().unwrap();
        let row = format!(
            "<td>{}</td><td{}>{status}</td><td>{}</td>",
            html_text(c["table"].as_str().unwrap_or_default()),
            match status {
                "passed" => " class=\"good\"",
                "failed" => " class=\"bad\"",
                _ => " class=\"warn\"",
            },
            html_text(c["message"].as_str().unwrap()),
        );
        assert!(html.contains(&row), "no check row {row}");
    }

    // The recommendation queue as the run left it, and each applied change
    // with its DDL.
    let recs = summary["recommendations"].as_array().unwrap();
    let applied = recs.iter().filter(|r| r["state"] == "applied").count();
    assert!(html.contains(&format!(
        "{} recommendations from the live profile: {applied} applied",
        recs.len()
    )));
    let ddl = common::query(
        &target,
        "SELECT COUNT(*) FROM flightdeck_events WHERE kind = 'ddl_applied'",
    )
    .await;
    let ddl = ddl[0][0].as_i64().unwrap() as usize;
    assert!(ddl > 0);
    assert_eq!(html.matches("-- undone by:").count(), ddl);
    assert!(html.contains(&format!("Schema changes applied</dt><dd>{ddl}</dd>")));
    assert!(html.contains("recommendation_decision"));
    // The schema's compatibility, as `flightdeck diff` counts it.
    let diff = common::flightdeck(home)
        .args(["diff", "--json"])
        .arg(home.join("project.toml"))
        .output()
        .unwrap();
    let diff: Json = serde_json::from_slice(&diff.stdout).unwrap();
    let breaking = diff["breaking"].as_u64().unwrap();
    assert!(breaking > 0, "accepted narrower types are breaking");
    assert!(
        html.contains(&format!(
            "Against each table as the run created it from the mapping: {breaking} breaking, "
        )),
        "no compatibility summary"
    );
    assert_eq!(
        html.matches("<td class=\"bad\">breaking</td>").count() as u64,
        breaking
    );
    assert!(html.contains("class=\"gantt\""));

    // Markdown, by the extension; the same facts, escaped for Markdown.
    let md_path = home.join("report.md");
    common::run_ok(
        common::flightdeck(home)
            .arg("report")
            .arg(home.join("project.toml"))
            .arg("--out")
            .arg(&md_path),
    );
    let md = std::fs::read_to_string(&md_path).unwrap();
    assert!(md.starts_with("# Migration report: "));
    assert!(md.contains(&verdict));
    for h in [
        "## Tables",
        "## Quarantine",
        "## Post-migration checks",
        "## Schema evolution",
        "## Test-run timeline",
        "## Event log",
    ] {
        assert!(md.contains(h), "no section {h}");
    }
    assert!(md.contains("| ml\\_models |"), "table names escaped");
    // The changes the run did not apply, as statements to take elsewhere:
    // each one's forward DDL and its inverse, and none that was applied.
    let recs = summary["recommendations"].as_array().unwrap();
    let state = |r: &Json| r["state"].as_str().unwrap().to_string();
    let open: Vec<&Json> = recs
        .iter()
        .filter(|r| ["pending", "deferred", "accepted"].contains(&state(r).as_str()))
        .filter(|r| !r["forward"].as_array().unwrap().is_empty())
        .collect();
    assert!(!open.is_empty(), "the sample leaves some pending");
    assert!(md.contains(&format!(
        "### DDL of the changes not applied\n\n{} recommendations were not applied by the run.",
        open.len()
    )));
    let ddl = &md[md.find("### DDL of the changes not applied").unwrap()..];
    for r in &open {
        let first = r["forward"][0].as_str().unwrap().trim_end_matches(';');
        assert!(ddl.contains(first), "{first} missing");
    }
    assert_eq!(
        ddl.matches("\n-- inverse: ").count(),
        open.iter()
            .map(|r| r["inverse"].as_array().unwrap().len())
            .sum::<usize>()
    );
    for r in recs.iter().filter(|r| state(r) == "applied") {
        let header = format!(
            "-- {} {}.{} (",
            r["kind"].as_str().unwrap(),
            r["table"].as_str().unwrap(),
            r["column"].as_str().unwrap()
        );
        assert!(!ddl.contains(&header), "applied {header} listed");
    }
    assert!(md.contains("```text\n"), "the Gantt chart as text");

    // A run picked by the start of its id; an unknown one is refused.
    let by_id = home.join("by-id.md");
    let out = report(
        home,
        &["--run", &run_id[..8], "--out", by_id.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(std::fs::read_to_string(&by_id).unwrap().contains(run_id));
    let missing = home.join("missing.md");
    let out = report(
        home,
        &["--run", "ffffffff", "--out", missing.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run ffffffff"));
    assert!(!missing.exists());

    // A format the extension does not name, or a folder that is not there:
    // usage errors that say what to do, and no file.
    let txt = home.join("report.txt");
    let out = report(home, &["--out", txt.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format"));
    assert!(!txt.exists());
    let out = report(
        home,
        &["--out", txt.to_str().unwrap(), "--format", "markdown"],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(std::fs::read_to_string(&txt).unwrap().starts_with("# "));
    let nowhere = home.join("no-such-dir/report.html");
    let out = report(home, &["--out", nowhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));

    // After a rollback the latest report says so.
    common::run_ok(
        common::flightdeck(home)
            .args(["rollback", "--yes"])
            .arg(home.join("project.toml")),
    );
    let out = report(home, &["--out", md_path.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let md = std::fs::read_to_string(&md_path).unwrap();
    assert!(md.contains("- **Status**: rolled\\_back"), "{md}");
    assert!(md.contains("The run was rolled back"));
    assert!(md.contains("rollback\\_finished"));
}

#[test]
fn the_demo_leaves_a_report_beside_its_project() {
    let home = tempfile::tempdir().unwrap();
    let out = common::run_ok(common::flightdeck(home.path()).args([
        "demo",
        "--headless",
        "--rows",
        "300",
    ]));
    let path = home
        .path()
        .join("data/flightdeck/demo/ai-research/report.html");
    let html = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    // The first demo prints where it generated the sample, then the summary.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Json = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(html.contains(summary["run_id"].as_str().unwrap()));
    assert!(html.contains("The run completed."));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
}
