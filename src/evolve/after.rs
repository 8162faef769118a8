//! Deciding a completed run's recommendations after it: what the run left
//! pending is accepted or rejected later, and the accepted changes are
//! applied as the run would have applied them, under the target lock and in
//! the run's name, so the run's rollback undoes them too.

use serde_json::json;
use uuid::Uuid;

use super::Evolver;
use crate::db::{Database, DbError};
use crate::eventlog::lock::{self, LockError};
use crate::eventlog::store::{self, NewEvent};
use crate::eventlog::{EventRecord, kind};
use crate::project::model::EvolutionSection;
use crate::recommend::{
    self, Decision, Recommendation, RecommendationBook, RecommendationState, counted, thousands,
};

/// The latest recorded queue among `events` (the run's `run_finished` or a
/// later `recommendations_decided`), as JSON.
pub fn latest_queue(events: &[EventRecord]) -> Option<&Vec<serde_json::Value>> {
    events
        .iter()
        .filter(|e| matches!(e.kind.as_str(), kind::RUN_FINISHED | kind::QUEUE_DECIDED))
        .max_by_key(|e| e.id)
        .and_then(|e| e.detail["recommendations"].as_array())
}

/// The recommendations of `run_id` as last recorded; `None` when the run
/// never completed (only a completed run records its queue).
pub async fn recorded_queue(
    db: &dyn Database,
    run_id: Uuid,
) -> Result<Option<Vec<Recommendation>>, DbError> {
    let events =
        store::read_run_events_of(db, run_id, &[kind::RUN_FINISHED, kind::QUEUE_DECIDED]).await?;
    let Some(list) = latest_queue(&events) else {
        return Ok(None);
    };
    // Entries an older build wrote in another shape are left out, not fatal.
    Ok(Some(
        list.iter()
            .filter_map(|r| serde_json::from_value(r.clone()).ok())
            .collect(),
    ))
}

/// A completed run and its recorded queue; `None` when there is none.
pub type CompletedQueue = Option<(Uuid, Vec<Recommendation>)>;

/// What the operator decides about a completed run's queue.
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    /// Recommendation id and decision, in the order given.
    pub each: Vec<(String, Decision)>,
    /// Accept every pending recommendation at or above this confidence.
    pub accept_above: Option<f64>,
    /// Who decides, for the event log ("operator").
    pub by: String,
}

impl Decisions {
    pub fn is_empty(&self) -> bool {
        self.each.is_empty() && self.accept_above.is_none()
    }
}

