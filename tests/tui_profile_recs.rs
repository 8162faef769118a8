//! The Profile and Recommendations views: profiles and queues fed as pipeline
//! events, keys pressed by action name, decisions asserted as commands.

// Each test file uses a different subset of the shared helpers.
#[allow(dead_code)]
mod tui_common;

use flightdeck::pipeline::{RunEvent, RunState};
use flightdeck::recommend::{Decision, RecommendationState as S};
use flightdeck::tui::profile_view::ProfileFocus;
use flightdeck::tui::{Action, App, Cmd, Layer, Msg, Theme, View};
use tui_common::*;

/// A live run with two profiled tables and the queue, on the given view.
fn live_on(view_action: Action) -> App {
    let mut app = app();
    press(&mut app, Action::StartRun);
    mid_run(&mut app);
    profiled(&mut app);
    press(&mut app, view_action);
    app
}

fn state_of(app: &App, id: &str) -> S {
    app.run
        .recommendations
        .iter()
        .find(|r| r.id == id)
        .unwrap()
        .state
}

#[test]
fn profile_opens_on_the_table_being_loaded_and_moves_through_tables_and_columns() {
    let mut app = live_on(Action::ViewProfile);
    // models (ml_models) is loading in mid_run.
    assert_eq!(app.profile.snapshot(&app.run).unwrap().table, "ml_models");
    assert_eq!(app.profile.focus, ProfileFocus::Tables);
    press(&mut app, Action::Up);
    assert_eq!(
        app.profile.snapshot(&app.run).unwrap().table,
        "data_sources"
    );
    press(&mut app, Action::Down);
    press(&mut app, Action::Down);
    assert_eq!(app.profile.snapshot(&app.run).unwrap().table, "ml_models");

    press(&mut app, Action::FocusRight);
    assert_eq!(app.profile.focus, ProfileFocus::Columns);
    press(&mut app, Action::Down);
    press(&mut app, Action::Down);
    press(&mut app, Action::Down);
    let p = app.profile.snapshot(&app.run).unwrap();
    assert_eq!(
        p.columns[app.profile.column_index(p)].name,
        "primary_metric_value"
    );
    press(&mut app, Action::PageDown);
    let p = app.profile.snapshot(&app.run).unwrap();
    assert_eq!(app.profile.column_index(p), p.columns.len() - 1);
    press(&mut app, Action::FocusLeft);
    assert_eq!(app.profile.focus, ProfileFocus::Tables);
}

#[test]
fn profile_updates_live_and_keeps_the_chosen_table() {
    let mut app = live_on(Action::ViewProfile);
    press(&mut app, Action::Up);
    let mut later = models_profile();
    later.rows_seen = 15_000;
    app.update(Msg::Run(RunEvent::Profiled(later)));
    // The operator chose data_sources; a newer ml_models profile does not steal it.
    assert_eq!(
        app.profile.snapshot(&app.run).unwrap().table,
        "data_sources"
    );
    assert_eq!(app.run.profiles["ml_models"].rows_seen, 15_000);
    let screen = render(&app, 80, 24).backend().to_string();
    assert!(screen.contains("Columns of data_sources"), "{screen}");
}

#[test]
fn recommendations_are_ordered_by_score_and_the_selection_follows_its_id() {
    let mut app = live_on(Action::ViewRecommendations);
    let queue = flightdeck::tui::recs_view::queue(&app.run.recommendations);
    let confidences: Vec<f64> = queue.iter().map(|r| r.confidence).collect();
    assert!(
        confidences.windows(2).all(|w| w[0] >= w[1]),
        "{confidences:?}"
    );
    assert_eq!(
        app.selected_recommendation().unwrap().id,
        "not_null:ml_models.model_name"
    );
    press(&mut app, Action::Down);
    assert_eq!(
        app.selected_recommendation().unwrap().id,
        "check:ml_models.lifecycle_status"
    );
    // A new queue where its confidence fell: the cursor stays on it.
    let mut queue = recommendations();
    queue
        .iter_mut()
        .find(|r| r.id == "check:ml_models.lifecycle_status")
        .unwrap()
        .confidence = 0.5;
    app.update(Msg::Run(RunEvent::Recommendations(queue)));
    assert_eq!(
        app.selected_recommendation().unwrap().id,
        "check:ml_models.lifecycle_status"
    );
}

#[test]
fn accept_reject_and_defer_send_decisions_and_show_them_at_once() {
    let mut app = live_on(Action::ViewRecommendations);
    let id = "not_null:ml_models.model_name".to_string();
    assert_eq!(
        press(&mut app, Action::Accept),
        vec![Cmd::Decide {
            id: id.clone(),
            decision: Decision::Accept
        }]
    );
    assert_eq!(state_of(&app, &id), S::Accepted);
    assert_eq!(
        press(&mut app, Action::Defer),
        vec![Cmd::Decide {
            id: id.clone(),
            decision: Decision::Defer
        }]
    );
    assert_eq!(state_of(&app, &id), S::Deferred);
    press(&mut app, Action::Down);
    let check = "check:ml_models.lifecycle_status".to_string();
    assert_eq!(
        press(&mut app, Action::Reject),
        vec![Cmd::Decide {
            id: check.clone(),
            decision: Decision::Reject
        }]
    );
    assert_eq!(state_of(&app, &check), S::Rejected);
}

