//! Update tests: feed messages to the cockpit's `App`, assert on its state and on
//! the commands it asks for. No terminal, no sleeps.

// Each test file uses a different subset of the shared helpers.
#[allow(dead_code)]
mod tui_common;

use flightdeck::pipeline::{RunEvent, RunState};
use flightdeck::tui::{Action, Cmd, Layer, Msg, Signal, View};
use tui_common::*;

#[test]
fn start_asks_for_a_run_and_started_makes_it_running() {
    let mut app = app();
    assert_eq!(press(&mut app, Action::StartRun), vec![Cmd::StartRun]);
    assert!(app.run.is_live());
    assert_eq!(app.run.state, RunState::Ready);
    app.update(Msg::Run(started()));
    assert_eq!(app.run.state, RunState::Running);
    assert_eq!(app.run.total_rows(), Some(242_400));
    // A second start while live does nothing.
    assert!(press(&mut app, Action::StartRun).is_empty());
}

#[test]
fn row_counts_arriving_after_the_plan_fill_in_totals_and_bars() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    let counted = plans();
    let uncounted = counted
        .iter()
        .map(|p| flightdeck::pipeline::TablePlan {
            source_rows: None,
            ..p.clone()
        })
        .collect();
    app.update(Msg::Run(RunEvent::Started {
        run_id: uuid::Uuid::nil(),
        tables: uncounted,
        resumed: None,
    }));
    assert_eq!(app.run.total_rows(), None);
    assert_eq!(app.run.eta(), None);
    let screen = render(&app, 160, 48).backend().to_string();
    assert!(screen.contains("counting…"), "{screen}");
    for (table, p) in counted.iter().enumerate().skip(1) {
        let source_rows = p.source_rows.unwrap();
        app.update(Msg::Run(RunEvent::Counted {
            table,
            source_rows,
            estimated: false,
        }));
    }
    // One table still uncounted: no total yet.
    assert_eq!(app.run.total_rows(), None);
    let first = counted[0].source_rows.unwrap();
    app.update(Msg::Run(RunEvent::Counted {
        table: 0,
        source_rows: first,
        estimated: false,
    }));
    assert_eq!(app.run.total_rows(), Some(242_400));
    assert_eq!(app.run.tables, counted);
    let screen = render(&app, 160, 48).backend().to_string();
    assert!(!screen.contains("counting…"), "{screen}");
}

#[test]
fn an_estimated_size_is_marked_and_a_finished_table_is_whole() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    // The catalog guessed 500 rows for a table that held 400.
    app.update(Msg::Run(RunEvent::Counted {
        table: 0,
        source_rows: 500,
        estimated: true,
    }));
    app.update(Msg::Run(RunEvent::TableStarted { table: 0 }));
    app.update(Msg::Run(progress(0, 200, 0, 1_000.0)));
    let line = |app: &flightdeck::tui::App| {
        let screen = render(app, 160, 48).backend().to_string();
        screen
            .lines()
            .find(|l| l.contains("datasets → data_sources"))
            .unwrap_or_else(|| panic!("{screen}"))
            .to_string()
    };
    let running = line(&app);
    assert!(running.contains("200/≈500"), "{running}");
    assert!(running.contains(" 40%"), "{running}");
    app.update(Msg::Run(RunEvent::TableFinished {
        table: 0,
        progress: flightdeck::pipeline::TableProgress {
            read: 400,
            written: 400,
            quarantined: 0,
        },
    }));
    // Every row it had was read: that is its count now.
    let done = line(&app);
    assert!(done.contains("100%"), "{done}");
    assert!(done.contains("400/400") && !done.contains('≈'), "{done}");
}

#[test]
fn autostart_starts_unless_read_only() {
    let mut input = input_with(flightdeck::tui::Theme::default(), false);
    input.autostart = true;
    let pre = Cmd::RunChecks {
        phase: flightdeck::validate::Phase::Pre,
        run: None,
    };
    assert_eq!(
        flightdeck::tui::App::new(input).init(),
        vec![pre.clone(), Cmd::StartRun]
    );
    // Read-only does not start it: the last completed run's queue is read.
    let mut input = input_with(flightdeck::tui::Theme::default(), true);
    input.autostart = true;
    assert_eq!(
        flightdeck::tui::App::new(input).init(),
        vec![pre, Cmd::LoadQueue]
    );
}

