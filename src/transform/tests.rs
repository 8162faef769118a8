//! Whole-table tests: compile errors at their exact `line:col`, and each rule through `transform_row`.

use std::path::Path;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::project::error::{Locator, ProjectError};
use crate::schema::{ColumnInfo, ColumnType, TableInfo};
use crate::value::{Row, Value};

/// Lines 1-10; the fields of each test start on line 11.
const HEADER: &str = r#"source = "models"
target = "ml_models"
key = "model_id"
target_key = "model_uuid"

[[fields]]
source = "model_id"
target = "model_uuid"
rule = "deterministic_key"

"#;

const DATASETS: &str = r#"source = "datasets"
target = "data_sources"
key = "dataset_id"
target_key = "data_source_uuid"

[[fields]]
source = "dataset_id"
target = "data_source_uuid"
rule = "deterministic_key"
"#;

fn models_table() -> TableInfo {
    let col = |name: &str, t: ColumnType| ColumnInfo {
        name: name.into(),
        native_type: t.to_string(),
        column_type: t,
        nullable: true,
        primary_key: name == "model_id",
    };
    TableInfo {
        name: "models".into(),
        columns: vec![
            col("model_id", ColumnType::Int),
            col("model_name", ColumnType::Text),
            col("algo_type", ColumnType::Text),
            col("status", ColumnType::Text),
            col("accuracy_score", ColumnType::Float),
            col("artifact_path", ColumnType::Text),
            col("created_at", ColumnType::DateTime),
            col("owner_id", ColumnType::Int),
            col("dataset_id", ColumnType::Int),
            col("notes", ColumnType::Text),
            col("version", ColumnType::Text),
        ],
    }
}

/// A project folder with the files the rules read.
fn project_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("owners.csv"),
        "legacy_id,user_uuid\n1,0b8f6c1e-6a55-4c1a-9d3e-2f1e0c7a9b10\n2,5e2d9a44-1b6f-4f0e-8c3a-7d9b1e2c4a55\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("algorithms.toml"),
        r#"
[[canonical]]
name = "Random Forest"
synonyms = ["RF", "random forest", "randomforest"]

[[canonical]]
name = "XGBoost"
synonyms = ["xgb"]
"#,
    )
    .unwrap();
    dir
}

fn compile_in(
    dir: &Path,
    fields: &str,
    source: Option<&TableInfo>,
) -> Result<CompiledTable, ProjectError> {
    let text = format!("{HEADER}{fields}");
    let mapping: TableMapping =
        toml::from_str(&text).unwrap_or_else(|e| panic!("fixture does not parse: {e}"));
    let datasets: TableMapping = toml::from_str(DATASETS).unwrap();
    let tables = [datasets, mapping.clone()];
    let locator = Locator::new("project.toml", text.as_str());
    let ctx = CompileContext {
        locator: &locator,
        project_dir: dir,
        key_namespace: DEFAULT_NAMESPACE,
        source_timezone: chrono_tz::America::New_York,
        tables: &tables,
        source_table: source,
        lookup_tables: None,
    };
    compile_table(&mapping, &ctx)
}

fn compile(fields: &str) -> CompiledTable {
    let dir = project_dir();
    compile_in(dir.path(), fields, Some(&models_table())).unwrap_or_else(|e| panic!("{e}"))
}

fn compile_error(fields: &str) -> String {
    let dir = project_dir();
    match compile_in(dir.path(), fields, Some(&models_table())) {
        Ok(_) => panic!("compiled, but an error was expected"),
        Err(e) => e.to_string(),
    }
}

/// A source row by column name; the rest NULL.
fn row(table: &CompiledTable, values: &[(&str, Value)]) -> Row {
    let mut row = vec![Value::Null; table.source_columns().len()];
    for (name, v) in values {
        let i = table
            .source_columns()
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("{name} not selected"));
        row[i] = v.clone();
    }
    row
}

/// The output of `column` for one source row.
fn run(table: &CompiledTable, column: &str, values: &[(&str, Value)]) -> Result<Value, RowFailure> {
    run_stats(table, column, values, &mut TransformStats::default())
}

