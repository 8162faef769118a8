//! The Profile view's state: which profiled table and column are selected, and
//! whether keys move in the table list or in the columns.

use super::app::App;
use super::run_model::RunModel;
use crate::profile::TableProfileSnapshot;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProfileFocus {
    #[default]
    Tables,
    Columns,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileView {
    /// By name, so the selection stays put when other tables get their first profile.
    pub table: Option<String>,
    pub column: usize,
    pub focus: ProfileFocus,
}

/// Profiled target tables in load order; any the plan does not name come last.
pub fn profiled_tables(run: &RunModel) -> Vec<&str> {
    let mut names: Vec<&str> = run
        .tables
        .iter()
        .map(|t| t.target.as_str())
        .filter(|t| run.profiles.contains_key(*t))
        .collect();
    let mut extra: Vec<&str> = run
        .profiles
        .keys()
        .map(String::as_str)
        .filter(|t| !names.contains(t))
        .collect();
    extra.sort_unstable();
    names.extend(extra);
    names
}

impl ProfileView {
    /// Position of the selected table in `tables` ([`profiled_tables`]); until
    /// the operator picks one, the table being loaded (its profile moves).
    pub fn table_index(&self, run: &RunModel, tables: &[&str]) -> usize {
        let loading = run
            .current_table
            .and_then(|i| run.tables.get(i))
            .map(|t| t.target.as_str());
        self.table
            .as_deref()
            .or(loading)
            .and_then(|t| tables.iter().position(|n| *n == t))
            .unwrap_or(0)
    }

    pub fn snapshot<'a>(&self, run: &'a RunModel) -> Option<&'a TableProfileSnapshot> {
        let tables = profiled_tables(run);
        let name = tables.get(self.table_index(run, &tables))?;
        run.profiles.get(*name)
    }

    /// The selected column, kept within the table's columns.
    pub fn column_index(&self, snapshot: &TableProfileSnapshot) -> usize {
        self.column.min(snapshot.columns.len().saturating_sub(1))
    }

    pub fn move_by(&mut self, run: &RunModel, delta: isize) {
        let tables = profiled_tables(run);
        match self.focus {
            ProfileFocus::Tables => {
                let last = tables.len().saturating_sub(1);
                let i = self
                    .table_index(run, &tables)
                    .saturating_add_signed(delta)
                    .min(last);
                self.table = tables.get(i).map(|t| t.to_string());
                self.column = 0;
            }
            ProfileFocus::Columns => {
                let columns = self.snapshot(run).map_or(0, |s| s.columns.len());
                self.column = self
                    .column
                    .min(columns.saturating_sub(1))
                    .saturating_add_signed(delta)
                    .min(columns.saturating_sub(1));
            }
        }
    }
}

impl App {
    /// Down/Up/PgDn/PgUp in the Profile view; a page always moves in the columns.
    pub(super) fn profile_move(&mut self, delta: isize, page: bool) {
        let focus = self.profile.focus;
        if page {
            self.profile.focus = ProfileFocus::Columns;
        }
        self.profile.move_by(&self.run, delta);
        self.profile.focus = focus;
    }
}
