use std::collections::{BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Weekday};
use chrono_tz::America::New_York;

use super::dirt::{self, Dictionary};
use super::legacy::Scale;
use super::*;
use crate::db::{self, Db, DbUrl};
use crate::project::model::ProjectFile;
use crate::value::Value;

const TABLES: [&str; 5] = [
    "datasets",
    "models",
    "training_runs",
    "experiments",
    "metrics",
];

fn project() -> ProjectFile {
    toml::from_str(PROJECT_TOML).unwrap_or_else(|e| panic!("project.toml: {e}"))
}

async fn open(db_file: &Path) -> Db {
    let url = DbUrl::parse(&format!("sqlite://{}", db_file.display()), Path::new("."))
        .expect("sqlite URL");
    db::connect(&url, false).await.expect("legacy.db opens")
}

async fn column(db: &Db, sql: &str) -> Vec<Value> {
    db.query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|mut r| r.swap_remove(0))
        .collect()
}

async fn count(db: &Db, sql: &str) -> u64 {
    column(db, sql).await[0].as_i64().expect("a count") as u64
}

/// `count` of `n` draws must be near `n * rate`: within five standard deviations
/// of the binomial, and at least one, so every kind of dirt is present.
fn assert_rate(what: &str, count: u64, n: u64, rate: f64) {
    let mean = n as f64 * rate;
    let sd = (n as f64 * rate * (1.0 - rate)).sqrt();
    let lo = (mean - 5.0 * sd).floor().max(1.0) as u64;
    let hi = (mean + 5.0 * sd).ceil() as u64;
    assert!(
        (lo..=hi).contains(&count),
        "{what}: {count} of {n}, expected {lo}..={hi} (rate {rate})"
    );
}

async fn generated(rows: u64, seed: u64) -> (tempfile::TempDir, PathBuf, SampleSummary) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(LEGACY_DB);
    let opts = SampleOptions {
        rows,
        seed,
        force: false,
    };
    let summary = generate_legacy(&file, &opts).await.expect("generation");
    (dir, file, summary)
}

/// Per table: row count and a hash of every value in key order.
async fn digest(db_file: &Path) -> Vec<(String, u64, u64)> {
    let db = open(db_file).await;
    let mut out = Vec::new();
    for table in TABLES {
        let rows = db
            .query(&format!("SELECT * FROM {table} ORDER BY 1"), &[])
            .await
            .expect("dump");
        let mut h = DefaultHasher::new();
        for row in &rows {
            for v in row {
                format!("{v:?}").hash(&mut h);
            }
        }
        out.push((table.to_string(), rows.len() as u64, h.finish()));
    }
    db.close().await;
    out
}

// ---- the project files ----

#[test]
fn embedded_project_parses_and_maps_the_five_tables() {
    let p = project();
    let pairs: BTreeSet<(String, String)> = p
        .tables
        .iter()
        .map(|t| (t.source.get_ref().clone(), t.target.get_ref().clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("datasets", "data_sources"),
        ("models", "ml_models"),
        ("training_runs", "training_jobs"),
        ("experiments", "experiment_logs"),
        ("metrics", "model_performance"),
    ]
    .iter()
    .map(|(s, t)| (s.to_string(), t.to_string()))
    .collect();
    assert_eq!(pairs, expected);
    assert!(p.project.key_namespace.is_none());
    assert_eq!(
        p.source.timezone.as_ref().map(|t| t.get_ref().as_str()),
        Some("America/New_York")
    );
    assert!(p.environments.contains_key("staging"));
    assert!(!p.validations.is_empty());
}

#[test]
fn every_rule_in_the_sample_is_a_known_rule() {
    let p = project();
    let mut used = BTreeSet::new();
    for t in &p.tables {
        for f in &t.fields {
            let rule = f.rule.as_ref().map_or("copy", |r| r.get_ref().as_str());
            assert!(
                crate::transform::RULES.contains(&rule),
                "unknown rule {rule}"
            );
            used.insert(rule.to_string());
        }
    }
    // The sample is the format's documentation: it shows every rule.
    let all: BTreeSet<String> = crate::transform::RULES
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(used, all);
}

#[test]
fn timeline_starts_on_a_monday_with_the_default_phases() {
    let p = project();
    let start = p.project.start_date.expect("start date").into_inner();
    let start = NaiveDate::parse_from_str(&start, "%Y-%m-%d").expect("a date");
    assert_eq!(
        (start.year(), start.month(), start.weekday()),
        (2026, 12, Weekday::Mon)
    );
    let days: Vec<(String, u32)> = p
        .timeline
        .phases
        .iter()
        .map(|ph| (ph.name.clone(), ph.days))
        .collect();
    assert_eq!(days.iter().map(|d| d.1).sum::<u32>(), 15);
    assert_eq!(days.len(), 5);
    assert_eq!(
        p.timeline.phases.iter().filter(|ph| ph.execution).count(),
        1
    );
}

#[test]
fn owners_csv_maps_owners_one_to_fifty() {
    let mut reader = csv::Reader::from_reader(OWNERS_CSV.as_bytes());
    let headers = reader.headers().expect("header").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        ["legacy_owner_id", "user_uuid", "email"]
    );
    let mut ids = BTreeSet::new();
    let mut uuids = BTreeSet::new();
    for rec in reader.records() {
        let rec = rec.expect("record");
        ids.insert(rec[0].parse::<i64>().expect("integer id"));
        uuids.insert(uuid::Uuid::parse_str(&rec[1]).expect("uuid"));
        assert!(rec[2].contains('@'));
    }
    let expected: BTreeSet<i64> = (1..=dirt::MAPPED_OWNERS).collect();
    assert_eq!(ids, expected);
    assert_eq!(uuids.len(), ids.len());
}

