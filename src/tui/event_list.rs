//! The Event log view's state: records newest first, a filter, a selection, and
//! the throttle that keeps reloads from hammering the target.

use std::time::{Duration, Instant};

use crate::eventlog::EventRecord;

/// At most one reload of the event log per this interval.
pub const RELOAD_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventList {
    /// Newest first.
    pub records: Vec<EventRecord>,
    /// Indices into `records` that pass the filter.
    pub visible: Vec<usize>,
    /// Position in `visible`.
    pub selected: usize,
    pub filter: String,
    pub loading: bool,
    /// Something was logged since the last load.
    pub stale: bool,
    pub last_load: Option<Instant>,
    pub loaded_once: bool,
    pub error: Option<String>,
}

impl EventList {
    /// Whether a reload may start now; otherwise it is remembered as stale.
    pub fn begin_reload(&mut self, now: Option<Instant>) -> bool {
        let too_soon = match (self.last_load, now) {
            (Some(last), Some(now)) => now.saturating_duration_since(last) < RELOAD_EVERY,
            _ => false,
        };
        if self.loading || too_soon {
            self.stale = true;
            return false;
        }
        self.loading = true;
        self.stale = false;
        self.last_load = now.or(self.last_load);
        true
    }

    pub fn loaded(&mut self, result: Result<Vec<EventRecord>, String>) {
        self.loading = false;
        match result {
            Ok(mut records) => {
                let keep = self.selected_record().map(|r| r.id);
                records.sort_by_key(|r| std::cmp::Reverse(r.id));
                self.records = records;
                self.error = None;
                self.loaded_once = true;
                self.refilter();
                // Keep the operator's place when new events arrive on top.
                if let Some(id) = keep
                    && let Some(pos) = self.visible.iter().position(|&i| self.records[i].id == id)
                {
                    self.selected = pos;
                }
            }
            Err(e) => self.error = Some(e),
        }
    }

    pub fn refilter(&mut self) {
        let needle = self.filter.to_lowercase();
        self.visible = self
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                needle.is_empty()
                    || r.summary.to_lowercase().contains(&needle)
                    || r.kind.to_lowercase().contains(&needle)
                    || r.table
                        .as_deref()
                        .is_some_and(|t| t.to_lowercase().contains(&needle))
            })
            .map(|(i, _)| i)
            .collect();
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
    }

    pub fn selected_record(&self) -> Option<&EventRecord> {
        self.visible
            .get(self.selected)
            .and_then(|&i| self.records.get(i))
    }

    pub fn move_by(&mut self, delta: isize) {
        let last = self.visible.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }
}
