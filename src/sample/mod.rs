//! The bundled sample projects (SPEC §12): their files, embedded in the binary,
//! and a deterministic generator of the dirty legacy database they migrate.

mod dirt;
mod legacy;
mod rng;
mod server;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::db::DbError;

pub use server::{copy_tables, install_on_server};

/// The samples `install` knows.
pub const SAMPLES: &[&str] = &["ai-research", "ai-research-mysql"];

const PROJECT_TOML: &str = include_str!("../../sample-projects/ai-research/project.toml");
const OWNERS_CSV: &str = include_str!("../../sample-projects/ai-research/owners.csv");
const ALGORITHMS_TOML: &str = include_str!("../../sample-projects/ai-research/algorithms.toml");

/// Files of the ai-research sample, as (name in the project folder, contents).
const AI_RESEARCH_FILES: &[(&str, &str)] = &[
    ("project.toml", PROJECT_TOML),
    ("owners.csv", OWNERS_CSV),
    ("algorithms.toml", ALGORITHMS_TOML),
];

/// Files of ai-research-mysql (MariaDB legacy → PostgreSQL platform); its
/// legacy data goes into a server, see [`install_on_server`].
const AI_RESEARCH_MYSQL_FILES: &[(&str, &str)] = &[
    (
        "project.toml",
        include_str!("../../sample-projects/ai-research-mysql/project.toml"),
    ),
    ("owners.csv", OWNERS_CSV),
    ("algorithms.toml", ALGORITHMS_TOML),
];

/// The project file name inside a sample folder.
pub const PROJECT_FILE: &str = "project.toml";
/// The generated source database inside a sample folder.
pub const LEGACY_DB: &str = "legacy.db";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleOptions {
    /// Rows of the legacy `models` table; the other tables scale from it.
    pub rows: u64,
    pub seed: u64,
    /// Overwrite an existing project file or legacy database.
    pub force: bool,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            rows: 5_000,
            seed: 42,
            force: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleSummary {
    /// The project file to open (for `generate_legacy`: `project.toml` beside the
    /// database, whether or not it exists).
    pub project_file: PathBuf,
    /// Legacy tables in the order they were written, with their row counts.
    pub tables: Vec<(String, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("unknown sample \"{name}\" (available: {}){}", SAMPLES.join(", "), hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    UnknownSample { name: String, hint: Option<String> },
    #[error("{} already exists; use --force to overwrite it", path.display())]
    TargetExists { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl SampleError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SampleError + '_ {
        move |source| SampleError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn sample_files(name: &str) -> Result<&'static [(&'static str, &'static str)], SampleError> {
    match name {
        "ai-research" => Ok(AI_RESEARCH_FILES),
        "ai-research-mysql" => Ok(AI_RESEARCH_MYSQL_FILES),
        _ => Err(SampleError::UnknownSample {
            name: name.to_string(),
            hint: crate::project::error::hint_for(name, SAMPLES.iter().copied()),
        }),
    }
}

/// Writes the sample's project files into `into` (created if missing) and
/// generates `into/legacy.db`. Refuses to overwrite `project.toml` or `legacy.db`
/// unless `opts.force`; on failure removes everything it created.
pub async fn install(
    name: &str,
    into: &Path,
    opts: &SampleOptions,
) -> Result<SampleSummary, SampleError> {
    install_with(name, into, opts, |db_file, opts| async move {
        generate_legacy(&db_file, &opts).await
    })
    .await
}

/// Generates the legacy AI-research database at `db_file` (which must not exist
/// unless `opts.force`). Same seed and rows, same content.
pub async fn generate_legacy(
    db_file: &Path,
    opts: &SampleOptions,
) -> Result<SampleSummary, SampleError> {
    legacy::generate(db_file, opts).await
}

/// `install` with the database step injectable, so tests can make it fail.
async fn install_with<G, F>(
    name: &str,
    into: &Path,
    opts: &SampleOptions,
    generate: G,
) -> Result<SampleSummary, SampleError>
where
    G: FnOnce(PathBuf, SampleOptions) -> F,
    F: Future<Output = Result<SampleSummary, SampleError>>,
{
    let files = sample_files(name)?;
    let project_file = into.join(PROJECT_FILE);
    let db_file = into.join(LEGACY_DB);
    if !opts.force {
        for path in [&project_file, &db_file] {
            if path.exists() {
                return Err(SampleError::TargetExists { path: path.clone() });
            }
        }
    }
    // The outermost folder this call creates: removing it undoes all of them.
    let created_root = into
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .last()
        .map(Path::to_path_buf);
    std::fs::create_dir_all(into).map_err(SampleError::io(into))?;

    let mut new_files = Vec::new();
    let result = async {
        for (file, text) in files {
            let path = into.join(file);
            if !path.exists() {
                new_files.push(path.clone());
            }
            std::fs::write(&path, text).map_err(SampleError::io(&path))?;
        }
        let mut summary = generate(db_file.clone(), *opts).await?;
        summary.project_file = project_file.clone();
        Ok(summary)
    }
    .await;

    if result.is_err() {
        // Best effort: the original error matters more than a failed cleanup.
        match &created_root {
            Some(root) => {
                let _ = std::fs::remove_dir_all(root);
            }
            None => {
                for f in &new_files {
                    let _ = std::fs::remove_file(f);
                }
                let _ = legacy::remove_sqlite_files(&db_file);
            }
        }
    }
    result
}
