//! Profile: the profiled tables on the left; the selected table's columns on
//! the right with counts, ranges, a histogram sparkline and anomalies, and the
//! selected column in detail below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Padding, Paragraph, Wrap};

use super::{fit, pane};
use crate::profile::{ColumnStats, Monotonic, Side, TableProfileSnapshot};
use crate::tui::app::App;
use crate::tui::profile_view::{ProfileFocus, profiled_tables};
use crate::tui::run_model::thousands;
use crate::tui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let list_w = (area.width / 5).clamp(16, 30);
    let [list, right] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(0)]).areas(area);
    render_tables(frame, list, app);
    let Some(snapshot) = app.profile.snapshot(&app.run) else {
        let block = pane(&app.theme, "Columns", false);
        let text = if app.run.is_live() {
            " no profile yet: columns are profiled as rows stream, a table at a time"
        } else {
            " no profile yet: profiles appear here live once the run starts"
        };
        frame.render_widget(
            Paragraph::new(Line::styled(text, app.theme.muted()))
                .wrap(Wrap { trim: false })
                .block(block),
            right,
        );
        return;
    };
    if right.height >= 16 {
        let detail_h = if right.height >= 20 { 6 } else { 5 };
        let [columns, detail] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(detail_h)]).areas(right);
        render_columns(frame, columns, app, snapshot);
        render_detail(frame, detail, app, snapshot);
    } else {
        render_columns(frame, right, app, snapshot);
    }
}

