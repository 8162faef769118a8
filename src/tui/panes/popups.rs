//! The layer stack drawn bottom to top: help, quit confirmation, event details.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{fit, pane};
use crate::tui::app::{App, Layer};
use crate::tui::keymap::ACTIONS;

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    for layer in &app.layers {
        match layer {
            Layer::Help { scroll } => help(frame, area, app, *scroll),
            Layer::ConfirmQuit => confirm_quit(frame, area, app),
            Layer::EventDetail { id, scroll } => event_detail(frame, area, app, *id, *scroll),
            // The filter is edited in the footer.
            Layer::Filter => {}
        }
    }
}

fn help(frame: &mut Frame, area: Rect, app: &App, scroll: usize) {
    let theme = &app.theme;
    let rect = centered(area, 72, area.height.saturating_sub(2));
    let mut lines = Vec::new();
    for info in ACTIONS {
        if app.read_only && info.dangerous {
            continue;
        }
        let keys = app.keymap.label(info.action);
        let mut spans = vec![
            Span::styled(format!(" {:<14}", fit(&keys, 14)), theme.key()),
            Span::styled(info.description.to_string(), theme.text()),
        ];
        if info.dangerous {
            spans.push(Span::styled("  (changes the target)", theme.danger()));
        }
        lines.push(Line::from(spans));
    }
    if app.read_only {
        lines.push(Line::styled(
            " read-only: actions that change the target are hidden",
            theme.warn(),
        ));
    }
    let scroll = scroll.min(lines.len().saturating_sub(1));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .style(theme.popup())
            .scroll((scroll as u16, 0))
            .block(pane(theme, "Keys · esc closes", true)),
        rect,
    );
}

fn confirm_quit(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let rect = centered(area, 60, 8);
    let yes = app.keymap.label(crate::tui::Action::Confirm);
    let no = app.keymap.label(crate::tui::Action::Back);
    let lines = vec![
        Line::styled(" A run is live.", theme.warn()),
        Line::styled(
            " Stop it at the next batch boundary and quit? Its checkpoint is kept, so reopening resumes.",
            theme.text(),
        ),
        Line::raw(""),
        Line::from(vec![
            Span::styled(format!(" {yes}"), theme.key()),
            Span::styled(" stop and quit   ", theme.text()),
            Span::styled(no, theme.key()),
            Span::styled(" keep running", theme.text()),
        ]),
    ];
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .style(theme.popup())
            .wrap(Wrap { trim: false })
            .block(pane(theme, "Quit?", true)),
        rect,
    );
}

fn event_detail(frame: &mut Frame, area: Rect, app: &App, id: i64, scroll: usize) {
    let theme = &app.theme;
    let rect = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    let mut lines = Vec::new();
    match app.event_by_id(id) {
        None => lines.push(Line::styled(
            format!(" event {id} is no longer loaded"),
            theme.muted(),
        )),
        Some(r) => {
            lines.push(Line::from(vec![
                Span::styled(format!(" #{} ", r.id), theme.key()),
                Span::styled(
                    format!("{} · {}", r.kind, r.at.format("%Y-%m-%d %H:%M:%S UTC")),
                    theme.text(),
                ),
            ]));
            if let Some(t) = &r.table {
                lines.push(Line::styled(format!(" table {t}"), theme.muted()));
            }
            lines.push(Line::styled(format!(" {}", r.summary), theme.text()));
            if !r.detail.is_null() {
                lines.push(Line::styled(format!(" {}", r.detail), theme.muted()));
            }
            lines.push(Line::raw(""));
            if r.inverse.is_empty() {
                lines.push(Line::styled(
                    " nothing to undo for this event",
                    theme.muted(),
                ));
            } else {
                lines.push(Line::styled(
                    " inverse (run newest first on rollback):",
                    theme.title(false),
                ));
                for stmt in &r.inverse {
                    lines.push(Line::styled(format!("   {stmt}"), theme.warn()));
                }
            }
        }
    }
    let scroll = scroll.min(lines.len().saturating_sub(1));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .style(theme.popup())
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0))
            .block(pane(theme, &format!("Event {id} · esc closes"), true)),
        rect,
    );
}
