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
    assert_eq!(app.run.total_rows(), 242_400);
    // A second start while live does nothing.
    assert!(press(&mut app, Action::StartRun).is_empty());
}

#[test]
fn autostart_starts_unless_read_only() {
    let mut input = input_with(flightdeck::tui::Theme::default(), false);
    input.autostart = true;
    assert_eq!(flightdeck::tui::App::new(input).init(), vec![Cmd::StartRun]);
    let mut input = input_with(flightdeck::tui::Theme::default(), true);
    input.autostart = true;
    assert!(flightdeck::tui::App::new(input).init().is_empty());
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
    // A second signal does not cancel twice.
    assert!(app.update(Msg::Signal(Signal::Terminate)).is_empty());
    app.update(Msg::RunClosed);
    assert!(app.should_quit);
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
        resumed: true,
    }));
    assert_eq!(app.run.rows_read(), 6_400);
    assert_eq!(
        app.run.alerts[0].text,
        "resumed from checkpoint: 6,400 rows already done"
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
