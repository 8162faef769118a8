//! The values of the legacy database, clean and dirty. Every kind of dirt has its
//! rate here, so tests can check the generated counts against it.

use chrono::{Duration, NaiveDate, NaiveDateTime, Weekday};
use serde::Deserialize;

use super::rng::SplitMix64;
use crate::value::Value;

/// Share of `algo_type` values spelled as one of the dictionary's synonyms.
pub(crate) const ALGO_SYNONYM: f64 = 0.25;
/// Share of `algo_type` values misspelled or in an odd case ('random forrest', 'XGBOOST').
pub(crate) const ALGO_MISSPELLED: f64 = 0.15;
/// Share of `algo_type` values no dictionary entry matches ('see ticket MLOPS-4521').
pub(crate) const ALGO_GARBAGE: f64 = 0.005;
/// Share of models with a status code outside D/P/R/A ('X', '?', '').
pub(crate) const STATUS_UNKNOWN: f64 = 0.01;
/// Share of models without an accuracy.
pub(crate) const ACCURACY_NULL: f64 = 0.03;
/// Share of accuracies written as a percentage (87.5) instead of a fraction.
pub(crate) const ACCURACY_PERCENT: f64 = 0.03;
/// Share of accuracies that are garbage: negative or above 100.
pub(crate) const ACCURACY_GARBAGE: f64 = 0.003;
/// Share of models whose `dataset_id` names no dataset.
pub(crate) const ORPHAN_DATASET: f64 = 0.02;
/// Share of metrics whose `run_id` names no training run.
pub(crate) const ORPHAN_RUN: f64 = 0.01;
/// Owner ids are uniform in 1..=OWNER_IDS; only 1..=MAPPED_OWNERS are in owners.csv.
pub(crate) const OWNER_IDS: i64 = 60;
#[cfg(test)] // the generator needs only the range; owners.csv is the mapping
pub(crate) const MAPPED_OWNERS: i64 = 50;
/// Share of datetimes inside a spring-forward gap of America/New_York (02:xx).
pub(crate) const DST_GAP: f64 = 0.005;
/// Share of datetimes inside a fall-back overlap of America/New_York (01:xx).
pub(crate) const DST_OVERLAP: f64 = 0.005;
/// Share of models without notes.
pub(crate) const NOTES_NULL: f64 = 0.10;
/// Share of notes of at least [`LONG_NOTE_CHARS`] characters.
pub(crate) const NOTES_LONG: f64 = 0.002;
pub(crate) const LONG_NOTE_CHARS: usize = 10_000;
/// Share of short notes with accents, CJK and astral-plane characters (emoji).
pub(crate) const NOTES_UNICODE: f64 = 0.20;
/// Share of artifact paths that do not follow the /legacy/storage layout.
pub(crate) const ARTIFACT_MISMATCH: f64 = 0.005;
/// Share of experiments whose hyperparameters are truncated JSON.
pub(crate) const HYPERPARAMS_MALFORMED: f64 = 0.01;
/// Share of experiments without hyperparameters.
pub(crate) const HYPERPARAMS_NULL: f64 = 0.02;
/// Share of training runs with a status code nobody documented.
pub(crate) const RUN_STATUS_UNKNOWN: f64 = 0.005;

/// The canonical algorithm dictionary shipped with the sample.
#[derive(Debug, Deserialize)]
pub(crate) struct Dictionary {
    pub(crate) canonical: Vec<Canonical>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Canonical {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) synonyms: Vec<String>,
}

impl Dictionary {
    pub(crate) fn embedded() -> Self {
        toml::from_str(super::ALGORITHMS_TOML).expect("the embedded algorithms.toml parses")
    }
}

