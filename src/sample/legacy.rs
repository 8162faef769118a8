//! The legacy AI-research database: schema and row generators, written in
//! transactions of [`BATCH_ROWS`] rows so memory stays flat at any size.

use std::path::Path;

use chrono::Duration;

use super::dirt::{self, Dictionary};
use super::rng::SplitMix64;
use super::{SampleError, SampleOptions, SampleSummary};
use crate::db::{self, Db, DbError, DbUrl};
use crate::value::{Row, Value};

/// Rows per transaction.
const BATCH_ROWS: u64 = 5_000;
/// Bind parameters per INSERT statement: measured, 100 is 6x faster than 10,000.
const MAX_PARAMS_PER_STATEMENT: usize = 100;

/// Typical legacy DDL: loose types, no foreign keys (which is how orphans got in).
const SCHEMA: &[&str] = &[
    "CREATE TABLE datasets (
        dataset_id INTEGER PRIMARY KEY,
        name VARCHAR(255) NOT NULL,
        source_uri VARCHAR(1024),
        format VARCHAR(16),
        row_count INTEGER,
        created_at DATETIME
    )",
    "CREATE TABLE models (
        model_id INTEGER PRIMARY KEY,
        model_name VARCHAR(255) NOT NULL,
        algo_type VARCHAR(64),
        status CHAR(1),
        accuracy_score FLOAT,
        dataset_id INTEGER,
        owner_id INTEGER,
        artifact_path VARCHAR(512),
        created_at DATETIME,
        notes TEXT
    )",
    "CREATE TABLE training_runs (
        run_id INTEGER PRIMARY KEY,
        model_id INTEGER,
        started_at DATETIME,
        finished_at DATETIME,
        status VARCHAR(8),
        epochs INTEGER,
        gpu_hours FLOAT
    )",
    "CREATE TABLE experiments (
        experiment_id INTEGER PRIMARY KEY,
        model_id INTEGER,
        name VARCHAR(255),
        hyperparams TEXT,
        created_at DATETIME
    )",
    "CREATE TABLE metrics (
        metric_id INTEGER PRIMARY KEY,
        run_id INTEGER,
        metric_name VARCHAR(64),
        metric_value FLOAT,
        recorded_at DATETIME
    )",
];

/// Row counts for `models` = n, as the sample's scale rules say.
pub(crate) struct Scale {
    pub(crate) datasets: u64,
    pub(crate) models: u64,
    pub(crate) runs: u64,
    pub(crate) experiments: u64,
    pub(crate) metrics: u64,
}

impl Scale {
    pub(crate) fn for_models(n: u64) -> Self {
        Self {
            datasets: (n / 20).max(10),
            models: n,
            runs: n,
            experiments: n / 2,
            metrics: n.saturating_mul(2),
        }
    }
}

/// Files SQLite keeps beside a database.
pub(crate) fn sqlite_files(db_file: &Path) -> Vec<std::path::PathBuf> {
    let mut files = vec![db_file.to_path_buf()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = db_file.as_os_str().to_owned();
        name.push(suffix);
        files.push(name.into());
    }
    files
}

pub(crate) fn remove_sqlite_files(db_file: &Path) -> Result<(), SampleError> {
    for f in sqlite_files(db_file) {
        match std::fs::remove_file(&f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SampleError::io(&f)(e)),
        }
    }
    Ok(())
}

pub(crate) async fn generate(
    db_file: &Path,
    opts: &SampleOptions,
) -> Result<SampleSummary, SampleError> {
    if db_file.exists() {
        if !opts.force {
            return Err(SampleError::TargetExists {
                path: db_file.to_path_buf(),
            });
        }
        remove_sqlite_files(db_file)?;
    }
    if let Some(parent) = db_file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(SampleError::io(parent))?;
    }
    let result = fill_database(db_file, opts).await;
    if result.is_err() {
        // A half-written legacy database would only mislead; the error says why.
        let _ = remove_sqlite_files(db_file);
    }
    let tables = result?;
    let project_file = db_file
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join("project.toml");
    Ok(SampleSummary {
        project_file,
        tables,
    })
}