fn render_tables(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let block = pane(theme, "Tables", app.profile.focus == ProfileFocus::Tables);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let tables = profiled_tables(&app.run);
    let selected = app.profile.table_index(&app.run, &tables);
    let width = usize::from(inner.width);
    let height = usize::from(inner.height).max(1);
    let offset = (selected + 1).saturating_sub(height);
    let mut lines: Vec<Line> = tables
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, t)| {
            let text = fit(&format!(" {t}"), width);
            let style = if i == selected {
                theme.selected()
            } else {
                theme.text()
            };
            Line::styled(format!("{text:<width$}"), style)
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled(" none yet", theme.muted()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// One column of the stats table; `rank` decides which go first when space is short.
#[derive(Clone, Copy, PartialEq)]
enum Stat {
    Type,
    Count,
    Nulls,
    Distinct,
    Range,
    Quantiles,
    MaxLen,
    Histogram,
    Anomalies,
}

impl Stat {
    /// Left to right on screen.
    const ORDER: [Stat; 9] = [
        Stat::Type,
        Stat::Count,
        Stat::Nulls,
        Stat::Distinct,
        Stat::Range,
        Stat::Quantiles,
        Stat::MaxLen,
        Stat::Histogram,
        Stat::Anomalies,
    ];
    /// Most wanted first.
    const RANK: [Stat; 9] = [
        Stat::Type,
        Stat::Nulls,
        Stat::Distinct,
        Stat::Histogram,
        Stat::Anomalies,
        Stat::Count,
        Stat::Range,
        Stat::Quantiles,
        Stat::MaxLen,
    ];

    fn width(self, wide: bool) -> usize {
        match self {
            Stat::Histogram if !wide => 8,
            Stat::Type => 11,
            Stat::Count | Stat::Nulls => 7,
            Stat::Distinct => 8,
            Stat::Range => 19,
            Stat::Quantiles => 23,
            Stat::MaxLen => 6,
            Stat::Histogram => 16,
            Stat::Anomalies => 5,
        }
    }

    fn title(self, width: usize) -> &'static str {
        match self {
            Stat::Histogram if width < 9 => "spread",
            Stat::Type => "type",
            Stat::Count => "count",
            Stat::Nulls => "nulls",
            Stat::Distinct => "distinct",
            Stat::Range => "min…max",
            Stat::Quantiles => "p50 / p95 / p99",
            Stat::MaxLen => "maxlen",
            Stat::Histogram => "histogram",
            Stat::Anomalies => "anom",
        }
    }

    /// Right-aligned numbers, left-aligned text.
    fn right(self) -> bool {
        matches!(
            self,
            Stat::Count | Stat::Nulls | Stat::Distinct | Stat::MaxLen | Stat::Anomalies
        )
    }

    fn cell(self, theme: &Theme, c: &ColumnStats, width: usize) -> (String, Style) {
        match self {
            Stat::Type => match &c.inferred_type {
                Some(t) => (t.clone(), theme.info()),
                None => (c.declared_type.to_lowercase(), theme.muted()),
            },
            Stat::Count => (compact(c.count), theme.text()),
            Stat::Nulls if c.nulls == 0 => ("0".into(), theme.muted()),
            Stat::Nulls => (compact(c.nulls), theme.text()),
            Stat::Distinct => (compact(c.distinct), theme.text()),
            Stat::Range => (range(c, width), theme.text()),
            Stat::Quantiles => match (c.p50, c.p95, c.p99) {
                (Some(a), Some(b), Some(d)) => (
                    format!("{} / {} / {}", short(a), short(b), short(d)),
                    theme.text(),
                ),
                _ => ("-".into(), theme.muted()),
            },
            Stat::MaxLen if c.max_len == 0 => ("-".into(), theme.muted()),
            Stat::MaxLen => (compact(c.max_len), theme.text()),
            Stat::Histogram => (sparkline(&c.histogram, width), theme.sparkline()),
            // A value can be both an outlier and out of rule: count it once, at least.
            Stat::Anomalies => (
                compact(c.outliers.max(c.out_of_rule)),
                anomaly_style(theme, c),
            ),
        }
    }
}

/// Values outside a business rule are errors; statistical outliers are suspicions.
fn anomaly_style(theme: &Theme, c: &ColumnStats) -> Style {
    if c.out_of_rule > 0 {
        theme.danger()
    } else if c.outliers > 0 {
        theme.warn()
    } else {
        theme.muted()
    }
}

fn column_name(c: &ColumnStats) -> String {
    match c.side {
        Side::Target => c.name.clone(),
        Side::Source => format!("{} (src)", c.name),
    }
}

fn render_columns(frame: &mut Frame, area: Rect, app: &App, p: &TableProfileSnapshot) {
    let theme = &app.theme;
    let focused = app.profile.focus == ProfileFocus::Columns;
    let title = format!("Columns of {}", p.table);
    let block = pane(theme, &title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);

    let mut lines = header_lines(theme, p, width);
    // Name takes what the stats leave, but never less than 12.
    let mut budget = width.saturating_sub(1 + 12);
    let wide = width >= 100;
    let mut shown = Vec::new();
    for stat in Stat::RANK {
        if stat.width(wide) < budget {
            budget -= stat.width(wide) + 1;
            shown.push(stat);
        }
    }
    let stats: Vec<Stat> = Stat::ORDER
        .into_iter()
        .filter(|s| shown.contains(s))
        .collect();
    let name_w = 12 + budget;
    let mut labels = vec![Span::styled(
        format!(" {:<name_w$}", "column"),
        theme.title(false),
    )];
    for s in &stats {
        let w = s.width(wide);
        let text = if s.right() {
            format!(" {:>w$}", s.title(w))
        } else {
            format!(" {:<w$}", s.title(w))
        };
        labels.push(Span::styled(text, theme.title(false)));
    }
    lines.push(Line::from(labels));

    let rows = usize::from(inner.height).saturating_sub(lines.len()).max(1);
    let selected = app.profile.column_index(p);
    let offset = (selected + 1).saturating_sub(rows);
    for (i, c) in p.columns.iter().enumerate().skip(offset).take(rows) {
        let mut spans = vec![Span::styled(
            format!(" {:<name_w$}", fit(&column_name(c), name_w)),
            theme.text(),
        )];
        for s in &stats {
            let w = s.width(wide);
            let (text, style) = s.cell(theme, c, w);
            let text = fit(&text, w);
            let text = if s.right() {
                format!(" {text:>w$}")
            } else {
                format!(" {text:<w$}")
            };
            spans.push(Span::styled(text, style));
        }
        if i == selected {
            // The cursor keeps each cell's meaning readable: it only adds the selection.
            for span in &mut spans {
                span.style = span.style.patch(theme.selected());
            }
        }
        lines.push(Line::from(spans));
    }
    if p.columns.is_empty() {
        lines.push(Line::styled(" no columns profiled", theme.muted()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Rows seen and profiled, and the growth forecast when the table has one.
fn header_lines(theme: &Theme, p: &TableProfileSnapshot, width: usize) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!(" {} rows seen", thousands(p.rows_seen)),
            theme.text(),
        ),
        Span::styled(
            format!(
                " · {} profiled ({} sample)",
                thousands(p.rows_profiled),
                percent(p.sample)
            ),
            theme.muted(),
        ),
    ])];
    if let Some(g) = &p.growth {
        let basis = if width >= 100 {
            format!(" from {} days of data", thousands(g.days_observed))
        } else {
            String::new()
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(" growth {}/day → ", short(g.rows_per_day)),
                theme.info(),
            ),
            Span::styled(
                format!("{} rows in 12 months", short(g.rows_in_12_months)),
                theme.text(),
            ),
            Span::styled(
                format!(" ({}–{}){basis}", short(g.low), short(g.high)),
                theme.muted(),
            ),
        ]));
    }
    lines
}