/// Misspellings a human would still read as the canonical name.
pub(crate) const MISSPELLINGS: &[(&str, &[&str])] = &[
    (
        "Random Forest",
        &[
            "random forrest",
            "Random Forrest",
            "RANDOM FOREST",
            "Radnom Forest",
        ],
    ),
    ("XGBoost", &["XGBOOST", "xg-boost", "XG Boost", "xgbost"]),
    (
        "Logistic Regression",
        &[
            "Logistic Regresion",
            "logistic regression",
            "Logistc Regression",
        ],
    ),
    (
        "Linear Regression",
        &["Linear Regresion", "linear_regression", "Lineer Regression"],
    ),
    (
        "Support Vector Machine",
        &["support vector machines", "Support Vector Machne"],
    ),
    (
        "Gradient Boosting",
        &["gradient boosting", "Gradient Boostng", "Gradiant Boosting"],
    ),
    ("LightGBM", &["lightgbm", "Light-GBM", "LightGMB"]),
    (
        "Decision Tree",
        &["decision tree", "Decison Tree", "DecisionTree"],
    ),
    (
        "K-Nearest Neighbors",
        &["k-nearest neighbours", "K Nearest Neighbor"],
    ),
    ("Naive Bayes", &["Naïve Bayes", "naive bayes", "Naive Baye"]),
    ("K-Means", &["k-means", "KMEANS", "K-Mean"]),
    (
        "Neural Network",
        &["neural net", "Neural Netwrok", "neural networks"],
    ),
];

/// Values nobody can map: free text typed into the algorithm field.
pub(crate) const ALGO_GARBAGE_VALUES: &[&str] = &[
    "see ticket MLOPS-4521",
    "TODO",
    "???",
    "ask Priya",
    "copied from prod 2019",
    "final_FINAL_v3",
];

pub(crate) fn algo_type(rng: &mut SplitMix64, dict: &Dictionary) -> Value {
    let roll = rng.unit();
    let entry = rng.pick(&dict.canonical);
    let text = if roll < ALGO_GARBAGE {
        (*rng.pick(ALGO_GARBAGE_VALUES)).to_string()
    } else if roll < ALGO_GARBAGE + ALGO_MISSPELLED {
        let variants = MISSPELLINGS
            .iter()
            .find(|(name, _)| *name == entry.name)
            .map_or(&[][..], |(_, v)| *v);
        match variants {
            [] => entry.name.to_lowercase(),
            v => (*rng.pick(v)).to_string(),
        }
    } else if roll < ALGO_GARBAGE + ALGO_MISSPELLED + ALGO_SYNONYM && !entry.synonyms.is_empty() {
        rng.pick(&entry.synonyms).clone()
    } else {
        entry.name.clone()
    };
    Value::Text(text)
}

pub(crate) fn model_status(rng: &mut SplitMix64) -> Value {
    let roll = rng.unit();
    let code = if roll < STATUS_UNKNOWN {
        *rng.pick(&["X", "?", ""])
    } else if roll < 0.30 {
        "D"
    } else if roll < 0.50 {
        "P"
    } else if roll < 0.70 {
        "R"
    } else {
        "A"
    };
    Value::Text(code.into())
}

pub(crate) fn accuracy(rng: &mut SplitMix64) -> Value {
    let roll = rng.unit();
    let fraction = rng.float(0.5, 0.99);
    if roll < ACCURACY_NULL {
        Value::Null
    } else if roll < ACCURACY_NULL + ACCURACY_PERCENT {
        // Percent with one decimal, as a spreadsheet export would leave it.
        Value::Float((fraction * 1000.0).round() / 10.0)
    } else if roll < ACCURACY_NULL + ACCURACY_PERCENT + ACCURACY_GARBAGE {
        if rng.unit() < 0.5 {
            Value::Float(-rng.float(0.01, 5.0))
        } else {
            Value::Float(rng.float(100.5, 10_000.0).round())
        }
    } else {
        Value::Float((fraction * 10_000.0).round() / 10_000.0)
    }
}

/// A `dataset_id`, orphaned at [`ORPHAN_DATASET`].
pub(crate) fn dataset_ref(rng: &mut SplitMix64, datasets: u64) -> Value {
    let orphan = rng.unit() < ORPHAN_DATASET;
    let id = if orphan {
        datasets + 1 + rng.below(1000)
    } else {
        1 + rng.below(datasets)
    };
    Value::Int(id as i64)
}

