//! Over real PostgreSQL and MariaDB servers (`--features live-db`). URLs come
//! from FLIGHTDECK_TEST_PG_URL and FLIGHTDECK_TEST_MYSQL_URL; every test works
//! in a database of its own, created here and dropped afterwards.
#![cfg(feature = "live-db")]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{NaiveDate, TimeZone, Utc};
use flightdeck::db::{self, Db, DbUrl, Statement};
use flightdeck::pipeline::{self, RunEvent, RunOptions, RunState, RunSummary};
use flightdeck::sample::{self, SampleOptions};
use flightdeck::schema::{ColumnDef, ColumnType, TableDef};
use flightdeck::value::Value;
use uuid::Uuid;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Server {
    Postgres,
    MySql,
}

fn base_url(server: Server) -> String {
    match server {
        Server::Postgres => std::env::var("FLIGHTDECK_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        Server::MySql => std::env::var("FLIGHTDECK_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into()),
    }
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(slash) => &head[..scheme_end + slash],
        None => head,
    };
    format!("{base}/{name}{query}")
}

async fn open(url: &str) -> Db {
    let u = DbUrl::parse(url, Path::new("/")).unwrap();
    db::connect(&u, true)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test server: {e}"))
}

/// A database that exists for one test; dropped when this goes out of scope.
struct TempDb {
    server: Server,
    name: String,
    url: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl TempDb {
    async fn new(server: Server, tag: &str) -> Self {
        let name = format!(
            "fdtest_{tag}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = open(&base_url(server)).await;
        let sql = match server {
            Server::Postgres => format!("CREATE DATABASE \"{name}\""),
            Server::MySql => {
                format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            }
        };
        admin.execute(&sql, &[]).await.unwrap();
        admin.close().await;
        Self {
            server,
            url: with_database(&base_url(server), &name),
            name,
        }
    }

    async fn connect(&self) -> Db {
        open(&self.url).await
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let (server, name) = (self.server, self.name.clone());
        // Drop runs outside any runtime the test still drives: use our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let admin = open(&base_url(server)).await;
                let sql = match server {
                    Server::Postgres => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                    Server::MySql => format!("DROP DATABASE IF EXISTS `{name}`"),
                };
                let _ = admin.execute(&sql, &[]).await;
                admin.close().await;
            });
        })
        .join();
    }
}

async fn rows(db: &Db, sql: &str) -> Vec<Vec<Value>> {
    db.query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn count(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {}", db.dialect().quote_ident(table));
    rows(db, &sql).await[0][0].as_i64().unwrap()
}

// ---------------------------------------------------------------------------
// Every Value through both load paths and back.
// ---------------------------------------------------------------------------

fn all_types_table() -> TableDef {
    let c = |name: &str, t| ColumnDef {
        name: name.into(),
        column_type: t,
        nullable: true,
    };
    TableDef {
        name: "all types".into(),
        columns: vec![
            ColumnDef {
                name: "id".into(),
                column_type: ColumnType::BigInt,
                nullable: false,
            },
            c("b", ColumnType::Bool),
            c("small", ColumnType::SmallInt),
            c("i", ColumnType::Int),
            c("f", ColumnType::Float),
            c("d", ColumnType::Double),
            c("dec", ColumnType::Decimal(12, 4)),
            c("txt", ColumnType::Text),
            c("vc", ColumnType::Varchar(191)),
            c("bytes", ColumnType::Bytes),
            c("u", ColumnType::Uuid),
            c("day", ColumnType::Date),
            c("local", ColumnType::DateTime),
            c("instant", ColumnType::Timestamp),
            c("doc", ColumnType::Json),
        ],
        primary_key: vec!["id".into()],
    }
}

fn sample_values(id: i64) -> Vec<Value> {
    let local = NaiveDate::from_ymd_opt(2024, 3, 10)
        .unwrap()
        .and_hms_micro_opt(2, 30, 15, 123_456)
        .unwrap();
    vec![
        Value::Int(id),
        Value::Bool(true),
        Value::Int(-32_768),
        Value::Int(2_147_483_647),
        Value::Float(0.87),
        Value::Float(-1.234_567_890_123e-7),
        Value::Text("12345.6789".into()),
        Value::Text("tab\there \\ back\nslash\r 🚀 𠜎 \"q\" 'a'".into()),
        Value::Text("ключ — 鍵".into()),
        Value::Bytes(vec![0, 1, 92, 255, b'\t', b'\n']),
        Value::Uuid(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)),
        Value::Date(NaiveDate::from_ymd_opt(1999, 12, 31).unwrap()),
        Value::DateTime(local),
        Value::Timestamp(Utc.with_ymd_and_hms(2038, 1, 19, 3, 14, 8).unwrap()),
        Value::Text("{\"a\": 1}".into()),
    ]
}

/// What `v` reads back as from column `i` of [`all_types_table`].
fn expected(server: Server, i: usize, v: &Value) -> Value {
    match (server, i, v) {
        (_, _, Value::Null) => Value::Null,
        // MySQL: UUIDs in CHAR(36), instants in DATETIME(6) as UTC.
        (Server::MySql, _, Value::Uuid(u)) => Value::Text(u.hyphenated().to_string()),
        (Server::MySql, _, Value::Timestamp(t)) => Value::DateTime(t.naive_utc()),
        _ => v.clone(),
    }
}

async fn round_trip(server: Server) {
    let tmp = TempDb::new(server, "types").await;
    let db = tmp.connect().await;
    let d = db.dialect();
    let def = all_types_table();
    db.execute(&d.create_table(&def), &[]).await.unwrap();
    let cols: Vec<String> = def.columns.iter().map(|c| c.name.clone()).collect();

    // Row 1 by the fast path, row 2 all NULL, row 3 by bound INSERT.
    let mut nulls = vec![Value::Null; cols.len()];
    nulls[0] = Value::Int(2);
    db.write_batch(
        &def.name,
        &cols,
        vec![sample_values(1), nulls.clone()],
        vec![],
    )
    .await
    .unwrap();
    let mut bound = sample_values(3);
    if server == Server::Postgres {
        // A bound text parameter is typed text, which PostgreSQL will not
        // assign to NUMERIC or JSONB: those go in typed (or by COPY, above).
        bound[6] = Value::Float(12345.6789);
        bound[14] = Value::Null;
    }
    db.transaction(d.insert_rows(&def.name, &cols, vec![bound.clone()]))
        .await
        .unwrap();

    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        cols.iter()
            .map(|c| d.quote_ident(c))
            .collect::<Vec<_>>()
            .join(", "),
        d.quote_ident(&def.name),
        d.quote_ident("id")
    );
    let got = rows(&db, &sql).await;
    assert_eq!(got.len(), 3);
    for (row, want) in got.iter().zip([sample_values(1), nulls, bound]) {
        for (i, (g, w)) in row.iter().zip(&want).enumerate() {
            let mut w = expected(server, i, w);
            if let (6, Value::Float(f)) = (i, &w) {
                w = Value::Text(format!("{f:.4}"));
            }
            assert_eq!(g, &w, "{server:?} column {}", cols[i]);
        }
    }

    // The catalog reads our own DDL back as the types we asked for.
    let info = db.table_info(&def.name).await.unwrap().unwrap();
    for (c, want) in info.columns.iter().zip(&def.columns) {
        let t = match (server, want.column_type) {
            (Server::MySql, ColumnType::Timestamp) => ColumnType::DateTime,
            (Server::MySql, ColumnType::Json) => c.column_type,
            (_, t) => t,
        };
        assert_eq!(
            c.column_type, t,
            "{server:?} {} ({})",
            c.name, c.native_type
        );
    }
    assert!(info.column("id").unwrap().primary_key);
    assert!(!info.column("id").unwrap().nullable);
    assert!(db.table_info("no such table").await.unwrap().is_none());
    assert_eq!(db.list_tables().await.unwrap(), vec![def.name.clone()]);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_value_round_trips_on_postgres() {
    round_trip(Server::Postgres).await;
}

/// Without the DECIMAL column every value already has its column's type, so
/// the batch goes by binary COPY; it must read back as by text.
#[tokio::test(flavor = "multi_thread")]
async fn binary_copy_round_trips_every_native_type_on_postgres() {
    let tmp = TempDb::new(Server::Postgres, "bincopy").await;
    let db = tmp.connect().await;
    let d = db.dialect();
    let mut def = all_types_table();
    let decimal = def
        .columns
        .iter()
        .position(|c| matches!(c.column_type, ColumnType::Decimal(..)))
        .unwrap();
    def.columns.remove(decimal);
    db.execute(&d.create_table(&def), &[]).await.unwrap();
    let cols: Vec<String> = def.columns.iter().map(|c| c.name.clone()).collect();
    let native = |id: i64| {
        let mut v = sample_values(id);
        v.remove(decimal);
        v
    };
    let mut nulls = vec![Value::Null; cols.len()];
    nulls[0] = Value::Int(2);
    // Extremes of each width and of the calendar, and text COPY escapes.
    let mut edge = native(3);
    edge[2] = Value::Int(32_767);
    edge[3] = Value::Int(-2_147_483_648);
    edge[6] = Value::Text("\\N".into());
    let day = cols.iter().position(|c| c == "day").unwrap();
    edge[day] = Value::Date(NaiveDate::from_ymd_opt(1, 1, 1).unwrap());
    let rows_in = vec![native(1), nulls, edge];
    db.write_batch(&def.name, &cols, rows_in.clone(), vec![])
        .await
        .unwrap();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        d.ident_list(&cols),
        d.quote_ident(&def.name),
        d.quote_ident("id")
    );
    let got = rows(&db, &sql).await;
    assert_eq!(got.len(), 3);
    for (row, want) in got.iter().zip(&rows_in) {
        for (i, (g, w)) in row.iter().zip(want).enumerate() {
            assert_eq!(g, w, "column {}", cols[i]);
        }
    }
    db.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_value_round_trips_on_mariadb() {
    round_trip(Server::MySql).await;
}