fn run_stats(
    table: &CompiledTable,
    column: &str,
    values: &[(&str, Value)],
    stats: &mut TransformStats,
) -> Result<Value, RowFailure> {
    let mut values = values.to_vec();
    if !values.iter().any(|(n, _)| *n == "model_id") {
        values.push(("model_id", Value::Int(1)));
    }
    let out = table.transform_row(&row(table, &values), stats)?;
    let i = table
        .target_columns()
        .iter()
        .position(|c| c.name == column)
        .unwrap();
    Ok(out[i].clone())
}

fn text(s: &str) -> Value {
    Value::from(s)
}

fn utc(s: &str) -> Value {
    Value::Timestamp(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
}

// ---- shape of the compiled table ----

#[test]
fn source_columns_key_first_without_duplicates_and_types_resolved() {
    let t = compile(
        r#"[[fields]]
source = "notes"
target = "description"
rule = "template"
template = "{value} ({model_name}, {model_id})"
when = "status IS NOT NULL and notes != ''"

[[fields]]
source = "model_name"
target = "name"

[[fields]]
source = "model_id"
target = "original_source_id"
type = "bigint"
nullable = false
"#,
    );
    assert_eq!(
        t.source_columns(),
        ["model_id", "notes", "status", "model_name"]
    );
    assert_eq!(t.key_column(), "model_id");
    assert_eq!(
        (t.source_table(), t.target_table(), t.target_key()),
        ("models", "ml_models", "model_uuid")
    );
    let def = t.target_def();
    assert_eq!(def.primary_key, ["model_uuid"]);
    let cols: Vec<(&str, ColumnType, bool)> = def
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.column_type, c.nullable))
        .collect();
    assert_eq!(
        cols,
        [
            ("model_uuid", ColumnType::Uuid, false),
            ("description", ColumnType::Text, true),
            ("name", ColumnType::Text, true),
            ("original_source_id", ColumnType::BigInt, false),
        ]
    );
}

#[test]
fn a_compiled_table_can_be_shared_between_tasks() {
    fn shareable<T: Send + Sync>(_: &T) {}
    shareable(&compile(""));
}

#[test]
fn without_a_live_source_copied_columns_are_text() {
    let dir = project_dir();
    let t = compile_in(
        dir.path(),
        "[[fields]]\nsource = \"modle_name\"\ntarget = \"name\"\n",
        None,
    )
    .unwrap();
    assert_eq!(t.target_columns()[1].column_type, ColumnType::Text);
    assert_eq!(t.source_columns(), ["model_id", "modle_name"]);
}

// ---- compile errors: exact message and position ----

#[test]
fn unknown_rule_has_a_hint() {
    let err = compile_error(
        "[[fields]]\nsource = \"algo_type\"\ntarget = \"algorithm\"\nrule = \"canonicalise\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:14:8: unknown transform "canonicalise"; did you mean "canonicalize"?"#
    );
}

#[test]
fn unused_parameter_points_at_its_key() {
    let err = compile_error(
        "[[fields]]\nsource = \"status\"\ntarget = \"status\"\nrule = \"value_map\"\nmap = { D = \"Draft\" }\npattern = \"x\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:16:11: key "pattern" is not used by rule "value_map""#
    );
    // a parameter without a span points at the field's target
    let err = compile_error("[[fields]]\nsource = \"status\"\ntarget = \"status\"\nfactor = 2.0\n");
    assert_eq!(
        err,
        r#"project.toml:13:10: key "factor" is not used by rule "copy""#
    );
}

