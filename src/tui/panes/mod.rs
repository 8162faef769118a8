//! One module per pane; each draws from `&App` and the theme, nothing else.

pub mod event_log;
pub mod footer;
pub mod header;
pub mod mapping;
pub mod overview;
pub mod popups;
pub mod profile;
pub mod recommendations;
pub mod timeline;
pub mod validation;

use ratatui::text::Span;
use ratatui::widgets::{Block, BorderType, Borders};

use super::theme::Theme;

/// A bordered pane with its title.
pub fn pane<'a>(theme: &Theme, title: &'a str, focused: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.border(focused))
        .title(Span::styled(format!(" {title} "), theme.title(focused)))
}

/// A text progress bar that stays readable without colour (█ filled, ░ empty).
pub fn bar(theme: &Theme, ratio: f64, width: usize) -> [Span<'static>; 2] {
    let filled = ((ratio.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    [
        Span::styled("█".repeat(filled), theme.gauge(true)),
        Span::styled("░".repeat(width - filled), theme.gauge(false)),
    ]
}

/// Cuts `text` to `width` characters, marking the cut with an ellipsis.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}