async fn fill_database(
    db_file: &Path,
    opts: &SampleOptions,
) -> Result<Vec<(String, u64)>, SampleError> {
    let url_text = format!("sqlite://{}", db_file.display());
    let url = DbUrl::parse(&url_text, Path::new(".")).map_err(|reason| DbError::Connect {
        url: url_text.clone(),
        reason,
    })?;
    let db = db::connect(&url, true).await?;
    let result = write_tables(&db, opts).await;
    db.close().await;
    result
}

async fn write_tables(db: &Db, opts: &SampleOptions) -> Result<Vec<(String, u64)>, SampleError> {
    let ddl = SCHEMA
        .iter()
        .map(|sql| db::Statement::new(*sql, Vec::new()))
        .collect();
    db.transaction(ddl).await?;

    let scale = Scale::for_models(opts.rows);
    let dict = Dictionary::embedded();
    let seed = opts.seed;
    let mut tables = Vec::new();

    let mut rng = SplitMix64::stream(seed, "datasets");
    let n = fill(db, "datasets", &DATASET_COLUMNS, scale.datasets, |id| {
        dataset_row(&mut rng, id)
    })
    .await?;
    tables.push(("datasets".to_string(), n));

    let mut rng = SplitMix64::stream(seed, "models");
    let n = fill(db, "models", &MODEL_COLUMNS, scale.models, |id| {
        model_row(&mut rng, &dict, &scale, id)
    })
    .await?;
    tables.push(("models".to_string(), n));

    let mut rng = SplitMix64::stream(seed, "training_runs");
    let n = fill(db, "training_runs", &RUN_COLUMNS, scale.runs, |id| {
        run_row(&mut rng, &scale, id)
    })
    .await?;
    tables.push(("training_runs".to_string(), n));

    let mut rng = SplitMix64::stream(seed, "experiments");
    let n = fill(
        db,
        "experiments",
        &EXPERIMENT_COLUMNS,
        scale.experiments,
        |id| experiment_row(&mut rng, &scale, id),
    )
    .await?;
    tables.push(("experiments".to_string(), n));

    let mut rng = SplitMix64::stream(seed, "metrics");
    let n = fill(db, "metrics", &METRIC_COLUMNS, scale.metrics, |id| {
        metric_row(&mut rng, &scale, id)
    })
    .await?;
    tables.push(("metrics".to_string(), n));

    Ok(tables)
}

/// Inserts rows with keys 1..=count, one transaction per batch.
async fn fill(
    db: &Db,
    table: &str,
    columns: &[&str],
    count: u64,
    mut row: impl FnMut(u64) -> Row,
) -> Result<u64, DbError> {
    let columns: Vec<String> = columns.iter().map(|c| (*c).to_string()).collect();
    // Binding by parameter number costs time quadratic in the parameters of one
    // statement (SQLite scans its name list per lookup), so statements stay small.
    let per_statement = (MAX_PARAMS_PER_STATEMENT / columns.len()).max(1) as u64;
    // One batch is written while the next is generated: at most two in memory.
    let mut writing: Option<tokio::task::JoinHandle<Result<(), DbError>>> = None;
    let mut next = 1;
    while next <= count {
        let end = next.saturating_add(BATCH_ROWS).min(count + 1);
        let mut statements = Vec::new();
        let mut chunk_start = next;
        while chunk_start < end {
            let chunk_end = (chunk_start + per_statement).min(end);
            let rows: Vec<Row> = (chunk_start..chunk_end).map(&mut row).collect();
            statements.extend(db.dialect().insert_rows(table, &columns, rows));
            chunk_start = chunk_end;
        }
        if let Some(previous) = writing.take() {
            joined(previous).await?;
        }
        let db = db.clone();
        writing = Some(tokio::spawn(
            async move { db.transaction(statements).await },
        ));
        next = end;
    }
    if let Some(last) = writing {
        joined(last).await?;
    }
    Ok(count)
}

async fn joined(task: tokio::task::JoinHandle<Result<(), DbError>>) -> Result<(), DbError> {
    match task.await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(DbError::Unsupported(format!("insert task stopped: {e}"))),
    }
}

const DATASET_COLUMNS: [&str; 6] = [
    "dataset_id",
    "name",
    "source_uri",
    "format",
    "row_count",
    "created_at",
];