#[test]
fn progress_updates_counts_rate_samples_and_eta() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    mid_run(&mut app);
    assert_eq!(app.run.progress[1].read, 12_000);
    assert_eq!(app.run.progress[1].quarantined, 10);
    assert_eq!(app.run.rows_quarantined(), 12);
    assert_eq!(app.run.throughput.len(), 40);
    assert!(app.run.finished[0] && !app.run.finished[1]);
    assert_eq!(app.run.samples["models"].after[1].1, "Random Forest");
    assert_eq!(app.run.elapsed(app.now).unwrap().as_secs(), 83);
    let eta = app.run.eta().unwrap().as_secs_f64();
    let expected = (242_400.0 - 12_400.0) / app.run.smoothed_rate;
    assert!((eta - expected).abs() < 1.0, "{eta} vs {expected}");
}

#[test]
fn pause_and_resume_go_through_the_pipeline() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    assert_eq!(press(&mut app, Action::PauseResume), vec![Cmd::Pause]);
    assert!(app.run.pause_requested);
    app.update(Msg::Run(RunEvent::StateChanged(RunState::Paused)));
    assert_eq!(app.run.state, RunState::Paused);
    assert_eq!(app.run.alerts.last().unwrap().text, "paused by operator");
    assert_eq!(press(&mut app, Action::PauseResume), vec![Cmd::Resume]);
    app.update(Msg::Run(RunEvent::StateChanged(RunState::Running)));
    assert_eq!(app.run.state, RunState::Running);
    assert!(
        app.run.alerts.is_empty(),
        "the pause alert clears on resume"
    );
}

#[test]
fn quit_without_a_run_leaves_at_once() {
    let mut app = app();
    assert!(press(&mut app, Action::Quit).is_empty());
    assert!(app.should_quit);
}

#[test]
fn quit_during_a_run_asks_then_cancels_and_waits_for_the_pipeline() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    press(&mut app, Action::Quit);
    assert_eq!(app.layers, vec![Layer::ConfirmQuit]);
    press(&mut app, Action::Back);
    assert!(app.layers.is_empty() && !app.should_quit);

    press(&mut app, Action::Quit);
    assert_eq!(press(&mut app, Action::Confirm), vec![Cmd::Cancel]);
    assert!(
        app.stopping && !app.should_quit,
        "waits for the batch boundary"
    );
    app.update(Msg::Run(RunEvent::StateChanged(RunState::Cancelled)));
    assert!(!app.should_quit);
    app.update(Msg::Run(RunEvent::Finished(summary(RunState::Cancelled))));
    assert!(app.should_quit);
    assert_eq!(app.run.state, RunState::Cancelled);
}

#[test]
fn hangup_cancels_a_live_run_and_quits_when_the_channel_closes() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    assert_eq!(app.update(Msg::Signal(Signal::Hangup)), vec![Cmd::Cancel]);
    assert!(!app.should_quit, "waits for the batch boundary");
    app.update(Msg::RunClosed);
    assert!(app.should_quit);
    assert_eq!(app.left_early, None);
}

#[test]
fn a_second_stop_request_leaves_at_once_saying_what_was_not_committed() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    assert_eq!(
        app.update(Msg::Signal(Signal::Interrupt)),
        vec![Cmd::Cancel]
    );
    assert!(
        app.notice
            .as_deref()
            .unwrap()
            .contains("q again: leave now")
    );
    // Not a second cancel: leaving.
    assert!(app.update(Msg::Signal(Signal::Interrupt)).is_empty());
    assert!(app.should_quit);
    assert_eq!(
        app.left_early.as_deref(),
        Some("the batch under way was not committed")
    );
    // `q` while stopping does the same.
    let mut quitting = tui_common::app();
    press(&mut quitting, Action::StartRun);
    quitting.update(Msg::Run(started()));
    press(&mut quitting, Action::Quit);
    assert_eq!(press(&mut quitting, Action::Confirm), vec![Cmd::Cancel]);
    assert!(!quitting.should_quit);
    assert!(press(&mut quitting, Action::Quit).is_empty());
    assert!(quitting.should_quit && quitting.left_early.is_some());
}