#[test]
fn a_queue_already_in_flight_does_not_undo_a_decision() {
    let mut app = live_on(Action::ViewRecommendations);
    let id = "not_null:ml_models.model_name";
    press(&mut app, Action::Accept);
    // The pipeline had not seen the decision yet: it still says pending.
    app.update(Msg::Run(RunEvent::Recommendations(recommendations())));
    assert_eq!(state_of(&app, id), S::Accepted);
    // Then it applies it: the pipeline's word is final.
    let mut applied = recommendations();
    applied.iter_mut().find(|r| r.id == id).unwrap().state = S::Applied;
    app.update(Msg::Run(RunEvent::Recommendations(applied)));
    assert_eq!(state_of(&app, id), S::Applied);
    assert!(app.recs.sent.is_empty());
}

#[test]
fn applied_and_withdrawn_recommendations_refuse_decisions() {
    let mut app = live_on(Action::ViewRecommendations);
    press(&mut app, Action::Down);
    press(&mut app, Action::Down);
    assert_eq!(app.selected_recommendation().unwrap().state, S::Applied);
    assert!(!app.is_available(Action::Accept));
    assert!(press(&mut app, Action::Accept).is_empty());
    assert!(app.notice.as_deref().unwrap().contains("already applied"));
    press(&mut app, Action::PageDown);
    assert_eq!(app.selected_recommendation().unwrap().state, S::Withdrawn);
    assert!(press(&mut app, Action::Reject).is_empty());
    assert!(app.notice.as_deref().unwrap().contains("withdrawn"));
}

#[test]
fn decisions_need_a_live_run_and_the_recommendations_view() {
    let mut app = live_on(Action::ViewProfile);
    assert!(press(&mut app, Action::Accept).is_empty());
    assert_eq!(
        app.notice.as_deref(),
        Some("accept works in the Recommendations view")
    );
    press(&mut app, Action::ViewRecommendations);
    app.update(Msg::RunClosed);
    assert!(!app.run.is_live());
    assert!(press(&mut app, Action::Accept).is_empty());
    assert!(app.notice.as_deref().unwrap().contains("no run is live"));
}

/// A run that completed in this cockpit, its queue on screen.
fn completed_on_recommendations() -> App {
    let mut app = live_on(Action::ViewRecommendations);
    app.update(Msg::Run(RunEvent::Finished(summary(RunState::Completed))));
    app.update(Msg::RunClosed);
    assert!(!app.run.is_live());
    app
}

#[test]
fn after_the_run_a_decision_is_applied_at_once_and_the_queue_is_the_targets() {
    let mut app = completed_on_recommendations();
    let id = "not_null:ml_models.model_name".to_string();
    assert!(app.is_available(Action::Accept));
    assert_eq!(
        press(&mut app, Action::Accept),
        vec![Cmd::DecideAfterRun {
            id: id.clone(),
            decision: Decision::Accept
        }]
    );
    assert_eq!(state_of(&app, &id), S::Accepted);
    assert!(app.notice.as_deref().unwrap().contains("applying it"));
    // One at a time: each takes the target lock.
    press(&mut app, Action::Down);
    assert!(press(&mut app, Action::Reject).is_empty());
    assert!(
        app.notice
            .as_deref()
            .unwrap()
            .contains("still being applied"),
        "{:?}",
        app.notice
    );
    let mut queue = recommendations();
    queue.iter_mut().find(|r| r.id == id).unwrap().state = S::Applied;
    let decided = flightdeck::evolve::after::Decided {
        run_id: uuid::Uuid::nil(),
        recommendations: queue,
        applied: vec!["applied not_null on ml_models.model_name: 0 NULLs".into()],
        not_applied: vec![],
        decided: 1,
    };
    app.update(Msg::DecidedAfterRun(Ok(decided)));
    assert_eq!(state_of(&app, &id), S::Applied);
    assert_eq!(
        app.notice.as_deref(),
        Some("applied not_null on ml_models.model_name: 0 NULLs")
    );
    // The next decision goes.
    assert_eq!(
        press(&mut app, Action::Reject),
        vec![Cmd::DecideAfterRun {
            id: "check:ml_models.lifecycle_status".into(),
            decision: Decision::Reject
        }]
    );
}

