//! The rollback popup's state: planning, confirmation, progress, outcome.

use super::RollbackUpdate;
use super::app::{App, Cmd, Layer, View};
use super::keymap::Action;
use super::run_model::{AlertLevel, RunModel};
use crate::eventlog::rollback::{RollbackPlan, RollbackProgress};

#[derive(Debug, Clone, PartialEq)]
pub enum RollbackStage {
    /// Waiting for the plan; `to` is the chosen event, `None` the whole latest run.
    Planning {
        to: Option<i64>,
    },
    /// Shown to the operator, who answers y/n.
    Confirming(RollbackPlan),
    Running {
        plan: RollbackPlan,
        done: usize,
        total: usize,
        /// The last step undone, in the log's words.
        last: Option<String>,
    },
    Finished {
        undone: usize,
        to: Option<i64>,
    },
    Failed(String),
}

impl RollbackStage {
    /// Waiting on the database: another rollback must not start.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            RollbackStage::Planning { .. } | RollbackStage::Running { .. }
        )
    }

    pub fn is_running(&self) -> bool {
        matches!(self, RollbackStage::Running { .. })
    }
}

/// The rollback half of `App::update`.
impl App {
    /// Asks for the plan of a rollback; the confirmation opens when it comes.
    pub(super) fn request_rollback(&mut self, to: Option<i64>) -> Vec<Cmd> {
        if self.read_only {
            self.notice = Some(format!(
                "read-only: {} is disabled",
                Action::Rollback.name()
            ));
            return Vec::new();
        }
        if self.run.is_live() {
            self.notice = Some(
                "cannot roll back while a run is live: it holds the target; let it finish or stop it first"
                    .into(),
            );
            return Vec::new();
        }
        if self.rollback.as_ref().is_some_and(RollbackStage::is_busy) {
            self.notice = Some("a rollback is already under way".into());
            return Vec::new();
        }
        if self.view != View::EventLog {
            self.notice = Some("roll back from the Event log view".into());
            return Vec::new();
        }
        self.notice = None;
        self.rollback = Some(RollbackStage::Planning { to });
        self.layers.push(Layer::Rollback { scroll: 0 });
        vec![Cmd::PlanRollback { to }]
    }

    pub(super) fn rollback_planned(&mut self, result: Result<RollbackPlan, String>) {
        // Closed while planning: the operator no longer wants it.
        if !matches!(self.rollback, Some(RollbackStage::Planning { .. })) {
            return;
        }
        match result {
            Ok(plan) => self.rollback = Some(RollbackStage::Confirming(plan)),
            Err(e) => {
                self.run
                    .alert(AlertLevel::Failure, format!("rollback refused: {e}"));
                self.rollback = Some(RollbackStage::Failed(e));
            }
        }
    }

    pub(super) fn on_rollback_key(&mut self, action: Option<Action>, scroll: usize) -> Vec<Cmd> {
        let Some(stage) = self.rollback.clone() else {
            self.layers.pop();
            return Vec::new();
        };
        match (stage, action) {
            (_, Some(Action::Down)) => self.set_top(Layer::Rollback { scroll: scroll + 1 }),
            (_, Some(Action::Up)) => self.set_top(Layer::Rollback {
                scroll: scroll.saturating_sub(1),
            }),
            (RollbackStage::Confirming(plan), Some(Action::Confirm)) if !plan.is_empty() => {
                let total = plan.steps.len();
                self.rollback = Some(RollbackStage::Running {
                    plan: plan.clone(),
                    done: 0,
                    total,
                    last: None,
                });
                return vec![Cmd::StartRollback(plan)];
            }
            (RollbackStage::Confirming(plan), Some(Action::Back | Action::Quit)) => {
                self.close_rollback();
                if !plan.is_empty() {
                    self.notice = Some("rollback cancelled: nothing was undone".into());
                }
            }
            (RollbackStage::Running { .. }, Some(Action::Quit)) if !self.stopping => {
                self.layers.push(Layer::ConfirmQuit);
            }
            (RollbackStage::Running { .. }, Some(_)) if !self.stopping => {
                let quit = self.keymap.label(Action::Quit);
                self.notice = Some(format!(
                    "the rollback is under way; it ends on its own ({quit} stops it after the step under way)"
                ));
            }
            (
                RollbackStage::Planning { .. }
                | RollbackStage::Finished { .. }
                | RollbackStage::Failed(_)
                | RollbackStage::Confirming(_),
                Some(Action::Back | Action::Open | Action::Confirm),
            ) => self.close_rollback(),
            (RollbackStage::Finished { .. } | RollbackStage::Failed(_), Some(Action::Quit)) => {
                self.close_rollback();
                return self.act(Action::Quit);
            }
            _ => {}
        }
        Vec::new()
    }

    fn close_rollback(&mut self) {
        self.rollback = None;
        if matches!(self.layers.last(), Some(Layer::Rollback { .. })) {
            self.layers.pop();
        }
    }

    pub(super) fn on_rollback_update(&mut self, update: RollbackUpdate) -> Vec<Cmd> {
        let Some(RollbackStage::Running {
            plan,
            done,
            total,
            last,
        }) = self.rollback.as_mut()
        else {
            return Vec::new();
        };
        match update {
            RollbackUpdate::Progress(RollbackProgress::Started { steps, .. }) => *total = steps,
            RollbackUpdate::Progress(RollbackProgress::Step {
                done: d,
                total: t,
                summary,
                ..
            }) => {
                *done = d;
                *total = t;
                *last = Some(summary);
            }
            RollbackUpdate::Progress(RollbackProgress::Finished { undone }) => {
                let to = plan.to;
                self.rollback = Some(RollbackStage::Finished { undone, to });
                // The run's counts describe rows that are gone now; a new run may start.
                let alerts = std::mem::take(&mut self.run.alerts);
                self.run = RunModel {
                    alerts,
                    ..RunModel::default()
                };
                let text = match to {
                    None => format!("rolled back: {undone} steps undone"),
                    Some(id) => format!("rolled back to event {id}: {undone} steps undone"),
                };
                self.run.alert(AlertLevel::Info, text);
                self.checks.clear_post();
                return self.reload_events();
            }
            RollbackUpdate::Failed(e) => return self.rollback_failed(e),
        }
        Vec::new()
    }

    pub(super) fn rollback_failed(&mut self, error: String) -> Vec<Cmd> {
        self.run
            .alert(AlertLevel::Failure, format!("rollback failed: {error}"));
        self.rollback = Some(RollbackStage::Failed(error));
        // Steps already undone are in the log.
        self.reload_events()
    }

    pub(super) fn reload_events(&mut self) -> Vec<Cmd> {
        if self.events.begin_reload(self.now) {
            vec![Cmd::LoadEvents]
        } else {
            Vec::new()
        }
    }
}