/// The queue after the decisions, and what they changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub run_id: Uuid,
    pub recommendations: Vec<Recommendation>,
    /// One line per change applied to the target.
    pub applied: Vec<String>,
    /// Accepted changes the engine did not apply, with why.
    pub not_applied: Vec<String>,
    /// Decisions recorded.
    pub decided: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum AfterRunError {
    /// Refused before anything was written; the message names the fix.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Lock(LockError),
    #[error("{0}")]
    Db(#[from] DbError),
}

/// The latest run of `project` and its recorded queue, refusing a run that
/// is not completed: while it runs (or until it is resumed) the run itself
/// takes the decisions.
pub async fn completed_queue(
    db: &dyn Database,
    project: &str,
) -> Result<(Uuid, Vec<Recommendation>), AfterRunError> {
    let Some(run) = store::latest_run(db, project).await? else {
        return Err(AfterRunError::Refused(format!(
            "project \"{project}\" has no run in this target yet: `flightdeck run` it first"
        )));
    };
    if run.status == "rolled_back" {
        return Err(AfterRunError::Refused(format!(
            "run {} was rolled back, and its recommendations with it: run the project again to get new ones",
            run.run_id
        )));
    }
    if run.status != "completed" {
        return Err(AfterRunError::Refused(format!(
            "run {} is {}, not completed: resume it with `flightdeck run` (or `flightdeck open`) and decide while it loads",
            run.run_id, run.status
        )));
    }
    let queue = recorded_queue(db, run.run_id).await?.unwrap_or_default();
    Ok((run.run_id, queue))
}

/// Records `decisions` on the latest completed run of `project` and applies
/// what they accept, holding the target lock throughout. Nothing is written
/// when a decision names an unknown recommendation or one already final.
pub async fn decide(
    db: &dyn Database,
    project: &str,
    policy: EvolutionSection,
    decisions: &Decisions,
    take_over: bool,
) -> Result<Decided, AfterRunError> {
    store::ensure_schema(db).await?;
    let held = lock::acquire(db, "decide", take_over)
        .await
        .map_err(AfterRunError::Lock)?;
    let result = decide_locked(db, project, policy, decisions).await;
    if let Err(e) = held.release(db).await {
        tracing::warn!(error = %e, "could not release the target lock");
    }
    result
}

async fn decide_locked(
    db: &dyn Database,
    project: &str,
    policy: EvolutionSection,
    decisions: &Decisions,
) -> Result<Decided, AfterRunError> {
    let (run_id, queue) = completed_queue(db, project).await?;
    let mut engine = Evolver::new(policy, run_id);
    // Settles a change a crash left half done, and knows what is in place.
    engine.resume(db).await?;
    let mut book = RecommendationBook::recorded(queue);
    let mut logged = Vec::new();
    for (id, decision) in &decisions.each {
        let Some(r) = book.get(id) else {
            return Err(AfterRunError::Refused(unknown_id(id, &book)));
        };
        if matches!(
            r.state,
            RecommendationState::Applied | RecommendationState::Withdrawn
        ) {
            return Err(AfterRunError::Refused(format!(
                "{id} is {}: only pending, deferred, accepted or rejected recommendations can be decided",
                r.state.word()
            )));
        }
        book.decide(id, *decision, &decisions.by);
        logged.push((id.clone(), *decision, decisions.by.clone()));
    }
    if let Some(c) = decisions.accept_above {
        let by = recommend::accept_above_by(c);
        for id in book.accept_above(c) {
            logged.push((id, Decision::Accept, by.clone()));
        }
    }
    let d = db.dialect();
    let statements = super::live::decision_events(d, run_id, &book, logged.clone());
    if !statements.is_empty() {
        db.transaction(statements).await?;
    }
    let applied: Vec<String> = engine
        .apply_ready(&mut book, db, None)
        .await?
        .into_iter()
        .map(|a| a.summary)
        .collect();
    let recommendations = book.all();
    let not_applied: Vec<String> = recommendations
        .iter()
        .filter(|r| r.state == RecommendationState::Accepted)
        .map(|r| {
            format!(
                "{}: {}",
                r.id,
                r.note
                    .as_deref()
                    .unwrap_or("not applied: no reason recorded")
            )
        })
        .collect();
    db.transaction(vec![store::event_statement(
        d,
        &NewEvent {
            run_id,
            kind: kind::QUEUE_DECIDED,
            table: None,
            summary: format!(
                "{} after the run: {} applied, {} pending",
                counted(logged.len() as u64, "decision"),
                counted(applied.len() as u64, "change"),
                thousands(
                    recommendations
                        .iter()
                        .filter(|r| r.state == RecommendationState::Pending)
                        .count() as u64
                )
            ),
            detail: json!({ "recommendations": recommendations }),
            inverse: vec![],
        },
    )])
    .await?;
    Ok(Decided {
        run_id,
        recommendations,
        applied,
        not_applied,
        decided: logged.len(),
    })
}

fn unknown_id(id: &str, book: &RecommendationBook) -> String {
    let all = book.all();
    let closest = all
        .iter()
        .map(|r| (strsim::jaro_winkler(id, &r.id), &r.id))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((_, near)) => format!("no recommendation {id} in the last run; did you mean {near}?"),
        None if all.is_empty() => {
            format!("no recommendation {id}: the last run recorded no recommendations")
        }
        None => format!(
            "no recommendation {id} in the last run; `flightdeck recommendations PROJECT` lists them"
        ),
    }
}
