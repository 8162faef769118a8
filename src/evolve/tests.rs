//! The engine against a real SQLite target: changes apply, their inverses
//! restore the schema exactly, and later rows that break them are caught.

use std::path::Path;

use super::*;
use crate::db::{self, Db, DbUrl};
use crate::recommend::{Decision, RecommendationBook};

async fn target(dir: &Path) -> Db {
    let url = DbUrl::parse(
        &format!("sqlite://{}", dir.join("t.db").display()),
        Path::new("/"),
    )
    .unwrap();
    let db = db::connect(&url, true).await.unwrap();
    store::ensure_schema(db.as_ref()).await.unwrap();
    let d = db.dialect();
    let def = TableDef {
        name: "models".into(),
        columns: vec![
            ColumnDef {
                name: "id".into(),
                column_type: ColumnType::BigInt,
                nullable: false,
            },
            ColumnDef {
                name: "status".into(),
                column_type: ColumnType::Varchar(32),
                nullable: true,
            },
            ColumnDef {
                name: "name".into(),
                column_type: ColumnType::Varchar(255),
                nullable: true,
            },
        ],
        primary_key: vec!["id".into()],
    };
    let mut stmts = vec![Statement::new(d.create_table(&def), vec![])];
    stmts.extend(
        d.insert_rows(
            "models",
            &["id".into(), "status".into(), "name".into()],
            (1..=2000)
                .map(|i| {
                    vec![
                        Value::Int(i),
                        Value::from(["Draft", "Active"][i as usize % 2]),
                        Value::Text(format!("m{i}")),
                    ]
                })
                .collect(),
        ),
    );
    db.transaction(stmts).await.unwrap();
    db
}

/// A live table of `(name, type, catalog spelling, nullable)` columns with an
/// `id` key, for tests of the SQL a plan produces.
pub(super) fn live_of(table: &str, columns: &[(&str, ColumnType, &str, bool)]) -> LiveTable {
    let mut cols = vec![ColumnDef {
        name: "id".into(),
        column_type: ColumnType::BigInt,
        nullable: false,
    }];
    cols.extend(columns.iter().map(|(n, t, _, null)| ColumnDef {
        name: n.to_string(),
        column_type: *t,
        nullable: *null,
    }));
    LiveTable {
        def: TableDef {
            name: table.into(),
            columns: cols,
            primary_key: vec!["id".into()],
        },
        dependents: Vec::new(),
        native_types: columns
            .iter()
            .map(|(n, _, native, _)| (n.to_string(), native.to_string()))
            .collect(),
        attributes: HashMap::new(),
        partitioned_by: Vec::new(),
    }
}

#[test]
fn object_names_fit_63_bytes_and_stay_distinct() {
    assert_eq!(object_name("ix", "t", "c"), "fd_ix_t_c");
    let long = "é".repeat(40);
    let a = object_name("ix", &long, "column_a");
    let b = object_name("ix", &long, "column_b");
    assert!(a.len() <= 63 && b.len() <= 63, "{a} {b}");
    assert_ne!(a, b);
    assert_eq!(a, object_name("ix", &long, "column_a"), "stable");
}

fn rec(kind: RecommendationKind, column: &str, change: Change) -> Recommendation {
    let mut r = crate::recommend::tests_support::recommendation(kind, "models", column, change);
    r.confidence = 0.99;
    r
}

async fn schema(db: &Db) -> Vec<String> {
    db.query("SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master WHERE tbl_name = 'models' ORDER BY 1", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r[0].render())
        .collect()
}

