//! Themes: TOML files of ratatui styles, embedded at build time and overridable
//! from `$XDG_CONFIG_HOME/flightdeck/themes/NAME.toml`. Panes ask for meanings
//! (`theme.danger()`), never for colours.

use std::path::{Path, PathBuf};

use ratatui::style::{Color, Style};
use serde::Deserialize;

use crate::timeline::PhaseState;

/// The built-in themes, by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("monochrome", include_str!("../../themes/monochrome.toml")),
];

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("unknown theme \"{0}\" (built in: dark, light, high-contrast, monochrome)")]
    Unknown(String),
    #[error("theme {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Every semantic style a pane may ask for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    text: Style,
    muted: Style,
    border: Style,
    border_focused: Style,
    title: Style,
    title_focused: Style,
    header: Style,
    header_accent: Style,
    tab: Style,
    tab_active: Style,
    selected: Style,
    key: Style,
    ok: Style,
    warn: Style,
    danger: Style,
    info: Style,
    gauge: Style,
    gauge_empty: Style,
    sparkline: Style,
    today: Style,
    phase_planned: Style,
    phase_active: Style,
    phase_done: Style,
    phase_late: Style,
    popup: Style,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::built_in("dark").expect("the embedded dark theme parses")
    }
}

fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("flightdeck"))
}

/// `$XDG_CONFIG_HOME/flightdeck` (or `~/.config/flightdeck`), where user themes
/// and `keymap.toml` live.
pub fn user_config_dir() -> Option<PathBuf> {
    config_dir()
}

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Lays `over` onto `base`, table by table, so a user file may set one field.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn parse_table(text: &str, origin: &str) -> Result<toml::Table, ThemeError> {
    text.parse::<toml::Table>()
        .map_err(|e| ThemeError::Invalid {
            path: origin.to_string(),
            message: e.to_string(),
        })
}

