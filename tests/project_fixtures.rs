//! Every project file under tests/fixtures/projects: valid ones pass `check`,
//! invalid ones exit 2 with the exact message on their `# expect:` line and
//! write nothing.

mod common;

use std::path::Path;

fn fixtures(kind: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/projects")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// A folder holding a small generated legacy.db and its sample files.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 40);
    std::fs::remove_file(dir.path().join("project.toml")).unwrap();
    dir
}

#[test]
fn invalid_projects_fail_with_their_exact_message_and_write_nothing() {
    let ws = workspace();
    let files = fixtures("invalid");
    assert!(files.len() >= 12, "expected at least 12 invalid fixtures");
    let mut failures = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: first line must be `# expect: MESSAGE`"))
            .to_string();
        std::fs::write(ws.path().join(&name), &text).unwrap();
        let out = common::flightdeck(ws.path())
            .current_dir(ws.path())
            .args(["run", &name, "--headless"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("").to_string();
        if out.status.code() != Some(2) || first != expect {
            failures.push(format!(
                "{name}: exit {:?}\n  expected: {expect}\n  got:      {first}",
                out.status.code()
            ));
        }
        if ws.path().join("platform.db").exists() {
            failures.push(format!("{name}: platform.db was created"));
            std::fs::remove_file(ws.path().join("platform.db")).unwrap();
        }
        assert!(out.stdout.is_empty(), "{name}: printed on stdout");
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn valid_projects_pass_check_without_writing() {
    let ws = workspace();
    for f in fixtures("valid") {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        std::fs::copy(&f, ws.path().join(&name)).unwrap();
        let out = common::run_ok(
            common::flightdeck(ws.path())
                .current_dir(ws.path())
                .args(["check", &name]),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("nothing was written"), "{name}: {stdout}");
        assert!(
            !ws.path().join("platform.db").exists(),
            "{name}: check wrote the target"
        );
    }
}

#[test]
fn the_sample_project_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), 40);
    let out = common::run_ok(
        common::flightdeck(dir.path())
            .arg("check")
            .arg(dir.path().join("project.toml")),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for t in [
        "datasets → data_sources",
        "models → ml_models",
        "metrics → model_performance",
    ] {
        assert!(stdout.contains(t), "plan lacks {t}: {stdout}");
    }
    // Parents come before children in the plan.
    assert!(stdout.find("datasets").unwrap() < stdout.find("models →").unwrap());
    assert!(stdout.find("training_runs").unwrap() < stdout.find("metrics").unwrap());
}