#[test]
fn lost_terminal_input_without_a_run_quits() {
    let mut app = app();
    app.update(Msg::InputClosed);
    assert!(app.should_quit);
}

#[test]
fn a_pipeline_that_never_answers_is_left_after_the_grace_period() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    app.update(Msg::Signal(Signal::Terminate));
    app.update(at(10));
    assert!(!app.should_quit);
    app.update(at(16));
    assert!(app.should_quit);
    assert_eq!(
        app.left_early.as_deref(),
        Some("the batch under way was not committed")
    );
}

#[test]
fn failure_raises_an_alert_and_ends_the_run() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    app.update(Msg::Run(RunEvent::Failed {
        error: "target refused the connection".into(),
    }));
    assert_eq!(app.run.state, RunState::Failed);
    assert!(!app.run.is_live());
    let alert = app.run.alerts.last().unwrap();
    assert!(alert.text.contains("target refused the connection"));
    // Not live any more: quit does not ask.
    press(&mut app, Action::Quit);
    assert!(app.should_quit);
}

#[test]
fn resumed_run_says_so() {
    let mut app = app();
    let mut tables = plans();
    tables[0].already_read = 400;
    tables[1].already_read = 6_000;
    app.update(Msg::Run(RunEvent::Started {
        run_id: uuid::Uuid::nil(),
        tables,
        resumed: Some("cancelled".into()),
    }));
    assert_eq!(app.run.rows_read(), 6_400);
    assert_eq!(
        app.run.alerts[0].text,
        "resumed from checkpoint (the run was stopped): 6,400 rows already done"
    );
}

#[test]
fn a_rerun_of_a_completed_run_says_it_reads_what_the_source_gained() {
    let mut app = app();
    let mut tables = plans();
    tables[0].already_read = 400;
    app.update(Msg::Run(RunEvent::Started {
        run_id: uuid::Uuid::nil(),
        tables,
        resumed: Some("completed".into()),
    }));
    assert_eq!(
        app.run.alerts[0].text,
        "the run completed before: reading the source rows added since (400 rows already done)"
    );
}

#[test]
fn completion_marks_the_execution_phase_done() {
    use flightdeck::timeline::{PhaseState, RunProgress};
    let mut app = app();
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    assert_eq!(app.run.timeline_progress(), RunProgress::Live);
    app.update(Msg::Run(RunEvent::Finished(summary(RunState::Completed))));
    assert_eq!(app.run.timeline_progress(), RunProgress::Completed);
    let states = app.plan.states(app.today, app.run.timeline_progress());
    assert_eq!(states[3], PhaseState::Done);
    assert!(!app.is_available(Action::StartRun));
}

#[test]
fn read_only_refuses_dangerous_actions() {
    let mut app = app_with(flightdeck::tui::Theme::default(), true);
    assert!(app.update(Msg::Key(key('s'))).is_empty());
    assert_eq!(
        app.notice.as_deref(),
        Some("read-only: start_run is disabled")
    );
    assert!(!app.is_available(Action::StartRun));
}

fn key(c: char) -> crossterm::event::KeyEvent {
    crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c))
}

#[test]
fn tab_cycles_through_the_seven_views() {
    let mut app = app();
    let mut seen = vec![app.view];
    for _ in 0..7 {
        press(&mut app, Action::NextView);
        seen.push(app.view);
    }
    assert_eq!(&seen[..7], &View::ALL);
    assert_eq!(seen[7], View::Overview);
}

