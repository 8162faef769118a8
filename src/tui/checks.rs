//! The Validation view's state: pre-migration checks on the source and
//! post-migration checks on the target, a filter and a selection.

use super::run_model::thousands;
use crate::validate::{CheckResult, CheckStatus, Phase};

/// The checks of one phase: not run yet, running, or their results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhaseChecks {
    pub running: bool,
    /// `None` until the checks of this phase have come back once.
    pub results: Option<Vec<CheckResult>>,
    pub error: Option<String>,
}

impl PhaseChecks {
    pub fn count(&self, status: CheckStatus) -> usize {
        self.results
            .iter()
            .flatten()
            .filter(|c| c.status == status)
            .count()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckList {
    pub pre: PhaseChecks,
    pub post: PhaseChecks,
    /// Checks that pass the filter: post-migration first (the newest), then pre.
    pub visible: Vec<(Phase, usize)>,
    /// Position in `visible`.
    pub selected: usize,
    pub filter: String,
}

impl CheckList {
    pub fn phase(&self, phase: Phase) -> &PhaseChecks {
        match phase {
            Phase::Pre => &self.pre,
            Phase::Post => &self.post,
        }
    }

    pub fn phase_mut(&mut self, phase: Phase) -> &mut PhaseChecks {
        match phase {
            Phase::Pre => &mut self.pre,
            Phase::Post => &mut self.post,
        }
    }

    /// Whether checks of `phase` may start: not while they are already running.
    pub fn begin(&mut self, phase: Phase) -> bool {
        let checks = self.phase_mut(phase);
        if checks.running {
            return false;
        }
        checks.running = true;
        true
    }

    pub fn finished(&mut self, phase: Phase, result: Result<Vec<CheckResult>, String>) {
        let checks = self.phase_mut(phase);
        checks.running = false;
        match result {
            Ok(results) => {
                checks.results = Some(results);
                checks.error = None;
            }
            Err(e) => checks.error = Some(e),
        }
        self.refilter();
    }

    /// Forgets the post-migration results (the run they checked was rolled back).
    pub fn clear_post(&mut self) {
        self.post = PhaseChecks::default();
        self.refilter();
    }

    pub fn get(&self, phase: Phase, index: usize) -> Option<&CheckResult> {
        self.phase(phase).results.as_ref()?.get(index)
    }

    pub fn refilter(&mut self) {
        let needle = self.filter.to_lowercase();
        let matches = |c: &CheckResult| {
            needle.is_empty()
                || c.name.to_lowercase().contains(&needle)
                || c.message.to_lowercase().contains(&needle)
                || status_label(c.status).to_lowercase().contains(&needle)
                || c.table
                    .as_deref()
                    .is_some_and(|t| t.to_lowercase().contains(&needle))
        };
        self.visible = [Phase::Post, Phase::Pre]
            .into_iter()
            .flat_map(|phase| {
                self.phase(phase)
                    .results
                    .iter()
                    .flatten()
                    .enumerate()
                    .filter(|(_, c)| matches(c))
                    .map(move |(i, _)| (phase, i))
            })
            .collect();
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
    }

    pub fn selected_check(&self) -> Option<(Phase, usize)> {
        self.visible.get(self.selected).copied()
    }

    pub fn move_by(&mut self, delta: isize) {
        let last = self.visible.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }
}

/// The status as the list shows it; stays readable without colour.
pub fn status_label(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Passed => "ok",
        CheckStatus::Warning => "warn",
        CheckStatus::Skipped => "skip",
        CheckStatus::Failed => "FAIL",
    }
}

pub fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Pre => "pre",
        Phase::Post => "post",
    }
}

/// The check's name without the table it is already filed under.
pub fn short_name(check: &CheckResult) -> &str {
    check
        .table
        .as_deref()
        .and_then(|t| check.name.strip_prefix(t))
        .and_then(|rest| rest.strip_prefix(": "))
        .unwrap_or(&check.name)
}

/// "offending 3 · rows 400 · elapsed ms 12": by name, the check's own time
/// last, so a narrow column keeps what it found.
pub fn counts_text(check: &CheckResult) -> String {
    let (time, found): (Vec<_>, Vec<_>) = check
        .counts
        .iter()
        .partition(|(k, _)| k.as_str() == "elapsed_ms");
    found
        .into_iter()
        .chain(time)
        .map(|(k, v)| {
            let n = u64::try_from(*v).map_or_else(|_| v.to_string(), thousands);
            format!("{} {n}", k.replace('_', " "))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_text_puts_the_elapsed_time_last() {
        let check = CheckResult {
            name: "t: key uniqueness".into(),
            phase: Phase::Post,
            table: Some("t".into()),
            status: CheckStatus::Passed,
            message: String::new(),
            counts: [("elapsed_ms", 1250), ("offending", 0), ("rows", 4000)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            sql: vec![],
            examples: vec![],
        };
        assert_eq!(
            counts_text(&check),
            "offending 0 · rows 4,000 · elapsed ms 1,250"
        );
    }
}
