//! What the cockpit knows about the run, folded from the pipeline's events.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::pipeline::{RunEvent, RunState, RunSummary, SampleRow, TablePlan, TableProgress};
use crate::timeline::RunProgress;

/// How many throughput samples the sparkline keeps.
pub const THROUGHPUT_HISTORY: usize = 240;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertLevel {
    Info,
    Warning,
    Failure,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub level: AlertLevel,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunModel {
    pub state: RunState,
    /// A run was asked for and has not ended yet.
    pub requested: bool,
    pub ended: bool,
    pub tables: Vec<TablePlan>,
    pub progress: Vec<TableProgress>,
    pub finished: Vec<bool>,
    pub current_table: Option<usize>,
    pub rows_per_s: f64,
    /// Smoothed rate for the ETA, so one slow batch does not make it jump.
    pub smoothed_rate: f64,
    pub batch_size: usize,
    pub throughput: VecDeque<u64>,
    pub started_at: Option<Instant>,
    pub ended_at: Option<Instant>,
    /// Latest before/after row per source table.
    pub samples: HashMap<String, SampleRow>,
    pub alerts: Vec<Alert>,
    pub summary: Option<RunSummary>,
    pub pause_requested: bool,
    pub resume_requested: bool,
    /// Latest live profile per target table.
    pub profiles: HashMap<String, crate::profile::TableProfileSnapshot>,
    /// The recommendation queue as the pipeline last scored it.
    pub recommendations: Vec<crate::recommend::Recommendation>,
}

impl Default for RunModel {
    fn default() -> Self {
        RunModel {
            state: RunState::Ready,
            requested: false,
            ended: false,
            tables: Vec::new(),
            progress: Vec::new(),
            finished: Vec::new(),
            current_table: None,
            rows_per_s: 0.0,
            smoothed_rate: 0.0,
            batch_size: 0,
            throughput: VecDeque::with_capacity(THROUGHPUT_HISTORY),
            started_at: None,
            ended_at: None,
            samples: HashMap::new(),
            alerts: Vec::new(),
            summary: None,
            pause_requested: false,
            resume_requested: false,
            profiles: HashMap::new(),
            recommendations: Vec::new(),
        }
    }
}

const PAUSED_ALERT: &str = "paused by operator";

impl RunModel {
    pub fn is_live(&self) -> bool {
        self.requested && !self.ended
    }

    pub fn timeline_progress(&self) -> RunProgress {
        match self.state {
            RunState::Completed => RunProgress::Completed,
            _ if self.is_live() => RunProgress::Live,
            _ => RunProgress::NotStarted,
        }
    }

    /// Rows in all source tables; `None` while one is still being counted.
    pub fn total_rows(&self) -> Option<u64> {
        self.tables.iter().map(|t| t.source_rows).sum()
    }

    pub fn rows_read(&self) -> u64 {
        self.progress.iter().map(|p| p.read).sum()
    }

    pub fn rows_quarantined(&self) -> u64 {
        self.progress.iter().map(|p| p.quarantined).sum()
    }

    pub fn elapsed(&self, now: Option<Instant>) -> Option<Duration> {
        let start = self.started_at?;
        let end = self.ended_at.or(now)?;
        Some(end.saturating_duration_since(start))
    }

    /// Time left at the smoothed rate; `None` when there is no rate to go by.
    pub fn eta(&self) -> Option<Duration> {
        if !self.is_live() || self.smoothed_rate < 0.5 {
            return None;
        }
        let left = self.total_rows()?.saturating_sub(self.rows_read());
        Some(Duration::from_secs_f64(left as f64 / self.smoothed_rate))
    }

    pub fn alert(&mut self, level: AlertLevel, text: impl Into<String>) {
        self.alerts.push(Alert {
            level,
            text: text.into(),
        });
    }

    /// Folds one pipeline event in; `now` is the cockpit's latest clock reading.
    pub fn apply(&mut self, event: RunEvent, now: Option<Instant>) {
        match event {
            RunEvent::Started {
                tables, resumed, ..
            } => {
                self.requested = true;
                self.ended = false;
                self.state = RunState::Running;
                self.progress = tables
                    .iter()
                    .map(|t| TableProgress {
                        read: t.already_read,
                        ..TableProgress::default()
                    })
                    .collect();
                self.finished = vec![false; tables.len()];
                let already: u64 = tables.iter().map(|t| t.already_read).sum();
                self.tables = tables;
                self.started_at = now;
                self.ended_at = None;
                self.summary = None;
                match resumed.as_deref() {
                    None => {}
                    Some("completed") => self.alert(
                        AlertLevel::Info,
                        format!(
                            "the run completed before: reading the source rows added since ({} rows already done)",
                            thousands(already)
                        ),
                    ),
                    Some(status) => self.alert(
                        AlertLevel::Info,
                        format!(
                            "resumed from checkpoint (the run {}): {} rows already done",
                            crate::pipeline::how_it_ended(status),
                            thousands(already)
                        ),
                    ),
                }
            }
            RunEvent::TableStarted { table } => self.current_table = Some(table),
            RunEvent::Counted {
                table,
                source_rows,
                estimated,
            } => {
                if let Some(plan) = self.tables.get_mut(table) {
                    plan.source_rows = Some(source_rows);
                    plan.estimated = estimated;
                }
            }
            RunEvent::Progress {
                table,
                progress,
                batch_size,
                rows_per_s,
                sample,
            } => {
                if let Some(slot) = self.progress.get_mut(table) {
                    *slot = progress;
                }
                self.current_table = Some(table);
                self.batch_size = batch_size;
                self.rows_per_s = rows_per_s.max(0.0);
                self.smoothed_rate = if self.smoothed_rate == 0.0 {
                    self.rows_per_s
                } else {
                    0.7 * self.smoothed_rate + 0.3 * self.rows_per_s
                };
                if self.throughput.len() == THROUGHPUT_HISTORY {
                    self.throughput.pop_front();
                }
                self.throughput.push_back(self.rows_per_s.round() as u64);
                if let (Some(sample), Some(plan)) = (sample, self.tables.get(table)) {
                    self.samples.insert(plan.source.clone(), sample);
                }
            }
            RunEvent::TableFinished { table, progress } => {
                // A table that went by the catalog's estimate is counted now:
                // every row it had was read.
                if let Some(plan) = self.tables.get_mut(table)
                    && plan.estimated
                {
                    plan.source_rows = Some(progress.read);
                    plan.estimated = false;
                }
                if let Some(slot) = self.progress.get_mut(table) {
                    *slot = progress;
                }
                if let Some(done) = self.finished.get_mut(table) {
                    *done = true;
                }
            }
            RunEvent::Logged { .. } => {}
            RunEvent::Profiled(snapshot) => {
                self.profiles.insert(snapshot.table.clone(), snapshot);
            }
            RunEvent::Recommendations(queue) => self.recommendations = queue,
            RunEvent::RecommendationAlert(a) => {
                self.alert(
                    AlertLevel::Warning,
                    format!("recommendation {}: {}", a.id, a.message),
                );
            }
            RunEvent::StateChanged(state) => self.change_state(state),
            RunEvent::Finished(summary) => {
                self.end(now);
                let status = summary.status.clone();
                let written: u64 = summary.tables.iter().map(|t| t.written).sum();
                let quarantined: u64 = summary.tables.iter().map(|t| t.quarantined).sum();
                match status {
                    RunState::Cancelled => self.alert(
                        AlertLevel::Warning,
                        "run stopped at a batch boundary; reopening resumes from its checkpoint",
                    ),
                    RunState::Failed => self.alert(AlertLevel::Failure, "run failed"),
                    _ => self.alert(
                        AlertLevel::Info,
                        format!(
                            "run completed: {} rows written, {} quarantined",
                            thousands(written),
                            thousands(quarantined)
                        ),
                    ),
                }
                self.state = status;
                self.summary = Some(summary);
            }
            RunEvent::Failed { error } => {
                self.end(now);
                self.state = RunState::Failed;
                self.alert(AlertLevel::Failure, format!("run failed: {error}"));
            }
        }
    }

    fn change_state(&mut self, state: RunState) {
        match state {
            RunState::Paused => {
                // Nothing flows while paused; the last interval's rate would mislead.
                self.rows_per_s = 0.0;
                let text = if self.pause_requested {
                    PAUSED_ALERT
                } else {
                    "paused by the pipeline"
                };
                self.alert(AlertLevel::Warning, text);
            }
            RunState::Running if self.state == RunState::Paused => {
                self.alerts
                    .retain(|a| a.text != PAUSED_ALERT && a.text != "paused by the pipeline");
            }
            _ => {}
        }
        self.pause_requested = false;
        self.resume_requested = false;
        self.state = state;
    }

    fn end(&mut self, now: Option<Instant>) {
        self.ended = true;
        self.ended_at = now;
        self.rows_per_s = 0.0;
        self.pause_requested = false;
        self.resume_requested = false;
    }

    /// The event channel closed; if no Finished/Failed came first, say so.
    pub fn channel_closed(&mut self, now: Option<Instant>) {
        if self.requested && !self.ended {
            self.end(now);
            if matches!(self.state, RunState::Running | RunState::Paused) {
                self.state = RunState::Failed;
                self.alert(
                    AlertLevel::Failure,
                    "the pipeline stopped without a summary",
                );
            }
        }
    }
}

pub use crate::recommend::thousands;

/// 3725 s → "1:02:05"; under an hour "02:05".
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn clock_formats() {
        assert_eq!(clock(Duration::from_secs(65)), "01:05");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
    }
}
