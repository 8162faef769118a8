//! The migration project file: model, loading, checks with `file:line:col` errors.
//!
//! Loading runs every check that needs no database; [`Project::compile`] adds
//! the ones that need the source catalog. Both run before anything is written.

pub mod error;
pub mod model;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use chrono_tz::Tz;
use uuid::Uuid;

use crate::db::{Database, DbUrl};
use crate::transform::{self, CompileContext, CompiledTable};
use error::{Locator, ProjectError, hint_for};
use model::{CHANGE_KINDS, ProjectFile, S, TableMapping, VALIDATION_KINDS};

/// A loaded, statically checked project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The file as named by the operator (used in error messages).
    pub path: PathBuf,
    /// Folder of the file: relative paths in it resolve here.
    pub dir: PathBuf,
    pub file: ProjectFile,
    pub locator: Locator,
    pub source_url: DbUrl,
    pub target_url: DbUrl,
    pub source_timezone: Tz,
    pub target_timezone: Tz,
    pub key_namespace: Uuid,
    pub start_date: Option<NaiveDate>,
    pub holidays: Vec<NaiveDate>,
    /// Indices into `file.tables`, parents before children.
    pub order: Vec<usize>,
    /// Hash of everything that decides what rows are written; a resume with a
    /// different fingerprint would mix two mappings in one target.
    pub fingerprint: String,
    /// What the fingerprint hashes, as JSON (tables, source, key namespace and a
    /// hash of each rule file), so a refused resume can name what changed.
    pub fingerprint_material: String,
}

impl Project {
    pub fn name(&self) -> &str {
        &self.file.project.name
    }

    /// The URL of `[environments.NAME]`, its `${VAR}`s expanded now (an
    /// environment's variables need be set only when it is checked).
    pub fn environment_url(&self, name: &str) -> Result<DbUrl, String> {
        let Some(env) = self.file.environments.get(name) else {
            let known: Vec<&str> = self.file.environments.keys().map(String::as_str).collect();
            let hint = hint_for(name, known.iter().copied())
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            return Err(format!(
                "{}: no [environments.{name}] in the project (it has: {}){hint}",
                self.path.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        };
        resolve_url(
            &env.url,
            &self.dir,
            &|v| std::env::var(v).ok(),
            &self.locator,
        )
        .map_err(|e| e.to_string())
    }

    /// Table mappings in foreign-key order.
    pub fn tables(&self) -> impl Iterator<Item = &TableMapping> {
        self.order.iter().map(|&i| &self.file.tables[i])
    }

    fn context<'a>(
        &'a self,
        source_table: Option<&'a crate::schema::TableInfo>,
        lookup_tables: Option<&'a transform::LookupTables>,
    ) -> CompileContext<'a> {
        CompileContext {
            locator: &self.locator,
            project_dir: &self.dir,
            key_namespace: self.key_namespace,
            source_timezone: self.source_timezone,
            tables: &self.file.tables,
            source_table,
            lookup_tables,
        }
    }

    /// Reads every `lookup = "table:NAME"` of the project from the source:
    /// the table and both columns must exist; NULL keys are skipped and the
    /// first row of a key wins, as in a lookup CSV.
    async fn read_lookup_tables(
        &self,
        source: &dyn Database,
        existing: &[String],
    ) -> Result<transform::LookupTables, CompileError> {
        let mut out = transform::LookupTables::new();
        let fields = self.file.tables.iter().flat_map(|t| t.fields.iter());
        for f in fields {
            let (Some(lookup), Some(key), Some(value)) =
                (&f.lookup, &f.lookup_key, &f.lookup_value)
            else {
                continue;
            };
            let Some(table) = transform::lookup_table_name(lookup.get_ref()) else {
                continue;
            };
            let id = (
                table.to_string(),
                key.get_ref().clone(),
                value.get_ref().clone(),
            );
            if out.contains_key(&id) {
                continue;
            }
            let Some(info) = source.table_info(table).await.map_err(CompileError::Db)? else {
                return Err(CompileError::Project(
                    self.locator
                        .at(
                            lookup.span(),
                            format!(
                                "lookup table \"{table}\" not found in {}",
                                self.source_url.redacted()
                            ),
                        )
                        .with_hint_opt(hint_for(table, existing.iter().map(String::as_str))),
                ));
            };
            for column in [key, value] {
                if info.column(column.get_ref()).is_none() {
                    return Err(CompileError::Project(
                        self.locator
                            .at(
                                column.span(),
                                format!(
                                    "column \"{}\" not found in lookup table \"{table}\"",
                                    column.get_ref()
                                ),
                            )
                            .with_hint_opt(hint_for(
                                column.get_ref(),
                                info.columns.iter().map(|c| c.name.as_str()),
                            )),
                    ));
                }
            }
            let d = source.dialect();
            let sql = format!(
                "SELECT {}, {} FROM {}",
                d.quote_ident(key.get_ref()),
                d.quote_ident(value.get_ref()),
                d.quote_ident(table)
            );
            let rows = source.query(&sql, &[]).await.map_err(CompileError::Db)?;
            let mut entries = HashMap::with_capacity(rows.len());
            for r in rows {
                if r[0].is_null() {
                    continue;
                }
                let value = if r[1].is_null() {
                    String::new()
                } else {
                    r[1].render()
                };
                entries
                    .entry(r[0].render().trim().to_string())
                    .or_insert_with(|| value.trim().to_string());
            }
            out.insert(id, entries);
        }
        Ok(out)
    }

