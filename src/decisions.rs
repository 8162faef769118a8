//! `flightdeck recommendations`: the queue a completed run left, and the
//! operator's decisions on it, applied the way the run applies them.

use std::path::Path;

use crate::cli::{exit, load};
use crate::evolve::after::{self, AfterRunError, Decided, Decisions};
use crate::recommend::{Decision, Recommendation, RecommendationState, counted, thousands};

/// What the command was asked to do.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Request {
    /// Accept this recommendation (its id, as listed; repeatable).
    #[arg(long, value_name = "ID")]
    pub accept: Vec<String>,
    /// Reject this recommendation (repeatable).
    #[arg(long, value_name = "ID")]
    pub reject: Vec<String>,
    /// Defer this recommendation (repeatable).
    #[arg(long, value_name = "ID")]
    pub defer: Vec<String>,
    /// Accept every pending recommendation whose confidence is at least C
    /// (0..1); `[evolution]` still decides what may be applied.
    #[arg(long, value_name = "C", value_parser = crate::cli::parse_confidence)]
    pub accept_above: Option<f64>,
    /// Take over the target's lock when the process holding it is gone.
    #[arg(long)]
    pub take_over: bool,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

impl Request {
    fn decisions(&self) -> Result<Decisions, String> {
        let mut each: Vec<(String, Decision)> = Vec::new();
        for (ids, d) in [
            (&self.accept, Decision::Accept),
            (&self.reject, Decision::Reject),
            (&self.defer, Decision::Defer),
        ] {
            for id in ids {
                if let Some((_, earlier)) = each.iter().find(|(x, _)| x == id) {
                    return Err(format!(
                        "{id} is given twice ({} and {}): decide it once",
                        earlier.past_tense(),
                        d.past_tense()
                    ));
                }
                each.push((id.clone(), d));
            }
        }
        Ok(Decisions {
            each,
            accept_above: self.accept_above,
            by: "operator".into(),
        })
    }
}

/// Runs the command; returns the exit code: 0, or 1 when an accepted change
/// could not be applied (the reason is printed), 2 for a decision that
/// names no recommendation of the run, 3 for the database.
pub async fn run(path: &Path, request: Request) -> i32 {
    let project = match load(path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let decisions = match request.decisions() {
        Ok(d) => d,
        Err(e) => {
            crate::tell!("flightdeck recommendations: {e}");
            return exit::USAGE;
        }
    };
    let db = match crate::cli::open_event_log(&project).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    if decisions.is_empty() {
        return match after::completed_queue(db.as_ref(), project.name()).await {
            Ok((run_id, queue)) => {
                print_queue(run_id, &queue, request.json);
                exit::OK
            }
            Err(e) => refused(&e),
        };
    }
    let decided = after::decide(
        db.as_ref(),
        project.name(),
        project.file.evolution.clone(),
        &decisions,
        request.take_over,
    )
    .await;
    match decided {
        Ok(d) => print_decided(&d, request.json),
        Err(e) => refused(&e),
    }
}

fn refused(e: &AfterRunError) -> i32 {
    crate::tell!("flightdeck recommendations: {e}");
    match e {
        AfterRunError::Refused(_) => exit::USAGE,
        _ => exit::RUNTIME,
    }
}

fn print_queue(run_id: uuid::Uuid, queue: &[Recommendation], json: bool) {
    if json {
        crate::say!(
            "{}",
            serde_json::json!({ "run_id": run_id, "recommendations": queue })
        );
        return;
    }
    for line in queue_lines(run_id, queue) {
        crate::say!("{line}");
    }
}

/// The queue as text: a heading, one line per recommendation by score, and
/// the command that decides them.
pub fn queue_lines(run_id: uuid::Uuid, queue: &[Recommendation]) -> Vec<String> {
    let run = run_id.to_string();
    let open = queue
        .iter()
        .filter(|r| {
            matches!(
                r.state,
                RecommendationState::Pending | RecommendationState::Deferred
            )
        })
        .count();
    let mut lines = vec![format!(
        "run {} (completed): {} recommendations, {} undecided",
        &run[..8],
        thousands(queue.len() as u64),
        thousands(open as u64)
    )];
    if queue.is_empty() {
        return lines;
    }
    let width = queue.iter().map(|r| r.id.len()).max().unwrap_or(0);
    lines.push(format!(
        "  {:<9} {:>4}  {:<width$}  evidence",
        "state", "conf", "id"
    ));
    let mut by_score: Vec<&Recommendation> = queue.iter().collect();
    by_score.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.id.cmp(&b.id))
    });
    for r in by_score {
        lines.push(format!(
            "  {:<9} {:>4.2}  {:<width$}  {}",
            r.state.word(),
            r.confidence,
            r.id,
            r.evidence
        ));
    }
    if open > 0 {
        lines.push(
            "decide with --accept ID, --reject ID, --defer ID or --accept-above C; accepted changes are applied now, in the run's name, so its rollback undoes them"
                .into(),
        );
    }
    lines
}

fn print_decided(d: &Decided, json: bool) -> i32 {
    let code = if d.not_applied.is_empty() {
        exit::OK
    } else {
        exit::VALIDATION
    };
    if json {
        crate::say!(
            "{}",
            serde_json::json!({
                "run_id": d.run_id,
                "decided": d.decided,
                "applied": d.applied,
                "not_applied": d.not_applied,
                "recommendations": d.recommendations,
            })
        );
        return code;
    }
    let run = d.run_id.to_string();
    crate::say!(
        "run {}: {} recorded, {} applied",
        &run[..8],
        counted(d.decided as u64, "decision"),
        counted(d.applied.len() as u64, "change")
    );
    for a in &d.applied {
        crate::say!("  {a}");
    }
    for n in &d.not_applied {
        crate::say!("  accepted, not applied: {n}");
    }
    for r in d
        .recommendations
        .iter()
        .filter(|r| r.state == RecommendationState::Withdrawn && r.decided_by.is_some())
    {
        crate::say!(
            "  withdrawn: {}: {}",
            r.id,
            r.note.as_deref().unwrap_or_default()
        );
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_recommendation_is_decided_once_per_command() {
        let r = Request {
            accept: vec!["index:t.a".into()],
            reject: vec!["check:t.b".into(), "index:t.a".into()],
            ..Default::default()
        };
        assert_eq!(
            r.decisions().unwrap_err(),
            "index:t.a is given twice (accepted and rejected): decide it once"
        );
        let r = Request {
            accept: vec!["index:t.a".into()],
            defer: vec!["check:t.b".into()],
            accept_above: Some(0.9),
            ..Default::default()
        };
        let d = r.decisions().unwrap();
        assert_eq!(
            d.each,
            vec![
                ("index:t.a".to_string(), Decision::Accept),
                ("check:t.b".to_string(), Decision::Defer)
            ]
        );
        assert_eq!((d.accept_above, d.by.as_str()), (Some(0.9), "operator"));
    }
}
