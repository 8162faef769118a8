//! The Recommendations view's state and its keys: the queue in score order,
//! the selection, and decisions shown at once while they travel to the pipeline.

use std::collections::HashMap;

use super::app::{App, Cmd, Layer, View};
use super::keymap::Action;
use crate::pipeline::RunState;
use crate::recommend::{Decision, Recommendation, RecommendationState};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecsView {
    /// By id, so the selection follows a recommendation as its score moves.
    pub selected: Option<String>,
    /// Decisions sent but not yet seen in a queue from the pipeline; they
    /// override the (older) state a queue already in flight carries.
    pub sent: HashMap<String, RecommendationState>,
    /// A decision taken after the run, on its way to the target: the
    /// recommendation as it was before, restored if the decision fails.
    pub after_run: Option<Recommendation>,
    /// The completed run whose queue is shown, read when the cockpit opened
    /// (no run started since): decisions go to it.
    pub completed_run: Option<uuid::Uuid>,
}

/// The queue by score: confidence first, then the cheaper change (the benefit
/// is a phrase, the cost is counted in rows), then id for a stable order.
pub fn queue(recs: &[Recommendation]) -> Vec<&Recommendation> {
    let mut v: Vec<&Recommendation> = recs.iter().collect();
    v.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.cost_rows.cmp(&b.cost_rows))
            .then_with(|| a.id.cmp(&b.id))
    });
    v
}

fn decided(decision: Decision) -> RecommendationState {
    match decision {
        Decision::Accept => RecommendationState::Accepted,
        Decision::Reject => RecommendationState::Rejected,
        Decision::Defer => RecommendationState::Deferred,
    }
}

impl RecsView {
    /// Position of the selection in `queue`; the top when nothing is selected.
    pub fn index(&self, queue: &[&Recommendation]) -> usize {
        self.selected
            .as_deref()
            .and_then(|id| queue.iter().position(|r| r.id == id))
            .unwrap_or(0)
    }

    pub fn move_by(&mut self, recs: &[Recommendation], delta: isize) {
        let queue = queue(recs);
        let last = queue.len().saturating_sub(1);
        let i = self.index(&queue).saturating_add_signed(delta).min(last);
        self.selected = queue.get(i).map(|r| r.id.clone());
    }

    /// A new queue from the pipeline: decisions it already reflects are done;
    /// the others still show as sent. Applied and withdrawn are final.
    pub fn reconcile(&mut self, recs: &mut [Recommendation]) {
        self.sent.retain(|id, state| {
            let Some(r) = recs.iter_mut().find(|r| r.id == *id) else {
                return false;
            };
            if r.state == *state
                || matches!(
                    r.state,
                    RecommendationState::Applied | RecommendationState::Withdrawn
                )
            {
                return false;
            }
            r.state = *state;
            true
        });
    }
}

impl App {
    /// The recommendation under the cursor, or shown in the detail popup.
    pub fn selected_recommendation(&self) -> Option<&Recommendation> {
        if let Some(Layer::Recommendation { id, .. }) = self.layers.last() {
            return self.run.recommendations.iter().find(|r| r.id == *id);
        }
        let queue = queue(&self.run.recommendations);
        queue.get(self.recs.index(&queue)).copied()
    }

