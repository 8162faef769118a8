//! Recommendations: the queue by score, one line each, and the detail popup's
//! lines (evidence, benefit, cost, forward and inverse DDL).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, pane};
use crate::recommend::{Recommendation, RecommendationState};
use crate::tui::app::App;
use crate::tui::recs_view::queue;
use crate::tui::run_model::thousands;
use crate::tui::theme::Theme;

/// Each state looks different, and its label says it without colour.
pub fn state_style(theme: &Theme, state: RecommendationState) -> Style {
    match state {
        RecommendationState::Pending => theme.info(),
        RecommendationState::Accepted => theme.key(),
        RecommendationState::Applied => theme.ok(),
        RecommendationState::Withdrawn => theme.warn(),
        RecommendationState::Rejected | RecommendationState::Deferred => theme.muted(),
    }
}

fn counts(recs: &[Recommendation]) -> String {
    let states = [
        RecommendationState::Pending,
        RecommendationState::Accepted,
        RecommendationState::Applied,
        RecommendationState::Deferred,
        RecommendationState::Rejected,
        RecommendationState::Withdrawn,
    ];
    let parts: Vec<String> = states
        .iter()
        .map(|s| (s, recs.iter().filter(|r| r.state == *s).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", s.word()))
        .collect();
    format!(" {} by score: {}", recs.len(), parts.join(" · "))
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let block = pane(theme, "Recommendations", true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let recs = &app.run.recommendations;
    if recs.is_empty() {
        let text = if app.run.is_live() || !app.run.profiles.is_empty() {
            " none yet: they appear once a column has enough rows to support one"
        } else {
            " none yet: recommendations queue here as the run profiles its tables"
        };
        frame.render_widget(Paragraph::new(Line::styled(text, theme.muted())), inner);
        return;
    }
    let width = usize::from(inner.width);
    let subject_w = (width / 4).clamp(16, 40);
    let mut lines = vec![
        Line::styled(counts(recs), theme.text()),
        Line::styled(
            format!(
                " {:<9} {:<11} {:<subject_w$} {:>5}  evidence",
                "state", "kind", "table.column", "conf"
            ),
            theme.title(false),
        ),
    ];
    let queue = queue(recs);
    let selected = app.recs.index(&queue);
    let rows = usize::from(inner.height).saturating_sub(lines.len()).max(1);
    let offset = (selected + 1).saturating_sub(rows);
    let evidence_w = width.saturating_sub(1 + 10 + 12 + subject_w + 1 + 5 + 2);
    for (i, r) in queue.iter().enumerate().skip(offset).take(rows) {
        let mut spans = vec![
            Span::styled(
                format!(" {:<9}", r.state.word()),
                state_style(theme, r.state),
            ),
            Span::styled(format!(" {:<11}", r.kind.name()), theme.text()),
            Span::styled(
                format!(
                    " {:<subject_w$}",
                    fit(&format!("{}.{}", r.table, r.column), subject_w)
                ),
                theme.text(),
            ),
            Span::styled(format!(" {:>5.2}", r.confidence), theme.info()),
            Span::styled(
                format!("  {:<evidence_w$}", fit(&r.evidence, evidence_w)),
                theme.muted(),
            ),
        ];
        if i == selected {
            for span in &mut spans {
                span.style = span.style.patch(theme.selected());
            }
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// What the detail popup shows about one recommendation.
pub fn detail_lines(theme: &Theme, r: &Recommendation) -> Vec<Line<'static>> {
    let mut state = vec![
        Span::styled(format!(" {} ", r.state.word()), state_style(theme, r.state)),
        Span::styled(
            format!(
                "{} on {}.{} · confidence {:.2}",
                r.kind.name(),
                r.table,
                r.column,
                r.confidence
            ),
            theme.text(),
        ),
    ];
    if let Some(by) = &r.decided_by {
        state.push(Span::styled(format!(" · decided by {by}"), theme.muted()));
    }
    let mut lines = vec![
        Line::from(state),
        Line::raw(""),
        Line::styled(format!(" {}", r.evidence), theme.text()),
        Line::raw(""),
        Line::from(vec![
            Span::styled(" benefit  ", theme.title(false)),
            Span::styled(r.benefit.clone(), theme.ok()),
        ]),
        Line::from(vec![
            Span::styled(" cost     ", theme.title(false)),
            Span::styled(
                format!("{} ({} rows touched)", r.cost, thousands(r.cost_rows)),
                theme.warn(),
            ),
        ]),
    ];
    if let Some(note) = &r.note {
        lines.push(Line::from(vec![
            Span::styled(" note     ", theme.title(false)),
            Span::styled(note.clone(), theme.warn()),
        ]));
    }
    let ddl = |title: &str, stmts: &[String], style: Style, lines: &mut Vec<Line<'static>>| {
        lines.push(Line::raw(""));
        lines.push(Line::styled(format!(" {title}"), theme.title(false)));
        if stmts.is_empty() {
            lines.push(Line::styled("   (none)", theme.muted()));
        }
        for s in stmts {
            lines.push(Line::styled(format!("   {s}"), style));
        }
    };
    ddl("forward DDL:", &r.forward, theme.info(), &mut lines);
    ddl(
        "inverse DDL (what a rollback runs):",
        &r.inverse,
        theme.warn(),
        &mut lines,
    );
    lines
}
