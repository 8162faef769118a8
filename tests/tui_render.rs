//! Pane snapshots (TestBackend + insta) of every view at 80x24 and 160x48, the
//! popups, the too-small screen, and rendering robustness at tiny sizes.

// Each test file uses a different subset of the shared helpers.
#[allow(dead_code)]
mod tui_common;

use flightdeck::pipeline::{RunEvent, RunState};
use flightdeck::tui::theme::BUILT_IN;
use flightdeck::tui::{Action, App, Msg, Theme, View};
use flightdeck::validate::Phase;
use ratatui::style::Color;
use tui_common::*;

/// A cockpit mid-run with the event log loaded and an alert raised.
fn busy_app(theme: Theme) -> App {
    let mut app = app_with(theme, false);
    press(&mut app, Action::StartRun);
    mid_run(&mut app);
    profiled(&mut app);
    press(&mut app, Action::PauseResume);
    app.update(Msg::Run(RunEvent::StateChanged(RunState::Paused)));
    app.update(Msg::EventsLoaded(Ok(records(30))));
    app.update(Msg::ChecksDone {
        phase: Phase::Pre,
        result: Ok(checks(Phase::Pre)),
    });
    app
}

fn show(app: &mut App, view: View) {
    let action = match view {
        View::Overview => Action::ViewOverview,
        View::Profile => Action::ViewProfile,
        View::Recommendations => Action::ViewRecommendations,
        View::Mapping => Action::ViewMapping,
        View::Validation => Action::ViewValidation,
        View::Timeline => Action::ViewTimeline,
        View::EventLog => Action::ViewEventLog,
    };
    press(app, action);
    assert_eq!(app.view, view);
}

fn snapshot_name(view: View, w: u16, h: u16) -> String {
    let slug = view.title().to_lowercase().replace(' ', "_");
    format!("{slug}_{w}x{h}")
}

#[test]
fn every_view_at_both_sizes() {
    for (w, h) in [(80, 24), (160, 48)] {
        for view in View::ALL {
            let mut app = busy_app(Theme::default());
            show(&mut app, view);
            let terminal = render(&app, w, h);
            insta::assert_snapshot!(snapshot_name(view, w, h), terminal.backend());
        }
    }
}

