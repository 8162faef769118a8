//! Validation: pre-migration checks on the source and post-migration checks on
//! the target, filterable; Enter shows a check's SQL and example rows.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, pane};
use crate::tui::app::App;
use crate::tui::checks::{PhaseChecks, counts_text, phase_label, short_name, status_label};
use crate::tui::theme::Theme;
use crate::validate::{CheckStatus, Phase};

pub fn status_style(theme: &Theme, status: CheckStatus) -> Style {
    match status {
        CheckStatus::Passed => theme.ok(),
        CheckStatus::Warning => theme.warn(),
        CheckStatus::Skipped => theme.muted(),
        CheckStatus::Failed => theme.danger(),
    }
}

/// "pre 18 ok · 2 warn · 1 FAIL" or where the phase stands.
fn phase_summary(theme: &Theme, phase: Phase, checks: &PhaseChecks) -> Vec<Span<'static>> {
    let name = match phase {
        Phase::Pre => " pre-migration (source): ",
        Phase::Post => " post-migration (target): ",
    };
    let mut spans = vec![Span::styled(name, theme.title(false))];
    if checks.running {
        spans.push(Span::styled("running… ", theme.info()));
    }
    match (&checks.results, &checks.error) {
        (_, Some(e)) => spans.push(Span::styled(format!("could not run: {e}"), theme.danger())),
        (Some(_), None) => {
            let parts = [
                CheckStatus::Passed,
                CheckStatus::Warning,
                CheckStatus::Skipped,
                CheckStatus::Failed,
            ]
            .into_iter()
            .filter_map(|st| {
                let n = checks.count(st);
                (n > 0 || st == CheckStatus::Passed).then(|| {
                    Span::styled(
                        format!("{n} {} ", status_label(st)),
                        status_style(theme, st),
                    )
                })
            });
            spans.extend(parts);
        }
        (None, None) if !checks.running => spans.push(Span::styled(
            match phase {
                Phase::Pre => "not run yet",
                Phase::Post => "after the run completes",
            },
            theme.muted(),
        )),
        (None, None) => {}
    }
    spans
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let list = &app.checks;
    let title = if list.filter.is_empty() {
        "Validation".to_string()
    } else {
        format!("Validation · matching \"{}\"", list.filter)
    };
    let block = pane(theme, &title, true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [pre, post, head, rows] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(Line::from(phase_summary(theme, Phase::Pre, &list.pre))),
        pre,
    );
    frame.render_widget(
        Paragraph::new(Line::from(phase_summary(theme, Phase::Post, &list.post))),
        post,
    );

    let width = usize::from(inner.width);
    // Check names ("source = target + quarantine") get room when there is some.
    let (table_w, check_w) = (18, if width >= 96 { 34 } else { 24 });
    let fixed = 1 + 5 + 5 + table_w + 1 + check_w + 1;
    let rest = width.saturating_sub(fixed);
    // Wide terminals also get the message beside the counts.
    let (counts_w, message_w) = if rest >= 70 {
        (30, rest - 31)
    } else {
        (rest, 0)
    };
    let mut heading = format!(
        " {:<4} {:<4} {:<table_w$} {:<check_w$} {:<counts_w$}",
        "", "", "table", "check", "counts"
    );
    if message_w > 0 {
        heading.push_str(" message");
    }
    frame.render_widget(
        Paragraph::new(Line::styled(heading, theme.title(false))),
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
        .filter_map(|(pos, &(phase, i))| {
            let c = list.get(phase, i)?;
            let status = format!(" {:<4} ", status_label(c.status));
            let mut text = format!(
                "{:<4} {:<table_w$} {:<check_w$} {:<counts_w$}",
                phase_label(phase),
                fit(c.table.as_deref().unwrap_or("-"), table_w),
                fit(short_name(c), check_w),
                fit(&counts_text(c), counts_w),
            );
            if message_w > 0 {
                text.push(' ');
                text.push_str(&fit(&c.message, message_w));
            }
            Some(if pos == list.selected {
                let pad = width.saturating_sub(status.chars().count());
                Line::from(vec![
                    Span::styled(status, theme.selected()),
                    Span::styled(format!("{text:<pad$}"), theme.selected()),
                ])
            } else {
                Line::from(vec![
                    Span::styled(status, status_style(theme, c.status)),
                    Span::styled(text, theme.text()),
                ])
            })
        })
        .collect();
    let nothing = list.pre.results.is_none() && list.post.results.is_none();
    let empty = if nothing && (list.pre.running || list.post.running) {
        Some("running the checks…")
    } else if nothing {
        Some("no checks have run yet")
    } else if list.visible.is_empty() && !list.filter.is_empty() {
        Some("no checks match the filter")
    } else if list.visible.is_empty() {
        Some("no checks apply to this project")
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
}
