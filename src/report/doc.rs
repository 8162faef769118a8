//! A small document model the report is built in, and its two renderings:
//! Markdown (for a repository or a ticket) and one self-contained HTML page
//! (for a browser or an e-mail). Everything shown is text from the event log
//! and the project, so both renderers escape every piece of it.

use std::fmt::Write;

/// How a cell or a line should read: the HTML colours it, Markdown marks
/// only what is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    /// Right-aligned figures.
    Number,
    Good,
    Warn,
    Bad,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub tone: Tone,
}

impl Cell {
    pub fn new(text: impl Into<String>, tone: Tone) -> Self {
        Self {
            text: text.into(),
            tone,
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::new(s, Tone::Plain)
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::new(s, Tone::Plain)
    }
}

/// One row of a Gantt chart: `offset` and `length` in working days of `total`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub offset: u32,
    pub length: u32,
    pub total: u32,
    pub note: String,
    pub tone: Tone,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Heading(u8, String),
    Para(String),
    /// `label: value` pairs.
    Facts(Vec<(String, Cell)>),
    Table {
        head: Vec<String>,
        rows: Vec<Vec<Cell>>,
    },
    List(Vec<Cell>),
    Code(String),
    Gantt {
        bars: Vec<Bar>,
        /// Where today falls, in working days from the start, when inside.
        today: Option<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Doc {
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Doc {
    pub fn push(&mut self, b: Block) {
        self.blocks.push(b);
    }
}

// ---------------------------------------------------------------- Markdown

/// Escapes text for a Markdown paragraph or list item.
fn md_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A fence longer than any run of backticks inside `s`.
fn md_fence(s: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn md_cell(c: &Cell) -> String {
    let text = md_inline(&c.text);
    match c.tone {
        Tone::Bad => format!("**{text}**"),
        _ => text,
    }
}

pub fn markdown(doc: &Doc) -> String {
    let mut out = format!("# {}\n", md_inline(&doc.title));
    for b in &doc.blocks {
        out.push('\n');
        match b {
            Block::Heading(level, text) => {
                let level = (*level).clamp(2, 6) as usize;
                let _ = writeln!(out, "{} {}", "#".repeat(level), md_inline(text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "{}", md_inline(text));
            }
            Block::Facts(facts) => {
                for (k, v) in facts {
                    let _ = writeln!(out, "- **{}**: {}", md_inline(k), md_cell(v));
                }
            }
            Block::Table { head, rows } => {
                let _ = writeln!(
                    out,
                    "| {} |",
                    head.iter()
                        .map(|h| md_inline(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let align: Vec<&str> = (0..head.len())
                    .map(|i| {
                        let numeric = !rows.is_empty()
                            && rows
                                .iter()
                                .all(|r| r.get(i).is_some_and(|c| c.tone == Tone::Number));
                        if numeric { "---:" } else { "---" }
                    })
                    .collect();
                let _ = writeln!(out, "| {} |", align.join(" | "));
                for r in rows {
                    let _ = writeln!(
                        out,
                        "| {} |",
                        r.iter().map(md_cell).collect::<Vec<_>>().join(" | ")
                    );
                }
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(out, "- {}", md_cell(i));
                }
            }
            Block::Code(text) => {
                let fence = md_fence(text);
                let _ = writeln!(out, "{fence}\n{}\n{fence}", text.trim_end());
            }
            Block::Gantt { bars, today } => {
                let width = bars
                    .iter()
                    .map(|b| b.label.chars().count())
                    .max()
                    .unwrap_or(0);
                let text: String = bars
                    .iter()
                    .map(|b| {
                        let mut line: String = (0..b.total)
                            .map(|d| {
                                if d >= b.offset && d < b.offset + b.length {
                                    '█'
                                } else if Some(d) == *today {
                                    '|'
                                } else {
                                    '·'
                                }
                            })
                            .collect();
                        if b.length == 0 {
                            line.push(' ');
                        }
                        format!("{:<width$}  {line}  {}\n", b.label, b.note)
                    })
                    .collect();
                let fence = md_fence(&text);
                let _ = writeln!(out, "{fence}text\n{}{fence}", text);
            }
        }
    }
    out
}

// ---------------------------------------------------------------- HTML

pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn tone_class(t: Tone) -> &'static str {
    match t {
        Tone::Plain => "",
        Tone::Number => "num",
        Tone::Good => "good",
        Tone::Warn => "warn",
        Tone::Bad => "bad",
    }
}

fn html_cell(tag: &str, c: &Cell) -> String {
    match tone_class(c.tone) {
        "" => format!("<{tag}>{}</{tag}>", html_escape(&c.text)),
        class => format!("<{tag} class=\"{class}\">{}</{tag}>", html_escape(&c.text)),
    }
}

const STYLE: &str = "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1d232a;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #d8dde3;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;width:100%}th,td{border:1px solid #d8dde3;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.good{color:#17663a}.warn{color:#8a5a00}.bad{color:#b3261e;font-weight:600}
pre{background:#f6f8fa;border:1px solid #d8dde3;padding:.6rem;overflow-x:auto;white-space:pre-wrap}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
.gantt td.bar{position:relative;width:60%;padding:0}.gantt .fill{position:absolute;top:25%;height:50%;background:#5b7db1;border-radius:2px}
.gantt .fill.good{background:#2e8b57}.gantt .fill.warn{background:#d49a00}.gantt .fill.bad{background:#c0392b}
.gantt .today{position:absolute;top:0;bottom:0;border-left:2px dashed #b3261e}
@media (prefers-color-scheme:dark){body{background:#14181d;color:#d9dee4}th{background:#1f252c}th,td,pre{border-color:#333b44}pre{background:#1b2026}
.good{color:#5fd08a}.warn{color:#e5b94e}.bad{color:#ff7b72}}";

pub fn html(doc: &Doc) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        html_escape(&doc.title),
        html_escape(&doc.title)
    );
    for b in &doc.blocks {
        match b {
            Block::Heading(level, text) => {
                let level = (*level).clamp(2, 6);
                let _ = writeln!(out, "<h{level}>{}</h{level}>", html_escape(text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "<p>{}</p>", html_escape(text));
            }
            Block::Facts(facts) => {
                out.push_str("<dl>\n");
                for (k, v) in facts {
                    let _ = writeln!(out, "<dt>{}</dt>{}", html_escape(k), html_cell("dd", v));
                }
                out.push_str("</dl>\n");
            }
            Block::Table { head, rows } => {
                out.push_str("<table>\n<thead><tr>");
                for h in head {
                    let _ = write!(out, "<th>{}</th>", html_escape(h));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for r in rows {
                    out.push_str("<tr>");
                    for c in r {
                        out.push_str(&html_cell("td", c));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(out, "{}", html_cell("li", i));
                }
                out.push_str("</ul>\n");
            }
            Block::Code(text) => {
                let _ = writeln!(
                    out,
                    "<pre><code>{}</code></pre>",
                    html_escape(text.trim_end())
                );
            }
            Block::Gantt { bars, today } => {
                out.push_str("<table class=\"gantt\">\n<tbody>\n");
                for b in bars {
                    let total = b.total.max(1) as f64;
                    let left = 100.0 * b.offset as f64 / total;
                    let width = 100.0 * b.length as f64 / total;
                    let mark = today
                        .map(|t| {
                            format!(
                                "<div class=\"today\" style=\"left:{:.2}%\"></div>",
                                100.0 * t as f64 / total
                            )
                        })
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "<tr><th>{}</th><td class=\"bar\"><div class=\"{}\" style=\"left:{left:.2}%;width:{width:.2}%\"></div>{mark}</td>{}</tr>",
                        html_escape(&b.label),
                        format!("fill {}", tone_class(b.tone)).trim_end(),
                        html_cell("td", &Cell::new(b.note.clone(), b.tone)),
                    );
                }
                out.push_str("</tbody>\n</table>\n");
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(blocks: Vec<Block>) -> Doc {
        Doc {
            title: "t".into(),
            blocks,
        }
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        let md = markdown(&doc(vec![Block::Table {
            head: vec!["a".into(), "n".into()],
            rows: vec![vec![
                Cell::from("x | y\nz"),
                Cell::new("1,204", Tone::Number),
            ]],
        }]));
        assert!(md.contains("| x \\| y z | 1,204 |"), "{md}");
        assert!(md.contains("| --- | ---: |"), "{md}");
    }

    #[test]
    fn a_code_fence_is_longer_than_any_backtick_run_inside() {
        let text = "SELECT ```` FROM t";
        let md = markdown(&doc(vec![Block::Code(text.into())]));
        assert!(md.contains("`````\nSELECT ```` FROM t\n`````"), "{md}");
    }

    #[test]
    fn html_escapes_every_piece_of_text() {
        let evil = "<script>alert('x')</script> & \"q\"";
        let page = html(&Doc {
            title: evil.into(),
            blocks: vec![
                Block::Para(evil.into()),
                Block::Facts(vec![(evil.into(), Cell::new(evil, Tone::Bad))]),
                Block::Table {
                    head: vec![evil.into()],
                    rows: vec![vec![evil.into()]],
                },
                Block::List(vec![evil.into()]),
                Block::Code(evil.into()),
                Block::Gantt {
                    bars: vec![Bar {
                        label: evil.into(),
                        offset: 0,
                        length: 1,
                        total: 1,
                        note: evil.into(),
                        tone: Tone::Plain,
                    }],
                    today: None,
                },
            ],
        });
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("'x'"), "{page}");
        // Title and heading, paragraph, fact name and value, table head and
        // cell, list item, code, Gantt label and note.
        assert_eq!(page.matches("&lt;script&gt;").count(), 11, "{page}");
    }

    #[test]
    fn gantt_bars_sit_at_their_working_days() {
        let bars = vec![
            Bar {
                label: "Plan".into(),
                offset: 0,
                length: 2,
                total: 5,
                note: "done".into(),
                tone: Tone::Good,
            },
            Bar {
                label: "Run".into(),
                offset: 2,
                length: 3,
                total: 5,
                note: "late +1d".into(),
                tone: Tone::Bad,
            },
        ];
        let d = doc(vec![Block::Gantt {
            bars,
            today: Some(1),
        }]);
        let md = markdown(&d);
        assert!(md.contains("Plan  ██···  done"), "{md}");
        assert!(md.contains("Run   ·|███  late +1d"), "{md}");
        let page = html(&d);
        assert!(page.contains("left:40.00%;width:60.00%"), "{page}");
        assert!(
            page.contains("class=\"today\" style=\"left:20.00%\""),
            "{page}"
        );
    }
}
