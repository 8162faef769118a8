//! The cockpit pictures in `assets/` (shown in the README) are drawn by the
//! cockpit's own renderer from a scripted run, and this test keeps them so:
//! it fails when a picture no longer matches what the cockpit draws. After a
//! deliberate change to the screen, `UPDATE_ASSETS=1 cargo test --test
//! tui_assets` writes them again.

// Each test file uses a different subset of the shared helpers.
#[allow(dead_code)]
mod tui_common;

use std::fmt::Write as _;
use std::path::Path;

use flightdeck::pipeline::{RunEvent, RunState};
use flightdeck::tui::{Action, App, Msg, Theme};
use flightdeck::validate::Phase;
use ratatui::buffer::{Buffer, Cell};
use ratatui::style::{Color, Modifier};
use tui_common::*;

/// Pixel size of one terminal cell, and the font drawn in it.
const CELL_W: f64 = 8.4;
const CELL_H: f64 = 18.0;
const FONT: &str = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace";
/// What `Color::Reset` stands for: the terminal's own colours.
const DEFAULT_FG: &str = "#d4d4d4";
const DEFAULT_BG: &str = "#1e1e1e";

/// The 16 ANSI colours, in their index order, as a common dark terminal
/// profile shows them.
const ANSI: [&str; 16] = [
    "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
    "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
];

fn hex(c: Color, default: &str) -> String {
    let i = match c {
        Color::Reset => return default.to_string(),
        Color::Rgb(r, g, b) => return format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Indexed(i) => i,
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
    };
    match i {
        0..=15 => ANSI[i as usize].to_string(),
        // The xterm 256-colour cube, then the grey ramp.
        16..=231 => {
            let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
            let v = i - 16;
            format!(
                "#{:02x}{:02x}{:02x}",
                level(v / 36),
                level(v / 6 % 6),
                level(v % 6)
            )
        }
        _ => {
            let g = 8 + 10 * (i - 232);
            format!("#{g:02x}{g:02x}{g:02x}")
        }
    }
}