    /// Compiles every table against the live source catalog, in run order:
    /// tables and columns must exist, and copied columns take their types.
    pub async fn compile(&self, source: &dyn Database) -> Result<Vec<CompiledTable>, CompileError> {
        let existing = source.list_tables().await.map_err(CompileError::Db)?;
        let lookups = self.read_lookup_tables(source, &existing).await?;
        let mut out = Vec::new();
        for mapping in self.tables() {
            let name = mapping.source.get_ref();
            let Some(info) = source.table_info(name).await.map_err(CompileError::Db)? else {
                return Err(CompileError::Project(
                    self.locator
                        .at(
                            mapping.source.span(),
                            format!(
                                "source table \"{name}\" not found in {}",
                                self.source_url.redacted()
                            ),
                        )
                        .with_hint_opt(hint_for(name, existing.iter().map(String::as_str))),
                ));
            };
            out.push(
                transform::compile_table(mapping, &self.context(Some(&info), Some(&lookups)))
                    .map_err(CompileError::Project)?,
            );
        }
        Ok(out)
    }
}

/// Compiling against the source can fail on the file or on the database.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("{0}")]
    Project(ProjectError),
    #[error("{0}")]
    Db(crate::db::DbError),
}

/// Reads and checks a project file without touching any database.
pub fn load(path: &Path) -> Result<Project, ProjectError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ProjectError {
        file: display.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read project file: {e}"),
        hint: Some("check the path; `flightdeck sample ai-research --into DIR` writes one".into()),
    })?;
    let dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    parse(&display, &text, &dir, &|name| std::env::var(name).ok())
}