async fn undo(db: &Db, inverse: &[String]) {
    db.transaction(
        inverse
            .iter()
            .map(|s| Statement::new(s.clone(), vec![]))
            .collect(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn changes_apply_block_bad_rows_and_undo_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let db = target(dir.path()).await;
    let before = schema(&db).await;
    let mut book = RecommendationBook::default();
    book.update(
        "models",
        vec![
            rec(RecommendationKind::NotNull, "name", Change::NotNull),
            rec(
                RecommendationKind::Check,
                "status",
                Change::Check {
                    values: vec!["Active".into(), "Draft".into()],
                },
            ),
            rec(
                RecommendationKind::NarrowType,
                "name",
                Change::NarrowType {
                    from: "varchar(255)".into(),
                    to: "varchar(16)".into(),
                },
            ),
            rec(RecommendationKind::Unique, "name", Change::Unique),
        ],
        |_| true,
    );
    for id in [
        "not_null:models.name",
        "check:models.status",
        "narrow_type:models.name",
        "unique:models.name",
    ] {
        assert!(book.decide(id, Decision::Accept, "operator"));
    }
    let mut engine = Evolver::new(EvolutionSection::default(), Uuid::new_v4());
    // While `models` loads, the unique index waits for the end of the load.
    let applied = engine
        .apply_ready(&mut book, db.as_ref(), Some("models"))
        .await
        .unwrap();
    assert_eq!(applied.len(), 3, "{applied:?}");
    assert_eq!(
        applied[0].id, "narrow_type:models.name",
        "the rebuild goes first"
    );
    assert_eq!(
        book.get("unique:models.name").unwrap().state,
        RecommendationState::Accepted
    );
    let applied = engine
        .apply_ready(&mut book, db.as_ref(), None)
        .await
        .unwrap();
    assert_eq!(applied.len(), 1);
    let info = db.table_info("models").await.unwrap().unwrap();
    assert_eq!(
        info.column("name").unwrap().column_type,
        ColumnType::Varchar(16)
    );

    // The database itself refuses what the changes forbid.
    for bad in [
        "INSERT INTO models (id, status, name) VALUES (9001, 'Gone', 'x')",
        "INSERT INTO models (id, status, name) VALUES (9002, 'Draft', NULL)",
        "INSERT INTO models (id, status, name) VALUES (9003, 'Draft', 'm1')",
    ] {
        assert!(db.execute(bad, &[]).await.is_err(), "{bad} was accepted");
    }
    // The loader finds those rows first and quarantines them instead.
    let cols: Vec<String> = ["id", "status", "name"].map(String::from).to_vec();
    let rows = vec![
        vec![Value::Int(5001), Value::from("Draft"), Value::from("fine")],
        vec![Value::Int(5002), Value::from("Gone"), Value::from("x")],
        vec![Value::Int(5003), Value::from("Active"), Value::Null],
        vec![
            Value::Int(5004),
            Value::from("Active"),
            Value::from("a name far too long for 16"),
        ],
        vec![Value::Int(5005), Value::from("Active"), Value::from("m7")],
        vec![Value::Int(5006), Value::from("Active"), Value::from("fine")],
    ];
    let bad: Vec<usize> = engine
        .violations(db.as_ref(), "models", &cols, &rows)
        .await
        .unwrap()
        .iter()
        .map(|v| v.0)
        .collect();
    assert_eq!(bad, vec![1, 2, 3, 4, 5]);

    // Each logged inverse, newest first, gives back the schema we started from.
    let events = store::read_events(db.as_ref(), None, 100).await.unwrap();
    let ddl: Vec<_> = events
        .iter()
        .filter(|e| e.kind == kind::DDL_APPLIED)
        .collect();
    assert_eq!(ddl.len(), 4);
    for e in &ddl {
        undo(&db, &e.inverse).await;
    }
    assert_eq!(schema(&db).await, before);
    assert_eq!(
        db.query("SELECT COUNT(*) FROM models", &[]).await.unwrap()[0][0].as_i64(),
        Some(2000)
    );
}

#[tokio::test]
async fn a_change_the_existing_rows_break_is_withdrawn_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let db = target(dir.path()).await;
    let mut book = RecommendationBook::default();
    book.update(
        "models",
        vec![rec(
            RecommendationKind::Check,
            "status",
            Change::Check {
                values: vec!["Draft".into()],
            },
        )],
        |_| true,
    );
    book.decide("check:models.status", Decision::Accept, "operator");
    let mut engine = Evolver::new(EvolutionSection::default(), Uuid::new_v4());
    assert!(
        engine
            .apply_ready(&mut book, db.as_ref(), None)
            .await
            .unwrap()
            .is_empty()
    );
    let r = book.get("check:models.status").unwrap();
    assert_eq!(r.state, RecommendationState::Withdrawn);
    assert!(
        r.note.as_deref().unwrap().contains("1000 rows"),
        "{:?}",
        r.note
    );
}

#[tokio::test]
async fn policy_refuses_denied_kinds_and_low_confidence() {
    let dir = tempfile::tempdir().unwrap();
    let db = target(dir.path()).await;
    let mut book = RecommendationBook::default();
    let mut low = rec(RecommendationKind::Index, "status", Change::Index);
    low.confidence = 0.5;
    book.update(
        "models",
        vec![
            rec(RecommendationKind::NotNull, "name", Change::NotNull),
            low,
        ],
        |_| true,
    );
    book.decide("not_null:models.name", Decision::Accept, "operator");
    book.decide("index:models.status", Decision::Accept, "operator");
    let policy: EvolutionSection = toml::from_str("deny = [\"not_null\"]").unwrap();
    let mut engine = Evolver::new(policy, Uuid::new_v4());
    assert!(
        engine
            .apply_ready(&mut book, db.as_ref(), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        book.get("not_null:models.name")
            .unwrap()
            .note
            .as_deref()
            .unwrap()
            .contains("deny")
    );
    assert!(
        book.get("index:models.status")
            .unwrap()
            .note
            .as_deref()
            .unwrap()
            .contains("min_confidence")
    );
}

/// A book in which the operator accepted NOT NULL on `models.name`.
fn accepted_not_null_on_name() -> RecommendationBook {
    let mut book = RecommendationBook::default();
    book.update(
        "models",
        vec![rec(RecommendationKind::NotNull, "name", Change::NotNull)],
        |_| true,
    );
    book.decide("not_null:models.name", Decision::Accept, "operator");
    book
}

#[tokio::test]
async fn a_resumed_run_does_not_repeat_changes_it_applied_before() {
    let dir = tempfile::tempdir().unwrap();
    let db = target(dir.path()).await;
    let run_id = Uuid::new_v4();
    let mut first = accepted_not_null_on_name();
    let mut engine = Evolver::new(EvolutionSection::default(), run_id);
    assert_eq!(
        engine
            .apply_ready(&mut first, db.as_ref(), None)
            .await
            .unwrap()
            .len(),
        1
    );

    let mut again = accepted_not_null_on_name();
    let mut resumed = Evolver::new(EvolutionSection::default(), run_id);
    resumed.resume(db.as_ref()).await.unwrap();
    assert!(
        resumed
            .apply_ready(&mut again, db.as_ref(), None)
            .await
            .unwrap()
            .is_empty()
    );
    let r = again.get("not_null:models.name").unwrap();
    assert_eq!(r.state, RecommendationState::Applied);
    assert_eq!(
        r.inverse,
        first.get("not_null:models.name").unwrap().inverse
    );
    let rows = vec![vec![Value::Int(7000), Value::from("Draft"), Value::Null]];
    let cols: Vec<String> = ["id", "status", "name"].map(String::from).to_vec();
    assert_eq!(
        resumed
            .violations(db.as_ref(), "models", &cols, &rows)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_change_a_rollback_undid_is_applied_again_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let db = target(dir.path()).await;
    let run_id = Uuid::new_v4();
    let mut engine = Evolver::new(EvolutionSection::default(), run_id);
    engine
        .apply_ready(&mut accepted_not_null_on_name(), db.as_ref(), None)
        .await
        .unwrap();
    // Undo it as `rollback --to` would: its inverse, and a rollback event naming it.
    let applied = store::read_events(db.as_ref(), Some(run_id), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == kind::DDL_APPLIED)
        .unwrap();
    undo(&db, &applied.inverse).await;
    db.transaction(vec![store::event_statement(
        db.dialect(),
        &NewEvent {
            run_id,
            kind: kind::ROLLBACK,
            table: Some("models"),
            summary: "undid it".into(),
            detail: json!({ "undoes": applied.id }),
            inverse: vec![],
        },
    )])
    .await
    .unwrap();

    let mut resumed = Evolver::new(EvolutionSection::default(), run_id);
    resumed.resume(db.as_ref()).await.unwrap();
    let applied = resumed
        .apply_ready(&mut accepted_not_null_on_name(), db.as_ref(), None)
        .await
        .unwrap();
    assert_eq!(applied.len(), 1, "the undone change is applied again");
}

#[tokio::test]
async fn a_change_over_the_lock_budget_is_not_retried_while_a_table_loads() {
    let dir = tempfile::tempdir().unwrap();
    let db = target(dir.path()).await;
    let mut book = accepted_not_null_on_name();
    let policy: EvolutionSection = toml::from_str("lock_budget_ms = 10").unwrap();
    let mut engine = Evolver::new(policy, Uuid::new_v4());
    // 2,000 rows at a millisecond each: far over a 10 ms budget.
    engine.seconds_per_row = 1e-3;
    assert!(engine.has_ready(&book, Some("models")));
    let applied = engine
        .apply_ready(&mut book, db.as_ref(), Some("models"))
        .await
        .unwrap();
    assert!(applied.is_empty());
    let r = book.get("not_null:models.name").unwrap();
    assert_eq!(r.state, RecommendationState::Accepted);
    assert!(
        r.note.as_deref().unwrap().contains("budget is 10 ms"),
        "{:?}",
        r.note
    );
    // Asking again would make the loader drain its writes before every batch.
    assert!(!engine.has_ready(&book, Some("models")));
    assert!(!engine.has_ready(&book, Some("other")));
    // With no table loading it is weighed once more, and applies when it fits.
    engine.seconds_per_row = 1e-9;
    let applied = engine
        .apply_ready(&mut book, db.as_ref(), None)
        .await
        .unwrap();
    assert_eq!(applied.len(), 1);
    assert_eq!(
        book.get("not_null:models.name").unwrap().state,
        RecommendationState::Applied
    );
}