/// The fuzzy score the test uses as a stand-in for the canonicalize rule.
fn best_match<'a>(value: &str, dict: &'a Dictionary) -> (&'a str, f64) {
    let v = value.trim().to_lowercase();
    dict.canonical
        .iter()
        .flat_map(|c| {
            std::iter::once(&c.name)
                .chain(&c.synonyms)
                .map(move |s| (c.name.as_str(), s))
        })
        .map(|(canon, s)| (canon, strsim::jaro_winkler(&v, &s.to_lowercase())))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a non-empty dictionary")
}

#[test]
fn misspellings_match_their_canonical_name_and_garbage_matches_none() {
    let dict = Dictionary::embedded();
    assert!((10..=15).contains(&dict.canonical.len()));
    for (canon, variants) in dirt::MISSPELLINGS {
        for v in *variants {
            let (best, score) = best_match(v, &dict);
            assert!(
                score >= 0.85 && best == *canon,
                "{v} → {best} ({score:.2}), expected {canon}"
            );
        }
    }
    for g in dirt::ALGO_GARBAGE_VALUES {
        let (best, score) = best_match(g, &dict);
        assert!(score < 0.85, "garbage {g:?} matches {best} ({score:.2})");
    }
    // The validation's canonical set is the dictionary.
    let p = project();
    let in_set = p
        .validations
        .iter()
        .find(|v| v.column.as_ref().map(|c| c.get_ref().as_str()) == Some("algorithm_type"))
        .and_then(|v| v.values.clone())
        .expect("algorithm validation");
    let names: Vec<String> = dict.canonical.iter().map(|c| c.name.clone()).collect();
    assert_eq!(in_set, names);
}

// ---- the generator ----

#[tokio::test]
async fn same_seed_same_database_other_seed_other_database() {
    let (_a, fa, sa) = generated(400, 7).await;
    let (_b, fb, _) = generated(400, 7).await;
    let (_c, fc, _) = generated(400, 8).await;
    let (da, db, dc) = (digest(&fa).await, digest(&fb).await, digest(&fc).await);
    assert_eq!(da, db);
    for ((table, _, ha), (_, _, hc)) in da.iter().zip(&dc) {
        assert_ne!(ha, hc, "{table} did not change with the seed");
    }
    let counts: Vec<(String, u64)> = da.iter().map(|(t, n, _)| (t.clone(), *n)).collect();
    assert_eq!(sa.tables, counts);
}

#[tokio::test]
async fn tables_scale_from_the_model_count() {
    let rows = 6_123;
    let (_d, file, summary) = generated(rows, 1).await;
    let s = Scale::for_models(rows);
    let expected = [s.datasets, s.models, s.runs, s.experiments, s.metrics];
    let db = open(&file).await;
    for (table, want) in TABLES.iter().zip(expected) {
        assert_eq!(
            count(&db, &format!("SELECT COUNT(*) FROM {table}")).await,
            want,
            "{table}"
        );
        // Keys are sequential from 1.
        assert_eq!(
            count(&db, &format!("SELECT MAX(rowid) FROM {table}")).await,
            want,
            "{table}"
        );
    }
    assert_eq!(s.datasets, rows / 20);
    assert_eq!(Scale::for_models(100).datasets, 10);
    assert_eq!(
        summary.project_file,
        file.parent().unwrap().join(PROJECT_FILE)
    );
}