/// A `run_id`, orphaned at [`ORPHAN_RUN`].
pub(crate) fn run_ref(rng: &mut SplitMix64, runs: u64) -> Value {
    let orphan = rng.unit() < ORPHAN_RUN || runs == 0;
    let id = if orphan {
        runs + 1 + rng.below(1000)
    } else {
        1 + rng.below(runs)
    };
    Value::Int(id as i64)
}

pub(crate) fn owner(rng: &mut SplitMix64) -> Value {
    Value::Int(rng.between(1, OWNER_IDS))
}

/// The n-th Sunday of a month (n from 1).
fn nth_sunday(year: i32, month: u32, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n)
        .expect("every month has at least two Sundays")
}

/// A naive local datetime in 2023–2025, in a New York DST gap at [`DST_GAP`]
/// and in an overlap at [`DST_OVERLAP`].
pub(crate) fn legacy_datetime(rng: &mut SplitMix64) -> NaiveDateTime {
    let roll = rng.unit();
    let year = rng.between(2023, 2025) as i32;
    let minute = rng.below(60) as u32;
    let second = rng.below(60) as u32;
    // US rules since 2007: spring forward on March's 2nd Sunday at 02:00,
    // fall back on November's 1st Sunday at 02:00.
    if roll < DST_GAP {
        return nth_sunday(year, 3, 2)
            .and_hms_opt(2, minute, second)
            .expect("valid time");
    }
    if roll < DST_GAP + DST_OVERLAP {
        return nth_sunday(year, 11, 1)
            .and_hms_opt(1, minute, second)
            .expect("valid time");
    }
    let start = NaiveDate::from_ymd_opt(2023, 1, 1)
        .expect("valid date")
        .and_hms_opt(0, 0, 0)
        .expect("valid time");
    let span = 3 * 365 * 24 * 3600;
    start + Duration::seconds(rng.below(span) as i64)
}

pub(crate) fn datetime_text(dt: NaiveDateTime) -> Value {
    Value::Text(dt.format("%Y-%m-%d %H:%M:%S").to_string())
}

const DOMAINS: &[&str] = &[
    "churn",
    "fraud",
    "demand",
    "sentiment",
    "credit-risk",
    "image-tagger",
    "forecast",
    "recommender",
    "anomaly",
    "ranking",
    "pricing",
    "triage",
];
const KINDS: &[&str] = &["classifier", "regressor", "model", "baseline", "ensemble"];

pub(crate) fn model_name(rng: &mut SplitMix64, id: u64) -> String {
    format!("{}_{}_{id}", rng.pick(DOMAINS), rng.pick(KINDS))
}

/// `/legacy/storage/models/v{n}/model_{name}.pkl`, or a stray layout at
/// [`ARTIFACT_MISMATCH`].
pub(crate) fn artifact_path(rng: &mut SplitMix64, name: &str) -> Value {
    let version = rng.between(1, 5);
    if rng.unit() < ARTIFACT_MISMATCH {
        let stray = match rng.below(4) {
            0 => format!("C:\\legacy\\storage\\models\\v{version}\\model_{name}.pkl"),
            1 => format!("\\\\nas01\\ml-share\\{name}.pkl"),
            2 => format!("/legacy/storage/models/latest/model_{name}.pkl"),
            _ => format!("/tmp/model_{name} (copy).pkl"),
        };
        return Value::Text(stray);
    }
    Value::Text(format!(
        "/legacy/storage/models/v{version}/model_{name}.pkl"
    ))
}