/// Parses and checks project text. `env` resolves `${VAR}` in URLs.
pub fn parse(
    file: &str,
    text: &str,
    dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Project, ProjectError> {
    let locator = Locator::new(file, text);
    let parsed: ProjectFile = toml::from_str(text).map_err(|e| toml_error(&locator, &e))?;

    let source_url = resolve_url(&parsed.source.url, dir, env, &locator)?;
    let target_url = resolve_url(&parsed.target.url, dir, env, &locator)?;
    let tz = |t: &Option<S<String>>| match t {
        Some(name) => transform::parse_timezone(name, &locator),
        None => Ok(Tz::UTC),
    };
    let source_timezone = tz(&parsed.source.timezone)?;
    let target_timezone = tz(&parsed.target.timezone)?;
    let key_namespace = match &parsed.project.key_namespace {
        Some(ns) => Uuid::parse_str(ns.get_ref()).map_err(|_| {
            locator.at(
                ns.span(),
                format!("key_namespace \"{}\" is not a UUID", ns.get_ref()),
            )
        })?,
        None => transform::DEFAULT_NAMESPACE,
    };
    let start_date = parsed
        .project
        .start_date
        .as_ref()
        .map(|d| parse_date(d, &locator))
        .transpose()?;
    let holidays = parsed
        .timeline
        .holidays
        .iter()
        .map(|d| parse_date(d, &locator))
        .collect::<Result<Vec<_>, _>>()?;

    check_sections(&parsed, &locator)?;
    let order = foreign_key_order(&parsed.tables, &locator)?;

    let mut project = Project {
        path: PathBuf::from(file),
        dir: dir.to_path_buf(),
        file: parsed,
        locator,
        source_url,
        target_url,
        source_timezone,
        target_timezone,
        key_namespace,
        start_date,
        holidays,
        order,
        fingerprint: String::new(),
        fingerprint_material: String::new(),
    };
    // Static compile: every rule, regex, time zone and type is checked now.
    let mut compiled = Vec::new();
    for mapping in project.tables() {
        compiled.push(transform::compile_table(
            mapping,
            &project.context(None, None),
        )?);
    }
    check_validations(&project, &compiled)?;
    (project.fingerprint, project.fingerprint_material) = fingerprint(text, dir, &project.file);
    Ok(project)
}

fn parse_date(d: &S<String>, locator: &Locator) -> Result<NaiveDate, ProjectError> {
    NaiveDate::parse_from_str(d.get_ref(), "%Y-%m-%d").map_err(|_| {
        locator
            .at(d.span(), format!("\"{}\" is not a date", d.get_ref()))
            .with_hint("write dates as YYYY-MM-DD")
    })
}

/// Rewrites serde's messages into the project's words, with did-you-mean hints.
fn toml_error(locator: &Locator, e: &toml::de::Error) -> ProjectError {
    let msg = e.message().trim().to_string();
    let err = |m: String| locator.error(e.span(), m);
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates = backticked(expected);
        let hint = hint_for(key, candidates.iter().map(String::as_str)).or_else(|| {
            (!candidates.is_empty()).then(|| format!("expected one of: {}", candidates.join(", ")))
        });
        return err(format!("unknown key \"{key}\"")).with_hint_opt(hint);
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return err(format!("missing key \"{key}\""));
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let (found, expected) = rest
            .split_once(", expected ")
            .unwrap_or((rest, "another type"));
        let expected = match expected {
            "usize" | "u64" | "u32" | "u16" | "u8" => "a non-negative integer",
            "i64" | "i32" => "an integer",
            "f64" | "f32" => "a number",
            "a boolean" | "bool" => "true or false",
            other => other,
        };
        return err(format!("wrong type: found {found}, expected {expected}").replace('`', "\""));
    }
    err(msg.replace('`', "\""))
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Expands `${VAR}` and parses the URL; errors point at the URL.
fn resolve_url(
    url: &S<String>,
    dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    locator: &Locator,
) -> Result<DbUrl, ProjectError> {
    let expanded = expand_env(url.get_ref(), env).map_err(|var| {
        locator
            .at(
                url.span(),
                format!("environment variable \"{var}\" is not set"),
            )
            .with_hint(format!(
                "export {var}=… before running; secrets stay out of the project file"
            ))
    })?;
    DbUrl::parse(&expanded, dir).map_err(|m| {
        locator
            .at(url.span(), m)
            .with_hint("use sqlite://FILE, postgres://HOST/DB or mysql://HOST/DB")
    })
}

/// Replaces each `${NAME}` by its value; `Err(NAME)` for the first unset one.
pub fn expand_env(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        out.push_str(&env(name).ok_or_else(|| name.to_string())?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn check_sections(p: &ProjectFile, locator: &Locator) -> Result<(), ProjectError> {
    let err = |m: &str| locator.error(None, m.to_string());
    if p.tables.is_empty() {
        return Err(err("no tables to migrate").with_hint("add at least one [[tables]] entry"));
    }
    if !(p.profiling.sample > 0.0 && p.profiling.sample <= 1.0) {
        return Err(err("[profiling] sample must be in (0, 1]"));
    }
    if !(0.0..=1.0).contains(&p.evolution.min_confidence) {
        return Err(err("[evolution] min_confidence must be in [0, 1]"));
    }
    if p.evolution.partition_above_rows == 0 {
        return Err(err("[evolution] partition_above_rows must be at least 1"));
    }
    let pl = &p.pipeline;
    if pl.batch_size == 0
        || pl.min_batch == 0
        || pl.min_batch > pl.max_batch
        || pl.channel_capacity == 0
    {
        return Err(err(
            "[pipeline] needs 0 < min_batch <= max_batch, batch_size > 0 and channel_capacity > 0",
        ));
    }
    for kind in p.evolution.allow.iter().chain(&p.evolution.deny) {
        if !CHANGE_KINDS.contains(&kind.get_ref().as_str()) {
            return Err(locator
                .at(
                    kind.span(),
                    format!("unknown change kind \"{}\"", kind.get_ref()),
                )
                .with_hint_opt(hint_for(kind.get_ref(), CHANGE_KINDS.iter().copied()))
                .or_list(CHANGE_KINDS));
        }
    }
    let mut sources: HashMap<&str, &S<String>> = HashMap::new();
    let mut targets: HashMap<&str, &S<String>> = HashMap::new();
    for t in &p.tables {
        if sources.insert(t.source.get_ref(), &t.source).is_some() {
            return Err(locator.at(
                t.source.span(),
                format!("source table \"{}\" is mapped twice", t.source.get_ref()),
            ));
        }
        if targets.insert(t.target.get_ref(), &t.target).is_some() {
            return Err(locator.at(
                t.target.span(),
                format!(
                    "target table \"{}\" is written by two mappings",
                    t.target.get_ref()
                ),
            ));
        }
        if t.target.get_ref().starts_with("flightdeck_") {
            return Err(locator
                .at(
                    t.target.span(),
                    format!(
                        "target table \"{}\" uses the reserved prefix flightdeck_",
                        t.target.get_ref()
                    ),
                )
                .with_hint(
                    "flightdeck keeps its own tables under that prefix; choose another name",
                ));
        }
    }
    Ok(())
}

trait OrList {
    fn or_list(self, all: &[&str]) -> Self;
}

impl OrList for ProjectError {
    /// Falls back to listing every choice when no close one exists.
    fn or_list(mut self, all: &[&str]) -> Self {
        if self.hint.is_none() {
            self.hint = Some(format!("expected one of: {}", all.join(", ")));
        }
        self
    }
}

/// Parents before children: `foreign_key` references and `depends_on`.
fn foreign_key_order(
    tables: &[TableMapping],
    locator: &Locator,
) -> Result<Vec<usize>, ProjectError> {
    let index: HashMap<&str, usize> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.source.get_ref().as_str(), i))
        .collect();
    let names = || tables.iter().map(|t| t.source.get_ref().as_str());
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); tables.len()];
    for (i, t) in tables.iter().enumerate() {
        let refs = t
            .depends_on
            .iter()
            .chain(t.fields.iter().filter_map(|f| f.references.as_ref()));
        for r in refs {
            let Some(&j) = index.get(r.get_ref().as_str()) else {
                return Err(locator
                    .at(
                        r.span(),
                        format!(
                            "parent table \"{}\" is not mapped in this project",
                            r.get_ref()
                        ),
                    )
                    .with_hint_opt(hint_for(r.get_ref(), names()))
                    .or_list(&names().collect::<Vec<_>>()));
            };
            if j != i && !deps[i].contains(&j) {
                deps[i].push(j);
            }
        }
    }
    // Depth-first topological sort that keeps the file's order among equals.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let from = stack.iter().position(|&s| s == i).unwrap_or(0);
                let mut cycle = stack[from..].to_vec();
                cycle.push(i);
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks[i] = Mark::Active;
        stack.push(i);
        for &d in &deps[i] {
            visit(d, deps, marks, stack, out)?;
        }
        stack.pop();
        marks[i] = Mark::Done;
        out.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; tables.len()];
    let mut out = Vec::new();
    for i in 0..tables.len() {
        visit(i, &deps, &mut marks, &mut Vec::new(), &mut out).map_err(|cycle| {
            let path: Vec<&str> = cycle
                .iter()
                .map(|&c| tables[c].source.get_ref().as_str())
                .collect();
            locator
                .at(
                    tables[cycle[0]].source.span(),
                    format!("foreign-key cycle between tables: {}", path.join(" -> ")),
                )
                .with_hint(
                    "break it: remove one depends_on entry or foreign_key reference in the cycle",
                )
        })?;
    }
    Ok(out)
}

