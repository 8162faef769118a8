//! Scenario tests: an operator's session, keys pressed by action name through the
//! keymap, so rebinding a key never breaks a test.

// Each test file uses a different subset of the shared helpers.
#[allow(dead_code)]
mod tui_common;

use flightdeck::pipeline::{RunEvent, RunState};
use flightdeck::tui::{Action, App, Cmd, Keymap, Layer, Msg, Theme, View};
use tui_common::*;

fn session(keymap: Keymap) {
    let mut input = input_with(Theme::default(), false);
    input.keymap = keymap;
    let mut app = App::new(input);
    app.update(Msg::Tick(t0()));

    assert_eq!(press(&mut app, Action::StartRun), vec![Cmd::StartRun]);
    mid_run(&mut app);

    // Mapping: move to the second table and filter its fields.
    press(&mut app, Action::ViewMapping);
    press(&mut app, Action::Down);
    assert_eq!(app.tables[app.mapping.selected].source, "datasets");
    press(&mut app, Action::Up);
    press(&mut app, Action::Filter);
    type_text(&mut app, "uuid");
    let fields: Vec<_> = app
        .mapping_fields()
        .iter()
        .map(|f| f.target.clone())
        .collect();
    assert_eq!(fields, ["model_uuid", "training_dataset_uuid"]);
    press(&mut app, Action::Back);
    assert!(app.mapping.filter.is_empty() && app.layers.is_empty());

    // Event log: load, page, filter, open an event and close it.
    assert_eq!(press(&mut app, Action::ViewEventLog), vec![Cmd::LoadEvents]);
    app.update(Msg::EventsLoaded(Ok(records(120))));
    press(&mut app, Action::PageDown);
    assert_eq!(app.events.selected, app.page());
    press(&mut app, Action::PageUp);
    assert_eq!(app.events.selected, 0);
    press(&mut app, Action::Filter);
    type_text(&mut app, "table_created");
    app.update(Msg::Key(crossterm::event::KeyCode::Enter.into()));
    assert_eq!(app.events.visible.len(), 1);
    press(&mut app, Action::Open);
    assert_eq!(app.layers, vec![Layer::EventDetail { id: 2, scroll: 0 }]);
    press(&mut app, Action::Back);
    assert!(app.layers.is_empty());

    // Help opens over anything and closes again.
    press(&mut app, Action::Help);
    assert!(matches!(app.layers[..], [Layer::Help { .. }]));
    press(&mut app, Action::Back);

    // Pause, then quit: asks, cancels, waits, leaves.
    assert_eq!(press(&mut app, Action::PauseResume), vec![Cmd::Pause]);
    app.update(Msg::Run(RunEvent::StateChanged(RunState::Paused)));
    press(&mut app, Action::ViewOverview);
    assert_eq!(app.view, View::Overview);
    press(&mut app, Action::Quit);
    assert_eq!(press(&mut app, Action::Confirm), vec![Cmd::Cancel]);
    app.update(Msg::Run(RunEvent::Finished(summary(RunState::Cancelled))));
    assert!(app.should_quit);
}

#[test]
fn operator_session_with_default_keys() {
    session(Keymap::default());
}

#[test]
fn operator_session_with_rebound_keys() {
    let keymap = Keymap::with_overrides(
        "quit = \"x\"\npause_resume = \"p\"\ndown = \"ctrl-n\"\nfilter = \"f\"\nconfirm = \"enter\"\nopen = \"o\"\n",
        "test",
    )
    .unwrap();
    session(keymap);
}

#[test]
fn footer_offers_only_what_works_here() {
    let mut app = app();
    let footer = render(&app, 80, 24).backend().to_string();
    assert!(footer.contains("s start"), "{footer}");
    assert!(!footer.contains("pause"), "{footer}");
    press(&mut app, Action::StartRun);
    app.update(Msg::Run(started()));
    let footer = render(&app, 80, 24).backend().to_string();
    assert!(footer.contains("space pause"), "{footer}");
    assert!(!footer.contains("s start"), "{footer}");
}