#[test]
fn entering_the_event_log_loads_it_with_a_throttle() {
    let mut app = app();
    assert_eq!(press(&mut app, Action::ViewEventLog), vec![Cmd::LoadEvents]);
    // Still loading: a Logged event only marks the list stale.
    assert!(
        app.update(Msg::Run(RunEvent::Logged {
            id: 9,
            kind: "batch_committed".into(),
            summary: "x".into(),
        }))
        .is_empty()
    );
    app.update(Msg::EventsLoaded(Ok(records(8))));
    assert_eq!(app.events.records[0].id, 8, "newest first");
    // Within a second of the last load: no reload yet.
    assert!(app.update(at(0)).is_empty());
    assert_eq!(app.update(at(2)), vec![Cmd::LoadEvents]);
    app.update(Msg::EventsLoaded(Ok(records(9))));
    assert!(
        app.update(at(4)).is_empty(),
        "nothing stale, nothing loaded"
    );
}

#[test]
fn logged_events_outside_the_event_log_wait_until_it_is_shown() {
    let mut app = app();
    let logged = RunEvent::Logged {
        id: 1,
        kind: "run_started".into(),
        summary: "run started".into(),
    };
    assert!(app.update(Msg::Run(logged)).is_empty());
    assert!(app.update(at(5)).is_empty());
    assert_eq!(press(&mut app, Action::ViewEventLog), vec![Cmd::LoadEvents]);
}

#[test]
fn event_log_load_failure_is_shown_not_fatal() {
    let mut app = app();
    press(&mut app, Action::ViewEventLog);
    app.update(Msg::EventsLoaded(Err(
        "no such table: flightdeck_events".into()
    )));
    assert_eq!(
        app.events.error.as_deref(),
        Some("no such table: flightdeck_events")
    );
    assert!(!app.should_quit);
}

// ---- Validation -------------------------------------------------------------

use flightdeck::eventlog::rollback::RollbackProgress;
use flightdeck::tui::RollbackUpdate;
use flightdeck::tui::rollback::RollbackStage;
use flightdeck::validate::Phase;

fn pre_checks_done(app: &mut flightdeck::tui::App) {
    app.update(Msg::ChecksDone {
        phase: Phase::Pre,
        result: Ok(checks(Phase::Pre)),
    });
}

#[test]
fn opening_the_cockpit_runs_the_pre_checks_once() {
    let mut app = flightdeck::tui::App::new(input_with(flightdeck::tui::Theme::default(), true));
    let pre = Cmd::RunChecks {
        phase: Phase::Pre,
        run: None,
    };
    assert_eq!(app.init(), vec![pre.clone(), Cmd::LoadQueue]);
    assert!(app.checks.pre.running);
    press(&mut app, Action::ViewValidation);
    // Already running: the key does not start a second round.
    assert!(press(&mut app, Action::RunChecks).is_empty());
    pre_checks_done(&mut app);
    assert!(!app.checks.pre.running);
    assert_eq!(app.checks.visible.len(), 5);
    assert_eq!(press(&mut app, Action::RunChecks), vec![pre]);
}

#[test]
fn a_completed_run_asks_for_post_checks_of_that_run() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    let cmds = app.update(Msg::Run(RunEvent::Finished(summary(RunState::Completed))));
    assert_eq!(
        cmds,
        vec![Cmd::RunChecks {
            phase: Phase::Post,
            run: Some(uuid::Uuid::nil()),
        }]
    );
    app.update(Msg::ChecksDone {
        phase: Phase::Post,
        result: Ok(checks(Phase::Post)),
    });
    pre_checks_done(&mut app);
    // Post-migration first: they are about the run that just ended.
    assert_eq!(app.checks.visible[0], (Phase::Post, 0));
    assert_eq!(app.checks.visible.len(), 10);
    press(&mut app, Action::ViewValidation);
    assert!(matches!(
        &press(&mut app, Action::RunChecks)[..],
        [Cmd::RunChecks {
            phase: Phase::Post,
            ..
        }]
    ));
}

#[test]
fn a_cancelled_or_failed_run_gets_no_post_checks() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    assert!(
        app.update(Msg::Run(RunEvent::Finished(summary(RunState::Cancelled))))
            .is_empty()
    );
    assert!(!app.checks.post.running);
}