fn check_validations(project: &Project, compiled: &[CompiledTable]) -> Result<(), ProjectError> {
    let locator = &project.locator;
    let targets: BTreeMap<&str, &CompiledTable> =
        compiled.iter().map(|c| (c.target_table(), c)).collect();
    for v in &project.file.validations {
        let kind = v.kind.get_ref().as_str();
        if !VALIDATION_KINDS.contains(&kind) {
            return Err(locator
                .at(v.kind.span(), format!("unknown validation kind \"{kind}\""))
                .with_hint_opt(hint_for(kind, VALIDATION_KINDS.iter().copied()))
                .or_list(VALIDATION_KINDS));
        }
        let Some(table) = targets.get(v.table.get_ref().as_str()) else {
            return Err(locator
                .at(
                    v.table.span(),
                    format!(
                        "validation \"{}\" names table \"{}\", which no mapping writes",
                        v.name,
                        v.table.get_ref()
                    ),
                )
                .with_hint_opt(hint_for(v.table.get_ref(), targets.keys().copied())));
        };
        match (&v.column, kind) {
            (Some(col), _) => {
                let cols = || table.target_columns().iter().map(|c| c.name.as_str());
                if !cols().any(|c| c == col.get_ref()) {
                    return Err(locator
                        .at(
                            col.span(),
                            format!(
                                "column \"{}\" is not a target column of \"{}\"",
                                col.get_ref(),
                                table.target_table()
                            ),
                        )
                        .with_hint_opt(hint_for(col.get_ref(), cols())));
                }
            }
            (None, "sql" | "query_time") => {}
            (None, _) => {
                return Err(locator.at(
                    v.kind.span(),
                    format!("validation kind \"{kind}\" needs a column"),
                ));
            }
        }
        let missing = match kind {
            "range" if v.min.is_none() && v.max.is_none() => Some("min or max"),
            "in_set" if v.values.is_none() => Some("values"),
            "sql" | "query_time" if v.sql.is_none() => Some("sql"),
            _ => None,
        };
        if let Some(m) = missing {
            return Err(locator.at(
                v.kind.span(),
                format!("validation kind \"{kind}\" needs {m}"),
            ));
        }
    }
    Ok(())
}