fn render_detail(frame: &mut Frame, area: Rect, app: &App, p: &TableProfileSnapshot) {
    let theme = &app.theme;
    let Some(c) = p.columns.get(app.profile.column_index(p)) else {
        return;
    };
    let title = format!("Column {}", column_name(c));
    let block = pane(theme, &title, false).padding(Padding::horizontal(1));
    let mut facts = vec![match &c.inferred_type {
        Some(t) => format!("{}, every value fits {t}", c.declared_type),
        None => c.declared_type.clone(),
    }];
    let order = match c.monotonic {
        Monotonic::StrictlyIncreasing => Some("strictly increasing"),
        Monotonic::Increasing => Some("increasing"),
        Monotonic::Decreasing => Some("decreasing"),
        Monotonic::None | Monotonic::Unknown => None,
    };
    facts.extend(order.map(str::to_string));
    facts.push(if c.domain_growing() {
        "new values still arriving".into()
    } else {
        "value set stable".into()
    });
    let non_null = (c.count - c.nulls).max(1) as f64;
    let top: Vec<String> = c
        .top
        .iter()
        .take(5)
        .map(|t| {
            format!(
                "{} {}",
                fit(&t.value, 20),
                percent(t.count as f64 / non_null)
            )
        })
        .collect();
    let mut values = vec![format!("{} nulls", thousands(c.nulls))];
    let extremes = range(c, 41);
    if extremes != "-" {
        values.push(format!("range {extremes}"));
    }
    if let (Some(a), Some(b), Some(d)) = (c.p50, c.p95, c.p99) {
        values.push(format!(
            "p50 {} p95 {} p99 {}",
            short(a),
            short(b),
            short(d)
        ));
    }
    if let (Some(mean), Some(sd)) = (c.mean, c.stddev) {
        values.push(format!("mean {} ± {}", short(mean), short(sd)));
    }
    if c.max_len > 0 {
        values.push(format!("longest {}", thousands(c.max_len)));
    }
    // Anomalies first: the line a short terminal must not lose.
    let mut lines = Vec::new();
    let mut anomalies = Vec::new();
    if c.outliers > 0 {
        anomalies.push(Span::styled(
            format!(
                "{} outliers (e.g. {})",
                thousands(c.outliers),
                c.outlier_examples.join(", ")
            ),
            theme.warn(),
        ));
    }
    if c.out_of_rule > 0 {
        if !anomalies.is_empty() {
            anomalies.push(Span::styled(" · ", theme.muted()));
        }
        let rule = format!(
            "{}–{}",
            c.rule_min.map(short).unwrap_or_default(),
            c.rule_max.map(short).unwrap_or_default()
        );
        anomalies.push(Span::styled(
            format!(
                "{} outside the rule {rule} (e.g. {})",
                thousands(c.out_of_rule),
                c.out_of_rule_examples.join(", ")
            ),
            theme.danger(),
        ));
    }
    if anomalies.is_empty() {
        anomalies.push(Span::styled("no anomalies", theme.ok()));
    }
    lines.push(Line::from(anomalies));
    lines.push(Line::styled(facts.join(" · "), theme.text()));
    lines.push(Line::styled(values.join(" · "), theme.text()));
    if !top.is_empty() {
        lines.push(Line::styled(
            format!("top: {}", top.join(" · ")),
            theme.muted(),
        ));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        area,
    );
}

