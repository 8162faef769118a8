// LEAD STUB: replaced by the real generator on merge.
use std::path::{Path, PathBuf};

pub const SAMPLES: &[&str] = &["ai-research"];

pub struct SampleOptions {
    pub rows: u64,
    pub seed: u64,
    pub force: bool,
}

pub struct SampleSummary {
    pub project_file: PathBuf,
    pub tables: Vec<(String, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("not yet")]
    NotYet,
}

pub async fn install(
    _name: &str,
    _into: &Path,
    _opts: &SampleOptions,
) -> Result<SampleSummary, SampleError> {
    Err(SampleError::NotYet)
}