#[test]
fn checks_filter_and_drill_down() {
    let mut app = app();
    pre_checks_done(&mut app);
    press(&mut app, Action::ViewValidation);
    press(&mut app, Action::Filter);
    type_text(&mut app, "FAIL");
    app.update(Msg::Key(crossterm::event::KeyCode::Enter.into()));
    assert_eq!(app.checks.visible, vec![(Phase::Pre, 3)]);
    press(&mut app, Action::Open);
    assert_eq!(
        app.layers,
        vec![Layer::CheckDetail {
            phase: Phase::Pre,
            index: 3,
            scroll: 0
        }]
    );
    let check = app.checks.get(Phase::Pre, 3).unwrap();
    assert_eq!(check.examples.len(), 5);
    press(&mut app, Action::Back);
    assert!(app.layers.is_empty());
}

#[test]
fn checks_that_cannot_run_say_why() {
    let mut app = app();
    app.update(Msg::ChecksDone {
        phase: Phase::Pre,
        result: Err("source database: connection refused".into()),
    });
    assert_eq!(
        app.checks.pre.error.as_deref(),
        Some("source database: connection refused")
    );
    assert!(!app.should_quit);
}

// ---- Rollback ---------------------------------------------------------------

/// A completed run, on the Event log with the log loaded, clock moved on.
fn completed_on_event_log() -> flightdeck::tui::App {
    let mut app = app();
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    app.update(Msg::Run(RunEvent::Finished(summary(RunState::Completed))));
    press(&mut app, Action::ViewEventLog);
    app.update(Msg::EventsLoaded(Ok(records(10))));
    app.update(at(10));
    app
}

#[test]
fn rollback_plans_confirms_runs_and_reloads_the_log() {
    let mut app = completed_on_event_log();
    assert!(app.is_available(Action::Rollback));
    assert_eq!(
        press(&mut app, Action::Rollback),
        vec![Cmd::PlanRollback { to: None }]
    );
    assert_eq!(app.layers, vec![Layer::Rollback { scroll: 0 }]);
    assert_eq!(app.rollback, Some(RollbackStage::Planning { to: None }));

    let plan = rollback_plan(None);
    app.update(Msg::RollbackPlanned(Ok(plan.clone())));
    assert_eq!(app.rollback, Some(RollbackStage::Confirming(plan.clone())));
    assert_eq!(
        press(&mut app, Action::Confirm),
        vec![Cmd::StartRollback(plan.clone())]
    );
    // Under way: no second rollback, no run; quitting asks first, and
    // "no" leaves it running.
    assert!(press(&mut app, Action::Quit).is_empty());
    assert_eq!(app.layers.last(), Some(&Layer::ConfirmQuit));
    assert!(press(&mut app, Action::Back).is_empty());
    assert_eq!(app.layers, vec![Layer::Rollback { scroll: 0 }]);
    assert!(!app.should_quit && !app.stopping);
    assert!(!app.is_available(Action::StartRun));

    app.update(Msg::Rollback(RollbackUpdate::Progress(
        RollbackProgress::Started {
            rollback_id: uuid::Uuid::nil(),
            steps: 6,
        },
    )));
    app.update(second_of_six_steps());
    assert!(matches!(
        app.rollback,
        Some(RollbackStage::Running {
            done: 2,
            total: 6,
            ..
        })
    ));
    let cmds = app.update(Msg::Rollback(RollbackUpdate::Progress(
        RollbackProgress::Finished { undone: 6 },
    )));
    assert_eq!(cmds, vec![Cmd::LoadEvents]);
    assert_eq!(
        app.rollback,
        Some(RollbackStage::Finished {
            undone: 6,
            to: None
        })
    );
    assert_eq!(
        app.run.alerts.last().unwrap().text,
        "rolled back: 6 steps undone"
    );
    // The target is back before the run: a new run may start.
    assert_eq!(app.run.state, RunState::Ready);
    assert!(app.checks.post.results.is_none());
    // A late close of the channel changes nothing.
    app.update(Msg::RollbackClosed);
    assert!(matches!(app.rollback, Some(RollbackStage::Finished { .. })));
    press(&mut app, Action::Back);
    assert!(app.layers.is_empty() && app.rollback.is_none());
    assert!(app.is_available(Action::StartRun));
}