async fn all_or_nothing(server: Server) {
    let tmp = TempDb::new(server, "tx").await;
    let db = tmp.connect().await;
    let d = db.dialect();
    db.execute(
        &format!("CREATE TABLE {} (k INT PRIMARY KEY)", d.quote_ident("t")),
        &[],
    )
    .await
    .unwrap();
    let cols = vec!["k".to_string()];
    // The extra statement fails (duplicate key): the batch must not land.
    let dup = d.insert_rows("t", &cols, vec![vec![Value::Int(1)]]);
    let err = db
        .write_batch(
            "t",
            &cols,
            vec![vec![Value::Int(1)], vec![Value::Int(2)]],
            dup,
        )
        .await;
    assert!(err.is_err());
    assert_eq!(
        count(&db, "t").await,
        0,
        "{server:?}: a failed batch left rows"
    );
    db.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_batch_writes_nothing_on_either_server() {
    all_or_nothing(Server::Postgres).await;
    all_or_nothing(Server::MySql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn locks_are_exclusive_and_released() {
    for server in [Server::Postgres, Server::MySql] {
        let tmp = TempDb::new(server, "lock").await;
        let a = tmp.connect().await;
        let b = tmp.connect().await;
        let name = format!("flightdeck:{}", tmp.name);
        assert!(a.try_lock(&name).await.unwrap());
        assert!(a.holds_lock(&name).await.unwrap());
        assert!(
            !b.try_lock(&name).await.unwrap(),
            "{server:?}: lock not exclusive"
        );
        assert!(!b.holds_lock(&name).await.unwrap());
        a.unlock(&name).await.unwrap();
        assert!(!a.holds_lock(&name).await.unwrap());
        assert!(
            b.try_lock(&name).await.unwrap(),
            "{server:?}: lock not released"
        );
        b.close().await;
        a.close().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_never_show_in_connect_errors() {
    let base = base_url(Server::Postgres);
    let rest = base.split_once("://").unwrap().1;
    let host = rest.split('/').next().unwrap().rsplit('@').next().unwrap();
    let url = format!("postgres://nobody:sup3rs3cret@{host}/fd_no_such_db");
    let u = DbUrl::parse(&url, Path::new("/")).unwrap();
    let err = db::connect(&u, false).await.err().expect("must fail");
    assert!(!err.to_string().contains("sup3rs3cret"), "{err}");
}

/// A database that does not exist is named by the server's own message, at
/// once, without the driver's prefix or PostgreSQL's "at line N" (the line
/// of the server's C source, which reads like a line of the project file).
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_database_is_named_by_the_servers_message() {
    for (server, says) in [
        (
            Server::Postgres,
            "database \"fd_no_such_db\" does not exist",
        ),
        (Server::MySql, "Unknown database 'fd_no_such_db'"),
    ] {
        let url = with_database(&base_url(server), "fd_no_such_db");
        let u = DbUrl::parse(&url, Path::new("/")).unwrap();
        let started = std::time::Instant::now();
        let err = db::connect(&u, false).await.err().expect("must fail");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let text = err.to_string();
        assert!(text.ends_with(says), "{text}");
        assert!(!text.contains(" at line "), "{text}");
        assert!(!text.contains("error returned from database"), "{text}");
    }
}

// ---------------------------------------------------------------------------
// The sample, across servers.
// ---------------------------------------------------------------------------

const LEGACY_TABLES: [&str; 5] = [
    "datasets",
    "models",
    "training_runs",
    "experiments",
    "metrics",
];

async fn sample_dir(rows: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let opts = SampleOptions {
        rows,
        seed: 7,
        force: false,
    };
    sample::install("ai-research", dir.path(), &opts)
        .await
        .unwrap();
    dir
}

/// Writes a copy of the sample's project with other source/target URLs.
fn project_with(dir: &Path, file: &str, source: &str, target: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(dir.join("project.toml")).unwrap();
    let text = text
        .replacen(
            "url = \"sqlite://legacy.db\"",
            &format!("url = \"{source}\""),
            1,
        )
        .replacen(
            "url = \"sqlite://platform.db\"",
            &format!("url = \"{target}\""),
            1,
        );
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

async fn run_project(path: &Path) -> RunSummary {
    let project = Arc::new(flightdeck::project::load(path).unwrap_or_else(|e| panic!("{e}")));
    let prepared = pipeline::prepare(project, true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut handle = pipeline::spawn(prepared.clone(), RunOptions::default());
    while let Some(e) = handle.events.recv().await {
        match e {
            RunEvent::Finished(s) => {
                // Every run over the servers ends with all post-run checks green.
                let options = flightdeck::validate::PostOptions {
                    run_id: s.run_id.parse().ok(),
                    ..Default::default()
                };
                let checks = flightdeck::validate::run_post(
                    &prepared.project,
                    prepared.source.as_ref(),
                    prepared.target.as_ref(),
                    &prepared.tables,
                    &options,
                )
                .await;
                let failed: Vec<String> = checks
                    .iter()
                    .filter(|c| c.status == flightdeck::validate::CheckStatus::Failed)
                    .map(|c| format!("{}: {} {:?}", c.name, c.message, c.examples))
                    .collect();
                assert!(failed.is_empty(), "post-run checks failed: {failed:#?}");
                return s;
            }
            RunEvent::Failed { error } => panic!("run failed: {error}"),
            _ => {}
        }
    }
    panic!("run ended without a summary")
}

async fn load_legacy(dir: &Path, into: &Db) {
    let legacy = open(&format!("sqlite://{}", dir.join("legacy.db").display())).await;
    let tables: Vec<String> = LEGACY_TABLES.iter().map(|s| s.to_string()).collect();
    sample::copy_tables(legacy.as_ref(), into.as_ref(), &tables, false)
        .await
        .unwrap();
    legacy.close().await;
}

/// Per source table: (read, written, quarantined).
fn totals(s: &RunSummary) -> Vec<(String, u64, u64, u64)> {
    let mut t: Vec<_> = s
        .tables
        .iter()
        .map(|t| (t.source.clone(), t.read, t.written, t.quarantined))
        .collect();
    t.sort();
    t
}

/// The run reconciles with its source and its target, table by table.
async fn check_run(summary: &RunSummary, source: &Db, target: &Db) {
    assert_eq!(summary.status, RunState::Completed);
    let q = target.dialect().quote_ident("flightdeck_quarantine");
    let qt = target.dialect().quote_ident("source_table");
    for t in &summary.tables {
        assert_eq!(
            t.read as i64,
            count(source, &t.source).await,
            "{}: read",
            t.source
        );
        assert_eq!(t.read, t.written + t.quarantined, "{}", t.source);
        assert_eq!(
            t.written as i64,
            count(target, &t.target).await,
            "{}",
            t.target
        );
        let sql = format!("SELECT COUNT(*) FROM {q} WHERE {qt} = '{}'", t.source);
        assert_eq!(
            rows(target, &sql).await[0][0].as_i64(),
            Some(t.quarantined as i64)
        );
    }
    // Foreign keys with on_orphan = quarantine resolve in the target.
    let d = target.dialect();
    let i = |s: &str| d.quote_ident(s);
    for (child, col, parent, key) in [
        ("training_jobs", "model_uuid", "ml_models", "model_uuid"),
        ("model_performance", "job_uuid", "training_jobs", "job_uuid"),
    ] {
        let sql = format!(
            "SELECT COUNT(*) FROM {c} WHERE {col} IS NOT NULL AND {col} NOT IN (SELECT {key} FROM {p})",
            c = i(child),
            col = i(col),
            p = i(parent),
            key = i(key)
        );
        assert_eq!(
            rows(target, &sql).await[0][0].as_i64(),
            Some(0),
            "{child}.{col}"
        );
    }
}

/// The same sample through SQLite → SQLite, the reference every server run
/// must agree with row for row.
async fn reference_totals(dir: &Path) -> Vec<(String, u64, u64, u64)> {
    let path = project_with(
        dir,
        "reference.toml",
        "sqlite://legacy.db",
        "sqlite://reference.db",
    );
    totals(&run_project(&path).await)
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_sample_runs_into_mariadb() {
    let dir = sample_dir(2_000).await;
    let target = TempDb::new(Server::MySql, "s2m").await;
    let path = project_with(dir.path(), "mysql.toml", "sqlite://legacy.db", &target.url);
    let summary = run_project(&path).await;
    let source = open(&format!(
        "sqlite://{}",
        dir.path().join("legacy.db").display()
    ))
    .await;
    let tdb = target.connect().await;
    check_run(&summary, &source, &tdb).await;
    assert_eq!(totals(&summary), reference_totals(dir.path()).await);
    // Unicode survives utf8mb4: an astral-plane note arrives intact.
    let astral = rows(
        &tdb,
        "SELECT COUNT(*) FROM ml_models WHERE description LIKE '%🚀%' OR description LIKE '%𠜎%'",
    )
    .await;
    assert!(astral[0][0].as_i64().unwrap() > 0);
    tdb.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_source_runs_into_postgres() {
    let dir = sample_dir(2_000).await;
    let source = TempDb::new(Server::MySql, "m2p_src").await;
    let target = TempDb::new(Server::Postgres, "m2p_dst").await;
    let sdb = source.connect().await;
    load_legacy(dir.path(), &sdb).await;
    let path = project_with(dir.path(), "m2p.toml", &source.url, &target.url);
    let summary = run_project(&path).await;
    let tdb = target.connect().await;
    check_run(&summary, &sdb, &tdb).await;
    assert_eq!(totals(&summary), reference_totals(dir.path()).await);
    // Keys are real UUIDs and instants real TIMESTAMPTZ in PostgreSQL.
    let info = tdb.table_info("ml_models").await.unwrap().unwrap();
    assert_eq!(
        info.column("model_uuid").unwrap().column_type,
        ColumnType::Uuid
    );
    assert_eq!(
        info.column("created_at").unwrap().column_type,
        ColumnType::Timestamp
    );
    // Inverses are stored uncompressed (compressing them cost the load).
    let storage = tdb
        .query(
            "SELECT attstorage::text FROM pg_catalog.pg_attribute \
             WHERE attrelid = 'flightdeck_events'::regclass AND attname = 'inverse'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(storage[0][0], Value::Text("e".into()));
    // A second run of a completed project writes nothing more.
    let again = run_project(&path).await;
    assert_eq!(totals(&again), totals(&summary));
    assert_eq!(
        count(&tdb, "ml_models").await,
        summary
            .tables
            .iter()
            .find(|t| t.target == "ml_models")
            .unwrap()
            .written as i64
    );
    sdb.close().await;
    tdb.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_source_runs_into_postgres() {
    let dir = sample_dir(1_000).await;
    let source = TempDb::new(Server::Postgres, "p2p_src").await;
    let target = TempDb::new(Server::Postgres, "p2p_dst").await;
    let sdb = source.connect().await;
    load_legacy(dir.path(), &sdb).await;
    let path = project_with(dir.path(), "p2p.toml", &source.url, &target.url);
    let summary = run_project(&path).await;
    let tdb = target.connect().await;
    check_run(&summary, &sdb, &tdb).await;
    assert_eq!(totals(&summary), reference_totals(dir.path()).await);
    sdb.close().await;
    tdb.close().await;
}

// ---------------------------------------------------------------------------
// The edge-case corpus, MariaDB → PostgreSQL.
// ---------------------------------------------------------------------------

const CORPUS_PROJECT: &str = r#"
[project]
name = "edge corpus"

[source]
url = "@SOURCE@"
timezone = "America/New_York"

[target]
url = "@TARGET@"

[[tables]]
source = "corpus"
target = "corpus_out"
key = "id"
target_key = "row_uuid"

[[tables.fields]]
source = "id"
target = "row_uuid"
type = "uuid"
rule = "deterministic_key"

[[tables.fields]]
source = "id"
target = "original_id"
type = "bigint"

[[tables.fields]]
source = "body"
target = "body"
type = "text"

[[tables.fields]]
source = "happened"
target = "happened"
type = "timestamp"
rule = "to_utc"
dst_gap = "shift_forward"
dst_overlap = "earliest"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn edge_corpus_crosses_mariadb_to_postgres_or_is_quarantined() {
    let source = TempDb::new(Server::MySql, "edge_src").await;
    let target = TempDb::new(Server::Postgres, "edge_dst").await;
    let sdb = source.connect().await;
    sdb.execute(
        "CREATE TABLE corpus (id INT PRIMARY KEY, body LONGTEXT, happened DATETIME) \
         DEFAULT CHARSET=utf8mb4",
        &[],
    )
    .await
    .unwrap();
    let long: String = "Ünïcödé ✓ long line\n".repeat(20_000);
    let corpus: Vec<(i64, Value, &str)> = vec![
        (1, Value::Text("plain".into()), "'2024-06-01 12:00:00'"),
        (
            2,
            Value::Text("astral 🚀 𠜎 𝔐𝔬𝔡𝔢𝔩 and CJK 模型".into()),
            "'2024-06-01 12:00:00'",
        ),
        (
            3,
            Value::Text("nul \0 inside".into()),
            "'2024-06-01 12:00:00'",
        ),
        (4, Value::Text(long.clone()), "'2024-06-01 12:00:00'"),
        // Legacy MySQL's "no date": must not become a made-up instant.
        (5, Value::Text("zero date".into()), "'0000-00-00 00:00:00'"),
        // Spring-forward gap in New York: shifted forward by the policy.
        (6, Value::Text("dst gap".into()), "'2024-03-10 02:30:00'"),
        (
            7,
            Value::Text("tabs\tand\\backslashes\r\n".into()),
            "'2024-11-03 01:30:00'",
        ),
        (8, Value::Null, "NULL"),
    ];
    // Zero dates need a lax sql_mode, on the same connection as the insert.
    let mut st = vec![Statement::new("SET SESSION sql_mode = ''", vec![])];
    for (id, body, happened) in &corpus {
        st.push(Statement::new(
            format!("INSERT INTO corpus (id, body, happened) VALUES (?, ?, {happened})"),
            vec![Value::Int(*id), body.clone()],
        ));
    }
    st.push(Statement::new(
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
        vec![],
    ));
    sdb.transaction(st).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("project.toml");
    std::fs::write(
        &path,
        CORPUS_PROJECT
            .replace("@SOURCE@", &source.url)
            .replace("@TARGET@", &target.url),
    )
    .unwrap();
    let summary = run_project(&path).await;
    let t = &summary.tables[0];
    assert_eq!((t.read, t.written, t.quarantined), (8, 6, 2), "{summary:?}");

    let tdb = target.connect().await;
    let got = rows(
        &tdb,
        "SELECT original_id, body, happened FROM corpus_out ORDER BY original_id",
    )
    .await;
    let by_id = |id: i64| got.iter().find(|r| r[0] == Value::Int(id)).cloned();
    assert_eq!(by_id(2).unwrap()[1], corpus[1].1, "astral text changed");
    assert_eq!(by_id(4).unwrap()[1], Value::Text(long), "long text changed");
    assert_eq!(by_id(7).unwrap()[1], corpus[6].1, "escapes changed");
    assert_eq!(by_id(8).unwrap()[1], Value::Null);
    assert_eq!(
        by_id(6).unwrap()[2],
        Value::Timestamp(Utc.with_ymd_and_hms(2024, 3, 10, 7, 30, 0).unwrap()),
        "03:30 EDT after the gap"
    );
    assert_eq!(
        by_id(7).unwrap()[2],
        Value::Timestamp(Utc.with_ymd_and_hms(2024, 11, 3, 5, 30, 0).unwrap()),
        "the earlier 01:30 (EDT)"
    );

    let q = rows(
        &tdb,
        "SELECT source_key, column_name, reason FROM flightdeck_quarantine ORDER BY source_key",
    )
    .await;
    assert_eq!(q.len(), 2, "{q:?}");
    assert_eq!(q[0][0], Value::Text("3".into()));
    assert_eq!(q[0][1], Value::Text("body".into()));
    assert!(q[0][2].render().contains("NUL"), "{q:?}");
    assert_eq!(q[1][0], Value::Text("5".into()));
    assert_eq!(q[1][1], Value::Text("happened".into()));
    sdb.close().await;
    tdb.close().await;
}

// ---------------------------------------------------------------------------
// Load-path throughput; run by hand:
//   cargo test --features live-db --test live_db load_paths -- --ignored --nocapture
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement, not a check"]
async fn load_paths_throughput() {
    let n: i64 = std::env::var("FLIGHTDECK_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let batch = 5_000usize;
    let def = all_types_table();
    let cols: Vec<String> = def.columns.iter().map(|c| c.name.clone()).collect();
    let row = |id: i64| {
        let mut r = sample_values(id);
        r[14] = Value::Null; // JSON: bound text would not fit JSONB on the INSERT path
        r[6] = Value::Float(12.5);
        r
    };
    for (server, path) in [
        (Server::Postgres, "COPY"),
        (Server::Postgres, "INSERT"),
        (Server::MySql, "INSERT"),
    ] {
        let tmp = TempDb::new(server, "bench").await;
        let db = tmp.connect().await;
        db.execute(&db.dialect().create_table(&def), &[])
            .await
            .unwrap();
        let t0 = std::time::Instant::now();
        let mut id = 0;
        while id < n {
            let rows: Vec<_> = (id..(id + batch as i64).min(n)).map(row).collect();
            id += rows.len() as i64;
            if path == "COPY" || server == Server::MySql {
                db.write_batch(&def.name, &cols, rows, vec![])
                    .await
                    .unwrap();
            } else {
                let st = db.dialect().insert_rows(&def.name, &cols, rows);
                db.transaction(st).await.unwrap();
            }
        }
        let s = t0.elapsed().as_secs_f64();
        assert_eq!(count(&db, &def.name).await, n);
        eprintln!(
            "{server:?} {path}: {n} rows of 15 columns in {s:.2}s = {:.0} rows/s",
            n as f64 / s
        );
        db.close().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ai_research_mysql_sample_loads_mariadb_and_runs_into_postgres() {
    let source = TempDb::new(Server::MySql, "sample_src").await;
    let target = TempDb::new(Server::Postgres, "sample_dst").await;
    let dir = tempfile::tempdir().unwrap();
    let opts = SampleOptions {
        rows: 500,
        seed: 7,
        force: false,
    };
    let parse = |u: &str| DbUrl::parse(u, Path::new("/")).unwrap();
    let s = sample::install_on_server(
        dir.path(),
        &opts,
        &parse(&source.url),
        Some(&parse(&target.url)),
    )
    .await
    .unwrap();
    assert_eq!(s.tables.iter().find(|t| t.0 == "models").unwrap().1, 500);
    let summary = run_project(&s.project_file).await;
    let (sdb, tdb) = (source.connect().await, target.connect().await);
    check_run(&summary, &sdb, &tdb).await;
    sdb.close().await;
    tdb.close().await;
}

/// A legacy table already in the server stops the sample before anything is
/// written (it used to create and fill the tables before the one it found),
/// names the tables and the fix; `force` replaces them.
#[tokio::test(flavor = "multi_thread")]
async fn the_mysql_sample_refuses_a_database_holding_its_tables_before_writing() {
    let source = TempDb::new(Server::MySql, "sample_busy").await;
    let sdb = source.connect().await;
    sdb.execute("CREATE TABLE models (x INT)", &[])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let parse = |u: &str| DbUrl::parse(u, Path::new("/")).unwrap();
    let opts = |force| SampleOptions {
        rows: 200,
        seed: 7,
        force,
    };
    let err = sample::install_on_server(dir.path(), &opts(false), &parse(&source.url), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("table models already in")
            && err.contains("nothing was written")
            && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        user_tables(&sdb).await,
        vec![("models".to_string(), 0)],
        "nothing but the table that was there"
    );
    // No project either: the retry needs no --force for it.
    assert!(!dir.path().join("project.toml").exists());
    let s = sample::install_on_server(dir.path(), &opts(true), &parse(&source.url), None)
        .await
        .unwrap();
    assert_eq!(s.tables.iter().find(|t| t.0 == "models").unwrap().1, 200);
    assert_eq!(count(&sdb, "models").await, 200);
    sdb.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_target_lock_is_a_session_lock_on_servers() {
    use flightdeck::eventlog::{lock, store};
    for server in [Server::Postgres, Server::MySql] {
        let tmp = TempDb::new(server, "tlock").await;
        let a = tmp.connect().await;
        let b = tmp.connect().await;
        store::ensure_schema(a.as_ref()).await.unwrap();
        let held = lock::acquire(a.as_ref(), "run", false).await.unwrap();
        assert!(lock::still_held(a.as_ref()).await.unwrap());
        // A second operator is refused while the first holds it, even with
        // --take-over: the holder's session is alive.
        let refused = lock::acquire(b.as_ref(), "run", true).await;
        assert!(refused.is_err(), "{server:?}: second operator got the lock");
        held.release(a.as_ref()).await.unwrap();
        assert!(!lock::still_held(a.as_ref()).await.unwrap());
        let second = lock::acquire(b.as_ref(), "run", false).await.unwrap();
        assert!(lock::still_held(b.as_ref()).await.unwrap());
        // Losing the connection loses the lock: a writer would stop.
        b.close().await;
        assert!(!lock::still_held(b.as_ref()).await.unwrap());
        drop(second);
        a.close().await;
    }
}

/// A canary password in a target URL (through `${ENV}`) never reaches the
/// cockpit's screen, the log file or the event log.
#[tokio::test(flavor = "multi_thread")]
async fn a_canary_password_never_reaches_the_screen_logs_or_event_log() {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    const CANARY: &str = "Zq9CanaryPw41";
    let tmp = TempDb::new(Server::Postgres, "canary").await;
    let dir = sample_dir(200).await;
    let (scheme, rest) = tmp.url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    let target = format!("{scheme}://{user}:${{FLIGHTDECK_CANARY}}@{host}");
    project_with(dir.path(), "canary.toml", "sqlite://legacy.db", &target);

    let pty = portable_pty::native_pty_system()
        .openpty(portable_pty::PtySize {
            rows: 30,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = portable_pty::CommandBuilder::new(env!("CARGO_BIN_EXE_flightdeck"));
    cmd.args(["run", "canary.toml"]);
    cmd.cwd(dir.path());
    cmd.env("FLIGHTDECK_CANARY", CANARY);
    cmd.env("FLIGHTDECK_LOG", "debug");
    cmd.env("XDG_STATE_HOME", dir.path().join("state"));
    cmd.env("XDG_CONFIG_HOME", dir.path().join("config"));
    cmd.env("TERM", "xterm-256color");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let mut writer = pty.master.take_writer().unwrap();
    let raw = Arc::new(Mutex::new(Vec::new()));
    let parser = Arc::new(Mutex::new(vt100::Parser::new(30, 120, 0)));
    let (r, p) = (raw.clone(), parser.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            r.lock().unwrap().extend_from_slice(&buf[..n]);
            p.lock().unwrap().process(&buf[..n]);
        }
    });
    let screen = || parser.lock().unwrap().screen().contents();
    let start = Instant::now();
    while !screen().contains("COMPLETED") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "run did not complete:\n{}",
            screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        screen().contains(":***@"),
        "the header should show the redacted URL:\n{}",
        screen()
    );
    for key in ["1", "2", "3", "4", "5", "6", "7"] {
        writer.write_all(key.as_bytes()).unwrap();
        writer.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(!screen().contains(CANARY), "view {key} shows the password");
    }
    writer.write_all(b"q").unwrap();
    writer.flush().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(2) {
            writer.write_all(b"y").unwrap();
            writer.flush().unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "did not quit");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = String::from_utf8_lossy(&raw.lock().unwrap()).into_owned();
    assert!(!out.contains(CANARY), "the password reached the terminal");
    for entry in walk(&dir.path().join("state")) {
        let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
        assert!(
            !text.contains(CANARY),
            "{} holds the password",
            entry.display()
        );
        assert!(!text.is_empty() || entry.extension().is_none());
    }
    let db = tmp.connect().await;
    let events = rows(
        &db,
        "SELECT summary || ' ' || detail || ' ' || inverse FROM flightdeck_events",
    )
    .await;
    assert!(!events.is_empty());
    for e in events {
        assert!(
            !e[0].render().contains(CANARY),
            "the event log holds the password"
        );
    }
    // Nor does the stakeholders' report, which names the target redacted.
    for out in ["report.html", "report.md"] {
        let report = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(["report", "canary.toml", "--out", out])
            .current_dir(dir.path())
            .env("FLIGHTDECK_CANARY", CANARY)
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .output()
            .unwrap();
        assert!(report.status.success(), "{report:?}");
        let text = std::fs::read_to_string(dir.path().join(out)).unwrap();
        assert!(!text.contains(CANARY), "{out} holds the password");
        // Markdown escapes the asterisks.
        let redacted = if out.ends_with(".md") {
            ":\\*\\*\\*@"
        } else {
            ":***@"
        };
        assert!(
            text.contains(redacted),
            "{out} should name the target redacted"
        );
        assert!(!String::from_utf8_lossy(&report.stderr).contains(CANARY));
    }
    db.close().await;
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// User tables of a server database with their row counts (flightdeck's own
/// tables are the audit trail and stay).
async fn user_tables(db: &Db) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for t in db.list_tables().await.unwrap() {
        if !t.starts_with("flightdeck_") {
            let n = count(db, &t).await;
            out.push((t, n));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_restores_postgres_and_mariadb_targets() {
    for server in [Server::Postgres, Server::MySql] {
        let tmp = TempDb::new(server, "rollback").await;
        let dir = sample_dir(800).await;
        let path = project_with(dir.path(), "server.toml", "sqlite://legacy.db", &tmp.url);
        let db = tmp.connect().await;
        db.execute(
            "CREATE TABLE crm_contacts (id INT PRIMARY KEY, email VARCHAR(100))",
            &[],
        )
        .await
        .unwrap();
        db.execute(
            "INSERT INTO crm_contacts VALUES (1, 'a@example.org'), (2, 'b@example.org')",
            &[],
        )
        .await
        .unwrap();
        let before = user_tables(&db).await;
        let state = dir.path().join("state");
        let run = flightdeck_on(
            &path,
            &state,
            &["run", "--headless", "--accept-above", "0.9"],
        );
        assert!(
            run.status.code() == Some(0),
            "{server:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(
            user_tables(&db).await.len() > before.len(),
            "{server:?}: the run created nothing"
        );
        // Accepted changes went through the online path: each intent has its outcome.
        let events = |cond: &str| {
            let sql = format!("SELECT COUNT(*) FROM flightdeck_events WHERE {cond}");
            let db = db.clone();
            async move { rows(&db, &sql).await[0][0].as_i64().unwrap() }
        };
        let intents = events("kind = 'ddl_intent'").await;
        assert!(intents > 0, "{server:?}: no change was applied online");
        let outcomes = events(
            "kind = 'ddl_failed' OR (kind = 'ddl_applied' AND detail LIKE '%\"online\":true%')",
        )
        .await;
        assert_eq!(intents, outcomes, "{server:?}");
        // Each decision is on record, and the report reads this server back.
        assert!(
            events("kind = 'recommendation_decision'").await > 0,
            "{server:?}"
        );
        let report = flightdeck_on(
            &path,
            &state,
            &[
                "report",
                "--out",
                &dir.path().join("report.md").to_string_lossy(),
            ],
        );
        assert!(report.status.success(), "{server:?}: {report:?}");
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(md.contains("The run completed."), "{server:?}: {md}");
        // The run's changes to the mapped schema, read back from this server's
        // catalog: narrowed types are breaking (exit 1), with their DDL.
        let diff = flightdeck_on(&path, &state, &["diff", "--json"]);
        assert_eq!(diff.status.code(), Some(1), "{server:?}: {diff:?}");
        let d: serde_json::Value = serde_json::from_slice(&diff.stdout).unwrap();
        assert!(d["breaking"].as_u64().unwrap() > 0, "{server:?}: {d}");
        assert!(
            d["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["change"].as_str().unwrap().contains("type narrowed")),
            "{server:?}: {d}"
        );
        assert!(!d["path"]["forward"].as_array().unwrap().is_empty());
        // Drift against the target itself: its catalog shows every applied
        // check, unique key and index, and nothing else that rejects rows;
        // a check added by hand is drift.
        let mut toml = std::fs::read_to_string(&path).unwrap();
        toml.push_str(&format!("\n[environments.itself]\nurl = \"{}\"\n", tmp.url));
        std::fs::write(&path, toml).unwrap();
        let drift = || {
            let out = flightdeck_on(&path, &state, &["diff", "--json", "--env", "itself"]);
            let d: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
            d["drift"][0]["differences"].clone()
        };
        let applied = rows(
            &db,
            "SELECT COUNT(*) FROM flightdeck_events WHERE kind = 'ddl_applied' \
             AND (detail LIKE '%\"kind\":\"check\"%' OR detail LIKE '%\"kind\":\"unique\"%' OR detail LIKE '%\"kind\":\"index\"%')",
        )
        .await[0][0]
            .as_i64()
            .unwrap();
        assert!(applied > 0, "{server:?}: no constraint to compare");
        assert_eq!(drift(), serde_json::json!([]), "{server:?}");
        db.execute(
            "ALTER TABLE ml_models ADD CONSTRAINT by_hand CHECK (original_source_id > -5)",
            &[],
        )
        .await
        .unwrap();
        let found = drift();
        assert_eq!(
            found.as_array().map(Vec::len),
            Some(1),
            "{server:?}: {found}"
        );
        let line = found[0].as_str().unwrap();
        assert!(
            line.starts_with("ml_models has check ")
                && line.contains("original_source_id")
                && line.ends_with(" not in the expected schema"),
            "{server:?}: {line}"
        );
        db.execute("ALTER TABLE ml_models DROP CONSTRAINT by_hand", &[])
            .await
            .unwrap();
        // The text log lists the batches without reading their inverses.
        let log = flightdeck_on(&path, &state, &["log"]);
        assert!(log.status.success(), "{server:?}: {log:?}");
        assert!(String::from_utf8_lossy(&log.stdout).contains("batch_committed"));
        assert!(
            md.contains("| foreign\\_key |"),
            "{server:?}: no quarantine groups"
        );
        // What the run left undecided is applied after it, online, in the
        // run's name: the rollback below undoes it with the rest. The
        // policy now lets the less certain ones through.
        let toml = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            toml.replace("min_confidence = 0.9", "min_confidence = 0.5"),
        )
        .unwrap();
        let applied_before = events("kind = 'ddl_applied'").await;
        let after = flightdeck_on(&path, &state, &["recommendations", "--accept-above", "0.5"]);
        let said = String::from_utf8_lossy(&after.stdout);
        assert!(
            matches!(after.status.code(), Some(0 | 1)),
            "{server:?}: {said} {}",
            String::from_utf8_lossy(&after.stderr)
        );
        assert!(
            events("kind = 'ddl_applied'").await > applied_before,
            "{server:?}: nothing applied after the run: {said}"
        );
        assert_eq!(
            events("kind = 'ddl_intent'").await,
            events(
                "kind = 'ddl_failed' OR (kind = 'ddl_applied' AND detail LIKE '%\"online\":true%')"
            )
            .await,
            "{server:?}"
        );
        assert_eq!(events("kind = 'recommendations_decided'").await, 1);
        let rb = flightdeck_on(&path, &state, &["rollback", "--yes"]);
        assert!(
            rb.status.success(),
            "{server:?}: {}",
            String::from_utf8_lossy(&rb.stderr)
        );
        assert_eq!(
            user_tables(&db).await,
            before,
            "{server:?}: the target is not back to its pre-run state"
        );
        // Twice is once.
        let again = flightdeck_on(&path, &state, &["rollback", "--yes"]);
        assert!(
            again.status.success(),
            "{server:?}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        assert_eq!(user_tables(&db).await, before);
        db.close().await;
    }
}

/// Runs the flightdeck binary with `args`, then `project`, its state kept
/// under `state` and no terminal to confirm on.
fn flightdeck_on(project: &Path, state: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(args)
        .arg(project)
        .env("XDG_STATE_HOME", state)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// Row count and an order-independent hash of each user table.
async fn content(db: &Db) -> Vec<(String, i64, u64)> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut out = Vec::new();
    for t in db.list_tables().await.unwrap() {
        if t.starts_with("flightdeck_") {
            continue;
        }
        let q = db.dialect().quote_ident(&t);
        let all = rows(db, &format!("SELECT * FROM {q}")).await;
        let mut acc = 0u64;
        for r in &all {
            let mut h = DefaultHasher::new();
            for v in r {
                v.render().hash(&mut h);
            }
            acc = acc.wrapping_add(h.finish());
        }
        out.push((t, all.len() as i64, acc));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_a_mariadb_to_postgres_run_then_resume_equals_an_uninterrupted_run() {
    use std::time::{Duration, Instant};
    let bin = env!("CARGO_BIN_EXE_flightdeck");
    let dir = sample_dir(1_500).await;
    let source = TempDb::new(Server::MySql, "k9_src").await;
    let sdb = source.connect().await;
    load_legacy(dir.path(), &sdb).await;
    let reference = TempDb::new(Server::Postgres, "k9_ref").await;
    let path = project_with(dir.path(), "ref.toml", &source.url, &reference.url);
    run_project(&path).await;
    let rdb = reference.connect().await;
    let expected = content(&rdb).await;
    rdb.close().await;
    assert_eq!(expected.len(), 5);

    let state = dir.path().join("state");
    let mut landed = 0;
    // Kill points spread over a paced run (about 2 s long).
    for (trial, after_ms) in [150u64, 700, 1400].into_iter().enumerate() {
        let target = TempDb::new(Server::Postgres, "k9_dst").await;
        let path = project_with(
            dir.path(),
            &format!("k9_{trial}.toml"),
            &source.url,
            &target.url,
        );
        let mut child = std::process::Command::new(bin)
            .args(["run", "--headless", "--pace", "5000"])
            .arg(&path)
            .env("XDG_STATE_HOME", &state)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(after_ms)
            && child.try_wait().unwrap().is_none()
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            landed += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();
        let resume = flightdeck_on(&path, &state, &["run", "--headless", "--take-over"]);
        assert!(
            resume.status.code() == Some(0),
            "trial {trial}: {}",
            String::from_utf8_lossy(&resume.stderr)
        );
        let tdb = target.connect().await;
        assert_eq!(
            content(&tdb).await,
            expected,
            "trial {trial}: target differs after kill -9 and resume"
        );
        tdb.close().await;
    }
    assert!(landed >= 2, "only {landed} kills landed inside a run");
    sdb.close().await;
}

// ---------------------------------------------------------------------------
// Online DDL: the evolution engine's changes on PostgreSQL and MariaDB.
// ---------------------------------------------------------------------------

use flightdeck::eventlog::{EventRecord, kind, rollback, store};
use flightdeck::evolve::{self, Evolver};
use flightdeck::project::model::EvolutionSection;
use flightdeck::recommend::{
    Change, Decision, Recommendation, RecommendationBook, RecommendationKind, RecommendationState,
};

/// Every quote character either server knows, in a table and a column name.
const EVO: &str = "ev\"o`t's";
const NAME: &str = "na\"m`e";

fn evo_columns() -> Vec<String> {
    ["id", NAME, "status", "code", "n"]
        .map(String::from)
        .to_vec()
}

/// A target table of 3000 rows, in a database of its own.
async fn evo_target(server: Server, tag: &str) -> (TempDb, Db) {
    let tmp = TempDb::new(server, tag).await;
    let db = tmp.connect().await;
    store::ensure_schema(db.as_ref()).await.unwrap();
    let col = |name: &str, column_type, nullable| ColumnDef {
        name: name.into(),
        column_type,
        nullable,
    };
    let def = TableDef {
        name: EVO.into(),
        columns: vec![
            col("id", ColumnType::BigInt, false),
            col(NAME, ColumnType::Varchar(255), true),
            col("status", ColumnType::Varchar(32), true),
            col("code", ColumnType::Varchar(64), true),
            col("n", ColumnType::BigInt, true),
        ],
        primary_key: vec!["id".into()],
    };
    let d = db.dialect();
    let rows = (1..=3000)
        .map(|i| {
            vec![
                Value::Int(i),
                Value::Text(format!("m{i}")),
                Value::from(["Draft", "Active"][i as usize % 2]),
                Value::Text(format!("c{i:05}")),
                Value::Int(i % 97),
            ]
        })
        .collect();
    let mut statements = vec![Statement::new(d.create_table(&def), vec![])];
    statements.extend(d.insert_rows(EVO, &evo_columns(), rows));
    db.transaction(statements).await.unwrap();
    (tmp, db)
}

/// A run record, so that rollback finds the run the engine logs under.
async fn start_run(db: &Db) -> Uuid {
    let run_id = Uuid::new_v4();
    let run = store::RunRecord {
        run_id,
        project: "online-ddl".into(),
        fingerprint: "-".into(),
        status: "running".into(),
        started_at: Utc::now().to_rfc3339(),
        fingerprint_material: None,
    };
    db.transaction(vec![store::insert_run(db.dialect(), &run)])
        .await
        .unwrap();
    run_id
}

fn evo_rec(kind: RecommendationKind, column: &str, change: Change) -> Recommendation {
    rec_on(EVO, kind, column, change)
}

fn rec_on(table: &str, kind: RecommendationKind, column: &str, change: Change) -> Recommendation {
    Recommendation {
        id: format!("{}:{table}.{column}", kind.name()),
        kind,
        table: table.into(),
        column: column.into(),
        change,
        confidence: 0.99,
        benefit: String::new(),
        cost: String::new(),
        cost_rows: 3000,
        evidence: "live test".into(),
        forward: vec![],
        inverse: vec![],
        state: RecommendationState::Pending,
        decided_by: None,
        note: None,
    }
}

fn accepted(recs: Vec<Recommendation>) -> RecommendationBook {
    accepted_on(EVO, recs)
}

fn accepted_on(table: &str, recs: Vec<Recommendation>) -> RecommendationBook {
    let ids: Vec<String> = recs.iter().map(|r| r.id.clone()).collect();
    let mut book = RecommendationBook::default();
    book.update(table, recs, |_| true);
    for id in ids {
        assert!(book.decide(&id, Decision::Accept, "operator"));
    }
    book
}

/// Columns, indexes and constraints of the test table, from the catalog.
async fn evo_schema(db: &Db, server: Server) -> Vec<String> {
    let info = db.table_info(EVO).await.unwrap().unwrap();
    let mut out: Vec<String> = info
        .columns
        .iter()
        .map(|c| {
            format!(
                "column {} {} nullable={}",
                c.name, c.native_type, c.nullable
            )
        })
        .collect();
    let (indexes, constraints, param) = match server {
        Server::Postgres => (
            "SELECT format('index %s unique=%s valid=%s', c.relname, i.indisunique::text, i.indisvalid::text) \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = to_regclass($1) ORDER BY 1",
            "SELECT format('constraint %s %s validated=%s', conname, contype, convalidated::text) \
             FROM pg_constraint WHERE conrelid = to_regclass($1) ORDER BY 1",
            db.dialect().quote_ident(EVO),
        ),
        Server::MySql => (
            "SELECT CONCAT('index ', INDEX_NAME, ' unique=', IF(MAX(NON_UNIQUE) = 0, 'true', 'false'), ' valid=true') \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
             GROUP BY INDEX_NAME ORDER BY 1",
            "SELECT CONCAT('constraint ', CONSTRAINT_NAME, ' ', CONSTRAINT_TYPE) \
             FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY 1",
            EVO.to_string(),
        ),
    };
    for sql in [indexes, constraints] {
        for r in db.query(sql, &[Value::Text(param.clone())]).await.unwrap() {
            out.push(r[0].render());
        }
    }
    out
}

async fn insert_evo(db: &Db, row: Vec<Value>) -> Result<u64, db::DbError> {
    let st = db.dialect().insert_rows(EVO, &evo_columns(), vec![row]);
    db.execute(&st[0].sql, &st[0].params).await
}

/// The lock budget of the tests that roll back.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(2_000);

/// A rollback's stop request that never comes.
fn never_stopped() -> tokio::sync::watch::Receiver<bool> {
    tokio::sync::watch::channel(false).1
}

async fn roll_back_run(db: &Db) {
    let plan = rollback::plan(db.as_ref(), None).await.unwrap();
    assert!(!plan.is_empty());
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    rollback::execute(db.as_ref(), &plan, tx, None, LOCK_WAIT, never_stopped())
        .await
        .unwrap_or_else(|e| panic!("rollback: {e}\n{:#?}", plan.steps));
    assert!(
        rollback::plan(db.as_ref(), None).await.unwrap().is_empty(),
        "a second rollback has nothing left to do"
    );
}

async fn run_events(db: &Db, run_id: Uuid) -> Vec<EventRecord> {
    let mut events = store::read_events(db.as_ref(), Some(run_id), 1000)
        .await
        .unwrap();
    events.reverse();
    events
}

#[tokio::test(flavor = "multi_thread")]
async fn online_changes_apply_enforce_and_roll_back_on_postgres_and_mariadb() {
    for server in [Server::Postgres, Server::MySql] {
        let (_tmp, db) = evo_target(server, "online").await;
        let before = evo_schema(&db, server).await;
        let run_id = start_run(&db).await;
        let check_values: Vec<String> = vec!["Draft".into(), "Active".into(), r"Re\view's".into()];
        let lookup = format!("{EVO}_status_values");
        let mut book = accepted(vec![
            evo_rec(
                RecommendationKind::EnumTable,
                "status",
                Change::EnumTable {
                    lookup_table: lookup.clone(),
                    values: check_values.clone(),
                },
            ),
            narrow_name_to_32(),
            evo_rec(RecommendationKind::NotNull, NAME, Change::NotNull),
            evo_rec(
                RecommendationKind::Check,
                "status",
                Change::Check {
                    values: check_values.clone(),
                },
            ),
            evo_rec(RecommendationKind::Unique, "code", Change::Unique),
            evo_rec(RecommendationKind::Index, "n", Change::Index),
        ]);
        let mut engine = Evolver::new(EvolutionSection::default(), run_id);
        let applied = engine
            .apply_ready(&mut book, db.as_ref(), None)
            .await
            .unwrap();
        assert_eq!(
            applied.len(),
            6,
            "{server:?}: {applied:?}\n{:#?}",
            book.all()
        );
        // The lookup table holds the values (on MySQL created with its rows
        // in one statement, since CREATE TABLE commits on its own).
        let values = rows(
            &db,
            &format!(
                "SELECT {v} FROM {} ORDER BY {v}",
                db.dialect().quote_ident(&lookup),
                v = db.dialect().quote_ident("value")
            ),
        )
        .await;
        let mut want = check_values.clone();
        want.sort();
        assert_eq!(
            values
                .iter()
                .map(|r| r[0].as_text().unwrap().into_owned())
                .collect::<Vec<_>>(),
            want,
            "{server:?}"
        );

        // The catalog shows each change in place, validated.
        let schema = evo_schema(&db, server).await;
        let has = |line: String| {
            assert!(
                schema.contains(&line),
                "{server:?}: no {line} in {schema:#?}"
            );
        };
        has(format!("index fd_uq_{EVO}_code unique=true valid=true"));
        has(format!("index fd_ix_{EVO}_n unique=false valid=true"));
        match server {
            Server::Postgres => {
                has(format!(
                    "column {NAME} character varying(32) nullable=false"
                ));
                has(format!("constraint fd_ck_{EVO}_status c validated=true"));
            }
            Server::MySql => {
                has(format!("column {NAME} varchar(32) nullable=false"));
                has(format!("constraint fd_ck_{EVO}_status CHECK"));
            }
        }
        assert!(
            !schema.iter().any(|l| l.contains("fd_nn_")),
            "{server:?}: the NOT NULL helper stayed: {schema:#?}"
        );

        // The database itself refuses what the changes forbid.
        let row = |id: i64, name: Value, status: &str, code: &str| {
            vec![
                Value::Int(id),
                name,
                Value::from(status),
                Value::from(code),
                Value::Int(1),
            ]
        };
        for (why, bad) in [
            ("NULL name", row(9001, Value::Null, "Draft", "x1")),
            ("unknown status", row(9002, Value::from("ok"), "Gone", "x2")),
            (
                "duplicate code",
                row(9003, Value::from("ok"), "Draft", "c00001"),
            ),
            (
                "name too long",
                row(9004, Value::Text("x".repeat(33)), "Draft", "x4"),
            ),
        ] {
            assert!(
                insert_evo(&db, bad).await.is_err(),
                "{server:?}: a row with {why} was accepted"
            );
        }
        insert_evo(&db, row(9005, Value::from("ok"), r"Re\view's", "x5"))
            .await
            .unwrap_or_else(|e| panic!("{server:?}: a row that fits every change: {e}"));

        // Each change outside a transaction has its intent before its completion,
        // and the event holds the form that ran.
        let events = run_events(&db, run_id).await;
        let of = |k: &str| events.iter().filter(|e| e.kind == k).count();
        assert_eq!(of(kind::DDL_APPLIED), 6);
        assert_eq!(
            of(kind::DDL_INTENT),
            if server == Server::Postgres { 4 } else { 6 },
            "{server:?}: narrowing and the lookup table are transactional on PostgreSQL"
        );
        assert_eq!(of(kind::DDL_FAILED), 0);
        let ddl_of = |k: &str| -> Vec<String> {
            let e = events
                .iter()
                .find(|e| e.kind == kind::DDL_APPLIED && e.detail["kind"] == k)
                .unwrap();
            serde_json::from_value(e.detail["ddl"].clone()).unwrap()
        };
        match server {
            Server::Postgres => {
                assert!(ddl_of("unique")[0].contains("CONCURRENTLY"));
                assert_eq!(ddl_of("not_null").len(), 4);
            }
            Server::MySql => {
                // What MariaDB 10.11 allows: indexes and NOT NULL in place without
                // a lock; a CHECK and a narrower type only by a copy.
                assert!(ddl_of("index")[0].ends_with("ALGORITHM=INPLACE, LOCK=NONE"));
                assert!(ddl_of("not_null")[0].ends_with("ALGORITHM=INPLACE, LOCK=NONE"));
                assert!(ddl_of("check")[0].ends_with("ALGORITHM=COPY, LOCK=SHARED"));
                assert!(ddl_of("narrow_type")[0].ends_with("ALGORITHM=COPY, LOCK=SHARED"));
            }
        }

        // Rollback removes every change: the schema is what it was.
        db.execute(
            &format!(
                "DELETE FROM {} WHERE {} > 9000",
                db.dialect().quote_ident(EVO),
                db.dialect().quote_ident("id")
            ),
            &[],
        )
        .await
        .unwrap();
        roll_back_run(&db).await;
        assert_eq!(evo_schema(&db, server).await, before, "{server:?}");
        assert!(
            db.table_info(&lookup).await.unwrap().is_none(),
            "{server:?}"
        );
        assert_eq!(count(&db, EVO).await, 3000);
        db.close().await;
    }
}

/// The evolution tests' narrowing: `NAME` from varchar(255) to varchar(32).
fn narrow_name_to_32() -> Recommendation {
    evo_rec(
        RecommendationKind::NarrowType,
        NAME,
        Change::NarrowType {
            from: "varchar(255)".into(),
            to: "varchar(32)".into(),
        },
    )
}

/// The statement a test parks a transaction on, sleeping until released.
fn sleeper(server: Server) -> &'static str {
    match server {
        Server::Postgres => "SELECT pg_sleep(60)",
        Server::MySql => "SELECT SLEEP(60)",
    }
}

/// The query for the other sessions of this database parked on [`sleeper`]:
/// their count, or (`ids`) their ids.
fn sleepers(server: Server, ids: bool) -> String {
    match server {
        Server::Postgres => format!(
            "SELECT {} FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE 'SELECT pg_sleep%'",
            if ids { "pid" } else { "COUNT(*)" }
        ),
        Server::MySql => format!(
            "SELECT {} FROM information_schema.PROCESSLIST WHERE DB = DATABASE() \
             AND ID <> CONNECTION_ID() AND INFO LIKE 'SELECT SLEEP%'",
            if ids { "ID" } else { "COUNT(*)" }
        ),
    }
}

/// Waits until one session of this database is parked on [`sleeper`]; `who`
/// names it in the failure.
async fn wait_for_sleeper(db: &Db, server: Server, who: &str) {
    use std::time::{Duration, Instant};
    let t0 = Instant::now();
    while rows(db, &sleepers(server, false)).await[0][0].as_i64() != Some(1) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{who} never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_unique_build_that_meets_duplicates_leaves_no_invalid_index_on_postgres() {
    let (_tmp, db) = evo_target(Server::Postgres, "dup").await;
    let run_id = start_run(&db).await;
    // A writer holds a duplicate uncommitted: the check before the build cannot
    // see it, the concurrent build waits for the writer and then meets it.
    let writer = {
        let db = db.clone();
        let st = db.dialect().insert_rows(
            EVO,
            &evo_columns(),
            vec![vec![
                Value::Int(9001),
                Value::from("dup"),
                Value::from("Draft"),
                Value::from("c00001"),
                Value::Int(1),
            ]],
        );
        tokio::spawn(async move {
            let mut st = st;
            st.push(Statement::new("SELECT pg_sleep(2)", vec![]));
            db.transaction(st).await
        })
    };
    wait_for_sleeper(&db, Server::Postgres, "the writer").await;
    let id = format!("unique:{EVO}.code");
    let mut book = accepted(vec![evo_rec(
        RecommendationKind::Unique,
        "code",
        Change::Unique,
    )]);
    // The build waits for the writer, well within this lock budget.
    let policy = EvolutionSection {
        lock_budget_ms: 20_000,
        ..EvolutionSection::default()
    };
    let mut engine = Evolver::new(policy, run_id);
    let applied = engine
        .apply_ready(&mut book, db.as_ref(), None)
        .await
        .unwrap();
    writer.await.unwrap().unwrap();
    assert!(applied.is_empty(), "{applied:?}");
    let r = book.get(&id).unwrap();
    assert_eq!(r.state, RecommendationState::Withdrawn);
    assert!(
        r.note
            .as_deref()
            .unwrap()
            .contains("could not create unique index"),
        "{:?}",
        r.note
    );
    let schema = evo_schema(&db, Server::Postgres).await;
    assert!(
        !schema.iter().any(|l| l.contains("fd_uq_")),
        "the failed build left an index: {schema:#?}"
    );
    let kinds: Vec<String> = run_events(&db, run_id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [kind::DDL_INTENT, kind::DDL_FAILED]);
    db.close().await;
}

/// A session of its own that runs `lock` (a statement that takes a lock on
/// the test table) in a transaction and keeps it until `release`, as a long
/// transaction would; returns once the lock is held.
struct LockHolder {
    server: Server,
    watcher: Db,
    task: tokio::task::JoinHandle<Result<(), db::DbError>>,
}

impl LockHolder {
    async fn take(tmp: &TempDb, lock: &str) -> Self {
        let holder = tmp.connect().await;
        let statements = vec![
            Statement::new(lock, vec![]),
            Statement::new(sleeper(tmp.server), vec![]),
        ];
        let task = tokio::spawn(async move { holder.transaction(statements).await });
        let watcher = tmp.connect().await;
        wait_for_sleeper(&watcher, tmp.server, "the lock holder").await;
        Self {
            server: tmp.server,
            watcher,
            task,
        }
    }

    /// Ends the holder's transaction (cancelled, so it rolls back).
    async fn release(self) {
        for id in rows(&self.watcher, &sleepers(self.server, true)).await {
            let id = id[0].as_i64().unwrap();
            let cancel = match self.server {
                Server::Postgres => format!("SELECT pg_cancel_backend({id})"),
                // An interrupted SLEEP() returns normally: end the session.
                Server::MySql => format!("KILL CONNECTION {id}"),
            };
            self.watcher.execute(&cancel, &[]).await.unwrap();
        }
        assert!(
            self.task.await.unwrap().is_err(),
            "the holder was cancelled, not finished"
        );
        self.watcher.close().await;
    }
}

/// The lock budget of the lock-timeout tests: short, so they are quick.
const BUDGET_MS: u64 = 500;

fn tight_budget() -> EvolutionSection {
    EvolutionSection {
        lock_budget_ms: BUDGET_MS,
        ..EvolutionSection::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_give_up_waiting_for_a_lock_within_the_budget_on_postgres() {
    use std::time::{Duration, Instant};
    let (tmp, db) = evo_target(Server::Postgres, "lockwait").await;
    let d = db.dialect();
    // Another table, which nobody locks: its change goes through meanwhile.
    const OTHER: &str = "oth\"er";
    let other = TableDef {
        name: OTHER.into(),
        columns: vec![ColumnDef {
            name: "status".into(),
            column_type: ColumnType::Varchar(32),
            nullable: true,
        }],
        primary_key: vec![],
    };
    let mut statements = vec![Statement::new(d.create_table(&other), vec![])];
    statements.extend(d.insert_rows(OTHER, &["status".into()], vec![vec![Value::from("Draft")]]));
    db.transaction(statements).await.unwrap();
    let before = evo_schema(&db, Server::Postgres).await;
    let run_id = start_run(&db).await;
    let blocked = vec![
        // In one transaction with its event (ACCESS EXCLUSIVE).
        narrow_name_to_32(),
        // Statement by statement: ADD CONSTRAINT ... NOT VALID first (ACCESS EXCLUSIVE).
        evo_rec(RecommendationKind::NotNull, NAME, Change::NotNull),
        // CREATE INDEX CONCURRENTLY (SHARE UPDATE EXCLUSIVE).
        evo_rec(RecommendationKind::Index, "n", Change::Index),
    ];
    let mut free = evo_rec(
        RecommendationKind::Check,
        "status",
        Change::Check {
            values: vec!["Draft".into()],
        },
    );
    free.table = OTHER.into();
    free.id = format!("check:{OTHER}.status");
    let ids: Vec<String> = blocked.iter().map(|r| r.id.clone()).collect();
    let mut book = accepted(blocked.clone());
    book.update(OTHER, vec![free.clone()], |_| true);
    assert!(book.decide(&free.id, Decision::Accept, "operator"));

    // A transaction holding SHARE on the table, as a long report or a
    // manual LOCK TABLE would: it conflicts with all three changes.
    let holder = LockHolder::take(
        &tmp,
        &format!("LOCK TABLE {} IN SHARE MODE", d.quote_ident(EVO)),
    )
    .await;
    let mut engine = Evolver::new(tight_budget(), run_id);
    let t0 = Instant::now();
    let applied = engine
        .apply_ready(&mut book, db.as_ref(), None)
        .await
        .expect("the run goes on");
    let took = t0.elapsed();
    // Three waits of the budget each, and the rest: far less than the
    // holder's 60 s, which is what the changes would wait without a bound.
    assert!(
        took < Duration::from_millis(3 * BUDGET_MS + 4_000),
        "took {took:?}"
    );
    let ids_applied: Vec<&str> = applied.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids_applied, [free.id.as_str()]);
    for id in &ids {
        let r = book.get(id).unwrap();
        assert_eq!(r.state, RecommendationState::Withdrawn, "{id}");
        let note = r.note.as_deref().unwrap_or_default();
        assert!(
            note.contains(&format!(
                "gave up after {BUDGET_MS} ms waiting for a lock on table {EVO}"
            )) && note.contains("retry later, or raise [evolution] lock_budget_ms"),
            "{id}: {note}"
        );
    }
    let events = run_events(&db, run_id).await;
    for id in &ids {
        let failed = events
            .iter()
            .find(|e| e.kind == kind::DDL_FAILED && e.detail["recommendation"] == id.as_str())
            .unwrap_or_else(|| panic!("no ddl_failed for {id}: {events:#?}"));
        assert_eq!(failed.table.as_deref(), Some(EVO));
        assert!(
            failed.summary.contains("waiting for a lock on table"),
            "{}",
            failed.summary
        );
        assert!(failed.inverse.is_empty(), "nothing was left: {failed:?}");
        // An online change gives up on its own clock: about the budget after its intent.
        if let Some(intent) = events
            .iter()
            .find(|e| e.kind == kind::DDL_INTENT && e.detail["recommendation"] == id.as_str())
        {
            let waited = (failed.at - intent.at).to_std().unwrap();
            assert!(
                waited >= Duration::from_millis(BUDGET_MS)
                    && waited < Duration::from_millis(BUDGET_MS + 2_000),
                "{id} gave up after {waited:?}"
            );
        }
    }
    assert!(
        !events
            .iter()
            .any(|e| e.kind == kind::DDL_APPLIED && e.detail["recommendation"] != free.id.as_str()),
        "{events:#?}"
    );
    // Nothing half-made: no NOT VALID helper, no invalid index, same columns.
    assert_eq!(evo_schema(&db, Server::Postgres).await, before);
    holder.release().await;

    // Once the lock is gone, the same changes go through.
    let mut book = accepted(blocked);
    let applied = engine
        .apply_ready(&mut book, db.as_ref(), None)
        .await
        .unwrap();
    assert_eq!(applied.len(), 3, "{:#?}", book.all());

    // Rollback's DROP and ALTER wait no longer than the budget either: it
    // stops, and the next rollback finishes the job.
    let holder = LockHolder::take(
        &tmp,
        &format!("LOCK TABLE {} IN SHARE MODE", d.quote_ident(EVO)),
    )
    .await;
    let plan = rollback::plan(db.as_ref(), None).await.unwrap();
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    let t0 = Instant::now();
    let err = rollback::execute(
        db.as_ref(),
        &plan,
        tx,
        None,
        Duration::from_millis(BUDGET_MS),
        never_stopped(),
    )
    .await
    .unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(
        matches!(err, rollback::RollbackError::LockTimeout { ref table, .. } if table == EVO),
        "{err}"
    );
    assert!(err.to_string().contains("roll back again later"), "{err}");
    holder.release().await;
    roll_back_run(&db).await;
    assert_eq!(evo_schema(&db, Server::Postgres).await, before);
    db.close().await;
}

/// MySQL has no `lock_timeout`: a DDL waits for the table's metadata lock up
/// to `lock_wait_timeout`, a day by default, and everything queued behind it
/// waits as long. The engine bounds it by the budget (whole seconds).
#[tokio::test(flavor = "multi_thread")]
async fn changes_give_up_waiting_for_a_metadata_lock_within_the_budget_on_mariadb() {
    use std::time::{Duration, Instant};
    const BUDGET_MS: u64 = 1_000;
    let (tmp, db) = evo_target(Server::MySql, "mdlwait").await;
    let before = evo_schema(&db, Server::MySql).await;
    let run_id = start_run(&db).await;
    let blocked = vec![
        evo_rec(RecommendationKind::NotNull, NAME, Change::NotNull),
        evo_rec(RecommendationKind::Index, "n", Change::Index),
    ];
    let mut book = accepted(blocked.clone());
    // A transaction that read the table holds its metadata lock until it
    // ends, as a long report would; every ALTER needs the lock exclusively.
    let holder = LockHolder::take(
        &tmp,
        &format!("SELECT COUNT(*) FROM {}", db.dialect().quote_ident(EVO)),
    )
    .await;
    let policy = EvolutionSection {
        lock_budget_ms: BUDGET_MS,
        ..EvolutionSection::default()
    };
    let mut engine = Evolver::new(policy, run_id);
    let t0 = Instant::now();
    let applied = engine
        .apply_ready(&mut book, db.as_ref(), None)
        .await
        .expect("the run goes on");
    let took = t0.elapsed();
    assert!(applied.is_empty(), "{applied:?}");
    // Two waits of the budget and the rest, not the holder's 60 s.
    assert!(
        took < Duration::from_millis(2 * BUDGET_MS + 4_000),
        "took {took:?}"
    );
    for r in &blocked {
        let r = book.get(&r.id).unwrap();
        assert_eq!(r.state, RecommendationState::Withdrawn, "{}", r.id);
        let note = r.note.as_deref().unwrap_or_default();
        assert!(
            note.contains(&format!(
                "gave up after {BUDGET_MS} ms waiting for a lock on table {EVO}"
            )),
            "{}: {note}",
            r.id
        );
    }
    let failed = run_events(&db, run_id)
        .await
        .into_iter()
        .filter(|e| e.kind == kind::DDL_FAILED)
        .count();
    assert_eq!(failed, 2);
    assert_eq!(evo_schema(&db, Server::MySql).await, before);
    holder.release().await;

    // Once the lock is gone, the same changes go through, and roll back.
    let mut book = accepted(blocked);
    let applied = engine
        .apply_ready(&mut book, db.as_ref(), None)
        .await
        .unwrap();
    assert_eq!(applied.len(), 2, "{:#?}", book.all());
    assert_ne!(evo_schema(&db, Server::MySql).await, before);
    roll_back_run(&db).await;
    assert_eq!(evo_schema(&db, Server::MySql).await, before);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_index_build_that_gives_up_leaves_its_invalid_index_to_rollback_on_postgres() {
    let (tmp, db) = evo_target(Server::Postgres, "lockleft").await;
    let before = evo_schema(&db, Server::Postgres).await;
    let run_id = start_run(&db).await;
    // An open transaction that wrote to the table: the concurrent build
    // creates its index, then waits for it (and gives up), and so does the
    // DROP INDEX CONCURRENTLY that would remove the invalid index.
    let holder = LockHolder::take(
        &tmp,
        &format!(
            "UPDATE {} SET {} = {} WHERE {} = 1",
            db.dialect().quote_ident(EVO),
            db.dialect().quote_ident("n"),
            db.dialect().quote_ident("n"),
            db.dialect().quote_ident("id"),
        ),
    )
    .await;
    let index = evo_rec(RecommendationKind::Index, "n", Change::Index);
    let mut book = accepted(vec![index.clone()]);
    let mut engine = Evolver::new(tight_budget(), run_id);
    let applied = engine
        .apply_ready(&mut book, db.as_ref(), None)
        .await
        .unwrap();
    assert!(applied.is_empty());
    let note = book.get(&index.id).unwrap().note.clone().unwrap();
    assert!(
        note.contains("waiting for a lock on table")
            && note.contains("could not be removed (for the same reason)"),
        "{note}"
    );
    let invalid = format!("index fd_ix_{EVO}_n unique=false valid=false");
    assert!(
        evo_schema(&db, Server::Postgres).await.contains(&invalid),
        "the holder kept the invalid index from being dropped"
    );
    let events = run_events(&db, run_id).await;
    let failed = events.iter().find(|e| e.kind == kind::DDL_FAILED).unwrap();
    assert_eq!(failed.inverse.len(), 1);
    assert!(
        failed.inverse[0].starts_with("DROP INDEX CONCURRENTLY IF EXISTS"),
        "{failed:?}"
    );
    holder.release().await;

    // Rollback removes it, outside a transaction.
    let plan = rollback::plan(db.as_ref(), None).await.unwrap();
    let step = plan
        .steps
        .iter()
        .find(|s| s.event_id == failed.id)
        .expect("the leftover is undone");
    assert!(step.outside_transaction);
    roll_back_run(&db).await;
    assert_eq!(evo_schema(&db, Server::Postgres).await, before);
    db.close().await;
}

/// What information_schema says of a column of the test table: type,
/// nullability, default, character set, collation, comment, extra.
async fn column_attributes(db: &Db, column: &str) -> Vec<Value> {
    let mut found = db
        .query(
            "SELECT COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, CHARACTER_SET_NAME, \
                    COLLATION_NAME, COLUMN_COMMENT, EXTRA \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?",
            &[Value::from(EVO), Value::from(column)],
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{column}");
    found.remove(0)
}

/// `attributes` with its type and nullability replaced.
fn with_type(attributes: &[Value], column_type: &str, nullable: &str) -> Vec<Value> {
    let mut out = attributes.to_vec();
    out[0] = Value::from(column_type);
    out[1] = Value::from(nullable);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn modify_column_keeps_default_comment_and_collation_on_mariadb() {
    let tmp = TempDb::new(Server::MySql, "attrs").await;
    let db = tmp.connect().await;
    store::ensure_schema(db.as_ref()).await.unwrap();
    let d = db.dialect();
    let q = |s: &str| d.quote_ident(s);
    const TOUCHED: &str = "tou`ched";
    let create = format!(
        "CREATE TABLE {} ({} BIGINT NOT NULL PRIMARY KEY, \
         {} VARCHAR(255) CHARACTER SET latin1 COLLATE latin1_german1_ci DEFAULT {} COMMENT {}, \
         {} DATETIME(6) NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6) \
            COMMENT 'set by the server') \
         DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        q(EVO),
        q("id"),
        q(NAME),
        d.string_literal(r#"it's \ "unnamed""#),
        d.string_literal(r"the 'name' \ column"),
        q(TOUCHED),
    );
    let mut statements = vec![Statement::new(create, vec![])];
    statements.extend(
        d.insert_rows(
            EVO,
            &["id".into(), NAME.into()],
            (1..=100)
                .map(|i| vec![Value::Int(i), Value::Text(format!("m{i}"))])
                .collect(),
        ),
    );
    db.transaction(statements).await.unwrap();
    let name = column_attributes(&db, NAME).await;
    let touched = column_attributes(&db, TOUCHED).await;
    assert_eq!(name[1], Value::from("YES"));
    assert_eq!(name[2], Value::from(r#"'it''s \\ "unnamed"'"#));
    assert_eq!(name[4], Value::from("latin1_german1_ci"));
    assert_eq!(name[5], Value::from(r"the 'name' \ column"));
    assert_eq!(touched[2], Value::from("current_timestamp(6)"));
    assert_eq!(touched[6], Value::from("on update current_timestamp(6)"));

    let run_id = start_run(&db).await;
    let mut engine = Evolver::new(EvolutionSection::default(), run_id);
    let mut apply = async |recs: Vec<Recommendation>| {
        let n = recs.len();
        let mut book = accepted(recs);
        let applied = engine
            .apply_ready(&mut book, db.as_ref(), None)
            .await
            .unwrap();
        assert_eq!(applied.len(), n, "{:#?}", book.all());
    };

    // Narrower: the default, collation and comment stay.
    apply(vec![narrow_name_to_32()]).await;
    assert_eq!(
        column_attributes(&db, NAME).await,
        with_type(&name, "varchar(32)", "YES")
    );
    let narrowed = run_events(&db, run_id)
        .await
        .into_iter()
        .rfind(|e| e.kind == kind::DDL_APPLIED)
        .unwrap()
        .id;

    // NOT NULL: the same, and an expression default with its ON UPDATE too.
    apply(vec![
        evo_rec(RecommendationKind::NotNull, NAME, Change::NotNull),
        evo_rec(RecommendationKind::NotNull, TOUCHED, Change::NotNull),
    ])
    .await;
    assert_eq!(
        column_attributes(&db, NAME).await,
        with_type(&name, "varchar(32)", "NO")
    );
    assert_eq!(
        column_attributes(&db, TOUCHED).await,
        with_type(&touched, "datetime(6)", "NO")
    );

    // Undoing NOT NULL restores the nullable columns with all they had.
    let plan = rollback::plan(db.as_ref(), Some(narrowed)).await.unwrap();
    assert_eq!(plan.steps.len(), 2, "{:#?}", plan.steps);
    let (tx, _rx) = tokio::sync::mpsc::channel(1024);
    rollback::execute(db.as_ref(), &plan, tx, None, LOCK_WAIT, never_stopped())
        .await
        .unwrap();
    assert_eq!(
        column_attributes(&db, NAME).await,
        with_type(&name, "varchar(32)", "YES")
    );
    assert_eq!(column_attributes(&db, TOUCHED).await, touched);

    // Undoing the narrowing restores the column exactly.
    roll_back_run(&db).await;
    assert_eq!(column_attributes(&db, NAME).await, name);
    assert_eq!(column_attributes(&db, TOUCHED).await, touched);
    db.close().await;
}

/// Logs the intent of `r` and runs `statements` of its forward DDL, then stops,
/// as a process killed before its completion event would.
async fn crash_after(db: &Db, run_id: Uuid, r: &Recommendation, statements: usize) {
    let d = db.dialect();
    let ddl = evolve::online_ddl(d.backend());
    let live = evolve::live_table(db.as_ref(), ddl, EVO)
        .await
        .unwrap()
        .unwrap();
    let plan = ddl.plan(d, &live, &r.column, &r.change).unwrap();
    let intent = evolve::intent_event(run_id, r, &plan).expect("an online change");
    db.transaction(vec![store::event_statement(d, &intent)])
        .await
        .unwrap();
    for s in &plan.forward[..statements] {
        db.execute(s, &[]).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_settles_interrupted_changes_from_the_catalog() {
    for server in [Server::Postgres, Server::MySql] {
        let (_tmp, db) = evo_target(server, "resume").await;
        let before = evo_schema(&db, server).await;
        let run_id = start_run(&db).await;
        let index = evo_rec(RecommendationKind::Index, "n", Change::Index);
        let check = evo_rec(
            RecommendationKind::Check,
            "status",
            Change::Check {
                values: vec!["Draft".into(), "Active".into()],
            },
        );
        // The index build finished; the check got its first statement at most
        // (on PostgreSQL the constraint exists NOT VALID).
        crash_after(&db, run_id, &index, 1).await;
        let partial = if server == Server::Postgres { 1 } else { 0 };
        crash_after(&db, run_id, &check, partial).await;

        let mut engine = Evolver::new(EvolutionSection::default(), run_id);
        engine.resume(db.as_ref()).await.unwrap();
        let events = run_events(&db, run_id).await;
        let outcome = |r: &Recommendation| {
            events
                .iter()
                .filter(|e| e.detail["recommendation"] == r.id.as_str())
                .map(|e| e.kind.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(outcome(&index), [kind::DDL_INTENT, kind::DDL_APPLIED]);
        assert_eq!(outcome(&check), [kind::DDL_INTENT, kind::DDL_FAILED]);
        assert!(
            !evo_schema(&db, server)
                .await
                .iter()
                .any(|l| l.contains("fd_ck_")),
            "{server:?}: the half-made check was not removed"
        );

        // The index is not built again; the check is applied afresh.
        let mut book = accepted(vec![index.clone(), check.clone()]);
        let applied = engine
            .apply_ready(&mut book, db.as_ref(), None)
            .await
            .unwrap();
        let ids: Vec<&str> = applied.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, [check.id.as_str()], "{server:?}");
        let r = book.get(&index.id).unwrap();
        assert_eq!(r.state, RecommendationState::Applied);
        assert_eq!(
            r.note.as_deref(),
            Some("applied before the run was interrupted")
        );
        let schema = evo_schema(&db, server).await;
        let check_line = match server {
            Server::Postgres => format!("constraint fd_ck_{EVO}_status c validated=true"),
            Server::MySql => format!("constraint fd_ck_{EVO}_status CHECK"),
        };
        assert!(schema.contains(&check_line), "{server:?}: {schema:#?}");

        roll_back_run(&db).await;
        assert_eq!(evo_schema(&db, server).await, before, "{server:?}");
        db.close().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_undoes_an_interrupted_change_the_catalog_shows_in_place() {
    for server in [Server::Postgres, Server::MySql] {
        let (_tmp, db) = evo_target(server, "rbdangle").await;
        let before = evo_schema(&db, server).await;
        let run_id = start_run(&db).await;
        let unique = evo_rec(RecommendationKind::Unique, "code", Change::Unique);
        let not_null = evo_rec(RecommendationKind::NotNull, NAME, Change::NotNull);
        crash_after(&db, run_id, &unique, 1).await;
        crash_after(&db, run_id, &not_null, 0).await;
        assert_ne!(evo_schema(&db, server).await, before);

        let plan = rollback::plan(db.as_ref(), None).await.unwrap();
        let ddl = plan.ddl();
        let index = db.dialect().quote_ident(&format!("fd_uq_{EVO}_code"));
        assert!(
            ddl.iter().any(|s| s.contains(&index)),
            "{server:?}: the index is not undone: {ddl:#?}"
        );
        assert!(
            !ddl.iter()
                .any(|s| s.contains("DROP NOT NULL") || s.contains("MODIFY COLUMN")),
            "{server:?}: NOT NULL never took effect, yet is undone: {ddl:#?}"
        );
        roll_back_run(&db).await;
        assert_eq!(evo_schema(&db, server).await, before, "{server:?}");
        db.close().await;
    }
}

/// A target that records the loader's batch writes and fails one of them
/// once the batch after it is being written too. Writes are known by the
/// (source table, batch number) of the checkpoint they carry: the loader
/// starts each batch's write on a task of its own, so the order in which the
/// writes reach this wrapper is not the order of the batches.
struct FailingWrites {
    inner: Db,
    fail: (String, i64),
    /// Batches whose write has started.
    started: std::sync::Mutex<Vec<(String, i64)>>,
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
    /// Batches in the order their transactions committed.
    committed: std::sync::Mutex<Vec<(String, i64)>>,
}

/// The (source table, batch number) of the checkpoint a batch's write carries.
fn batch_of(batch: &db::BatchWrite) -> (String, i64) {
    batch
        .extra
        .iter()
        .find(|st| st.sql.starts_with("INSERT INTO") && st.sql.contains("flightdeck_checkpoints"))
        .and_then(|st| match (&st.params[1], &st.params[2]) {
            (Value::Text(t), Value::Int(n)) => Some((t.clone(), *n)),
            _ => None,
        })
        .expect("a batch's write carries its checkpoint")
}

impl FailingWrites {
    /// Runs the write of `batch`, counting the writes open together.
    async fn write(
        &self,
        batch: (String, i64),
        write: impl std::future::Future<Output = Result<(), db::DbError>>,
    ) -> Result<(), db::DbError> {
        self.started.lock().unwrap().push(batch.clone());
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let done = if batch == self.fail {
            // Fail only once the next batch's write has started (or after
            // 10 s, when the test's assertions then say it never did),
            // however loaded the machine.
            let next = (batch.0.clone(), batch.1 + 1);
            let started = std::time::Instant::now();
            while !self.started.lock().unwrap().contains(&next)
                && started.elapsed() < std::time::Duration::from_secs(10)
            {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Err(db::DbError::Unsupported(format!(
                "injected failure of {} batch {}",
                batch.0, batch.1
            )))
        } else {
            write.await
        };
        if done.is_ok() {
            self.committed.lock().unwrap().push(batch);
        }
        self.now.fetch_sub(1, Ordering::SeqCst);
        done
    }
}

#[async_trait::async_trait]
impl db::Database for FailingWrites {
    fn dialect(&self) -> &dyn db::Dialect {
        self.inner.dialect()
    }
    fn display_url(&self) -> String {
        self.inner.display_url()
    }
    async fn list_tables(&self) -> Result<Vec<String>, db::DbError> {
        self.inner.list_tables().await
    }
    async fn table_info(
        &self,
        table: &str,
    ) -> Result<Option<flightdeck::schema::TableInfo>, db::DbError> {
        self.inner.table_info(table).await
    }
    async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, db::DbError> {
        self.inner.query(sql, params).await
    }
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, db::DbError> {
        self.inner.execute(sql, params).await
    }
    async fn transaction(&self, statements: Vec<Statement>) -> Result<(), db::DbError> {
        self.inner.transaction(statements).await
    }
    async fn execute_ddl(
        &self,
        sql: &str,
        lock_wait: std::time::Duration,
    ) -> Result<u64, db::DbError> {
        self.inner.execute_ddl(sql, lock_wait).await
    }
    async fn transaction_ddl(
        &self,
        statements: Vec<Statement>,
        lock_wait: std::time::Duration,
    ) -> Result<(), db::DbError> {
        self.inner.transaction_ddl(statements, lock_wait).await
    }
    fn concurrent_writes(&self) -> usize {
        self.inner.concurrent_writes()
    }
    async fn write_batch_in_turn(
        &self,
        batch: db::BatchWrite,
        turn: Option<db::Turn>,
    ) -> Result<(), db::DbError> {
        let which = batch_of(&batch);
        self.write(which, self.inner.write_batch_in_turn(batch, turn))
            .await
    }
    async fn try_lock(&self, name: &str) -> Result<bool, db::DbError> {
        self.inner.try_lock(name).await
    }
    async fn holds_lock(&self, name: &str) -> Result<bool, db::DbError> {
        self.inner.holds_lock(name).await
    }
    async fn unlock(&self, name: &str) -> Result<(), db::DbError> {
        self.inner.unlock(name).await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}

/// Two batch transactions are open at once on a server target, and they
/// still commit in batch order, each with its checkpoint: when one fails,
/// the one after it (already copying its rows) rolls back too, the run stops
/// with the first failure, and the next run resumes to the same result as a
/// run that never failed.
#[tokio::test(flavor = "multi_thread")]
async fn two_batches_in_flight_commit_in_order_and_a_failure_stops_both_on_postgres() {
    two_batches_in_flight(Server::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_batches_in_flight_commit_in_order_and_a_failure_stops_both_on_mariadb() {
    two_batches_in_flight(Server::MySql).await;
}

async fn two_batches_in_flight(server: Server) {
    let dir = sample_dir(2_000).await;
    let target = TempDb::new(server, "inflight").await;
    let path = project_with(
        dir.path(),
        "inflight.toml",
        "sqlite://legacy.db",
        &target.url,
    );
    // Small fixed batches: many of them, so writes overlap.
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replacen("batch_size = 2000", "batch_size = 200", 1)
        .replacen("adaptive = true", "adaptive = false", 1);
    std::fs::write(&path, text).unwrap();

    let project = Arc::new(flightdeck::project::load(&path).unwrap());
    let mut prepared = pipeline::prepare(project, true).await.unwrap();
    let fail = ("models".to_string(), 6);
    let failing = Arc::new(FailingWrites {
        inner: prepared.target.clone(),
        fail: fail.clone(),
        started: Default::default(),
        now: Default::default(),
        most: Default::default(),
        committed: Default::default(),
    });
    prepared.target = failing.clone();
    let mut handle = pipeline::spawn(prepared, RunOptions::default());
    let mut error = None;
    while let Some(e) = handle.events.recv().await {
        match e {
            RunEvent::Failed { error: e } => error = Some(e),
            RunEvent::Finished(_) => panic!("the injected failure did not stop the run"),
            _ => {}
        }
    }
    let error = error.expect("a Failed event");
    assert!(
        error.contains(&format!("injected failure of {} batch {}", fail.0, fail.1)),
        "the first failure is the one reported: {error}"
    );
    assert_eq!(failing.most.load(Ordering::SeqCst), 2, "two writes overlap");
    assert!(
        failing
            .started
            .lock()
            .unwrap()
            .contains(&(fail.0.clone(), fail.1 + 1)),
        "the write after the failing one had started"
    );
    // Batches commit in order: `datasets` (one batch of 100 rows), then
    // `models` up to the failing batch, and nothing after it.
    let committed = failing.committed.lock().unwrap().clone();
    let expected: Vec<(String, i64)> = std::iter::once(("datasets".to_string(), 1))
        .chain((1..fail.1).map(|n| (fail.0.clone(), n)))
        .collect();
    assert_eq!(committed, expected, "commit order, {fail:?} failing");

    // What landed is exactly what the checkpoints say: no batch after the
    // failed one, none missing before it.
    let tdb = target.connect().await;
    let checkpoints = rows(
        &tdb,
        "SELECT source_table, rows_written FROM flightdeck_checkpoints",
    )
    .await;
    let mut landed = 0;
    for cp in &checkpoints {
        let table = match &cp[0] {
            Value::Text(s) => s.clone(),
            other => panic!("{other:?}"),
        };
        let target_table = match table.as_str() {
            "datasets" => "data_sources",
            "models" => "ml_models",
            "training_runs" => "training_jobs",
            "experiments" => "experiment_logs",
            "metrics" => "model_performance",
            t => panic!("unexpected checkpoint of {t}"),
        };
        let written = cp[1].as_i64().unwrap();
        assert_eq!(count(&tdb, target_table).await, written, "{target_table}");
        landed += written;
    }
    assert!(landed > 0);

    // Resumed, the run ends where an uninterrupted one does.
    let summary = run_project(&path).await;
    let source = open(&format!(
        "sqlite://{}",
        dir.path().join("legacy.db").display()
    ))
    .await;
    check_run(&summary, &source, &tdb).await;
    assert_eq!(totals(&summary), reference_totals(dir.path()).await);
    source.close().await;
    tdb.close().await;
}

/// A table partitioned by month while it loads (before its key is built, as
/// a run defers it): rows stay, land in their month, later batches go in by
/// COPY, the key built after the load holds the partition column, and the
/// rollback leaves the plain table as it was.
#[tokio::test(flavor = "multi_thread")]
async fn a_table_is_partitioned_by_month_mid_load_and_rolled_back_on_postgres() {
    const PARTED: &str = "pa\"r't";
    let tmp = TempDb::new(Server::Postgres, "partition").await;
    let db = tmp.connect().await;
    store::ensure_schema(db.as_ref()).await.unwrap();
    let d = db.dialect();
    let col = |name: &str, column_type, nullable| ColumnDef {
        name: name.into(),
        column_type,
        nullable,
    };
    let def = TableDef {
        name: PARTED.into(),
        columns: vec![
            col("id", ColumnType::BigInt, false),
            col("at", ColumnType::Timestamp, true),
            col("n", ColumnType::BigInt, true),
        ],
        primary_key: vec![],
    };
    let columns: Vec<String> = ["id", "at", "n"].map(String::from).to_vec();
    let row = |id: i64, month: u32| {
        vec![
            Value::Int(id),
            Value::Timestamp(Utc.with_ymd_and_hms(2024, month, 3, 12, 0, 0).unwrap()),
            Value::Int(id % 7),
        ]
    };
    let mut statements = vec![Statement::new(d.create_table(&def), vec![])];
    statements.extend(d.insert_rows(
        PARTED,
        &columns,
        (1..=600).map(|i| row(i, 1 + (i % 6) as u32)).collect(),
    ));
    db.transaction(statements).await.unwrap();
    let schema = |db: Db| async move {
        let q = db.dialect().quote_ident(PARTED);
        let mut out = Vec::new();
        for sql in [
            "SELECT format('column %s %s notnull=%s', attname, format_type(atttypid, atttypmod), attnotnull) \
             FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            "SELECT format('index %s %s', c.relname, pg_get_indexdef(i.indexrelid)) FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass($1) ORDER BY 1",
            "SELECT format('relkind %s', relkind) FROM pg_class WHERE oid = to_regclass($1)",
            "SELECT format('tables %s', count(*)) FROM pg_tables WHERE schemaname = current_schema() \
             AND tablename NOT LIKE 'flightdeck%' AND $1 <> ''",
        ] {
            for r in db.query(sql, &[Value::Text(q.clone())]).await.unwrap() {
                out.push(r[0].render());
            }
        }
        out
    };
    let before = schema(db.clone()).await;

    let run_id = start_run(&db).await;
    let mut book = accepted_on(
        PARTED,
        vec![
            rec_on(PARTED, RecommendationKind::Index, "n", Change::Index),
            rec_on(
                PARTED,
                RecommendationKind::Partition,
                "at",
                Change::Partition {
                    by: "at".into(),
                    from: "2024-01".into(),
                    until: "2025-01".into(),
                },
            ),
        ],
    );
    let mut engine = Evolver::new(EvolutionSection::default(), run_id);
    let applied = engine
        .apply_ready(&mut book, db.as_ref(), None)
        .await
        .unwrap();
    assert_eq!(applied.len(), 2, "{applied:?}\n{:#?}", book.all());
    assert_eq!(
        db.partition_columns(PARTED).await.unwrap(),
        vec!["at".to_string()]
    );
    assert_eq!(count(&db, PARTED).await, 600);
    let in_partition = |name: &str| {
        let db = db.clone();
        let sql = format!(
            "SELECT COUNT(*) FROM {}",
            d.quote_ident(&format!("fd_pt_{PARTED}_{name}"))
        );
        async move { rows(&db, &sql).await[0][0].as_i64().unwrap() }
    };
    assert_eq!(in_partition("202403").await, 100);
    assert_eq!(in_partition("default").await, 0);
    // The index applied before the partitioning was built again on it.
    let constraints = db.constraints(PARTED).await.unwrap();
    assert!(
        constraints.iter().any(|c| c.columns == ["n"]),
        "{constraints:?}"
    );

    // The next batch goes in by COPY, into its month and the default partition.
    let later = vec![row(601, 9), {
        let mut r = row(602, 1);
        r[1] = Value::Timestamp(Utc.with_ymd_and_hms(2031, 5, 1, 0, 0, 0).unwrap());
        r
    }];
    db.write_batch(PARTED, &columns, later, vec![])
        .await
        .unwrap();
    assert_eq!(in_partition("202409").await, 1);
    assert_eq!(in_partition("default").await, 1);
    // What the load's end builds, as a run builds it: the key holds `at`.
    let mut key = vec!["id".to_string()];
    key.extend(db.partition_columns(PARTED).await.unwrap());
    let (build, drop) = d.add_primary_key(PARTED, &key);
    db.transaction(vec![
        Statement::new(build, vec![]),
        store::event_statement(
            d,
            &store::NewEvent {
                run_id,
                kind: kind::KEY_BUILT,
                table: Some(PARTED),
                summary: "key".into(),
                detail: serde_json::json!({}),
                inverse: vec![drop],
            },
        ),
    ])
    .await
    .unwrap();
    let info = db.table_info(PARTED).await.unwrap().unwrap();
    assert_eq!(info.primary_key(), vec!["id".to_string(), "at".to_string()]);

    db.execute(
        &format!(
            "DELETE FROM {} WHERE {} > 600",
            d.quote_ident(PARTED),
            d.quote_ident("id")
        ),
        &[],
    )
    .await
    .unwrap();
    roll_back_run(&db).await;
    assert_eq!(schema(db.clone()).await, before);
    assert_eq!(count(&db, PARTED).await, 600);
    assert!(db.partition_columns(PARTED).await.unwrap().is_empty());
    db.close().await;
}

/// The same, through a whole run: the sample's `ml_models` grows past a low
/// `partition_above_rows`, the accepted partitioning is applied while the run
/// goes on, the key built after the load holds the partition column, every
/// check passes, and rollback leaves the target empty again.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_partitions_a_growing_table_and_rolls_it_back_on_postgres() {
    let tmp = TempDb::new(Server::Postgres, "partrun").await;
    let dir = sample_dir(3000).await;
    let path = project_with(dir.path(), "server.toml", "sqlite://legacy.db", &tmp.url);
    let toml = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "partition_above_rows = 10000000",
            "partition_above_rows = 100",
        )
        .replace("min_confidence = 0.9", "min_confidence = 0.0")
        .replace("allow = []", "allow = [\"partition\"]")
        .replace("lock_budget_ms = 2000", "lock_budget_ms = 60000");
    std::fs::write(&path, toml).unwrap();
    let db = tmp.connect().await;
    let before = user_tables(&db).await;
    let state = dir.path().join("state");
    let run = flightdeck_on(&path, &state, &["run", "--headless", "--accept-above", "0"]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let applied: Vec<&str> = summary["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "applied" && r["kind"] == "partition")
        .map(|r| r["table"].as_str().unwrap())
        .collect();
    assert!(
        applied.contains(&"ml_models"),
        "{}",
        summary["recommendations"]
    );
    assert_eq!(
        db.partition_columns("ml_models").await.unwrap(),
        vec!["created_at".to_string()]
    );
    let info = db.table_info("ml_models").await.unwrap().unwrap();
    assert_eq!(
        info.primary_key(),
        vec!["model_uuid".to_string(), "created_at".to_string()]
    );
    let rb = flightdeck_on(&path, &state, &["rollback", "--yes"]);
    assert!(
        rb.status.success(),
        "{}",
        String::from_utf8_lossy(&rb.stderr)
    );
    assert_eq!(user_tables(&db).await, before);
    db.close().await;
}

// ---------------------------------------------------------------------------
// Plan sizes: the catalog's estimate for large source tables, a count below.
// ---------------------------------------------------------------------------

/// Two tables of the same shape, `big` and `small`, copied as they are.
fn sizes_project(source: &str, target: &str, exact: bool) -> String {
    let mut text = format!(
        "[project]\nname = \"plan sizes\"\n\n[source]\nurl = \"{source}\"\n\n\
         [target]\nurl = \"{target}\"\n\n[pipeline]\nexact_row_counts = {exact}\n"
    );
    for t in ["big", "small"] {
        text += &format!(
            "\n[[tables]]\nsource = \"{t}\"\ntarget = \"{t}_out\"\nkey = \"id\"\n\
             target_key = \"id\"\n"
        );
        for (c, ty) in [("id", "bigint"), ("v", "int")] {
            text += &format!(
                "\n[[tables.fields]]\nsource = \"{c}\"\ntarget = \"{c}\"\ntype = \"{ty}\"\n"
            );
        }
    }
    text
}

async fn plan_sizes_on(server: Server) {
    let big_rows = pipeline::ESTIMATE_FROM_ROWS * 3;
    let source = TempDb::new(server, "sizes").await;
    let sdb = source.connect().await;
    for t in ["big", "small"] {
        sdb.execute(
            &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, v INT NOT NULL)"),
            &[],
        )
        .await
        .unwrap();
    }
    let (fill_big, fill_small, analyze) = match server {
        Server::Postgres => (
            format!("INSERT INTO big SELECT g, g % 7 FROM generate_series(1, {big_rows}) g"),
            "INSERT INTO small SELECT g, g % 7 FROM generate_series(1, 10) g".to_string(),
            "ANALYZE big, small",
        ),
        Server::MySql => (
            // MariaDB stops a recursion at 1,000 steps by default: square it.
            format!(
                "INSERT INTO big WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g \
                 WHERE n < 1000) SELECT i, i % 7 FROM \
                 (SELECT (a.n - 1) * 1000 + b.n AS i FROM g a CROSS JOIN g b) s \
                 WHERE i <= {big_rows}"
            ),
            "INSERT INTO small WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g \
             WHERE n < 10) SELECT n, n % 7 FROM g"
                .to_string(),
            "ANALYZE TABLE big, small",
        ),
    };
    for sql in [fill_big.as_str(), fill_small.as_str()] {
        sdb.execute(sql, &[]).await.unwrap();
    }
    sdb.query(analyze, &[]).await.unwrap();

    let estimate = sdb
        .estimated_rows("big")
        .await
        .unwrap()
        .expect("an estimate");
    // InnoDB samples 20 pages: 104k for 150k rows was seen here.
    assert!(
        estimate >= pipeline::ESTIMATE_FROM_ROWS,
        "{server:?}: {estimate}"
    );
    let off = estimate.abs_diff(big_rows) as f64 / big_rows as f64;
    assert!(
        off < 0.5,
        "{server:?}: estimate {estimate} for {big_rows} rows"
    );
    assert_eq!(sdb.estimated_rows("no_such_table").await.unwrap(), None);

    for exact in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let target = format!("sqlite://{}", dir.path().join("out.db").display());
        let path = dir.path().join("sizes.toml");
        std::fs::write(&path, sizes_project(&source.url, &target, exact)).unwrap();
        let project = Arc::new(flightdeck::project::load(&path).unwrap_or_else(|e| panic!("{e}")));
        let prepared = pipeline::prepare(project, true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut handle = pipeline::spawn(prepared, RunOptions::default());
        let mut sizes = vec![Vec::new(); 2];
        let summary = loop {
            match handle.events.recv().await.expect("a summary") {
                RunEvent::Counted {
                    table,
                    source_rows,
                    estimated,
                } => sizes[table].push((source_rows, estimated)),
                RunEvent::Finished(s) => break s,
                RunEvent::Failed { error } => panic!("run failed: {error}"),
                _ => {}
            }
        };
        // The large table starts on the catalog's figure and, unless exact
        // counts are asked for, is never scanned to count it; the small one
        // is only counted.
        let big = if exact {
            vec![(estimate, true), (big_rows, false)]
        } else {
            vec![(estimate, true)]
        };
        assert_eq!(sizes[0], big, "{server:?}, exact_row_counts = {exact}");
        assert_eq!(sizes[1], vec![(10, false)], "{server:?}");
        let read: Vec<u64> = summary.tables.iter().map(|t| t.read).collect();
        assert_eq!(read, vec![big_rows, 10]);
    }
    sdb.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn large_source_tables_are_sized_by_the_catalog_small_ones_counted() {
    plan_sizes_on(Server::Postgres).await;
    plan_sizes_on(Server::MySql).await;
}