    /// Accept, reject or defer the selected recommendation: shown at once,
    /// sent to the pipeline, which applies it at the next batch boundary.
    pub(super) fn decide(&mut self, action: Action) -> Vec<Cmd> {
        let decision = match action {
            Action::Accept => Decision::Accept,
            Action::Reject => Decision::Reject,
            _ => Decision::Defer,
        };
        let on_recs = self.view == View::Recommendations
            || matches!(self.layers.last(), Some(Layer::Recommendation { .. }));
        if !on_recs {
            self.notice = Some(format!(
                "{} works in the Recommendations view",
                action.name()
            ));
            return Vec::new();
        }
        let Some(r) = self.selected_recommendation() else {
            self.notice = Some("no recommendation selected".into());
            return Vec::new();
        };
        let before = r.clone();
        let (id, state) = (r.id.clone(), r.state);
        let refusal = match state {
            RecommendationState::Applied => {
                Some("already applied: undo it with a rollback from the Event log")
            }
            RecommendationState::Withdrawn => Some("withdrawn: later data contradicts it"),
            _ if self.recs.after_run.is_some() => {
                Some("the decision before this one is still being applied")
            }
            _ if !self.run.is_live() && !self.decides_after_run() => {
                Some("no run is live: decisions reach a running load or a completed run")
            }
            _ => None,
        };
        if let Some(why) = refusal {
            self.notice = Some(format!("{} refused: {why}", action.name()));
            return Vec::new();
        }
        let new_state = decided(decision);
        if let Some(r) = self.run.recommendations.iter_mut().find(|r| r.id == id) {
            r.state = new_state;
            r.decided_by = Some("operator".into());
        }
        if !self.run.is_live() {
            self.recs.after_run = Some(before);
            self.notice = Some(match decision {
                Decision::Accept => format!("accepted {id}: applying it to the target…"),
                _ => format!("{} {id}: recording it…", new_state.word()),
            });
            return vec![Cmd::DecideAfterRun { id, decision }];
        }
        self.recs.sent.insert(id.clone(), new_state);
        self.notice = Some(format!("{} {id}", new_state.word()));
        vec![Cmd::Decide { id, decision }]
    }

    /// Whether decisions go to the completed run (recorded and applied at
    /// once) rather than to a live one.
    pub fn decides_after_run(&self) -> bool {
        let completed = (self.run.state == RunState::Completed && self.last_run_id.is_some())
            || self.recs.completed_run.is_some();
        completed && !self.run.is_live() && !self.rolling_back()
    }

    /// The latest completed run's queue, shown until a run starts here.
    pub(super) fn queue_loaded(
        &mut self,
        result: Result<crate::evolve::after::CompletedQueue, String>,
    ) {
        match result {
            Ok(Some((run_id, queue))) if !self.run.requested => {
                self.run.recommendations = queue;
                self.recs.completed_run = Some(run_id);
            }
            Ok(_) => {}
            Err(e) => {
                self.notice = Some(format!(
                    "could not read the last run's recommendations: {e}"
                ));
            }
        }
    }

    /// The completed run's queue after a decision: what was applied, or why not.
    pub(super) fn decided_after_run(
        &mut self,
        result: Result<crate::evolve::after::Decided, String>,
    ) -> Vec<Cmd> {
        self.dirty = true;
        let Some(before) = self.recs.after_run.take() else {
            return Vec::new();
        };
        let id = before.id.clone();
        match result {
            Ok(d) => {
                self.run.recommendations = d.recommendations;
                let now = self.run.recommendations.iter().find(|r| r.id == id);
                self.notice = Some(if let Some(applied) = d.applied.first() {
                    applied.clone()
                } else if let Some(why) = d.not_applied.first() {
                    format!("accepted, not applied: {why}")
                } else {
                    match now {
                        Some(r) if r.state == RecommendationState::Withdrawn => {
                            format!("{id}: {}", r.note.as_deref().unwrap_or("withdrawn"))
                        }
                        Some(r) => format!("{} {id}", r.state.word()),
                        None => format!("{id} is no longer in the queue"),
                    }
                });
                self.events.stale = true;
                if self.view == View::EventLog && self.events.begin_reload(self.now) {
                    return vec![Cmd::LoadEvents];
                }
            }
            Err(e) => {
                if let Some(r) = self.run.recommendations.iter_mut().find(|r| r.id == id) {
                    *r = before;
                }
                self.notice = Some(format!("decision not recorded: {e}"));
            }
        }
        Vec::new()
    }

    /// Enter on the queue: evidence, benefit, cost and both DDLs in a popup.
    pub(super) fn open_recommendation(&mut self) {
        if let Some(id) = self.selected_recommendation().map(|r| r.id.clone()) {
            self.layers.push(Layer::Recommendation { id, scroll: 0 });
        }
    }
}
