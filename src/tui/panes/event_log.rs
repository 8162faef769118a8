//! Event log: newest first, filterable, scrollable; Enter shows the inverse.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, pane};
use crate::tui::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let list = &app.events;
    let title = if list.filter.is_empty() {
        "Event log · newest first".to_string()
    } else {
        format!("Event log · newest first · matching \"{}\"", list.filter)
    };
    let block = pane(theme, &title, true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [head, rows, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(inner);

    let width = usize::from(inner.width);
    let kind_w = 23;
    let table_w = 16;
    let fixed = 7 + 15 + kind_w + table_w + 1;
    let summary_w = width.saturating_sub(fixed);
    frame.render_widget(
        Paragraph::new(Line::styled(
            format!(
                " {:>5} {:<14} {:<kind_w$} {:<table_w$} summary",
                "id", "at (UTC)", "kind", "table"
            ),
            theme.title(false),
        )),
        head,
    );

    let height = usize::from(rows.height).max(1);
    let offset = (list.selected + 1).saturating_sub(height);
    let lines: Vec<Line> = list
        .visible
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(pos, &i)| {
            let r = &list.records[i];
            let text = format!(
                " {:>5} {:<14} {:<kind_w$} {:<table_w$} {}",
                r.id,
                r.at.format("%m-%d %H:%M:%S"),
                fit(&r.kind, kind_w),
                fit(r.table.as_deref().unwrap_or("-"), table_w),
                fit(&r.summary, summary_w),
            );
            if pos == list.selected {
                Line::styled(format!("{text:<width$}"), theme.selected())
            } else {
                let undo = if !r.has_inverse() {
                    theme.muted()
                } else {
                    theme.text()
                };
                Line::styled(text, undo)
            }
        })
        .collect();
    let empty = if !list.loaded_once && list.loading {
        Some("loading the event log…")
    } else if !list.loaded_once && list.error.is_none() {
        Some("the event log has not been read yet")
    } else if list.records.is_empty() && list.error.is_none() {
        Some("no events yet: starting the run writes the first ones")
    } else if list.visible.is_empty() && list.error.is_none() {
        Some("no events match the filter")
    } else {
        None
    };
    if let Some(text) = empty {
        frame.render_widget(
            Paragraph::new(Line::styled(format!(" {text}"), theme.muted())),
            rows,
        );
    } else {
        frame.render_widget(Paragraph::new(lines), rows);
    }

    let mut spans = vec![Span::styled(
        format!(" {} of {} events", list.visible.len(), list.records.len()),
        theme.muted(),
    )];
    if list.loading {
        spans.push(Span::styled(" · reloading", theme.info()));
    }
    if let Some(e) = &list.error {
        spans.push(Span::styled(
            format!(" · could not read the event log: {e}"),
            theme.danger(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), status);
}