#[test]
fn opened_on_a_completed_run_the_cockpit_shows_its_queue_and_decides_on_it() {
    let mut app = app();
    assert_eq!(
        app.init(),
        vec![
            Cmd::RunChecks {
                phase: flightdeck::validate::Phase::Pre,
                run: None
            },
            Cmd::LoadQueue
        ]
    );
    let run = uuid::Uuid::from_u128(7);
    app.update(Msg::QueueLoaded(Ok(Some((run, recommendations())))));
    assert_eq!(app.run.recommendations.len(), recommendations().len());
    press(&mut app, Action::ViewRecommendations);
    assert!(app.is_available(Action::Accept));
    assert_eq!(
        press(&mut app, Action::Accept),
        vec![Cmd::DecideAfterRun {
            id: "not_null:ml_models.model_name".into(),
            decision: Decision::Accept
        }]
    );
    // Starting a run (the rows added since) hands decisions to it.
    let mut app = tui_common::app();
    app.update(Msg::QueueLoaded(Ok(Some((run, recommendations())))));
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    assert!(app.recs.completed_run.is_none());
    press(&mut app, Action::ViewRecommendations);
    app.update(Msg::Run(RunEvent::Recommendations(recommendations())));
    assert!(matches!(
        press(&mut app, Action::Accept).as_slice(),
        [Cmd::Decide { .. }]
    ));
    // No completed run: nothing to show, nothing to decide.
    let mut app = tui_common::app();
    app.update(Msg::QueueLoaded(Ok(None)));
    assert!(app.run.recommendations.is_empty());
    assert!(!app.decides_after_run());
}

#[test]
fn a_decision_after_the_run_that_fails_leaves_the_queue_as_it_was() {
    let mut app = completed_on_recommendations();
    let id = "not_null:ml_models.model_name";
    assert_eq!(state_of(&app, id), S::Pending);
    let queue = app.run.recommendations.clone();
    press(&mut app, Action::Accept);
    app.update(Msg::DecidedAfterRun(Err(
        "the target is locked by flightdeck rollback".into(),
    )));
    assert_eq!(state_of(&app, id), S::Pending);
    assert_eq!(
        app.notice.as_deref(),
        Some("decision not recorded: the target is locked by flightdeck rollback")
    );
    assert!(app.recs.after_run.is_none());
    // Not decided by anyone either.
    assert_eq!(app.run.recommendations, queue);
}

#[test]
fn read_only_hides_and_refuses_decisions() {
    let mut app = app_with(Theme::default(), true);
    // A run another cockpit started, watched read-only.
    app.update(Msg::Run(started()));
    profiled(&mut app);
    press(&mut app, Action::ViewRecommendations);
    for action in [Action::Accept, Action::Reject, Action::Defer] {
        assert!(action.dangerous());
        assert!(!app.is_available(action));
        assert!(press(&mut app, action).is_empty());
        assert_eq!(
            app.notice,
            Some(format!("read-only: {} is disabled", action.name()))
        );
    }
    assert_eq!(state_of(&app, "not_null:ml_models.model_name"), S::Pending);
    let footer = render(&app, 160, 48).backend().to_string();
    assert!(!footer.contains("a accept"), "{footer}");
}

#[test]
fn enter_opens_the_evidence_and_ddl_and_decides_from_there() {
    let mut app = live_on(Action::ViewRecommendations);
    press(&mut app, Action::Down);
    press(&mut app, Action::Open);
    let id = "check:ml_models.lifecycle_status".to_string();
    assert_eq!(
        app.layers.last(),
        Some(&Layer::Recommendation {
            id: id.clone(),
            scroll: 0
        })
    );
    let screen = render(&app, 160, 48).backend().to_string();
    assert!(
        screen.contains("4 distinct values in 12,000 rows"),
        "{screen}"
    );
    assert!(screen.contains("ADD CONSTRAINT"), "{screen}");
    assert!(screen.contains("DROP CONSTRAINT"), "{screen}");
    assert!(screen.contains("a accept"), "{screen}");
    assert_eq!(
        press(&mut app, Action::Accept),
        vec![Cmd::Decide {
            id: id.clone(),
            decision: Decision::Accept
        }]
    );
    assert_eq!(state_of(&app, &id), S::Accepted);
    press(&mut app, Action::Back);
    assert!(app.layers.is_empty());
    assert_eq!(app.view, View::Recommendations);
}

#[test]
fn a_new_run_forgets_decisions_in_flight() {
    let mut app = live_on(Action::ViewRecommendations);
    press(&mut app, Action::Accept);
    assert_eq!(app.recs.sent.len(), 1);
    app.update(Msg::Run(started()));
    assert!(app.recs.sent.is_empty());
}

#[test]
fn rebound_decision_keys_work_by_action_name() {
    let keymap =
        flightdeck::tui::Keymap::with_overrides("accept = \"A\"\ndefer = \"z\"\n", "test").unwrap();
    let mut input = input_with(Theme::default(), false);
    input.keymap = keymap;
    let mut app = App::new(input);
    press(&mut app, Action::StartRun);
    mid_run(&mut app);
    profiled(&mut app);
    press(&mut app, Action::ViewRecommendations);
    let key = |c| crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c));
    // The old key no longer decides; the new one does.
    assert!(app.update(Msg::Key(key('a'))).is_empty());
    assert!(matches!(
        app.update(Msg::Key(key('A')))[..],
        [Cmd::Decide {
            decision: Decision::Accept,
            ..
        }]
    ));
    assert!(matches!(
        press(&mut app, Action::Defer)[..],
        [Cmd::Decide {
            decision: Decision::Defer,
            ..
        }]
    ));
}