#[tokio::test]
async fn every_kind_of_dirt_is_present_at_its_rate() {
    let n = 5_000;
    let (_d, file, _) = generated(n, 42).await;
    let db = open(&file).await;
    let s = Scale::for_models(n);

    let unknown = count(
        &db,
        "SELECT COUNT(*) FROM models WHERE status NOT IN ('D','P','R','A')",
    )
    .await;
    assert_rate("unknown status", unknown, n, dirt::STATUS_UNKNOWN);
    let null_acc = count(
        &db,
        "SELECT COUNT(*) FROM models WHERE accuracy_score IS NULL",
    )
    .await;
    assert_rate("NULL accuracy", null_acc, n, dirt::ACCURACY_NULL);
    let percent = count(
        &db,
        "SELECT COUNT(*) FROM models WHERE accuracy_score > 1 AND accuracy_score <= 100",
    )
    .await;
    assert_rate("percent accuracy", percent, n, dirt::ACCURACY_PERCENT);
    let garbage = count(
        &db,
        "SELECT COUNT(*) FROM models WHERE accuracy_score < 0 OR accuracy_score > 100",
    )
    .await;
    assert_rate("garbage accuracy", garbage, n, dirt::ACCURACY_GARBAGE);
    let orphans = count(
        &db,
        "SELECT COUNT(*) FROM models WHERE dataset_id NOT IN (SELECT dataset_id FROM datasets)",
    )
    .await;
    assert_rate("orphan dataset", orphans, n, dirt::ORPHAN_DATASET);
    let orphan_runs = count(
        &db,
        "SELECT COUNT(*) FROM metrics WHERE run_id NOT IN (SELECT run_id FROM training_runs)",
    )
    .await;
    assert_rate("orphan run", orphan_runs, s.metrics, dirt::ORPHAN_RUN);
    let owners: Vec<i64> = column(&db, "SELECT owner_id FROM models")
        .await
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    assert!(owners.iter().all(|o| (1..=dirt::OWNER_IDS).contains(o)));
    let unmapped = owners.iter().filter(|o| **o > dirt::MAPPED_OWNERS).count() as u64;
    let unmapped_rate = (dirt::OWNER_IDS - dirt::MAPPED_OWNERS) as f64 / dirt::OWNER_IDS as f64;
    assert_rate("owner missing from owners.csv", unmapped, n, unmapped_rate);
    let run_unknown = count(
        &db,
        "SELECT COUNT(*) FROM training_runs WHERE status NOT IN ('Q','R','C','F','X')",
    )
    .await;
    assert_rate(
        "unknown run status",
        run_unknown,
        s.runs,
        dirt::RUN_STATUS_UNKNOWN,
    );

    let hyper = column(&db, "SELECT hyperparams FROM experiments").await;
    let null_hyper = hyper.iter().filter(|v| v.is_null()).count() as u64;
    assert_rate(
        "NULL hyperparams",
        null_hyper,
        s.experiments,
        dirt::HYPERPARAMS_NULL,
    );
    let broken = hyper
        .iter()
        .filter_map(|v| v.as_text())
        .filter(|t| serde_json::from_str::<serde_json::Value>(t).is_err())
        .count() as u64;
    assert_rate(
        "malformed hyperparams",
        broken,
        s.experiments,
        dirt::HYPERPARAMS_MALFORMED,
    );

    // Algorithm names, classified against the dictionary by the fuzzy stand-in.
    let dict = Dictionary::embedded();
    let algos: Vec<String> = column(&db, "SELECT algo_type FROM models")
        .await
        .iter()
        .map(Value::render)
        .collect();
    let canonical: BTreeSet<&str> = dict.canonical.iter().map(|c| c.name.as_str()).collect();
    let synonyms: BTreeSet<&str> = dict
        .canonical
        .iter()
        .flat_map(|c| c.synonyms.iter().map(String::as_str))
        .collect();
    let unmatched = algos
        .iter()
        .filter(|a| best_match(a, &dict).1 < 0.85)
        .count() as u64;
    assert_rate("unmatchable algorithm", unmatched, n, dirt::ALGO_GARBAGE);
    let misspelled = algos
        .iter()
        .filter(|a| !canonical.contains(a.as_str()) && !synonyms.contains(a.as_str()))
        .count() as u64;
    assert_rate(
        "misspelled algorithm",
        misspelled,
        n,
        dirt::ALGO_MISSPELLED + dirt::ALGO_GARBAGE,
    );
    let as_synonym = algos
        .iter()
        .filter(|a| synonyms.contains(a.as_str()))
        .count() as u64;
    assert_rate("algorithm synonym", as_synonym, n, dirt::ALGO_SYNONYM);
}