impl Theme {
    /// One of [`BUILT_IN`], ignoring user files.
    pub fn built_in(name: &str) -> Result<Theme, ThemeError> {
        let text = BUILT_IN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| ThemeError::Unknown(name.to_string()))?;
        Theme::from_table(parse_table(text, name)?, name)
    }

    fn from_table(table: toml::Table, origin: &str) -> Result<Theme, ThemeError> {
        Theme::deserialize(table).map_err(|e| ThemeError::Invalid {
            path: origin.to_string(),
            message: e.to_string(),
        })
    }

    /// The theme to use: `name` (default "dark"), or monochrome when NO_COLOR is
    /// set and no theme was asked for; a user file of that name overrides the
    /// built-in one key by key.
    pub fn load(name: Option<&str>) -> Result<Theme, ThemeError> {
        let strip = no_color() && name.is_none();
        let name = match name {
            Some(n) => n,
            None if strip => "monochrome",
            None => "dark",
        };
        let theme = Theme::load_from(name, config_dir().as_deref())?;
        // NO_COLOR promises no colour at all, even if a user file adds some.
        Ok(if strip { theme.without_colors() } else { theme })
    }

    /// As [`Theme::load`] with an explicit config dir (tests).
    pub fn load_from(name: &str, config_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        let user = config_dir
            .map(|d| d.join("themes").join(format!("{name}.toml")))
            .filter(|p| p.is_file());
        let base_text = BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
        let (mut table, origin) = match (base_text, &user) {
            (Some(text), _) => (parse_table(text, name)?, name.to_string()),
            // A user theme with a new name starts from the default one.
            (None, Some(_)) => (parse_table(BUILT_IN[0].1, "dark")?, "dark".to_string()),
            (None, None) => return Err(ThemeError::Unknown(name.to_string())),
        };
        let mut origin = origin;
        if let Some(path) = user {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| ThemeError::Invalid {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            merge(&mut table, parse_table(&text, &shown)?);
            origin = shown;
        }
        Theme::from_table(table, &origin)
    }

    /// The same theme with every colour removed (modifiers stay).
    pub fn without_colors(mut self) -> Theme {
        for style in self.styles_mut() {
            style.fg = None;
            style.bg = None;
        }
        self
    }

    fn styles_mut(&mut self) -> [&mut Style; 25] {
        [
            &mut self.text,
            &mut self.muted,
            &mut self.border,
            &mut self.border_focused,
            &mut self.title,
            &mut self.title_focused,
            &mut self.header,
            &mut self.header_accent,
            &mut self.tab,
            &mut self.tab_active,
            &mut self.selected,
            &mut self.key,
            &mut self.ok,
            &mut self.warn,
            &mut self.danger,
            &mut self.info,
            &mut self.gauge,
            &mut self.gauge_empty,
            &mut self.sparkline,
            &mut self.today,
            &mut self.phase_planned,
            &mut self.phase_active,
            &mut self.phase_done,
            &mut self.phase_late,
            &mut self.popup,
        ]
    }

    /// Every colour any style of this theme uses.
    pub fn colors(&self) -> Vec<Color> {
        let mut me = self.clone();
        me.styles_mut()
            .iter()
            .flat_map(|s| [s.fg, s.bg])
            .flatten()
            .collect()
    }

    pub fn text(&self) -> Style {
        self.text
    }
    pub fn muted(&self) -> Style {
        self.muted
    }
    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.border_focused
        } else {
            self.border
        }
    }
    pub fn title(&self, focused: bool) -> Style {
        if focused {
            self.title_focused
        } else {
            self.title
        }
    }
    pub fn header(&self) -> Style {
        self.header
    }
    pub fn header_accent(&self) -> Style {
        self.header_accent
    }
    pub fn tab(&self, active: bool) -> Style {
        if active { self.tab_active } else { self.tab }
    }
    pub fn selected(&self) -> Style {
        self.selected
    }
    pub fn key(&self) -> Style {
        self.key
    }
    pub fn ok(&self) -> Style {
        self.ok
    }
    pub fn warn(&self) -> Style {
        self.warn
    }
    pub fn danger(&self) -> Style {
        self.danger
    }
    pub fn info(&self) -> Style {
        self.info
    }
    pub fn gauge(&self, filled: bool) -> Style {
        if filled { self.gauge } else { self.gauge_empty }
    }
    pub fn sparkline(&self) -> Style {
        self.sparkline
    }
    pub fn today(&self) -> Style {
        self.today
    }
    pub fn popup(&self) -> Style {
        self.popup
    }
    pub fn phase(&self, state: PhaseState) -> Style {
        match state {
            PhaseState::Planned => self.phase_planned,
            PhaseState::InProgress => self.phase_active,
            PhaseState::Done => self.phase_done,
            PhaseState::Slipped { .. } => self.phase_late,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSI16: &[Color] = &[
        Color::Reset,
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];

    #[test]
    fn every_built_in_theme_parses() {
        for (name, _) in BUILT_IN {
            Theme::built_in(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn colour_themes_stay_within_the_16_ansi_colours() {
        for name in ["dark", "light", "high-contrast"] {
            let theme = Theme::built_in(name).unwrap();
            assert!(!theme.colors().is_empty(), "{name} has colours");
            for c in theme.colors() {
                assert!(ANSI16.contains(&c), "{name} uses {c:?}");
            }
        }
    }

    #[test]
    fn monochrome_has_no_colour() {
        assert!(Theme::built_in("monochrome").unwrap().colors().is_empty());
    }

    #[test]
    fn stripping_colours_keeps_modifiers() {
        let dark = Theme::built_in("dark").unwrap();
        let stripped = dark.clone().without_colors();
        assert!(stripped.colors().is_empty());
        assert_eq!(stripped.danger().add_modifier, dark.danger().add_modifier);
    }

    #[test]
    fn unknown_theme_is_an_error() {
        assert!(matches!(
            Theme::load_from("neon", None),
            Err(ThemeError::Unknown(_))
        ));
    }

    #[test]
    fn user_file_overrides_one_key_of_a_built_in_theme() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("themes")).unwrap();
        std::fs::write(
            dir.path().join("themes/dark.toml"),
            "[danger]\nfg = \"magenta\"\n",
        )
        .unwrap();
        let theme = Theme::load_from("dark", Some(dir.path())).unwrap();
        let dark = Theme::built_in("dark").unwrap();
        assert_eq!(theme.danger().fg, Some(Color::Magenta));
        assert_eq!(theme.ok(), dark.ok());
    }

    #[test]
    fn user_theme_with_a_new_name_starts_from_dark() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("themes")).unwrap();
        std::fs::write(dir.path().join("themes/mine.toml"), "[ok]\nfg = \"blue\"\n").unwrap();
        let theme = Theme::load_from("mine", Some(dir.path())).unwrap();
        assert_eq!(theme.ok().fg, Some(Color::Blue));
        assert_eq!(theme.danger(), Theme::built_in("dark").unwrap().danger());
    }

    #[test]
    fn a_bad_user_theme_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("themes")).unwrap();
        std::fs::write(dir.path().join("themes/dark.toml"), "[ok]\nfg = 7.5\n").unwrap();
        let err = Theme::load_from("dark", Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("dark.toml"), "{err}");
    }
}
