//! `canonicalize`: synonyms first, then a fuzzy match above a threshold; never a guess below it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use serde::Deserialize;

/// Distinct inputs remembered; past this, new inputs are matched without caching.
const CACHE_LIMIT: usize = 8192;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DictionaryFile {
    canonical: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    #[serde(default)]
    synonyms: Vec<String>,
}

/// A loaded dictionary with its match cache.
#[derive(Debug)]
pub struct Canonicalizer {
    names: Vec<String>,
    /// Normalized name or synonym → index in `names`.
    exact: HashMap<String, usize>,
    threshold: f64,
    /// Raw input → match, so each distinct input is normalized and fuzzy-matched once.
    cache: Mutex<HashMap<String, Option<usize>>>,
}

impl Canonicalizer {
    pub fn load(path: &Path, threshold: f64) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read dictionary: {e}"))?;
        let file: DictionaryFile = toml::from_str(&text).map_err(|e| {
            let first = e.message().lines().next().unwrap_or_default().to_string();
            format!("bad dictionary: {first}")
        })?;
        Self::new(
            file.canonical.into_iter().map(|e| (e.name, e.synonyms)),
            threshold,
        )
    }

    pub fn new(
        entries: impl IntoIterator<Item = (String, Vec<String>)>,
        threshold: f64,
    ) -> Result<Self, String> {
        let mut names = Vec::new();
        let mut exact = HashMap::new();
        for (name, synonyms) in entries {
            let index = names.len();
            for word in std::iter::once(&name).chain(&synonyms) {
                let key = normalize(word);
                if let Some(&other) = exact.get(&key)
                    && other != index
                {
                    let first: &String = &names[other];
                    return Err(format!(
                        "\"{word}\" belongs to both \"{first}\" and \"{name}\" in the dictionary"
                    ));
                }
                exact.insert(key, index);
            }
            names.push(name);
        }
        Ok(Self {
            names,
            exact,
            threshold,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The canonical name of `raw`, if it has one.
    pub fn canonical(&self, raw: &str) -> Option<&str> {
        let cached = self.cache.lock().ok().and_then(|c| c.get(raw).copied());
        let found = match cached {
            Some(found) => found,
            None => {
                let found = self.find(raw);
                if let Ok(mut cache) = self.cache.lock()
                    && cache.len() < CACHE_LIMIT
                {
                    cache.insert(raw.to_string(), found);
                }
                found
            }
        };
        found.map(|i| self.names[i].as_str())
    }

    fn find(&self, raw: &str) -> Option<usize> {
        let key = normalize(raw);
        if key.is_empty() {
            return None;
        }
        if let Some(&i) = self.exact.get(&key) {
            return Some(i);
        }
        // Normalized Levenshtein rather than Jaro-Winkler: the latter rewards a
        // shared prefix, so "linear svm" would pass for "linear regression", and
        // it rates short unrelated codes high; an edit ratio only forgives typos.
        self.exact
            .iter()
            .map(|(word, &i)| (i, strsim::normalized_levenshtein(&key, word), word))
            .filter(|(_, score, _)| *score >= self.threshold)
            // ties go to the alphabetically first word, so a run is reproducible
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.2.cmp(a.2)))
            .map(|(i, _, _)| i)
    }
}

/// Trimmed, lowercased, runs of whitespace, `-` and `_` as one space.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.trim().chars() {
        if c.is_whitespace() || c == '-' || c == '_' {
            gap = true;
        } else {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict() -> Canonicalizer {
        Canonicalizer::new(
            [
                (
                    "Random Forest".to_string(),
                    vec!["RF".into(), "randomforest".into()],
                ),
                ("XGBoost".to_string(), vec!["xgb".into()]),
                ("Linear Regression".to_string(), vec![]),
                ("Linear SVM".to_string(), vec!["svm".into()]),
            ],
            0.85,
        )
        .unwrap()
    }

    #[test]
    fn normalizes_case_space_and_separators() {
        assert_eq!(normalize("  Random__Forest -x "), "random forest x");
        assert_eq!(normalize("RANDOM\t forest"), "random forest");
        assert_eq!(normalize("--"), "");
    }

    #[test]
    fn exact_then_fuzzy_then_nothing() {
        let d = dict();
        assert_eq!(d.canonical("rf"), Some("Random Forest"));
        assert_eq!(d.canonical("random-forest"), Some("Random Forest"));
        assert_eq!(d.canonical("XGBOOST"), Some("XGBoost"));
        assert_eq!(d.canonical("random forrest"), Some("Random Forest"));
        assert_eq!(d.canonical("xgbost"), Some("XGBoost"));
        assert_eq!(d.canonical("linear regresion"), Some("Linear Regression"));
        assert_eq!(d.canonical("linear"), None);
        assert_eq!(d.canonical("naive bayes"), None);
        assert_eq!(d.canonical(""), None);
        // a second call is served from the cache and agrees
        assert_eq!(d.canonical("random forrest"), Some("Random Forest"));
        assert_eq!(d.cache.lock().unwrap().len(), 9);
    }

    #[test]
    fn threshold_is_respected() {
        let strict = Canonicalizer::new([("XGBoost".to_string(), vec![])], 0.99).unwrap();
        assert_eq!(strict.canonical("xgbost"), None);
        assert_eq!(strict.canonical("xg-boost"), None, "a space is an edit too");
        assert_eq!(strict.canonical("Xgboost"), Some("XGBoost"));
    }

    #[test]
    fn a_synonym_of_two_names_is_an_error() {
        let err = Canonicalizer::new(
            [
                ("A".to_string(), vec!["x".into()]),
                ("B".to_string(), vec!["X ".into()]),
            ],
            0.85,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "\"X \" belongs to both \"A\" and \"B\" in the dictionary"
        );
    }
}