#[tokio::test]
async fn datetimes_notes_and_paths_carry_their_dirt() {
    let n = 5_000;
    let (_d, file, _) = generated(n, 42).await;
    let db = open(&file).await;

    let created = column(&db, "SELECT created_at FROM models").await;
    let (mut gaps, mut overlaps) = (0, 0);
    for v in &created {
        let text = v.as_text().expect("created_at is set");
        let local =
            NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S").expect("legacy format");
        assert!((2023..=2025).contains(&local.year()), "{local}");
        match New_York.from_local_datetime(&local) {
            chrono::LocalResult::None => gaps += 1,
            chrono::LocalResult::Ambiguous(..) => overlaps += 1,
            chrono::LocalResult::Single(_) => {}
        }
    }
    assert_rate("datetime in a DST gap", gaps, n, dirt::DST_GAP);
    assert_rate("datetime in a DST overlap", overlaps, n, dirt::DST_OVERLAP);

    let notes = column(&db, "SELECT notes FROM models").await;
    let null = notes.iter().filter(|v| v.is_null()).count() as u64;
    assert_rate("NULL notes", null, n, dirt::NOTES_NULL);
    let texts: Vec<String> = notes
        .iter()
        .filter_map(|v| v.as_text().map(|t| t.into_owned()))
        .collect();
    let long = texts
        .iter()
        .filter(|t| t.chars().count() >= dirt::LONG_NOTE_CHARS)
        .count() as u64;
    assert_rate("very long notes", long, n, dirt::NOTES_LONG);
    let astral = texts
        .iter()
        .filter(|t| t.chars().any(|c| c as u32 > 0xFFFF))
        .count() as u64;
    assert_rate(
        "astral characters",
        astral,
        n,
        dirt::NOTES_UNICODE + dirt::NOTES_LONG,
    );
    let cjk = texts
        .iter()
        .filter(|t| t.chars().any(|c| ('\u{3040}'..='\u{9fff}').contains(&c)))
        .count() as u64;
    assert!(cjk > 0, "no CJK notes");

    // The rewrite pattern of the project file itself decides what matches.
    let p = project();
    let pattern = p
        .tables
        .iter()
        .flat_map(|t| &t.fields)
        .find(|f| f.target.get_ref() == "model_artifact_uri")
        .and_then(|f| f.pattern.as_ref())
        .expect("rewrite pattern")
        .get_ref()
        .clone();
    let re = regex::Regex::new(&pattern).expect("pattern compiles");
    let paths = column(&db, "SELECT artifact_path FROM models").await;
    let mismatched = paths.iter().filter(|v| !re.is_match(&v.render())).count() as u64;
    assert_rate(
        "artifact path off the layout",
        mismatched,
        n,
        dirt::ARTIFACT_MISMATCH,
    );
    let template = "s3://ai-artifacts-bucket/models/{name}/{version}/model.pkl";
    let caps = re
        .captures("/legacy/storage/models/v1/model_A.pkl")
        .expect("the spec's example matches");
    let rewritten = template
        .replace("{name}", &caps["name"])
        .replace("{version}", &caps["version"]);
    assert_eq!(
        rewritten,
        "s3://ai-artifacts-bucket/models/model_A/v1/model.pkl"
    );
}

#[tokio::test]
async fn generate_refuses_an_existing_database_without_force() {
    let (dir, file, _) = generated(50, 1).await;
    let before = digest(&file).await;
    let again = SampleOptions {
        rows: 60,
        seed: 2,
        force: false,
    };
    let err = generate_legacy(&file, &again)
        .await
        .expect_err("must refuse");
    assert!(matches!(err, SampleError::TargetExists { .. }), "{err}");
    assert_eq!(digest(&file).await, before);
    let forced = SampleOptions {
        force: true,
        ..again
    };
    let summary = generate_legacy(&file, &forced).await.expect("forced");
    assert_eq!(summary.tables[1], ("models".to_string(), 60));
    drop(dir);
}

