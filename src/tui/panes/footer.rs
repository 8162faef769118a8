//! The keys that work here, straight from the action table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::app::{App, Layer};
use crate::tui::keymap::Action;
use crate::tui::rollback::RollbackStage;

/// The actions the footer offers, in order, for the current view and popup.
pub fn footer_actions(app: &App) -> Vec<Action> {
    match app.layers.last() {
        Some(Layer::ConfirmQuit) => vec![Action::Confirm, Action::Back],
        Some(Layer::Help { .. }) => vec![Action::Down, Action::Up, Action::Back],
        Some(Layer::EventDetail { .. }) => {
            [Action::Down, Action::Up, Action::Rollback, Action::Back]
                .into_iter()
                .filter(|a| *a != Action::Rollback || app.is_available(*a))
                .collect()
        }
        Some(Layer::CheckDetail { .. }) => vec![Action::Down, Action::Up, Action::Back],
        Some(Layer::Recommendation { .. }) => [
            Action::Accept,
            Action::Reject,
            Action::Defer,
            Action::Down,
            Action::Up,
            Action::Back,
        ]
        .into_iter()
        .filter(|a| !a.dangerous() || app.is_available(*a))
        .collect(),
        Some(Layer::Rollback { .. }) => match &app.rollback {
            Some(RollbackStage::Confirming(plan)) if !plan.is_empty() => {
                vec![Action::Confirm, Action::Back, Action::Down]
            }
            Some(RollbackStage::Running { .. }) => Vec::new(),
            _ => vec![Action::Back],
        },
        Some(Layer::Filter) => Vec::new(),
        None => [
            Action::StartRun,
            Action::PauseResume,
            Action::RunChecks,
            Action::Rollback,
            Action::Down,
            Action::Up,
            Action::PageDown,
            Action::Open,
            Action::Accept,
            Action::Reject,
            Action::Defer,
            Action::FocusLeft,
            Action::FocusRight,
            Action::Filter,
            Action::NextView,
            Action::Help,
            Action::Quit,
        ]
        .into_iter()
        .filter(|a| app.is_available(*a))
        .collect(),
    }
}

fn hint(app: &App, action: Action) -> &'static str {
    match action {
        Action::StartRun => "start",
        Action::PauseResume if app.run.state == crate::pipeline::RunState::Paused => "resume",
        Action::PauseResume => "pause",
        Action::RunChecks => "rerun checks",
        Action::Rollback if matches!(app.layers.last(), Some(Layer::EventDetail { .. })) => {
            "roll back to here"
        }
        Action::Rollback => "roll back",
        Action::Down | Action::Up => "move",
        Action::FocusLeft | Action::FocusRight => "focus",
        Action::PageDown => "page",
        Action::Open => "details",
        Action::Filter => "filter",
        Action::NextView => "views",
        Action::Help => "help",
        Action::Quit => "quit",
        Action::Confirm if matches!(app.layers.last(), Some(Layer::Rollback { .. })) => "roll back",
        Action::Confirm => "yes",
        Action::Back if matches!(app.layers.last(), Some(Layer::ConfirmQuit)) => "no",
        Action::Back
            if matches!(
                (app.layers.last(), &app.rollback),
                (
                    Some(Layer::Rollback { .. }),
                    Some(RollbackStage::Confirming(_))
                )
            ) =>
        {
            "keep everything"
        }
        Action::Back => "back",
        _ => action.name(),
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut spans = vec![Span::raw(" ")];
    if let Some(Layer::Filter) = app.layers.last() {
        let filter = app.filter_text();
        spans.push(Span::styled("filter: ", theme.key()));
        spans.push(Span::styled(format!("{filter}▏"), theme.text()));
        spans.push(Span::styled("  enter keep · esc clear", theme.muted()));
    }
    let first = |a: Action| app.keymap.keys_for(a).first().map(|k| k.to_string());
    let mut items: Vec<(Action, String)> = Vec::new();
    for action in footer_actions(app) {
        // Pairs share one hint ("j/k move") to keep the footer within 80 columns.
        let label = match action {
            Action::Up | Action::PageUp | Action::FocusRight => continue,
            Action::Down | Action::PageDown | Action::FocusLeft => {
                let other = match action {
                    Action::Down => Action::Up,
                    Action::PageDown => Action::PageUp,
                    _ => Action::FocusRight,
                };
                match (first(action), first(other)) {
                    (Some(a), Some(b)) => format!("{a}/{b}"),
                    (a, b) => a.or(b).unwrap_or_default(),
                }
            }
            _ => first(action).unwrap_or_default(),
        };
        if !label.is_empty() {
            items.push((action, label));
        }
    }
    // Least needed first: dropped until the footer fits the terminal.
    const EXPENDABLE: [Action; 5] = [
        Action::NextView,
        Action::PageDown,
        Action::Filter,
        Action::FocusLeft,
        Action::Down,
    ];
    let used: usize = spans.iter().map(|s| s.width()).sum::<usize>()
        + app.notice.as_ref().map_or(0, |n| n.chars().count() + 2);
    let width_of = |items: &[(Action, String)]| -> usize {
        items
            .iter()
            .map(|(a, l)| l.chars().count() + hint(app, *a).len() + 3)
            .sum()
    };
    for drop in EXPENDABLE {
        if used + width_of(&items) <= usize::from(area.width) {
            break;
        }
        items.retain(|(a, _)| *a != drop);
    }
    for (action, label) in items {
        spans.push(Span::styled(label, theme.key()));
        spans.push(Span::styled(
            format!(" {}  ", hint(app, action)),
            theme.muted(),
        ));
    }
    if let Some(notice) = &app.notice {
        spans.push(Span::styled(format!("│ {notice}"), theme.warn()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
