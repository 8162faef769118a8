//! Views whose content arrives with later work say plainly what will be there.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::pane;
use crate::tui::app::{App, View};

fn promise(view: View) -> &'static [&'static str] {
    match view {
        View::Profile => &[
            "Live column profiles will appear here while rows stream:",
            "count, nulls, distinct estimate, min/max, mean and spread, quantiles,",
            "top values, longest value, the narrowest type every value fits,",
            "anomalies, and a growth forecast per table.",
            "",
            "Not measured by this build yet, so nothing is shown.",
        ],
        View::Recommendations => &[
            "Scored schema-evolution recommendations will queue here:",
            "narrower types, NOT NULL, CHECK, UNIQUE, indexes, partitioning and",
            "lookup tables, each with its evidence, confidence, forward and inverse DDL,",
            "to accept or reject while the data keeps flowing.",
            "",
            "No recommendations are produced by this build yet.",
        ],
        _ => &[],
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, view: View) {
    let theme = &app.theme;
    let lines: Vec<Line> = promise(view)
        .iter()
        .map(|l| Line::styled(format!(" {l}"), theme.muted()))
        .collect();
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(pane(theme, view.title(), true)),
        area,
    );
}
