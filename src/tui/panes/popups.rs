//! The layer stack drawn bottom to top: help, quit confirmation, event details.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::validation::status_style;
use super::{bar, fit, pane};
use crate::tui::Action;
use crate::tui::app::{App, Layer};
use crate::tui::checks::{counts_text, phase_label, short_name, status_label};
use crate::tui::keymap::ACTIONS;
use crate::tui::rollback::RollbackStage;
use crate::tui::run_model::thousands;
use crate::validate::Phase;

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
            Layer::CheckDetail {
                phase,
                index,
                scroll,
            } => check_detail(frame, area, app, *phase, *index, *scroll),
            Layer::Rollback { scroll } => rollback(frame, area, app, *scroll),
            Layer::Recommendation { id, scroll } => recommendation(frame, area, app, id, *scroll),
            // The filter is edited in the footer.
            Layer::Filter => {}
        }
    }
}

fn help(frame: &mut Frame, area: Rect, app: &App, scroll: usize) {
    let theme = &app.theme;
    let rect = centered(area, 72, area.height.saturating_sub(2));
    let mut lines = Vec::new();
    if app.read_only {
        lines.push(Line::styled(
            " read-only: actions that change the target are hidden",
            theme.warn(),
        ));
    }
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
    let (what, question, keep) = if app.rolling_back() {
        (
            " A rollback is under way.",
            " Stop it after the step under way and quit? Every step undone so far is logged; rolling back again finishes it.",
            " keep rolling back",
        )
    } else {
        (
            " A run is live.",
            " Stop it at the next batch boundary and quit? Its checkpoint is kept, so reopening resumes.",
            " keep running",
        )
    };
    let lines = vec![
        Line::styled(what, theme.warn()),
        Line::styled(question, theme.text()),
        Line::raw(""),
        Line::from(vec![
            Span::styled(format!(" {yes}"), theme.key()),
            Span::styled(" stop and quit   ", theme.text()),
            Span::styled(no, theme.key()),
            Span::styled(keep, theme.text()),
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
            if r.inverse_elided > 0 {
                lines.push(Line::styled(
                    format!(
                        " inverse: {} bytes of undo statements, too long to show here (`flightdeck log --json` prints them; rollback runs them)",
                        thousands(r.inverse_elided as u64)
                    ),
                    theme.warn(),
                ));
            } else if r.inverse.is_empty() {
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

fn recommendation(frame: &mut Frame, area: Rect, app: &App, id: &str, scroll: usize) {
    let theme = &app.theme;
    let rect = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    let lines = match app.run.recommendations.iter().find(|r| r.id == id) {
        Some(r) => super::recommendations::detail_lines(theme, r),
        None => vec![Line::styled(
            format!(" {id} is no longer in the queue"),
            theme.muted(),
        )],
    };
    let scroll = scroll.min(lines.len().saturating_sub(1));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .style(theme.popup())
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0))
            .block(pane(theme, &format!("{id} · esc closes"), true)),
        rect,
    );
}

fn check_detail(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    phase: Phase,
    index: usize,
    scroll: usize,
) {
    let theme = &app.theme;
    let rect = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    let mut lines = Vec::new();
    match app.checks.get(phase, index) {
        None => lines.push(Line::styled(
            " this check is no longer loaded",
            theme.muted(),
        )),
        Some(c) => {
            lines.push(Line::from(vec![
                Span::styled(
                    format!(" {} ", status_label(c.status)),
                    status_style(theme, c.status),
                ),
                Span::styled(
                    format!(
                        "{} · {}-migration · table {}",
                        short_name(c),
                        phase_label(phase),
                        c.table.as_deref().unwrap_or("-")
                    ),
                    theme.text(),
                ),
            ]));
            lines.push(Line::styled(format!(" {}", c.message), theme.text()));
            if !c.counts.is_empty() {
                lines.push(Line::styled(
                    format!(" counts: {}", counts_text(c)),
                    theme.muted(),
                ));
            }
            lines.push(Line::raw(""));
            if c.sql.is_empty() {
                lines.push(Line::styled(" no SQL: checked in memory", theme.muted()));
            } else {
                lines.push(Line::styled(" SQL it ran:", theme.title(false)));
                for sql in &c.sql {
                    lines.push(Line::styled(format!("   {sql}"), theme.info()));
                }
            }
            lines.push(Line::raw(""));
            if c.examples.is_empty() {
                lines.push(Line::styled(" no example rows", theme.muted()));
            } else {
                lines.push(Line::styled(
                    format!(" example rows ({} shown, at most 5):", c.examples.len()),
                    theme.title(false),
                ));
                for e in c.examples.iter().take(crate::validate::MAX_EXAMPLES) {
                    lines.push(Line::styled(format!("   {e}"), theme.warn()));
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
            .block(pane(theme, "Check · esc closes", true)),
        rect,
    );
}

/// Exactly what the plan undoes: tables dropped, rows deleted per table,
/// quarantined rows, and every schema statement in the order it runs.
fn plan_lines(app: &App, plan: &crate::eventlog::rollback::RollbackPlan) -> Vec<Line<'static>> {
    let theme = &app.theme;
    if plan.is_empty() {
        return vec![Line::styled(
            " Nothing to roll back: no run has changed the target since its last rollback.",
            theme.muted(),
        )];
    }
    let mut lines = Vec::new();
    for r in &plan.runs {
        let what = if r.full {
            "undo everything it did".to_string()
        } else {
            format!(
                "undo everything after event {}",
                plan.to.unwrap_or_default()
            )
        };
        let short: String = r.run_id.to_string().chars().take(8).collect();
        lines.push(Line::styled(format!(" run {short}: {what}"), theme.text()));
    }
    let batches = plan
        .steps
        .iter()
        .filter(|s| s.kind == crate::eventlog::kind::BATCH_COMMITTED)
        .count();
    lines.push(Line::styled(
        format!(
            " {} undo steps ({batches} batches), newest first",
            plan.steps.len()
        ),
        theme.muted(),
    ));
    let dropped = plan.tables_dropped();
    if !dropped.is_empty() {
        lines.push(Line::styled(" tables dropped:", theme.title(false)));
        for t in &dropped {
            lines.push(Line::styled(format!("   {t}"), theme.danger()));
        }
    }
    let rows = plan.rows_per_table();
    if !rows.is_empty() {
        lines.push(Line::styled(" rows deleted:", theme.title(false)));
        for (t, n) in rows {
            let note = if dropped.contains(&t) {
                " (with the table)"
            } else {
                ""
            };
            lines.push(Line::styled(
                format!("   {:>10}  {t}{note}", thousands(n)),
                theme.danger(),
            ));
        }
    }
    if plan.quarantined() > 0 {
        lines.push(Line::styled(
            format!(
                " quarantined rows deleted: {} from {}",
                thousands(plan.quarantined()),
                crate::eventlog::store::QUARANTINE
            ),
            theme.warn(),
        ));
    }
    let ddl = plan.ddl();
    if !ddl.is_empty() {
        lines.push(Line::styled(" DDL, in order:", theme.title(false)));
        for stmt in ddl {
            lines.push(Line::styled(format!("   {stmt}"), theme.warn()));
        }
    }
    lines
}

fn rollback(frame: &mut Frame, area: Rect, app: &App, scroll: usize) {
    let theme = &app.theme;
    let Some(stage) = &app.rollback else {
        return;
    };
    let rect = centered(area, 76, area.height.saturating_sub(2));
    let title = match stage {
        RollbackStage::Planning { to: Some(id) } => format!("Roll back to event {id}"),
        RollbackStage::Confirming(plan) if plan.to.is_some() => {
            format!("Roll back to event {}?", plan.to.unwrap_or_default())
        }
        RollbackStage::Confirming(_) => "Roll back the latest run?".to_string(),
        RollbackStage::Running { .. } => "Rolling back…".to_string(),
        RollbackStage::Finished { .. } => "Rolled back".to_string(),
        RollbackStage::Failed(_) => "Rollback failed".to_string(),
        RollbackStage::Planning { .. } => "Roll back the latest run".to_string(),
    };
    let key = |a: Action| app.keymap.label(a);
    let mut keys = Vec::new();
    let mut body: Vec<Line> = Vec::new();
    match stage {
        RollbackStage::Planning { .. } => {
            body.push(Line::styled(
                " Reading the event log to work out what will be undone…",
                theme.info(),
            ));
            keys.push((key(Action::Back), " cancel"));
        }
        RollbackStage::Confirming(plan) => {
            body = plan_lines(app, plan);
            if plan.is_empty() {
                keys.push((key(Action::Back), " close"));
            } else {
                body.insert(
                    0,
                    Line::styled(" This will undo, newest first:", theme.warn()),
                );
                keys.push((key(Action::Confirm), " roll back   "));
                keys.push((key(Action::Back), " keep everything"));
            }
        }
        RollbackStage::Running {
            done, total, last, ..
        } => {
            let ratio = if *total == 0 {
                1.0
            } else {
                *done as f64 / *total as f64
            };
            let width = usize::from(rect.width.saturating_sub(24)).max(1);
            let mut gauge = vec![Span::raw(" ")];
            gauge.extend(bar(theme, ratio, width));
            gauge.push(Span::styled(
                format!(" {done} of {total} steps"),
                theme.text(),
            ));
            body.push(Line::from(gauge));
            if let Some(last) = last {
                body.push(Line::styled(format!(" undid {last}"), theme.muted()));
            }
            body.push(Line::raw(""));
            body.push(Line::styled(
                " Each step commits with its own log entry: an interruption resumes.",
                theme.muted(),
            ));
        }
        RollbackStage::Finished { undone, to } => {
            let what = match to {
                None => "the target is back to its state before the run".to_string(),
                Some(id) => format!("the target is back to its state at event {id}"),
            };
            body.push(Line::styled(
                format!(" Rolled back: {undone} steps undone; {what}."),
                theme.ok(),
            ));
            body.push(Line::styled(
                " The event log records the rollback.",
                theme.muted(),
            ));
            keys.push((key(Action::Back), " close"));
        }
        RollbackStage::Failed(error) => {
            body.push(Line::styled(format!(" {error}"), theme.danger()));
            body.push(Line::raw(""));
            body.push(Line::styled(
                " Steps already undone stay undone; the event log shows how far it got.",
                theme.muted(),
            ));
            keys.push((key(Action::Back), " close"));
        }
    }
    frame.render_widget(Clear, rect);
    let block = pane(theme, &title, true).style(theme.popup());
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [text, answer] = ratatui::layout::Layout::vertical([
        ratatui::layout::Constraint::Min(0),
        ratatui::layout::Constraint::Length(1),
    ])
    .areas(inner);
    let scroll = scroll.min(body.len().saturating_sub(1));
    frame.render_widget(
        Paragraph::new(body)
            .style(theme.popup())
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0)),
        text,
    );
    let mut spans = vec![Span::raw(" ")];
    for (k, what) in keys {
        spans.push(Span::styled(k, theme.key()));
        spans.push(Span::styled(what, theme.text()));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.popup()),
        answer,
    );
}