fn dataset_row(rng: &mut SplitMix64, id: u64) -> Row {
    let topics = [
        "customer_events",
        "transactions",
        "support_tickets",
        "images",
        "clickstream",
        "sensor_readings",
    ];
    let name = format!("{}_{id}", rng.pick(&topics));
    let uri = if rng.unit() < 0.5 {
        format!("s3://legacy-lake/raw/{name}/")
    } else {
        format!("/mnt/research/data/{name}")
    };
    vec![
        Value::Int(id as i64),
        Value::Text(name),
        Value::Text(uri),
        dirt::dataset_format(rng),
        Value::Int(rng.between(1_000, 50_000_000)),
        dirt::datetime_text(dirt::legacy_datetime(rng)),
    ]
}

const MODEL_COLUMNS: [&str; 10] = [
    "model_id",
    "model_name",
    "algo_type",
    "status",
    "accuracy_score",
    "dataset_id",
    "owner_id",
    "artifact_path",
    "created_at",
    "notes",
];

fn model_row(rng: &mut SplitMix64, dict: &Dictionary, scale: &Scale, id: u64) -> Row {
    let name = dirt::model_name(rng, id);
    let artifact = dirt::artifact_path(rng, &name);
    vec![
        Value::Int(id as i64),
        Value::Text(name),
        dirt::algo_type(rng, dict),
        dirt::model_status(rng),
        dirt::accuracy(rng),
        dirt::dataset_ref(rng, scale.datasets),
        dirt::owner(rng),
        artifact,
        dirt::datetime_text(dirt::legacy_datetime(rng)),
        dirt::notes(rng),
    ]
}

const RUN_COLUMNS: [&str; 7] = [
    "run_id",
    "model_id",
    "started_at",
    "finished_at",
    "status",
    "epochs",
    "gpu_hours",
];

fn run_row(rng: &mut SplitMix64, scale: &Scale, id: u64) -> Row {
    let started = dirt::legacy_datetime(rng);
    let status = dirt::run_status(rng);
    let minutes = rng.between(5, 72 * 60);
    let gpus = rng.between(1, 8);
    // Queued and running jobs have no end yet.
    let finished = match status {
        "Q" | "R" => Value::Null,
        _ => dirt::datetime_text(started + Duration::minutes(minutes)),
    };
    let gpu_hours = (minutes * gpus) as f64 / 60.0;
    vec![
        Value::Int(id as i64),
        Value::Int(1 + rng.below(scale.models.max(1)) as i64),
        dirt::datetime_text(started),
        finished,
        Value::Text(status.into()),
        Value::Int(rng.between(1, 500)),
        Value::Float((gpu_hours * 100.0).round() / 100.0),
    ]
}

const EXPERIMENT_COLUMNS: [&str; 5] = [
    "experiment_id",
    "model_id",
    "name",
    "hyperparams",
    "created_at",
];

fn experiment_row(rng: &mut SplitMix64, scale: &Scale, id: u64) -> Row {
    let purpose = [
        "lr-sweep",
        "ablation",
        "feature-selection",
        "baseline",
        "tuning",
    ];
    vec![
        Value::Int(id as i64),
        Value::Int(1 + rng.below(scale.models.max(1)) as i64),
        Value::Text(format!("exp-{id:06}-{}", rng.pick(&purpose))),
        dirt::hyperparams(rng),
        dirt::datetime_text(dirt::legacy_datetime(rng)),
    ]
}

const METRIC_COLUMNS: [&str; 5] = [
    "metric_id",
    "run_id",
    "metric_name",
    "metric_value",
    "recorded_at",
];

fn metric_row(rng: &mut SplitMix64, scale: &Scale, id: u64) -> Row {
    let name = *rng.pick(&["accuracy", "f1", "precision", "recall", "auc", "loss"]);
    let value = if name == "loss" {
        rng.float(0.0, 3.0)
    } else {
        rng.float(0.3, 1.0)
    };
    vec![
        Value::Int(id as i64),
        dirt::run_ref(rng, scale.runs),
        Value::Text(name.into()),
        Value::Float((value * 10_000.0).round() / 10_000.0),
        dirt::datetime_text(dirt::legacy_datetime(rng)),
    ]
}
