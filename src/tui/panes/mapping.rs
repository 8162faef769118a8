//! Mapping: per table, source field → rule → target field, and the latest
//! before/after row from the stream.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, pane};
use crate::tui::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let list_w = (area.width / 4).clamp(16, 34);
    let [list, right] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(0)]).areas(area);
    let [fields, sample] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(right);
    render_tables(frame, list, app);
    render_fields(frame, fields, app);
    render_sample(frame, sample, app);
}

fn render_tables(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let block = pane(theme, "Tables", true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let height = usize::from(inner.height).max(1);
    let selected = app.mapping.selected;
    let offset = (selected + 1).saturating_sub(height);
    let lines: Vec<Line> = app
        .tables
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, t)| {
            let text = fit(&format!(" {} → {}", t.source, t.target), width);
            let style = if i == selected {
                theme.selected()
            } else {
                theme.text()
            };
            Line::styled(format!("{text:<width$}"), style)
        })
        .collect();
    let lines = if lines.is_empty() {
        vec![Line::styled(" no tables", theme.muted())]
    } else {
        lines
    };
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_fields(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let title = match app.tables.get(app.mapping.selected) {
        Some(t) if app.mapping.filter.is_empty() => format!("Fields of {}", t.target),
        Some(t) => format!("Fields of {} matching \"{}\"", t.target, app.mapping.filter),
        None => "Fields".to_string(),
    };
    let block = pane(theme, &title, false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let fields = app.mapping_fields();
    let width = usize::from(inner.width);
    let col = (width.saturating_sub(10) / 4).max(4);
    let mut lines = vec![Line::styled(
        format!(
            " {:<col$}   {:<col$}   {:<col$} {}",
            "source", "rule", "target", "type"
        ),
        theme.title(false),
    )];
    let scroll = app.mapping.field_scroll.min(fields.len().saturating_sub(1));
    for f in fields.iter().skip(scroll) {
        let source = f.source.as_deref().unwrap_or("(computed)");
        lines.push(Line::from(vec![
            Span::styled(format!(" {:<col$}", fit(source, col)), theme.text()),
            Span::styled(" → ", theme.muted()),
            Span::styled(format!("{:<col$}", fit(&f.rule, col)), theme.info()),
            Span::styled(" → ", theme.muted()),
            Span::styled(format!("{:<col$}", fit(&f.target, col)), theme.text()),
            Span::styled(format!(" {}", fit(&f.target_type, col)), theme.muted()),
        ]));
    }
    if fields.is_empty() {
        lines.push(Line::styled(" no fields match", theme.muted()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_sample(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let block = pane(theme, "A row of the latest batch: before → after", false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let sample = app
        .tables
        .get(app.mapping.selected)
        .and_then(|t| app.run.samples.get(&t.source));
    let Some(sample) = sample else {
        frame.render_widget(
            Paragraph::new(Line::styled(
                " no rows of this table have streamed yet",
                theme.muted(),
            )),
            inner,
        );
        return;
    };
    let half = usize::from(inner.width / 2).saturating_sub(1);
    let key_w = (half / 3).max(4);
    let val_w = half.saturating_sub(key_w + 3);
    let pair = |(k, v): &(String, String)| format!(" {:<key_w$} {}", fit(k, key_w), fit(v, val_w));
    let mut after: Vec<(String, ratatui::style::Style)> =
        sample.after.iter().map(|p| (pair(p), theme.ok())).collect();
    if let Some(reason) = &sample.quarantined {
        after.insert(
            0,
            (
                format!(" quarantined: {}", fit(reason, half.saturating_sub(14))),
                theme.warn(),
            ),
        );
    }
    let rows = sample.before.len().max(after.len());
    let lines: Vec<Line> = (0..rows)
        .take(usize::from(inner.height))
        .map(|i| {
            let before = sample.before.get(i).map(pair).unwrap_or_default();
            let (after_text, after_style) = after
                .get(i)
                .cloned()
                .unwrap_or((String::new(), theme.text()));
            Line::from(vec![
                Span::styled(format!("{before:<half$}"), theme.text()),
                Span::styled("│", theme.border(false)),
                Span::styled(after_text, after_style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
