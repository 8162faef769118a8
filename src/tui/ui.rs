//! Lays out one frame: header, the current view, footer, then the popups.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{App, View};
use super::panes;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "terminal too small (need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{})",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(Line::styled(text, app.theme.warn())).wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    panes::header::render(frame, header, app);
    match app.view {
        View::Overview => panes::overview::render(frame, body, app),
        View::Mapping => panes::mapping::render(frame, body, app),
        View::Timeline => panes::timeline::render(frame, body, app),
        View::Validation => panes::validation::render(frame, body, app),
        View::EventLog => panes::event_log::render(frame, body, app),
        View::Profile => panes::profile::render(frame, body, app),
        View::Recommendations => panes::recommendations::render(frame, body, app),
    }
    panes::footer::render(frame, footer, app);
    panes::popups::render(frame, area, app);
}
