//! Timeline: a Gantt chart of the test-run plan with a today marker, each phase's
//! state, and the execution phase tied to the run.

use chrono::{Days, NaiveDate};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, pane};
use crate::timeline::{PhaseState, is_working_day};
use crate::tui::app::App;

/// Spans built cell by cell, merged while the style stays the same.
struct Row {
    spans: Vec<Span<'static>>,
    text: String,
    style: Style,
}

impl Row {
    fn new() -> Row {
        Row {
            spans: Vec::new(),
            text: String::new(),
            style: Style::default(),
        }
    }
    fn push(&mut self, text: &str, style: Style) {
        if style != self.style && !self.text.is_empty() {
            self.spans
                .push(Span::styled(std::mem::take(&mut self.text), self.style));
        }
        self.style = style;
        self.text.push_str(text);
    }
    fn line(mut self) -> Line<'static> {
        if !self.text.is_empty() {
            self.spans.push(Span::styled(self.text, self.style));
        }
        Line::from(self.spans)
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let plan = &app.plan;
    let title = format!(
        "Timeline · {} working days · {} → {}",
        plan.total_working_days(),
        plan.phases.first().map_or(plan.start, |p| p.start),
        plan.end()
    );
    let block = pane(theme, &title, true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(first) = plan.phases.first().map(|p| p.start) else {
        frame.render_widget(
            Paragraph::new(Line::styled(" no phases", theme.muted())),
            inner,
        );
        return;
    };
    let states = plan.states(app.today, app.run.timeline_progress());
    let name_w = 24usize;
    let state_w = 13usize;
    let chart_w = usize::from(inner.width)
        .saturating_sub(name_w + state_w + 3)
        .max(1);
    let days_total = (plan.end() - first).num_days().max(0) as usize + 1;
    let date_at =
        |col: usize| first.checked_add_days(Days::new((col * days_total / chart_w) as u64));
    let today_col = (app.today >= first && app.today <= plan.end()).then(|| {
        let offset = (app.today - first).num_days() as usize;
        // The first column showing today.
        (0..chart_w)
            .find(|c| c * days_total / chart_w >= offset)
            .unwrap_or(chart_w - 1)
    });

    let mut lines = Vec::new();
    let mut axis: Vec<char> = vec![' '; chart_w];
    let mut put = |at: usize, text: &str| {
        for (i, ch) in text.chars().enumerate() {
            if let Some(slot) = axis.get_mut(at + i) {
                *slot = ch;
            }
        }
    };
    put(0, &first.format("%b %d").to_string());
    let end_label = plan.end().format("%b %d").to_string();
    let end_at = chart_w.saturating_sub(end_label.len());
    let today_at = today_col.map(|col| col.min(chart_w.saturating_sub(6)));
    // The end date gives way to the today label when they would overlap.
    if today_at.is_none_or(|t| t + 7 <= end_at) {
        put(end_at, &end_label);
    }
    if let Some(at) = today_at {
        put(at, "▼today");
    }
    lines.push(Line::from(vec![
        Span::styled(
            format!(" {:<name_w$}{:<state_w$} ", "phase", "state"),
            theme.title(false),
        ),
        Span::styled(axis.into_iter().collect::<String>(), theme.muted()),
    ]));

    for (phase, state) in plan.phases.iter().zip(&states) {
        let style = theme.phase(*state);
        let mut row = Row::new();
        let marker = if phase.execution { "▶" } else { " " };
        row.push(
            &format!("{marker}{:<name_w$}", fit(&phase.name, name_w - 1)),
            theme.text(),
        );
        row.push(&format!("{:<state_w$} ", state.label()), style);
        for col in 0..chart_w {
            let day = date_at(col);
            let inside = day.is_some_and(|d| d >= phase.start && d <= phase.end);
            let today = today_col == Some(col);
            let (cell, cell_style) = match (inside, today) {
                (true, true) => ("█", theme.today()),
                (false, true) => ("│", theme.today()),
                (true, false) if day.is_some_and(|d| is_working_day(d, &plan.holidays)) => {
                    ("█", style)
                }
                (true, false) => ("·", theme.muted()),
                (false, false) => (" ", theme.text()),
            };
            row.push(cell, cell_style);
        }
        lines.push(row.line());
    }

    lines.push(Line::raw(""));
    lines.push(summary_line(app, first));
    for (phase, state) in plan.phases.iter().zip(&states) {
        if let PhaseState::Slipped { days_late } = state {
            lines.push(Line::styled(
                format!(
                    " {} was due {} and is {days_late} working day(s) late",
                    phase.name, phase.end
                ),
                theme.danger(),
            ));
        }
    }
    if !plan.holidays.is_empty() {
        let days: Vec<String> = plan.holidays.iter().map(NaiveDate::to_string).collect();
        lines.push(Line::styled(
            format!(" holidays: {}", days.join(", ")),
            theme.muted(),
        ));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn summary_line(app: &App, first: NaiveDate) -> Line<'static> {
    let theme = &app.theme;
    let where_today = if app.today < first {
        " (before the plan starts)"
    } else if app.today > app.plan.end() {
        " (after the plan ends)"
    } else {
        ""
    };
    Line::from(vec![
        Span::styled(format!(" today {}{where_today}", app.today), theme.today()),
        Span::styled(
            "  ▶ tied to the run  █ working day  · weekend/holiday",
            theme.muted(),
        ),
    ])
}
