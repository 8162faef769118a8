//! Project, source → target, run state, rows/s, elapsed, ETA, and the view tabs.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::pipeline::RunState;
use crate::tui::app::{App, View};
use crate::tui::run_model::{clock, thousands};

/// The word the header shows for the run, and how loud it is.
pub fn state_label(app: &App) -> (&'static str, Style) {
    let theme = &app.theme;
    let run = &app.run;
    if app.stopping && run.is_live() {
        return ("stopping…", theme.warn());
    }
    match run.state {
        RunState::Running if run.pause_requested => ("pausing…", theme.warn()),
        RunState::Paused if run.resume_requested => ("resuming…", theme.warn()),
        RunState::Ready if run.requested => ("starting…", theme.info()),
        RunState::Ready => (run.state.word(), theme.info()),
        RunState::Running | RunState::Completed => (run.state.word(), theme.ok()),
        RunState::Paused | RunState::Cancelled => (run.state.word(), theme.warn()),
        RunState::Failed => (run.state.word(), theme.danger()),
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let run = &app.run;
    let title = Line::from(vec![
        Span::styled(" flightdeck ", theme.header_accent()),
        Span::styled(format!("│ {} │ ", app.project_name), theme.header()),
        Span::styled(
            format!("{} → {}", app.source_display, app.target_display),
            theme.header(),
        ),
    ])
    .style(theme.header());

    let (state, state_style) = state_label(app);
    let mut status = vec![
        Span::raw(" "),
        Span::styled(
            format!(" {} ", state.to_uppercase()),
            state_style.reversed(),
        ),
        Span::styled(
            format!("  {} rows/s", thousands(run.rows_per_s.round() as u64)),
            theme.text(),
        ),
    ];
    if let Some(pace) = app.pace.filter(|_| run.is_live()) {
        status.push(Span::styled(
            format!(" (paced to {})", thousands(pace.round() as u64)),
            theme.muted(),
        ));
    }
    status.extend([
        Span::styled("  elapsed ", theme.muted()),
        Span::styled(
            run.elapsed(app.now).map_or("--:--".into(), clock),
            theme.text(),
        ),
        Span::styled("  ETA ", theme.muted()),
        Span::styled(run.eta().map_or("--:--".into(), clock), theme.text()),
    ]);
    if let Some(total) = run.total_rows().filter(|t| *t > 0) {
        let pct = run.rows_read() as f64 * 100.0 / total as f64;
        status.push(Span::styled(
            format!("  {pct:.0}% of {} rows", thousands(total)),
            theme.muted(),
        ));
    }
    if app.read_only {
        status.push(Span::styled("  READ-ONLY", theme.warn()));
    }

    // Full view names when they fit, short ones on an 80-column terminal.
    let full: usize = View::ALL.iter().map(|v| v.title().len() + 5).sum();
    let short = full > usize::from(area.width);
    let mut tabs = vec![Span::raw(" ")];
    for (i, view) in View::ALL.iter().enumerate() {
        let name = if short {
            view.short_title()
        } else {
            view.title()
        };
        tabs.push(Span::styled(
            format!(" {} {} ", i + 1, name),
            theme.tab(*view == app.view),
        ));
        tabs.push(Span::raw(" "));
    }

    let lines = vec![title, Line::from(status), Line::from(tabs)];
    frame.render_widget(Paragraph::new(lines), area);
}