#[test]
fn ready_overview_before_the_run() {
    let app = app();
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn completed_run_overview_and_timeline() {
    let mut app = app();
    press(&mut app, Action::StartRun);
    mid_run(&mut app);
    app.update(Msg::Run(RunEvent::Finished(summary(RunState::Completed))));
    insta::assert_snapshot!("completed_overview", render(&app, 80, 24).backend());
    press(&mut app, Action::ViewTimeline);
    insta::assert_snapshot!("completed_timeline", render(&app, 80, 24).backend());
}

#[test]
fn help_overlay() {
    let mut app = app();
    press(&mut app, Action::Help);
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn read_only_help_hides_dangerous_actions() {
    let mut app = app_with(Theme::default(), true);
    press(&mut app, Action::Help);
    let screen = render(&app, 80, 24).backend().to_string();
    assert!(!screen.contains("start the migration run"), "{screen}");
    assert!(screen.contains("read-only"), "{screen}");
    let footer = render(&app_with(Theme::default(), true), 80, 24)
        .backend()
        .to_string();
    assert!(!footer.contains("s start"), "{footer}");
}

#[test]
fn quit_confirmation() {
    let mut app = busy_app(Theme::default());
    press(&mut app, Action::Quit);
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn event_detail_shows_the_inverse() {
    let mut app = busy_app(Theme::default());
    press(&mut app, Action::ViewEventLog);
    press(&mut app, Action::Down);
    press(&mut app, Action::Open);
    let terminal = render(&app, 80, 24);
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains("DELETE FROM ml_models WHERE original_source_id BETWEEN"),
        "{screen}"
    );
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn too_small_says_so() {
    let app = app();
    let screen = render(&app, 79, 23).backend().to_string();
    assert!(
        screen.contains("terminal too small (need 80x24, have 79x23)"),
        "{screen}"
    );
}

#[test]
fn tiny_sizes_do_not_panic() {
    for view in View::ALL {
        let mut app = busy_app(Theme::default());
        show(&mut app, view);
        press(&mut app, Action::Help);
        for (w, h) in [
            (0, 0),
            (1, 1),
            (20, 5),
            (79, 23),
            (80, 24),
            (81, 25),
            (300, 100),
        ] {
            render(&app, w, h);
        }
    }
}

#[test]
fn every_built_in_theme_renders_every_view() {
    for (name, _) in BUILT_IN {
        for view in View::ALL {
            let mut app = busy_app(Theme::built_in(name).unwrap());
            show(&mut app, view);
            render(&app, 120, 40);
        }
    }
}

#[test]
fn monochrome_screen_carries_no_colour() {
    for view in View::ALL {
        let mut app = busy_app(Theme::built_in("monochrome").unwrap());
        show(&mut app, view);
        press(&mut app, Action::Help);
        let terminal = render(&app, 160, 48);
        for cell in terminal.backend().buffer().content() {
            assert_eq!(cell.fg, Color::Reset, "{view:?} at {:?}", cell.symbol());
            assert_eq!(cell.bg, Color::Reset, "{view:?} at {:?}", cell.symbol());
        }
    }
}

#[test]
fn dark_theme_does_colour_the_screen() {
    // Guards the monochrome test against passing because nothing is ever coloured.
    let app = busy_app(Theme::built_in("dark").unwrap());
    let terminal = render(&app, 80, 24);
    assert!(
        terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset)
    );
}

/// A completed run with both phases checked and the event log loaded.
fn checked_app() -> App {
    let mut app = app();
    press(&mut app, Action::StartRun);
    mid_run(&mut app);
    app.update(Msg::Run(RunEvent::Finished(summary(RunState::Completed))));
    for phase in [Phase::Pre, Phase::Post] {
        app.update(Msg::ChecksDone {
            phase,
            result: Ok(checks(phase)),
        });
    }
    app.update(Msg::EventsLoaded(Ok(records(30))));
    app
}

#[test]
fn validation_list_and_drill_down() {
    let mut app = checked_app();
    press(&mut app, Action::ViewValidation);
    press(&mut app, Action::Down);
    press(&mut app, Action::Down);
    press(&mut app, Action::Down);
    let terminal = render(&app, 80, 24);
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains("post-migration (target): 2 ok 1 warn 1 skip 1 FAIL"),
        "{screen}"
    );
    assert!(screen.contains("FAIL post model_performance"), "{screen}");
    insta::assert_snapshot!("validation_list_80x24", terminal.backend());

    press(&mut app, Action::Open);
    let terminal = render(&app, 80, 24);
    let screen = terminal.backend().to_string();
    assert!(screen.contains("SQL it ran"), "{screen}");
    assert!(
        screen.contains("metric_id=5002, model_id=99020"),
        "{screen}"
    );
    insta::assert_snapshot!("validation_check_detail_80x24", terminal.backend());
}

#[test]
fn validation_filter_narrows_the_list() {
    let mut app = checked_app();
    press(&mut app, Action::ViewValidation);
    press(&mut app, Action::Filter);
    type_text(&mut app, "warn");
    let screen = render(&app, 80, 24).backend().to_string();
    assert!(screen.contains("matching \"warn\""), "{screen}");
    assert!(screen.contains("status in value_map"), "{screen}");
    assert!(!screen.contains("volume"), "{screen}");
}

#[test]
fn rollback_confirmation_lists_what_will_be_undone() {
    let mut app = checked_app();
    press(&mut app, Action::ViewEventLog);
    press(&mut app, Action::Rollback);
    app.update(Msg::RollbackPlanned(Ok(rollback_plan(None))));
    let terminal = render(&app, 80, 24);
    let screen = terminal.backend().to_string();
    for expected in [
        "Roll back the latest run?",
        "tables dropped:",
        "data_sources",
        "3,990  ml_models (with the table)",
        "quarantined rows deleted: 12 from flightdeck_quarantine",
        "DROP TABLE \"ml_models\"",
        "ALTER TABLE \"ml_models\" DROP CONSTRAINT",
        "y roll back",
    ] {
        assert!(screen.contains(expected), "{expected:?} missing:\n{screen}");
    }
    insta::assert_snapshot!("rollback_confirmation_80x24", terminal.backend());
}

#[test]
fn rollback_progress_and_outcome() {
    use flightdeck::eventlog::rollback::RollbackProgress;
    use flightdeck::tui::RollbackUpdate;
    let mut app = checked_app();
    press(&mut app, Action::ViewEventLog);
    press(&mut app, Action::Rollback);
    app.update(Msg::RollbackPlanned(Ok(rollback_plan(None))));
    press(&mut app, Action::Confirm);
    app.update(Msg::Rollback(RollbackUpdate::Progress(
        RollbackProgress::Step {
            done: 3,
            total: 6,
            event_id: 5,
            summary: "event 5 on ml_models".into(),
        },
    )));
    let screen = render(&app, 80, 24).backend().to_string();
    assert!(screen.contains("3 of 6 steps"), "{screen}");
    assert!(screen.contains("undid event 5 on ml_models"), "{screen}");
    app.update(Msg::Rollback(RollbackUpdate::Progress(
        RollbackProgress::Finished { undone: 6 },
    )));
    let screen = render(&app, 80, 24).backend().to_string();
    assert!(
        screen.contains("Rolled back: 6 steps undone; the target is back to its state before"),
        "{screen}"
    );
}

/// The Profile view on a column with outliers and values outside its rule.
#[test]
fn profile_column_with_anomalies() {
    let mut app = busy_app(Theme::default());
    show(&mut app, View::Profile);
    press(&mut app, Action::FocusRight);
    for _ in 0..3 {
        press(&mut app, Action::Down);
    }
    let terminal = render(&app, 80, 24);
    let screen = terminal.backend().to_string();
    assert!(screen.contains("outside the rule 0–1"), "{screen}");
    insta::assert_snapshot!("profile_anomalies_80x24", terminal.backend());
}

#[test]
fn recommendation_detail_shows_evidence_and_both_ddls() {
    let mut app = busy_app(Theme::default());
    show(&mut app, View::Recommendations);
    press(&mut app, Action::Down);
    press(&mut app, Action::Open);
    insta::assert_snapshot!(
        "recommendation_detail_80x24",
        render(&app, 80, 24).backend()
    );
}

/// The popup, the empty views and the selection at every size and in monochrome.
#[test]
fn profile_and_recommendations_survive_tiny_sizes_and_monochrome() {
    let mut empty = app_with(Theme::built_in("monochrome").unwrap(), false);
    let mut detail = busy_app(Theme::built_in("monochrome").unwrap());
    show(&mut detail, View::Recommendations);
    press(&mut detail, Action::Open);
    let mut columns = busy_app(Theme::built_in("monochrome").unwrap());
    show(&mut columns, View::Profile);
    press(&mut columns, Action::FocusRight);
    press(&mut columns, Action::PageDown);
    for view in [View::Profile, View::Recommendations] {
        show(&mut empty, view);
        for app in [&empty, &detail, &columns] {
            for (w, h) in [(0, 0), (1, 1), (20, 5), (79, 23), (80, 24), (300, 100)] {
                render(app, w, h);
            }
            for cell in render(app, 160, 48).backend().buffer().content() {
                assert_eq!(cell.fg, Color::Reset, "{view:?} at {:?}", cell.symbol());
                assert_eq!(cell.bg, Color::Reset, "{view:?} at {:?}", cell.symbol());
            }
        }
    }
    let screen = render(&empty, 80, 24).backend().to_string();
    assert!(screen.contains("none yet"), "{screen}");
}

/// A paced run's rate is the pace, not the machine's: the header says so.
#[test]
fn a_paced_run_says_its_rate_is_the_pace() {
    let mut app = busy_app(Theme::default());
    let header = |app: &App| {
        let screen = render(app, 120, 30).backend().to_string();
        screen.lines().nth(1).unwrap_or_default().to_string()
    };
    assert!(!header(&app).contains("paced"), "{}", header(&app));
    app.pace = Some(1000.0);
    let line = header(&app);
    assert!(
        line.contains(" rows/s (paced to 1,000)  elapsed "),
        "{line}"
    );
}
