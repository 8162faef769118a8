//! The loop of one run: profiles in, recommendations out, decisions in,
//! changes applied between batches.

use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Evolver, fill_ddl};
use crate::db::{Database, DbError, Dialect, Statement};
use crate::eventlog::{kind, store};
use crate::pipeline::RunEvent;
use crate::profile::TableProfileSnapshot;
use crate::project::model::EvolutionSection;
use crate::recommend::{
    self, Decision, Recommendation, RecommendationBook, RecommendationState, TableFacts,
};

/// Recommendations, decisions and the engine of one run.
pub struct LiveEvolution {
    pub book: RecommendationBook,
    pub engine: Evolver,
    decisions: mpsc::UnboundedReceiver<(String, Decision)>,
    accept_above: Option<f64>,
    run_id: Uuid,
    /// Decisions taken since the last [`LiveEvolution::decision_statements`]:
    /// recommendation id, decision, who.
    unlogged: Vec<(String, Decision, String)>,
}

impl LiveEvolution {
    pub fn new(
        policy: EvolutionSection,
        run_id: Uuid,
        decisions: mpsc::UnboundedReceiver<(String, Decision)>,
        accept_above: Option<f64>,
    ) -> Self {
        Self {
            book: RecommendationBook::default(),
            engine: Evolver::new(policy, run_id),
            decisions,
            accept_above,
            run_id,
            unlogged: Vec::new(),
        }
    }

    /// Takes up the queue a completed attempt of this run recorded, so a
    /// rerun offers again what it left undecided. A change recorded as
    /// applied whose event a rollback has undone since is offered again.
    pub fn carry(&mut self, recorded: Vec<Recommendation>) {
        let mut book = RecommendationBook::recorded(recorded);
        for r in book.all() {
            if r.state == RecommendationState::Applied
                && !r.inverse.is_empty()
                && r.decided_by.as_deref() != Some("project")
                && !self.engine.applied_before(&r.id)
                && let Some(x) = book.get_mut(&r.id)
            {
                x.state = RecommendationState::Pending;
                x.decided_by = None;
                x.note = Some("its change was rolled back".into());
            }
        }
        self.book = book;
    }

    /// Recomputes a table's recommendations from its latest profile; returns the
    /// events to report (profile, alerts, the queue).
    pub fn on_profile(
        &mut self,
        p: TableProfileSnapshot,
        facts: &TableFacts,
        db: &dyn Database,
    ) -> Vec<RunEvent> {
        let mut fresh = recommend::recommend(&p, facts);
        fill_ddl(&mut fresh, db.dialect(), &facts.def);
        let mut events = vec![RunEvent::Profiled(p.clone())];
        let judged = |column: &str| recommend::judges(&p, column);
        for a in self.book.update(&p.table, fresh, judged) {
            tracing::warn!(id = %a.id, "{}", a.message);
            events.push(RecommendationAlert(a));
        }
        self.decide_pending();
        events.push(RunEvent::Recommendations(self.book.all()));
        events
    }

    /// Takes the operator's decisions sent since the last batch, then applies the
    /// `--accept-above` threshold.
    fn decide_pending(&mut self) -> bool {
        let mut changed = false;
        while let Ok((id, d)) = self.decisions.try_recv() {
            if self.book.decide(&id, d, "operator") {
                self.unlogged.push((id, d, "operator".into()));
                changed = true;
            }
        }
        if let Some(c) = self.accept_above {
            let by = recommend::accept_above_by(c);
            for id in self.book.accept_above(c) {
                self.unlogged.push((id, Decision::Accept, by.clone()));
                changed = true;
            }
        }
        changed
    }

    /// The `recommendation_decision` events of the decisions taken since the
    /// last call, to commit with the next write to the target (SPEC §7: the
    /// event log records every decision, with who took it).
    pub fn decision_statements(&mut self, d: &dyn Dialect) -> Vec<Statement> {
        decision_events(
            d,
            self.run_id,
            &self.book,
            std::mem::take(&mut self.unlogged),
        )
    }

    /// Takes the operator's decisions sent since the last batch. Returns
    /// whether [`LiveEvolution::apply`] would change the target now, and the
    /// queue to show when a decision changed it.
    pub fn poll(&mut self, loading: Option<&str>) -> (bool, Option<RunEvent>) {
        let changed = self.decide_pending();
        (
            self.engine.has_ready(&self.book, loading),
            changed.then(|| RunEvent::Recommendations(self.book.all())),
        )
    }

    /// Applies what may go now; `loading` is the table still streaming.
    pub async fn apply(
        &mut self,
        db: &dyn Database,
        loading: Option<&str>,
    ) -> Result<Vec<RunEvent>, DbError> {
        let changed = self.decide_pending();
        // A decision is on record before the change it lets through.
        let decisions = self.decision_statements(db.dialect());
        if !decisions.is_empty() {
            db.transaction(decisions).await?;
        }
        let applied = self.engine.apply_ready(&mut self.book, db, loading).await?;
        let mut events: Vec<RunEvent> = applied
            .iter()
            .map(|a| RunEvent::Logged {
                id: 0,
                kind: crate::eventlog::kind::DDL_APPLIED.into(),
                summary: a.summary.clone(),
            })
            .collect();
        if changed || !applied.is_empty() {
            events.push(RunEvent::Recommendations(self.book.all()));
        }
        Ok(events)
    }

    pub fn recommendations(&self) -> Vec<Recommendation> {
        self.book.all()
    }
}

use RunEvent::RecommendationAlert;

/// One `recommendation_decision` event per decision: recommendation id,
/// decision, who took it.
pub(super) fn decision_events(
    d: &dyn Dialect,
    run_id: Uuid,
    book: &RecommendationBook,
    decisions: Vec<(String, Decision, String)>,
) -> Vec<Statement> {
    decisions
        .into_iter()
        .filter_map(|(id, decision, by)| {
            let r = book.get(&id)?;
            let event = store::NewEvent {
                run_id,
                kind: kind::DECISION,
                table: Some(&r.table),
                summary: format!(
                    "{} {} on {}.{} (confidence {:.2}, by {by})",
                    decision.past_tense(),
                    r.kind.name(),
                    r.table,
                    r.column,
                    r.confidence
                ),
                detail: serde_json::json!({
                    "recommendation": id,
                    "decision": decision.past_tense(),
                    "by": by,
                    "kind": r.kind.name(),
                    "column": r.column,
                    "confidence": r.confidence,
                    "evidence": r.evidence,
                    "forward": r.forward,
                }),
                inverse: vec![],
            };
            Some(store::event_statement(d, &event))
        })
        .collect()
}