/// A hash of what decides the written rows: mappings, rules, their files, the
/// source zone and key namespace. Comments and layout do not count. Returns the
/// hash and the material it covers (JSON).
fn fingerprint(text: &str, dir: &Path, file: &ProjectFile) -> (String, String) {
    let mut doc: toml::Table = toml::from_str(text).unwrap_or_default();
    let mut material = toml::Table::new();
    for key in ["tables", "source"] {
        if let Some(v) = doc.remove(key) {
            material.insert(key.into(), v);
        }
    }
    if let Some(ns) = doc.get("project").and_then(|p| p.get("key_namespace")) {
        material.insert("key_namespace".into(), ns.clone());
    }
    if let Some(src) = material.get_mut("source").and_then(|s| s.as_table_mut()) {
        // The URL may carry a password and may move; the data it names does not.
        src.remove("url");
        src.remove("name");
    }
    let mut canonical = toml::to_string(&material).unwrap_or_default();
    let mut files = serde_json::Map::new();
    for f in file.tables.iter().flat_map(|t| &t.fields) {
        for p in [&f.lookup, &f.dictionary].into_iter().flatten() {
            if let Ok(content) = std::fs::read(dir.join(p.get_ref())) {
                let text = String::from_utf8_lossy(&content);
                canonical.push_str(&text);
                let hash = Uuid::new_v5(&Uuid::NAMESPACE_OID, text.as_bytes()).to_string();
                files.insert(p.get_ref().clone(), hash.into());
            }
        }
    }
    let mut json = serde_json::to_value(&material).unwrap_or_default();
    if let Some(obj) = json.as_object_mut() {
        obj.insert("files".into(), files.into());
    }
    (
        Uuid::new_v5(&Uuid::NAMESPACE_OID, canonical.as_bytes()).to_string(),
        json.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_expansion_reports_the_unset_variable() {
        let env = |n: &str| (n == "PW").then(|| "x".to_string());
        assert_eq!(expand_env("a${PW}b", &env).unwrap(), "axb");
        assert_eq!(expand_env("${NOPE}", &env).unwrap_err(), "NOPE");
        assert_eq!(expand_env("plain", &env).unwrap(), "plain");
    }
}
