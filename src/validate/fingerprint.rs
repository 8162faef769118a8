//! Resume safety: what changed between the project material a run started
//! with and the project now, in the operator's words ("table models, field
//! deployment_status: map changed").

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Differences between two fingerprint materials (JSON, as
/// `Project::fingerprint_material`). Never empty when called on a change.
pub fn changes(old: Option<&str>, new: &str) -> Vec<String> {
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    let Some(old) = old.map(parse).filter(|v| v.is_object()) else {
        return vec!["the run was started by an older flightdeck that did not record its project, so the change cannot be named".into()];
    };
    let new = parse(new);
    let mut out = Vec::new();
    if old["key_namespace"] != new["key_namespace"] {
        out.push(format!(
            "key_namespace changed ({} → {})",
            short(&old["key_namespace"]),
            short(&new["key_namespace"])
        ));
    }
    diff_keys("[source]", &old["source"], &new["source"], &[], &mut out);
    diff_tables(&old["tables"], &new["tables"], &mut out);
    diff_keys("file", &old["files"], &new["files"], &[], &mut out);
    if out.is_empty() {
        out.push("the project's mappings changed".into());
    }
    out
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::Null => "unset".to_string(),
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn as_map(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Keys of two objects that differ, except `skip`.
fn diff_keys(what: &str, old: &Value, new: &Value, skip: &[&str], out: &mut Vec<String>) {
    let (a, b) = (as_map(old), as_map(new));
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        if skip.contains(&k.as_str()) {
            continue;
        }
        match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) if !x.is_object() && !x.is_array() && !y.is_object() => {
                out.push(format!("{what} {k} changed ({} → {})", short(x), short(y)))
            }
            (Some(_), Some(_)) => out.push(format!("{what} {k} changed")),
            (None, Some(y)) => out.push(format!("{what} {k} added ({})", short(y))),
            (Some(_), None) => out.push(format!("{what} {k} removed")),
            (None, None) => {}
        }
    }
}

/// Entries of an array of objects, by the string at `key`.
fn by(v: &Value, key: &str) -> Vec<(String, Value)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|e| (e[key].as_str().unwrap_or_default().to_string(), e.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn diff_tables(old: &Value, new: &Value, out: &mut Vec<String>) {
    let (a, b) = (by(old, "source"), by(new, "source"));
    for (name, t) in &a {
        let Some((_, u)) = b.iter().find(|(n, _)| n == name) else {
            out.push(format!("table {name} removed"));
            continue;
        };
        let what = format!("table {name}:");
        diff_keys(&what, t, u, &["fields"], out);
        let (fa, fb) = (by(&t["fields"], "target"), by(&u["fields"], "target"));
        for (field, f) in &fa {
            match fb.iter().find(|(n, _)| n == field) {
                None => out.push(format!("table {name}: field {field} removed")),
                Some((_, g)) => diff_keys(&format!("table {name}, field {field}:"), f, g, &[], out),
            }
        }
        for (field, _) in &fb {
            if !fa.iter().any(|(n, _)| n == field) {
                out.push(format!("table {name}: field {field} added"));
            }
        }
        let order = |f: &[(String, Value)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        if fa.len() == fb.len() && order(&fa) != order(&fb) {
            let mut x = order(&fa);
            let mut y = order(&fb);
            x.sort();
            y.sort();
            if x == y {
                out.push(format!("table {name}: fields reordered"));
            }
        }
    }
    for (name, _) in &b {
        if !a.iter().any(|(n, _)| n == name) {
            out.push(format!("table {name} added"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material(map_r: &str, tz: &str) -> String {
        serde_json::json!({
            "source": {"timezone": tz},
            "tables": [{"source": "models", "key": "model_id", "fields": [
                {"target": "model_uuid", "rule": "deterministic_key"},
                {"target": "deployment_status", "rule": "value_map", "map": {"R": map_r}},
            ]}],
            "files": {"owners.csv": "1"},
        })
        .to_string()
    }

    #[test]
    fn names_the_changed_field_and_source_zone() {
        let a = material("Ready", "UTC");
        let b = material("Ready for Deployment", "America/New_York");
        let c = changes(Some(&a), &b);
        assert!(
            c.contains(&"table models, field deployment_status: map changed".to_string()),
            "{c:?}"
        );
        assert!(
            c.iter().any(|l| l.starts_with("[source] timezone changed")),
            "{c:?}"
        );
        assert_eq!(c.len(), 2, "{c:?}");
    }

    #[test]
    fn identical_material_has_no_named_change_and_old_runs_are_explained() {
        let a = material("Ready", "UTC");
        assert_eq!(
            changes(Some(&a), &a),
            vec!["the project's mappings changed"]
        );
        assert!(changes(None, &a)[0].contains("older flightdeck"));
    }
}