const PLAIN_NOTES: &[&str] = &[
    "Baseline for the quarterly review.",
    "Retrained after the feature drift alert.",
    "Owner left the team; see wiki page ML-Models.",
    "Do not deploy: label leakage suspected.",
    "Champion model as of the last sprint.",
    "Hyperparameters tuned by grid search over 3 days.",
    "",
];
const ACCENTED: &[&str] = &[
    "Réentraîné après la dérive des données",
    "Überprüft von Jürgen Müller",
    "Revisión de señales por Łukasz Wójcik",
    "Validação concluída em São Paulo",
    "Ajustado en Ñuñoa, café incluido",
];
const CJK: &[&str] = &[
    "精度が向上しました",
    "模型已验证",
    "데이터 검증 완료",
    "需要重新训练",
];
/// Each of these holds a character outside the Basic Multilingual Plane.
const ASTRAL: &[&str] = &["🚀", "✅🧪", "🤖📈", "𝔐𝔬𝔡𝔢𝔩 𝔳2", "𠜎 legacy glyph", "🎯"];

pub(crate) fn notes(rng: &mut SplitMix64) -> Value {
    let roll = rng.unit();
    if roll < NOTES_NULL {
        return Value::Null;
    }
    if roll < NOTES_NULL + NOTES_LONG {
        return Value::Text(long_note(rng));
    }
    if roll < NOTES_NULL + NOTES_LONG + NOTES_UNICODE {
        return Value::Text(format!(
            "{} — {} {}",
            rng.pick(ACCENTED),
            rng.pick(CJK),
            rng.pick(ASTRAL)
        ));
    }
    Value::Text((*rng.pick(PLAIN_NOTES)).to_string())
}

/// A pasted changelog of at least [`LONG_NOTE_CHARS`] characters.
fn long_note(rng: &mut SplitMix64) -> String {
    let target = LONG_NOTE_CHARS + rng.below(6_000) as usize;
    let mut text = String::from("Changelog (pasted from the wiki):\n");
    let mut chars = text.chars().count();
    while chars < target {
        let line = format!(
            "- {} retrained, accuracy {:.3}; {} {} {}\n",
            legacy_datetime(rng).date(),
            rng.float(0.5, 0.99),
            rng.pick(ACCENTED),
            rng.pick(CJK),
            rng.pick(ASTRAL)
        );
        chars += line.chars().count();
        text.push_str(&line);
    }
    text
}

pub(crate) fn dataset_format(rng: &mut SplitMix64) -> Value {
    let formats = [
        "csv", "CSV", "parquet", "Parquet", "json", "JSON", "avro", "xlsx",
    ];
    Value::Text((*rng.pick(&formats)).into())
}

const UNDOCUMENTED_RUN_CODES: [&str; 3] = ["E", "c", "DONE"];

/// Training-run status: Q/R/C/F/X, with undocumented codes at [`RUN_STATUS_UNKNOWN`].
pub(crate) fn run_status(rng: &mut SplitMix64) -> &'static str {
    let roll = rng.unit();
    if roll < RUN_STATUS_UNKNOWN {
        UNDOCUMENTED_RUN_CODES[rng.below(3) as usize]
    } else if roll < 0.70 {
        "C"
    } else if roll < 0.85 {
        "F"
    } else if roll < 0.90 {
        "R"
    } else if roll < 0.94 {
        "Q"
    } else {
        "X"
    }
}

pub(crate) fn hyperparams(rng: &mut SplitMix64) -> Value {
    let roll = rng.unit();
    if roll < HYPERPARAMS_NULL {
        return Value::Null;
    }
    let json = format!(
        "{{\"learning_rate\": {}, \"max_depth\": {}, \"n_estimators\": {}, \"seed\": {}}}",
        rng.pick(&[0.001, 0.01, 0.05, 0.1, 0.3]),
        rng.between(2, 16),
        rng.between(1, 20) * 50,
        rng.below(100_000)
    );
    if roll < HYPERPARAMS_NULL + HYPERPARAMS_MALFORMED {
        // A VARCHAR(64) column in an older schema cut these off mid-object.
        return Value::Text(json.chars().take(json.len() / 2).collect());
    }
    Value::Text(json)
}