// ---- install ----

fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn install_writes_the_project_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let into = tmp.path().join("demo").join("ai");
    let opts = SampleOptions {
        rows: 100,
        ..SampleOptions::default()
    };
    let summary = install("ai-research", &into, &opts).await.expect("install");
    assert_eq!(summary.project_file, into.join(PROJECT_FILE));
    for f in ["project.toml", "owners.csv", "algorithms.toml", "legacy.db"] {
        assert!(listing(&into).contains(f), "{f} missing");
    }
    assert_eq!(
        std::fs::read_to_string(into.join("owners.csv")).unwrap(),
        OWNERS_CSV
    );

    // The operator edited the project; a second install must not clobber it.
    std::fs::write(into.join(PROJECT_FILE), "# mine").unwrap();
    let err = install("ai-research", &into, &opts)
        .await
        .expect_err("must refuse");
    assert!(matches!(err, SampleError::TargetExists { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(into.join(PROJECT_FILE)).unwrap(),
        "# mine"
    );

    let forced = SampleOptions {
        force: true,
        ..opts
    };
    install("ai-research", &into, &forced)
        .await
        .expect("forced install");
    assert_eq!(
        std::fs::read_to_string(into.join(PROJECT_FILE)).unwrap(),
        PROJECT_TOML
    );
}

#[tokio::test]
async fn unknown_sample_suggests_the_closest_and_creates_nothing() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let into = tmp.path().join("x");
    let err = install("ai-reserch", &into, &SampleOptions::default())
        .await
        .expect_err("unknown");
    let text = err.to_string();
    assert!(text.contains("did you mean \"ai-research\"?"), "{text}");
    assert!(!into.exists());
}

#[tokio::test]
async fn failed_install_removes_the_folders_it_created() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let into = tmp.path().join("new").join("nested");
    let err = install_with(
        "ai-research",
        &into,
        &SampleOptions::default(),
        |db_file, _| async move {
            std::fs::write(&db_file, b"half a database").expect("partial write");
            Err(SampleError::Io {
                path: db_file,
                source: std::io::Error::other("disk full"),
            })
        },
    )
    .await
    .expect_err("injected failure");
    assert!(err.to_string().contains("disk full"));
    assert!(!tmp.path().join("new").exists());
    assert!(listing(tmp.path()).is_empty());
}

#[tokio::test]
async fn failed_install_into_an_existing_folder_keeps_what_was_there() {
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::write(tmp.path().join("notes.txt"), "keep me").unwrap();
    // A folder where the database should go makes the real generator fail.
    std::fs::create_dir(tmp.path().join(LEGACY_DB)).unwrap();
    let before = listing(tmp.path());
    let opts = SampleOptions {
        rows: 10,
        force: true,
        ..SampleOptions::default()
    };
    let err = install("ai-research", tmp.path(), &opts)
        .await
        .expect_err("must fail");
    assert!(
        matches!(err, SampleError::Io { .. } | SampleError::Db(_)),
        "{err}"
    );
    assert_eq!(listing(tmp.path()), before);
}

#[test]
fn install_errors_read_well() {
    let err = SampleError::TargetExists {
        path: PathBuf::from("demo/project.toml"),
    };
    assert_eq!(
        err.to_string(),
        "demo/project.toml already exists; use --force to overwrite it"
    );
    let unknown: HashMap<&str, bool> = SAMPLES
        .iter()
        .map(|s| (*s, sample_files(s).is_ok()))
        .collect();
    assert!(unknown.values().all(|ok| *ok));
}

/// Measures the generator at benchmark scale; prints rows per second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: cargo test --release --lib sample::tests::million -- --ignored --nocapture"]
async fn million_models_generate_in_under_a_minute() {
    let started = std::time::Instant::now();
    let (_d, file, summary) = generated(1_000_000, 42).await;
    let elapsed = started.elapsed();
    let rows: u64 = summary.tables.iter().map(|t| t.1).sum();
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!(
        "1M models: {rows} rows in {elapsed:.1?} ({:.0} rows/s), {} MiB",
        rows as f64 / elapsed.as_secs_f64(),
        size >> 20
    );
    assert!(elapsed < std::time::Duration::from_secs(60), "{elapsed:?}");
}