/// The report of a rollback's second step of six.
fn second_of_six_steps() -> Msg {
    Msg::Rollback(RollbackUpdate::Progress(RollbackProgress::Step {
        done: 2,
        total: 6,
        event_id: 6,
        summary: "event 6 on ml_models".into(),
    }))
}

/// A rollback under way, two of six steps undone.
fn rolling_back() -> flightdeck::tui::App {
    let mut app = completed_on_event_log();
    press(&mut app, Action::Rollback);
    let plan = rollback_plan(None);
    app.update(Msg::RollbackPlanned(Ok(plan.clone())));
    assert_eq!(
        press(&mut app, Action::Confirm),
        vec![Cmd::StartRollback(plan)]
    );
    app.update(second_of_six_steps());
    assert!(app.rolling_back());
    app
}

#[test]
fn a_signal_during_a_rollback_stops_it_after_its_step_then_quits() {
    let mut app = rolling_back();
    assert_eq!(
        app.update(Msg::Signal(flightdeck::tui::app::Signal::Hangup)),
        vec![Cmd::StopRollback]
    );
    assert!(app.stopping && !app.should_quit, "waits for the step");
    app.update(Msg::Rollback(RollbackUpdate::Failed(
        "stopped on request after 3 of 6 steps".into(),
    )));
    assert!(app.should_quit);
    assert_eq!(app.left_early, None);
    assert!(matches!(app.rollback, Some(RollbackStage::Failed(_))));
    // A second signal before the step ends: leave at once.
    let mut app = rolling_back();
    app.update(Msg::Signal(flightdeck::tui::app::Signal::Hangup));
    assert!(
        app.update(Msg::Signal(flightdeck::tui::app::Signal::Terminate))
            .is_empty()
    );
    assert!(app.should_quit);
    assert_eq!(
        app.left_early.as_deref(),
        Some("the rollback step under way was not committed")
    );
}

#[test]
fn quitting_during_a_rollback_asks_then_stops_it_after_its_step() {
    let mut app = rolling_back();
    // Any other key says how to stop it.
    press(&mut app, Action::PauseResume);
    let notice = app.notice.clone().unwrap_or_default();
    assert!(
        notice.contains("stops it after the step under way"),
        "{notice}"
    );
    press(&mut app, Action::Quit);
    assert_eq!(app.layers.last(), Some(&Layer::ConfirmQuit));
    let screen = format!("{:?}", render(&app, 100, 30).backend().buffer());
    assert!(screen.contains("A rollback is under way"), "{screen}");
    assert_eq!(press(&mut app, Action::Confirm), vec![Cmd::StopRollback]);
    assert!(app.stopping && !app.should_quit);
    // A rollback that finished its last step meanwhile also lets it go.
    app.update(Msg::Rollback(RollbackUpdate::Progress(
        RollbackProgress::Finished { undone: 6 },
    )));
    assert!(app.should_quit);
}

#[test]
fn enter_on_an_event_then_rollback_rolls_back_to_it() {
    let mut app = completed_on_event_log();
    press(&mut app, Action::Down);
    press(&mut app, Action::Open);
    let id = app.events.selected_record().unwrap().id;
    assert_eq!(app.layers, vec![Layer::EventDetail { id, scroll: 0 }]);
    assert_eq!(
        press(&mut app, Action::Rollback),
        vec![Cmd::PlanRollback { to: Some(id) }]
    );
    assert_eq!(app.layers, vec![Layer::Rollback { scroll: 0 }]);
}