/// min…max: numbers when the column has them, else the text extremes.
fn range(c: &ColumnStats, width: usize) -> String {
    match (c.min_number, c.max_number, &c.min, &c.max) {
        (Some(lo), Some(hi), _, _) => format!("{}…{}", short(lo), short(hi)),
        (_, _, Some(lo), Some(hi)) => {
            let half = width.saturating_sub(1) / 2;
            format!("{}…{}", fit(lo, half), fit(hi, half))
        }
        _ => "-".into(),
    }
}

/// The 16 bins as block characters, merged pairwise until they fit `width`.
pub fn sparkline(bins: &[u64], width: usize) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if bins.is_empty() || width == 0 {
        return String::new();
    }
    let per = bins.len().div_ceil(width);
    let merged: Vec<u64> = bins.chunks(per).map(|c| c.iter().sum()).collect();
    let max = merged.iter().copied().max().unwrap_or(0);
    merged
        .iter()
        .map(|&n| {
            if n == 0 || max == 0 {
                ' '
            } else {
                let level = (n as f64 / max as f64 * LEVELS.len() as f64).ceil() as usize;
                LEVELS[level.clamp(1, LEVELS.len()) - 1]
            }
        })
        .collect()
}

/// 999,999 / 1.2M / 3.4G: at most seven characters.
pub fn compact(n: u64) -> String {
    match n {
        0..1_000_000 => thousands(n),
        1_000_000..1_000_000_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}G", n as f64 / 1e9),
    }
}

/// A number in a few characters: whole numbers as they are (compact when
/// large), fractions to three significant digits.
pub fn short(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let a = x.abs();
    let sign = if x < 0.0 { "-" } else { "" };
    if a >= 1_000.0 {
        format!("{sign}{}", compact(a.round() as u64))
    } else if x.fract() == 0.0 || a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 1.0 {
        format!("{x:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{x:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn percent(f: f64) -> String {
    let p = f * 100.0;
    if p >= 10.0 || p.fract() == 0.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_tallest_bin_and_merges_to_fit() {
        assert_eq!(sparkline(&[0, 1, 2, 4, 8], 5), " ▁▂▄█");
        assert_eq!(sparkline(&[1; 16], 8).chars().count(), 8);
        assert_eq!(sparkline(&[], 8), "");
    }

    #[test]
    fn numbers_stay_short() {
        assert_eq!(compact(9_999), "9,999");
        assert_eq!(compact(12_345), "12,345");
        assert_eq!(compact(1_204_331), "1.2M");
        assert_eq!(short(0.915), "0.915");
        assert_eq!(short(87.5), "87.5");
        assert_eq!(short(42.0), "42");
        assert_eq!(short(-3.25), "-3.25");
        assert_eq!(short(63_100.0), "63,100");
        assert_eq!(short(2.5e7), "25.0M");
    }
}