#[test]
fn missing_parameter_points_at_the_rule() {
    let err = compile_error(
        "[[fields]]\nsource = \"artifact_path\"\ntarget = \"uri\"\nrule = \"rewrite\"\ntemplate = \"x\"\n",
    );
    assert_eq!(err, r#"project.toml:14:8: rule "rewrite" needs "pattern""#);
    let err = compile_error("[[fields]]\ntarget = \"uri\"\nrule = \"scale\"\nfactor = 2.0\n");
    assert_eq!(err, r#"project.toml:13:8: rule "scale" needs "source""#);
}

#[test]
fn duplicate_target_points_at_the_second() {
    let err = compile_error(
        "[[fields]]\nsource = \"model_name\"\ntarget = \"name\"\n\n[[fields]]\nsource = \"notes\"\ntarget = \"name\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:17:10: duplicate target column "name" in table "ml_models""#
    );
}

#[test]
fn bad_type_has_a_hint() {
    let err =
        compile_error("[[fields]]\nsource = \"model_name\"\ntarget = \"name\"\ntype = \"tetx\"\n");
    assert_eq!(
        err,
        r#"project.toml:14:8: unknown column type "tetx"; did you mean "text"?"#
    );
}

#[test]
fn missing_source_and_key_columns_have_hints() {
    let err = compile_error("[[fields]]\nsource = \"modle_name\"\ntarget = \"name\"\n");
    assert_eq!(
        err,
        r#"project.toml:12:10: source column "modle_name" not found in table "models"; did you mean "model_name"?"#
    );

    let dir = project_dir();
    let text = HEADER.replace("key = \"model_id\"", "key = \"modelid\"");
    let mapping: TableMapping = toml::from_str(&text).unwrap();
    let locator = Locator::new("project.toml", text.as_str());
    let table = models_table();
    let ctx = CompileContext {
        locator: &locator,
        project_dir: dir.path(),
        key_namespace: DEFAULT_NAMESPACE,
        source_timezone: chrono_tz::UTC,
        tables: std::slice::from_ref(&mapping),
        source_table: Some(&table),
        lookup_tables: None,
    };
    let err = compile_table(&mapping, &ctx).unwrap_err().to_string();
    assert_eq!(
        err,
        r#"project.toml:3:7: key column "modelid" not found in table "models"; did you mean "model_id"?"#
    );
}

#[test]
fn target_key_must_be_a_target_column() {
    let dir = project_dir();
    let text = HEADER.replace("target_key = \"model_uuid\"", "target_key = \"model_uid\"");
    let mapping: TableMapping = toml::from_str(&text).unwrap();
    let locator = Locator::new("project.toml", text.as_str());
    let ctx = CompileContext {
        locator: &locator,
        project_dir: dir.path(),
        key_namespace: DEFAULT_NAMESPACE,
        source_timezone: chrono_tz::UTC,
        tables: std::slice::from_ref(&mapping),
        source_table: None,
        lookup_tables: None,
    };
    let err = compile_table(&mapping, &ctx).unwrap_err().to_string();
    assert_eq!(
        err,
        r#"project.toml:4:14: target_key "model_uid" is not a target column of this table; did you mean "model_uuid"?"#
    );
}

#[test]
fn bad_policies_have_hints() {
    let err = compile_error(
        "[[fields]]\nsource = \"notes\"\ntarget = \"notes\"\non_error = \"quarantin\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:14:12: unknown on_error "quarantin" (expected quarantine, null, keep); did you mean "quarantine"?"#
    );
    let err = compile_error(
        "[[fields]]\nsource = \"dataset_id\"\ntarget = \"ds\"\nrule = \"foreign_key\"\nreferences = \"datasets\"\non_orphan = \"nul\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:16:13: unknown on_orphan "nul" (expected keep, null, quarantine); did you mean "null"?"#
    );
    let err = compile_error(
        "[[fields]]\nsource = \"created_at\"\ntarget = \"created\"\nrule = \"to_utc\"\ndst_gap = \"shift-forward\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:15:11: unknown dst_gap "shift-forward" (expected shift_forward, quarantine); did you mean "shift_forward"?"#
    );
    let err = compile_error(
        "[[fields]]\nsource = \"created_at\"\ntarget = \"created\"\nrule = \"to_utc\"\ndst_overlap = \"earlist\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:15:15: unknown dst_overlap "earlist" (expected earliest, latest, quarantine); did you mean "earliest"?"#
    );
    let err = compile_error(
        "[[fields]]\nsource = \"created_at\"\ntarget = \"created\"\nrule = \"to_utc\"\ntimezone = \"Europe/Pairs\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:15:12: unknown time zone "Europe/Pairs"; did you mean "Europe/Paris"?"#
    );
}

#[test]
fn threshold_must_be_a_fraction() {
    for bad in ["1.5", "0.0", "-0.2"] {
        let err = compile_error(&format!(
            "[[fields]]\nsource = \"algo_type\"\ntarget = \"algorithm\"\nrule = \"canonicalize\"\ndictionary = \"algorithms.toml\"\nthreshold = {bad}\n"
        ));
        let shown: f64 = bad.parse().unwrap();
        assert_eq!(
            err,
            format!("project.toml:13:10: threshold {shown} is outside (0, 1]")
        );
    }
}

#[test]
fn unknown_references_has_a_hint() {
    let err = compile_error(
        "[[fields]]\nsource = \"dataset_id\"\ntarget = \"ds\"\nrule = \"foreign_key\"\nreferences = \"dataset\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:15:14: unknown table "dataset" in references; it must be the source of a [[tables]] entry; did you mean "datasets"?"#
    );
}

#[test]
fn bad_regex_is_reported_at_the_pattern() {
    let err = compile_error(
        "[[fields]]\nsource = \"artifact_path\"\ntarget = \"uri\"\nrule = \"rewrite\"\npattern = \"^(/legacy\"\ntemplate = \"x\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:15:11: bad regex in pattern: unclosed group"#
    );
    let err = compile_error(
        "[[fields]]\nsource = \"artifact_path\"\ntarget = \"uri\"\nrule = \"rewrite\"\npattern = \"^(a)$\"\ntemplate = \"{name}\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:16:12: template uses {name} but the pattern has no group of that name"#
    );
}

#[test]
fn when_errors_point_at_the_condition() {
    let err =
        compile_error("[[fields]]\nsource = \"notes\"\ntarget = \"notes\"\nwhen = \"status ==\"\n");
    assert_eq!(
        err,
        r#"project.toml:14:8: bad when condition: expected a number or a 'quoted string', found the end"#
    );
    let err = compile_error(
        "[[fields]]\nsource = \"notes\"\ntarget = \"notes\"\nwhen = \"stauts == 'A'\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:14:8: unknown column "stauts" in when; did you mean "status"?"#
    );
}

#[test]
fn lookup_file_and_columns_are_checked() {
    let lookup = |file: &str, key: &str| {
        compile_error(&format!(
            "[[fields]]\nsource = \"owner_id\"\ntarget = \"owner\"\nrule = \"lookup\"\nlookup = \"{file}\"\nlookup_key = \"{key}\"\nlookup_value = \"user_uuid\"\n"
        ))
    };
    let err = lookup("owner.csv", "legacy_id");
    assert!(
        err.starts_with(r#"project.toml:15:10: cannot read lookup file "owner.csv": "#),
        "{err}"
    );
    let err = lookup("owners.csv", "legacyid");
    assert_eq!(
        err,
        r#"project.toml:16:14: column "legacyid" not found in owners.csv; did you mean "legacy_id"?"#
    );
}

#[test]
fn min_and_max_need_a_numeric_column() {
    let err = compile_error("[[fields]]\nsource = \"notes\"\ntarget = \"notes\"\nmax = 1.0\n");
    assert_eq!(
        err,
        r#"project.toml:13:10: key "max" needs a numeric column; "notes" is text"#
    );
}

// ---- rules ----

#[test]
fn copy_and_cast_convert_to_the_target_type() {
    let t = compile(
        r#"[[fields]]
source = "accuracy_score"
target = "primary_metric_value"
type = "double"

[[fields]]
source = "version"
target = "version_number"
rule = "cast"
type = "int"

[[fields]]
source = "model_name"
target = "name_or_null"
rule = "cast"
type = "int"
on_error = "null"

[[fields]]
source = "notes"
target = "notes_kept"
rule = "cast"
type = "int"
on_error = "keep"
"#,
    );
    assert_eq!(t.target_columns()[1].column_type, ColumnType::Double);
    assert_eq!(
        run(
            &t,
            "primary_metric_value",
            &[("accuracy_score", Value::Float(0.5))]
        ),
        Ok(Value::Float(0.5))
    );
    assert_eq!(
        run(&t, "version_number", &[("version", text(" 3 "))]),
        Ok(Value::Int(3))
    );
    let failure = run(&t, "version_number", &[("version", text("abc"))]).unwrap_err();
    assert_eq!(
        failure,
        RowFailure {
            rule: "cast".into(),
            column: "version_number".into(),
            reason: "cannot read \"abc\" as int".into()
        }
    );
    assert_eq!(
        run(&t, "name_or_null", &[("model_name", text("abc"))]),
        Ok(Value::Null)
    );
    // keep: the source value, which itself cannot be an int, so the row still fails
    assert!(run(&t, "notes_kept", &[("notes", text("n/a"))]).is_err());
    assert_eq!(
        run(&t, "notes_kept", &[("notes", text("12"))]),
        Ok(Value::Int(12))
    );
}

#[test]
fn deterministic_and_foreign_keys_agree() {
    let t = compile(
        r#"[[fields]]
source = "dataset_id"
target = "training_dataset_uuid"
rule = "foreign_key"
references = "datasets"
on_orphan = "null"
"#,
    );
    let key = run(&t, "model_uuid", &[("model_id", Value::Int(42))]).unwrap();
    assert_eq!(
        key,
        Value::Uuid(deterministic_uuid(
            DEFAULT_NAMESPACE,
            "models",
            &Value::Int(42)
        ))
    );
    let fk = run(
        &t,
        "training_dataset_uuid",
        &[("dataset_id", Value::Int(7))],
    )
    .unwrap();
    assert_eq!(
        fk,
        Value::Uuid(deterministic_uuid(
            DEFAULT_NAMESPACE,
            "datasets",
            &Value::Int(7)
        ))
    );
    assert_eq!(run(&t, "training_dataset_uuid", &[]), Ok(Value::Null));
    assert_eq!(
        t.foreign_keys(),
        [ForeignKeyCheck {
            column: 1,
            source_column: Some(1),
            parent_table: "data_sources".into(),
            parent_key: "data_source_uuid".into(),
            on_orphan: OrphanPolicy::Null
        }]
    );
    let failure = run(&t, "model_uuid", &[("model_id", Value::Null)]).unwrap_err();
    assert_eq!(
        (failure.rule.as_str(), failure.reason.as_str()),
        ("deterministic_key", "the key is NULL")
    );
}

#[test]
fn lookup_hits_defaults_and_misses() {
    let fields = |default: &str| {
        format!(
            "[[fields]]\nsource = \"owner_id\"\ntarget = \"owner_user_id\"\ntype = \"uuid\"\nrule = \"lookup\"\nlookup = \"owners.csv\"\nlookup_key = \"legacy_id\"\nlookup_value = \"user_uuid\"\n{default}"
        )
    };
    let strict = compile(&fields(""));
    let hit = run(&strict, "owner_user_id", &[("owner_id", Value::Int(2))]).unwrap();
    assert_eq!(
        hit,
        Value::Uuid("5e2d9a44-1b6f-4f0e-8c3a-7d9b1e2c4a55".parse().unwrap())
    );
    let miss = run(&strict, "owner_user_id", &[("owner_id", Value::Int(57))]).unwrap_err();
    assert_eq!(miss.reason, "no entry for owner_id=57 in owners.csv");

    let unassigned = Uuid::nil().to_string();
    let lenient = compile(&fields(&format!("default = \"{unassigned}\"\n")));
    let mut stats = TransformStats::default();
    for _ in 0..2 {
        let got = run_stats(
            &lenient,
            "owner_user_id",
            &[("owner_id", Value::Int(57))],
            &mut stats,
        )
        .unwrap();
        assert_eq!(got, Value::Uuid(Uuid::nil()));
    }
    run_stats(
        &lenient,
        "owner_user_id",
        &[("owner_id", Value::Int(1))],
        &mut stats,
    )
    .unwrap();
    let c = stats.column("owner_user_id").unwrap();
    assert_eq!((c.defaults_used, c.unmatched["57"]), (2, 2));
}

#[test]
fn canonicalize_matches_and_reports_the_rest() {
    let t = compile(
        r#"[[fields]]
source = "algo_type"
target = "algorithm"
rule = "canonicalize"
dictionary = "algorithms.toml"
"#,
    );
    let mut stats = TransformStats::default();
    let mut canon = |raw: &str| run_stats(&t, "algorithm", &[("algo_type", text(raw))], &mut stats);
    assert_eq!(canon("RF"), Ok(text("Random Forest")));
    assert_eq!(canon(" random_forest "), Ok(text("Random Forest")));
    assert_eq!(canon("random forrest"), Ok(text("Random Forest")));
    assert_eq!(canon("XGBOOST"), Ok(text("XGBoost")));
    let failure = canon("naive bayes").unwrap_err();
    assert_eq!(failure.reason, "no canonical name for \"naive bayes\"");
    canon("naive bayes").unwrap_err();
    assert_eq!(
        stats.column("algorithm").unwrap().unmatched_by_count(),
        [("naive bayes", 2)]
    );
}

#[test]
fn value_map_maps_and_names_the_expected_codes() {
    let t = compile(
        r#"[[fields]]
source = "status"
target = "status"
rule = "value_map"
map = { D = "Draft", P = "Pending Review", R = "Ready for Deployment", A = "Active" }
"#,
    );
    assert_eq!(
        run(&t, "status", &[("status", text(" P "))]),
        Ok(text("Pending Review"))
    );
    let failure = run(&t, "status", &[("status", text("X"))]).unwrap_err();
    assert_eq!(
        failure.reason,
        "unknown value \"X\" (expected one of A, D, P, R)"
    );
    assert_eq!(failure.rule, "value_map");
    assert_eq!(run(&t, "status", &[]), Ok(Value::Null));

    let with_default = compile(
        "[[fields]]\nsource = \"status\"\ntarget = \"status\"\nrule = \"value_map\"\nmap = { D = \"Draft\" }\ndefault = \"Unknown\"\n",
    );
    let mut stats = TransformStats::default();
    let got = run_stats(
        &with_default,
        "status",
        &[("status", text("Z"))],
        &mut stats,
    );
    assert_eq!(got, Ok(text("Unknown")));
    assert_eq!(stats.column("status").unwrap().defaults_used, 1);
}

#[test]
fn rewrite_moves_captures_into_the_template() {
    let t = compile(
        r#"[[fields]]
source = "artifact_path"
target = "artifact_uri"
rule = "rewrite"
pattern = '^/legacy/storage/models/(?P<version>v\d+)/(?P<name>[^/]+)\.pkl$'
template = "s3://ai-artifacts-bucket/models/{name}/{1}/model.pkl"
"#,
    );
    let got = run(
        &t,
        "artifact_uri",
        &[(
            "artifact_path",
            text("/legacy/storage/models/v1/model_A.pkl"),
        )],
    );
    assert_eq!(
        got,
        Ok(text("s3://ai-artifacts-bucket/models/model_A/v1/model.pkl"))
    );
    let failure = run(&t, "artifact_uri", &[("artifact_path", text("/tmp/x.bin"))]).unwrap_err();
    assert!(
        failure
            .reason
            .starts_with("\"/tmp/x.bin\" does not match the pattern"),
        "{}",
        failure.reason
    );
}

fn to_utc_table(policies: &str) -> CompiledTable {
    compile(&format!(
        "[[fields]]\nsource = \"created_at\"\ntarget = \"created_at_utc\"\nrule = \"to_utc\"\ntimezone = \"America/New_York\"\n{policies}"
    ))
}

#[test]
fn to_utc_reads_local_time_in_the_zone() {
    let t = to_utc_table("");
    assert_eq!(t.target_columns()[1].column_type, ColumnType::Timestamp);
    let at = |v: Value| run(&t, "created_at_utc", &[("created_at", v)]);
    assert_eq!(
        at(text("2024-07-01 12:00:00")),
        Ok(utc("2024-07-01T16:00:00Z"))
    );
    assert_eq!(
        at(text("2024-01-15T08:00:00.5")),
        Ok(utc("2024-01-15T13:00:00.5Z"))
    );
    let naive = chrono::NaiveDate::from_ymd_opt(2024, 1, 15)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    assert_eq!(at(Value::DateTime(naive)), Ok(utc("2024-01-15T13:00:00Z")));
    assert_eq!(at(Value::Null), Ok(Value::Null));
    assert!(
        at(text("15/01/2024"))
            .unwrap_err()
            .reason
            .starts_with("cannot read \"15/01/2024\"")
    );
    let zero = at(text("0000-00-00 00:00:00")).unwrap_err();
    assert_eq!(
        zero.reason,
        "zero date \"0000-00-00 00:00:00\" is not a real point in time"
    );
}

#[test]
fn to_utc_dst_gap_policies() {
    let gap = [("created_at", text("2024-03-10 02:30:00"))];
    // default shift_forward: read with EST, i.e. 03:30 EDT
    assert_eq!(
        run(&to_utc_table(""), "created_at_utc", &gap),
        Ok(utc("2024-03-10T07:30:00Z"))
    );
    let t = to_utc_table("dst_gap = \"shift_forward\"\n");
    assert_eq!(
        run(&t, "created_at_utc", &gap),
        Ok(utc("2024-03-10T07:30:00Z"))
    );
    let t = to_utc_table("dst_gap = \"quarantine\"\n");
    let failure = run(&t, "created_at_utc", &gap).unwrap_err();
    assert_eq!(
        failure.reason,
        "2024-03-10 02:30:00 does not exist in America/New_York (DST gap)"
    );
    assert_eq!(failure.rule, "to_utc");
}

#[test]
fn to_utc_dst_overlap_policies() {
    let overlap = [("created_at", text("2024-11-03 01:30:00"))];
    assert_eq!(
        run(&to_utc_table(""), "created_at_utc", &overlap),
        Ok(utc("2024-11-03T05:30:00Z"))
    );
    let t = to_utc_table("dst_overlap = \"earliest\"\n");
    assert_eq!(
        run(&t, "created_at_utc", &overlap),
        Ok(utc("2024-11-03T05:30:00Z"))
    );
    let t = to_utc_table("dst_overlap = \"latest\"\n");
    assert_eq!(
        run(&t, "created_at_utc", &overlap),
        Ok(utc("2024-11-03T06:30:00Z"))
    );
    let t = to_utc_table("dst_overlap = \"quarantine\"\n");
    let failure = run(&t, "created_at_utc", &overlap).unwrap_err();
    assert_eq!(
        failure.reason,
        "2024-11-03 01:30:00 is ambiguous in America/New_York (DST overlap)"
    );
}

#[test]
fn template_prefixes_and_reads_other_columns() {
    let t = compile(
        r#"[[fields]]
source = "notes"
target = "notes"
rule = "template"
template = "Migrated from Legacy AI Research DB: {value}"

[[fields]]
target = "label"
rule = "template"
template = "{model_name} #{model_id} {{legacy}}"
"#,
    );
    let got = run(&t, "notes", &[("notes", text("tuned on ünïcode"))]);
    assert_eq!(
        got,
        Ok(text(
            "Migrated from Legacy AI Research DB: tuned on ünïcode"
        ))
    );
    assert_eq!(run(&t, "notes", &[("notes", Value::Null)]), Ok(Value::Null));
    let label = run(
        &t,
        "label",
        &[("model_name", text("bert")), ("model_id", Value::Int(9))],
    );
    assert_eq!(label, Ok(text("bert #9 {legacy}")));
}

#[test]
fn scale_when_and_bounds() {
    let t = compile(
        r#"[[fields]]
source = "accuracy_score"
target = "primary_metric_value"
rule = "scale"
factor = 0.01
when = "accuracy_score > 1"
min = 0
max = 1

[[fields]]
source = "accuracy_score"
target = "raw_percent"
rule = "scale"
factor = 100
max = 100
on_error = "null"
"#,
    );
    let metric = |v: Value| run(&t, "primary_metric_value", &[("accuracy_score", v)]);
    // percent → fraction only where the condition holds; fractions are copied
    assert_eq!(metric(Value::Float(87.5)), Ok(Value::Float(0.875)));
    assert_eq!(metric(Value::Float(0.93)), Ok(Value::Float(0.93)));
    assert_eq!(metric(Value::Null), Ok(Value::Null));
    let failure = metric(Value::Float(-0.5)).unwrap_err();
    assert_eq!(
        (failure.rule.as_str(), failure.reason.as_str()),
        ("min", "primary_metric_value -0.5 is below min 0")
    );
    assert_eq!(
        run(&t, "raw_percent", &[("accuracy_score", Value::Float(2.0))]),
        Ok(Value::Null),
        "200 is above max, and on_error = null"
    );
    assert_eq!(
        run(&t, "raw_percent", &[("accuracy_score", Value::Int(1))]),
        Ok(Value::Float(100.0))
    );
}

#[test]
fn bounds_failure_message() {
    let t = compile(
        "[[fields]]\nsource = \"accuracy_score\"\ntarget = \"primary_metric_value\"\ntype = \"double\"\nmax = 1\n",
    );
    let failure = run(
        &t,
        "primary_metric_value",
        &[("accuracy_score", Value::Float(87.5))],
    )
    .unwrap_err();
    assert_eq!(failure.reason, "primary_metric_value 87.5 is above max 1");
}

#[test]
fn null_in_the_target_key_is_a_failure() {
    let t =
        compile("[[fields]]\nsource = \"model_name\"\ntarget = \"name\"\non_error = \"null\"\n");
    let mut stats = TransformStats::default();
    let failure = t
        .transform_row(&vec![Value::Null, text("x")], &mut stats)
        .unwrap_err();
    assert_eq!(failure.column, "model_uuid");
}

proptest! {
    #[test]
    fn keys_are_deterministic_and_foreign_keys_match_their_parent(n in any::<i64>(), s in "\\PC{0,24}") {
        let dir = project_dir();
        let models = compile_in(dir.path(), "[[fields]]\nsource = \"dataset_id\"\ntarget = \"ds\"\nrule = \"foreign_key\"\nreferences = \"datasets\"\n", None).unwrap();
        let datasets_mapping: TableMapping = toml::from_str(DATASETS).unwrap();
        let locator = Locator::new("project.toml", DATASETS);
        let ctx = CompileContext {
            locator: &locator,
            project_dir: dir.path(),
            key_namespace: DEFAULT_NAMESPACE,
            source_timezone: chrono_tz::UTC,
            tables: std::slice::from_ref(&datasets_mapping),
            source_table: None,
        lookup_tables: None,
        };
        let datasets = compile_table(&datasets_mapping, &ctx).unwrap();
        let mut stats = TransformStats::default();
        for key in [Value::Int(n), Value::Text(s.clone())] {
            let parent = datasets.transform_row(&vec![key.clone()], &mut stats).unwrap();
            let again = datasets.transform_row(&vec![key.clone()], &mut stats).unwrap();
            prop_assert_eq!(&parent, &again);
            let child = models.transform_row(&vec![Value::Int(1), key.clone()], &mut stats).unwrap();
            prop_assert_eq!(&child[1], &parent[0]);
            prop_assert_eq!(&parent[0], &Value::Uuid(deterministic_uuid(DEFAULT_NAMESPACE, "datasets", &key)));
        }
        let other = datasets.transform_row(&vec![Value::Int(n.wrapping_add(1))], &mut stats).unwrap();
        prop_assert_ne!(&other[0], &datasets.transform_row(&vec![Value::Int(n)], &mut stats).unwrap()[0]);
    }
}

#[test]
fn a_default_must_fit_the_column_type() {
    let err = compile_error(
        "[[fields]]\nsource = \"owner_id\"\ntarget = \"owner\"\ntype = \"uuid\"\nrule = \"lookup\"\nlookup = \"owners.csv\"\nlookup_key = \"legacy_id\"\nlookup_value = \"user_uuid\"\ndefault = \"unassigned\"\n",
    );
    assert_eq!(
        err,
        r#"project.toml:19:11: default "unassigned" does not fit column "owner": cannot read "unassigned" as uuid"#
    );
}