/// Foreground and background of a cell as drawn (REVERSED swaps them).
fn colours(cell: &Cell) -> (String, String) {
    let (fg, bg) = (hex(cell.fg, DEFAULT_FG), hex(cell.bg, DEFAULT_BG));
    if cell.modifier.contains(Modifier::REVERSED) {
        (bg, fg)
    } else {
        (fg, bg)
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The buffer as an SVG picture: a rectangle per run of one background,
/// a text span per run of one style, each stretched to its cells' width so
/// that the columns line up whatever the font.
fn svg(buf: &Buffer, title: &str) -> String {
    let (w, h) = (buf.area.width, buf.area.height);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{:.0}" viewBox="0 0 {:.1} {:.1}" role="img" aria-label="{}">"#,
        f64::from(w) * CELL_W,
        f64::from(h) * CELL_H,
        f64::from(w) * CELL_W,
        f64::from(h) * CELL_H,
        escape(title)
    );
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" fill="{DEFAULT_BG}"/>"#
    );
    let _ = writeln!(
        out,
        r#"<g font-family="{FONT}" font-size="14" xml:space="preserve">"#
    );
    for y in 0..h {
        let cells: Vec<&Cell> = (0..w).map(|x| &buf[(x, y)]).collect();
        let top = f64::from(y) * CELL_H;
        // Backgrounds.
        let mut x = 0;
        while x < cells.len() {
            let bg = colours(cells[x]).1;
            let start = x;
            while x < cells.len() && colours(cells[x]).1 == bg {
                x += 1;
            }
            if bg != DEFAULT_BG {
                let _ = writeln!(
                    out,
                    r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{CELL_H:.1}" fill="{bg}"/>"#,
                    start as f64 * CELL_W,
                    (x - start) as f64 * CELL_W
                );
            }
        }
        // Text, in runs of one style; blank runs are left out.
        let style = |c: &Cell| {
            (
                colours(c).0,
                c.modifier.contains(Modifier::BOLD),
                c.modifier.contains(Modifier::ITALIC),
                c.modifier.contains(Modifier::UNDERLINED),
                c.modifier.contains(Modifier::DIM),
            )
        };
        let mut x = 0;
        while x < cells.len() {
            let s = style(cells[x]);
            let start = x;
            let mut text = String::new();
            while x < cells.len() && style(cells[x]) == s {
                text.push_str(cells[x].symbol());
                x += 1;
            }
            if text.trim().is_empty() {
                continue;
            }
            let (fg, bold, italic, underline, dim) = s;
            let mut attrs = format!(r#"fill="{fg}""#);
            if bold {
                attrs.push_str(r#" font-weight="bold""#);
            }
            if italic {
                attrs.push_str(r#" font-style="italic""#);
            }
            if underline {
                attrs.push_str(r#" text-decoration="underline""#);
            }
            if dim {
                attrs.push_str(r#" opacity="0.6""#);
            }
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}" textLength="{:.1}" lengthAdjust="spacingAndGlyphs" {attrs}>{}</text>"#,
                start as f64 * CELL_W,
                top + CELL_H * 0.75,
                (x - start) as f64 * CELL_W,
                escape(&text)
            );
        }
    }
    out.push_str("</g>\n</svg>\n");
    out
}

/// Compares `assets/NAME` with `fresh`, or writes it with UPDATE_ASSETS=1.
fn check_asset(name: &str, fresh: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(name);
    if std::env::var_os("UPDATE_ASSETS").is_some() {
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == fresh,
        "{} no longer shows what the cockpit draws; if the change to the screen is \
         meant, run `UPDATE_ASSETS=1 cargo test --test tui_assets` and commit the pictures",
        path.display()
    );
}

/// The scripted run the pictures show: mid-load, profiled, pre-checks done.
fn mid_run_app() -> App {
    let mut app = app_with(Theme::built_in("dark").unwrap(), false);
    press(&mut app, Action::StartRun);
    mid_run(&mut app);
    profiled(&mut app);
    app.update(Msg::Run(RunEvent::StateChanged(RunState::Running)));
    app.update(Msg::EventsLoaded(Ok(records(30))));
    app.update(Msg::ChecksDone {
        phase: Phase::Pre,
        result: Ok(checks(Phase::Pre)),
    });
    app
}

#[test]
fn the_readme_pictures_show_what_the_cockpit_draws() {
    for (file, action, title) in [
        (
            "cockpit-overview.svg",
            Action::ViewOverview,
            "flightdeck cockpit: overview of a run in progress",
        ),
        (
            "cockpit-recommendations.svg",
            Action::ViewRecommendations,
            "flightdeck cockpit: the recommendation queue",
        ),
    ] {
        let mut app = mid_run_app();
        press(&mut app, action);
        let terminal = render(&app, 132, 40);
        check_asset(file, &svg(terminal.backend().buffer(), title));
    }
}

#[test]
fn the_picture_keeps_every_character_and_colour_of_the_screen() {
    let mut app = mid_run_app();
    press(&mut app, Action::ViewOverview);
    let terminal = render(&app, 80, 24);
    let buf = terminal.backend().buffer();
    let picture = svg(buf, "t");
    // Placing every text run of the picture at its column gives back the
    // screen, line by line.
    let (w, h) = (buf.area.width as usize, buf.area.height as usize);
    let mut lines = vec![vec![" ".to_string(); w]; h];
    for text in picture.lines().filter(|l| l.starts_with("<text ")) {
        let attr = |name: &str| -> f64 {
            let at = text.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            text[at..at + text[at..].find('"').unwrap()]
                .parse()
                .unwrap()
        };
        let (col, row) = (
            (attr("x") / CELL_W).round() as usize,
            (attr("y") / CELL_H).floor() as usize,
        );
        let body = &text[text.find('>').unwrap() + 1..text.rfind("</text>").unwrap()];
        let body = body
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        for (i, ch) in body.chars().enumerate() {
            lines[row][col + i] = ch.to_string();
        }
    }
    for (y, line) in lines.iter().enumerate() {
        let screen: String = (0..w)
            .map(|x| buf[(x as u16, y as u16)].symbol().to_string())
            .collect();
        assert_eq!(line.concat().trim_end(), screen.trim_end(), "line {y}");
    }
    // The header's blue background and the dark theme's colours are there.
    assert!(picture.contains(&format!(r##"fill="{}""##, hex(Color::Blue, DEFAULT_BG))));
    assert!(picture.contains(r##"font-weight="bold""##));
    assert!(picture.starts_with("<svg") && picture.ends_with("</svg>\n"));
}