#[test]
fn answering_no_undoes_nothing() {
    let mut app = completed_on_event_log();
    press(&mut app, Action::Rollback);
    app.update(Msg::RollbackPlanned(Ok(rollback_plan(None))));
    assert!(press(&mut app, Action::Back).is_empty());
    assert!(app.layers.is_empty() && app.rollback.is_none());
    assert_eq!(
        app.notice.as_deref(),
        Some("rollback cancelled: nothing was undone")
    );
    // A plan that arrives after the popup was closed is dropped.
    press(&mut app, Action::Rollback);
    press(&mut app, Action::Back);
    app.update(Msg::RollbackPlanned(Ok(rollback_plan(None))));
    assert!(app.rollback.is_none() && app.layers.is_empty());
}

#[test]
fn nothing_to_roll_back_is_said_and_confirm_does_nothing() {
    let mut app = completed_on_event_log();
    press(&mut app, Action::Rollback);
    app.update(Msg::RollbackPlanned(Ok(Default::default())));
    assert!(press(&mut app, Action::Confirm).is_empty());
    assert!(app.layers.is_empty());
}

#[test]
fn read_only_refuses_rollback_from_the_list_and_the_event() {
    let mut app = app_with(flightdeck::tui::Theme::default(), true);
    press(&mut app, Action::ViewEventLog);
    app.update(Msg::EventsLoaded(Ok(records(5))));
    assert!(app.update(Msg::Key(key('R'))).is_empty());
    assert_eq!(
        app.notice.as_deref(),
        Some("read-only: rollback is disabled")
    );
    assert!(!app.is_available(Action::Rollback));
    press(&mut app, Action::Open);
    assert!(app.update(Msg::Key(key('R'))).is_empty());
    assert!(app.rollback.is_none());
}

#[test]
fn rollback_is_refused_while_a_run_is_live() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    press(&mut app, Action::ViewEventLog);
    app.update(Msg::EventsLoaded(Ok(records(5))));
    assert!(!app.is_available(Action::Rollback));
    assert!(press(&mut app, Action::Rollback).is_empty());
    assert!(app.rollback.is_none() && app.layers.is_empty());
    let notice = app.notice.clone().unwrap();
    assert!(notice.contains("while a run is live"), "{notice}");
    // Paused is still live: the run holds the target.
    press(&mut app, Action::PauseResume);
    app.update(Msg::Run(RunEvent::StateChanged(RunState::Paused)));
    assert!(press(&mut app, Action::Rollback).is_empty());
}

#[test]
fn a_held_lock_is_an_alert_not_a_crash() {
    let mut app = completed_on_event_log();
    press(&mut app, Action::Rollback);
    let held = "the target is locked by flightdeck run by bob (host ops-2, pid 4242, since 2025-03-20T09:00:00Z)";
    app.update(Msg::RollbackPlanned(Err(held.into())));
    assert_eq!(app.rollback, Some(RollbackStage::Failed(held.into())));
    assert!(
        app.run
            .alerts
            .last()
            .unwrap()
            .text
            .contains("bob (host ops-2")
    );
    press(&mut app, Action::Back);
    assert!(app.layers.is_empty());
    assert!(!app.should_quit);
}

#[test]
fn a_rollback_that_fails_part_way_says_so_and_reloads() {
    let mut app = completed_on_event_log();
    press(&mut app, Action::Rollback);
    app.update(Msg::RollbackPlanned(Ok(rollback_plan(None))));
    press(&mut app, Action::Confirm);
    let cmds = app.update(Msg::Rollback(RollbackUpdate::Failed(
        "database is locked".into(),
    )));
    assert_eq!(cmds, vec![Cmd::LoadEvents]);
    assert_eq!(
        app.rollback,
        Some(RollbackStage::Failed("database is locked".into()))
    );
    assert_eq!(
        app.run.alerts.last().unwrap().text,
        "rollback failed: database is locked"
    );
}

#[test]
fn a_rollback_channel_that_closes_early_is_a_failure() {
    let mut app = completed_on_event_log();
    press(&mut app, Action::Rollback);
    app.update(Msg::RollbackPlanned(Ok(rollback_plan(None))));
    press(&mut app, Action::Confirm);
    app.update(Msg::RollbackClosed);
    assert!(matches!(app.rollback, Some(RollbackStage::Failed(_))));
}
