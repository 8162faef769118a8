//! Overview: per-table progress, throughput, quarantine counts and alerts.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use super::{bar, fit, pane};
use crate::tui::app::App;
use crate::tui::run_model::{AlertLevel, thousands};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let rows = app.run.tables.len().max(app.tables.len()).max(1) as u16;
    let [tables, throughput, alerts] = Layout::vertical([
        Constraint::Length(rows + 2),
        Constraint::Length(7),
        Constraint::Min(3),
    ])
    .areas(area);
    render_tables(frame, tables, app);
    render_throughput(frame, throughput, app);
    render_alerts(frame, alerts, app);
}

fn render_tables(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let block = pane(theme, "Tables", true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let name_w = (width / 4).clamp(12, 40);
    let counts_w = 15;
    // " 100%", " counts", " q 12,345 ", " running"
    let tail_w = 5 + 1 + counts_w + 10 + 8;
    let bar_w = width.saturating_sub(name_w + tail_w + 2).max(4);
    let run = &app.run;
    let mut lines = Vec::new();
    if run.tables.is_empty() {
        let hint = if app.read_only {
            "waiting (read-only: no run)"
        } else if run.requested {
            "starting…"
        } else {
            "waiting for start"
        };
        for t in &app.tables {
            let name = fit(&format!("{} → {}", t.source, t.target), name_w);
            let mut spans = vec![Span::styled(format!(" {name:<name_w$} "), theme.text())];
            spans.extend(bar(theme, 0.0, bar_w));
            spans.push(Span::styled(format!("  {hint}"), theme.muted()));
            lines.push(Line::from(spans));
        }
        if app.tables.is_empty() {
            lines.push(Line::styled(" no tables in this project", theme.muted()));
        }
    }
    for (i, (plan, progress)) in run.tables.iter().zip(&run.progress).enumerate() {
        // A finished table is whole even where its size was an estimate.
        let ratio = match plan.source_rows {
            _ if run.finished.get(i).copied().unwrap_or(false) => 1.0,
            Some(rows) if rows > 0 => progress.read as f64 / rows as f64,
            _ => 0.0,
        };
        let (state, style) = if run.finished.get(i).copied().unwrap_or(false) {
            ("done", theme.ok())
        } else if run.current_table == Some(i) && run.is_live() {
            ("running", theme.info())
        } else {
            ("queued", theme.muted())
        };
        let name = fit(&format!("{} → {}", plan.source, plan.target), name_w);
        let counts = fit(
            &format!(
                "{}/{}",
                thousands(progress.read),
                match plan.source_rows {
                    None => "counting…".into(),
                    Some(n) if plan.estimated => format!("≈{}", thousands(n)),
                    Some(n) => thousands(n),
                }
            ),
            counts_w,
        );
        let quarantine_style = if progress.quarantined > 0 {
            theme.warn()
        } else {
            theme.muted()
        };
        let mut spans = vec![Span::styled(format!(" {name:<name_w$} "), theme.text())];
        spans.extend(bar(theme, ratio, bar_w));
        spans.push(Span::styled(
            format!(" {:>4}", format!("{:.0}%", ratio.clamp(0.0, 1.0) * 100.0)),
            theme.text(),
        ));
        spans.push(Span::styled(format!(" {counts:>counts_w$}"), theme.text()));
        spans.push(Span::styled(
            format!(" q {:<7}", fit(&thousands(progress.quarantined), 7)),
            quarantine_style,
        ));
        spans.push(Span::styled(format!(" {state}"), style));
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_throughput(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let run = &app.run;
    let peak = run.throughput.iter().copied().max().unwrap_or(0);
    let title = format!(
        "Throughput · now {} rows/s · peak {} · batch {} · quarantined {}",
        thousands(run.rows_per_s.round() as u64),
        thousands(peak),
        thousands(run.batch_size as u64),
        thousands(run.rows_quarantined()),
    );
    let block = pane(theme, &title, false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if run.throughput.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                " rows per second appear here once the run is going",
                theme.muted(),
            )),
            inner,
        );
        return;
    }
    let skip = run
        .throughput
        .len()
        .saturating_sub(usize::from(inner.width));
    let data: Vec<u64> = run.throughput.iter().skip(skip).copied().collect();
    frame.render_widget(
        Sparkline::default().data(&data).style(theme.sparkline()),
        inner,
    );
}

fn render_alerts(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let block = pane(theme, "Alerts", false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines: Vec<Line> = if app.run.alerts.is_empty() {
        vec![Line::styled(" no alerts", theme.muted())]
    } else {
        app.run
            .alerts
            .iter()
            .rev()
            .take(usize::from(inner.height))
            .map(|a| {
                let (mark, style) = match a.level {
                    AlertLevel::Failure => ("✖ failure", theme.danger()),
                    AlertLevel::Warning => ("! warning", theme.warn()),
                    AlertLevel::Info => ("i info   ", theme.info()),
                };
                Line::from(vec![
                    Span::styled(format!(" {mark} "), style),
                    Span::styled(a.text.clone(), theme.text()),
                ])
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines), inner);
}
