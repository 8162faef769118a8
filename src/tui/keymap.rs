//! The one table of actions: name, default keys, description and whether it is
//! dangerous. The footer, the `?` help and `--read-only` all read it; users rebind
//! keys in `keymap.toml` by action name.

use std::fmt;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    StartRun,
    PauseResume,
    RunChecks,
    Rollback,
    Filter,
    NextView,
    ViewOverview,
    ViewProfile,
    ViewRecommendations,
    ViewMapping,
    ViewValidation,
    ViewTimeline,
    ViewEventLog,
    Down,
    Up,
    PageDown,
    PageUp,
    Open,
    Confirm,
    Back,
    FocusLeft,
    FocusRight,
    Accept,
    Reject,
    Defer,
}

/// One row of the action table.
#[derive(Debug, Clone, Copy)]
pub struct ActionInfo {
    pub action: Action,
    pub name: &'static str,
    pub default_keys: &'static [&'static str],
    pub description: &'static str,
    /// Changes the target; hidden and refused in read-only mode.
    pub dangerous: bool,
}

const fn info(
    action: Action,
    name: &'static str,
    default_keys: &'static [&'static str],
    description: &'static str,
    dangerous: bool,
) -> ActionInfo {
    ActionInfo {
        action,
        name,
        default_keys,
        description,
        dangerous,
    }
}

pub const ACTIONS: &[ActionInfo] = &[
    info(
        Action::Quit,
        "quit",
        &["q", "ctrl-c"],
        "quit (asks while a run is live)",
        false,
    ),
    info(Action::Help, "help", &["?"], "show all keys", false),
    info(
        Action::StartRun,
        "start_run",
        &["s"],
        "start the migration run",
        true,
    ),
    info(
        Action::PauseResume,
        "pause_resume",
        &["space"],
        "pause or resume at a batch boundary",
        false,
    ),
    info(
        Action::RunChecks,
        "run_checks",
        &["c"],
        "run the validation checks again",
        false,
    ),
    info(
        Action::Rollback,
        "rollback",
        &["R"],
        "roll back the run, or to an event",
        true,
    ),
    info(Action::Filter, "filter", &["/"], "filter the list", false),
    info(Action::NextView, "next_view", &["tab"], "next view", false),
    info(
        Action::ViewOverview,
        "view_overview",
        &["1"],
        "Overview",
        false,
    ),
    info(
        Action::ViewProfile,
        "view_profile",
        &["2"],
        "Profile",
        false,
    ),
    info(
        Action::ViewRecommendations,
        "view_recommendations",
        &["3"],
        "Recommendations",
        false,
    ),
    info(
        Action::ViewMapping,
        "view_mapping",
        &["4"],
        "Mapping",
        false,
    ),
    info(
        Action::ViewValidation,
        "view_validation",
        &["5"],
        "Validation",
        false,
    ),
    info(
        Action::ViewTimeline,
        "view_timeline",
        &["6"],
        "Timeline",
        false,
    ),
    info(
        Action::ViewEventLog,
        "view_event_log",
        &["7"],
        "Event log",
        false,
    ),
    info(Action::Down, "down", &["j", "down"], "move down", false),
    info(Action::Up, "up", &["k", "up"], "move up", false),
    info(
        Action::PageDown,
        "page_down",
        &["pagedown"],
        "page down",
        false,
    ),
    info(Action::PageUp, "page_up", &["pageup"], "page up", false),
    info(Action::Open, "open", &["enter"], "show details", false),
    info(Action::Confirm, "confirm", &["y"], "answer yes", false),
    info(
        Action::Back,
        "back",
        &["esc", "n"],
        "close, answer no, clear filter",
        false,
    ),
    info(
        Action::FocusLeft,
        "focus_left",
        &["left", "h"],
        "focus the table list",
        false,
    ),
    info(
        Action::FocusRight,
        "focus_right",
        &["right", "l"],
        "focus the columns",
        false,
    ),
    info(
        Action::Accept,
        "accept",
        &["a"],
        "accept a recommendation",
        true,
    ),
    info(
        Action::Reject,
        "reject",
        &["r"],
        "reject a recommendation",
        true,
    ),
    info(
        Action::Defer,
        "defer",
        &["d"],
        "defer a recommendation",
        true,
    ),
];

impl Action {
    pub fn info(self) -> &'static ActionInfo {
        ACTIONS
            .iter()
            .find(|i| i.action == self)
            .expect("every action is in the table")
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
    pub fn dangerous(self) -> bool {
        self.info().dangerous
    }
    pub fn by_name(name: &str) -> Option<Action> {
        ACTIONS.iter().find(|i| i.name == name).map(|i| i.action)
    }
}

/// A key with its modifiers; shift is folded into the character it produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyBinding {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl KeyBinding {
    pub fn from_event(event: &KeyEvent) -> KeyBinding {
        let mut modifiers = event.modifiers;
        if matches!(event.code, KeyCode::Char(_)) {
            modifiers.remove(KeyModifiers::SHIFT);
        }
        KeyBinding {
            code: event.code,
            modifiers,
        }
    }

    pub fn to_event(self) -> KeyEvent {
        KeyEvent::new(self.code, self.modifiers)
    }

    pub fn parse(text: &str) -> Option<KeyBinding> {
        let (modifiers, key) = match text.strip_prefix("ctrl-") {
            Some(rest) if !rest.is_empty() => (KeyModifiers::CONTROL, rest),
            _ => match text.strip_prefix("alt-") {
                Some(rest) if !rest.is_empty() => (KeyModifiers::ALT, rest),
                _ => (KeyModifiers::NONE, text),
            },
        };
        let code = match key.to_ascii_lowercase().as_str() {
            "space" => KeyCode::Char(' '),
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "backspace" => KeyCode::Backspace,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" | "pgdown" => KeyCode::PageDown,
            _ => {
                let mut chars = key.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(c),
                    (Some('f'), Some(_)) => KeyCode::F(key[1..].parse().ok()?),
                    _ => return None,
                }
            }
        };
        Some(KeyBinding { code, modifiers })
    }
}

impl fmt::Display for KeyBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("backtab"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KeymapError {
    #[error("keymap {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Keys per action, defaults overlaid with the user's `keymap.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    bindings: Vec<(Action, Vec<KeyBinding>)>,
}

impl Default for Keymap {
    fn default() -> Self {
        let bindings = ACTIONS
            .iter()
            .map(|i| {
                let keys = i
                    .default_keys
                    .iter()
                    .map(|k| KeyBinding::parse(k).expect("default keys parse"))
                    .collect();
                (i.action, keys)
            })
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    /// Defaults plus `keymap.toml` from the user config dir, if there is one.
    pub fn load() -> Result<Keymap, KeymapError> {
        Keymap::load_from(super::theme::user_config_dir().as_deref())
    }

    pub fn load_from(config_dir: Option<&Path>) -> Result<Keymap, KeymapError> {
        let Some(path) = config_dir.map(|d| d.join("keymap.toml")) else {
            return Ok(Keymap::default());
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Keymap::with_overrides(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Keymap::default()),
            Err(e) => Err(KeymapError::Invalid {
                origin: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// Defaults overlaid with `text`: `action_name = "key"` or `["key", "key"]`.
    /// A key taken by an override is removed from every other action.
    pub fn with_overrides(text: &str, origin: &str) -> Result<Keymap, KeymapError> {
        let bad = |message: String| KeymapError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| bad(e.to_string()))?;
        let mut keymap = Keymap::default();
        for (name, value) in table {
            let action =
                Action::by_name(&name).ok_or_else(|| bad(format!("unknown action \"{name}\"")))?;
            let texts: Vec<String> = match value {
                toml::Value::String(s) => vec![s],
                toml::Value::Array(items) => items
                    .into_iter()
                    .map(|v| match v {
                        toml::Value::String(s) => Ok(s),
                        other => Err(bad(format!("{name}: expected a key, found {other}"))),
                    })
                    .collect::<Result<_, _>>()?,
                other => return Err(bad(format!("{name}: expected a key, found {other}"))),
            };
            let keys = texts
                .iter()
                .map(|t| {
                    KeyBinding::parse(t).ok_or_else(|| bad(format!("{name}: bad key \"{t}\"")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            for (other, other_keys) in &mut keymap.bindings {
                if *other != action {
                    other_keys.retain(|k| !keys.contains(k));
                }
            }
            if let Some(slot) = keymap.bindings.iter_mut().find(|(a, _)| *a == action) {
                slot.1 = keys;
            }
        }
        Ok(keymap)
    }

    pub fn action_for(&self, event: &KeyEvent) -> Option<Action> {
        let key = KeyBinding::from_event(event);
        self.bindings
            .iter()
            .find(|(_, keys)| keys.contains(&key))
            .map(|(a, _)| *a)
    }

    pub fn keys_for(&self, action: Action) -> &[KeyBinding] {
        self.bindings
            .iter()
            .find(|(a, _)| *a == action)
            .map_or(&[], |(_, keys)| keys.as_slice())
    }

    /// The keys of `action` as the footer shows them ("j/↓").
    pub fn label(&self, action: Action) -> String {
        let keys: Vec<String> = self
            .keys_for(action)
            .iter()
            .map(|k| k.to_string())
            .collect();
        keys.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_key_parses_and_no_two_actions_share_one() {
        let keymap = Keymap::default();
        let mut seen = std::collections::HashSet::new();
        for info in ACTIONS {
            assert!(!keymap.keys_for(info.action).is_empty(), "{}", info.name);
            for key in keymap.keys_for(info.action) {
                assert!(seen.insert(*key), "{key} bound twice");
            }
        }
    }

    #[test]
    fn shifted_characters_match_their_binding() {
        let keymap = Keymap::default();
        let question = KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(keymap.action_for(&question), Some(Action::Help));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(keymap.action_for(&ctrl_c), Some(Action::Quit));
    }

    #[test]
    fn override_rebinds_and_steals_the_key() {
        let keymap =
            Keymap::with_overrides("pause_resume = \"p\"\nquit = [\"x\", \"s\"]\n", "t").unwrap();
        let p = KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE);
        let s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE);
        let space = KeyEvent::new(KeyCode::Char(' '), KeyModifiers::NONE);
        assert_eq!(keymap.action_for(&p), Some(Action::PauseResume));
        assert_eq!(keymap.action_for(&space), None);
        assert_eq!(keymap.action_for(&s), Some(Action::Quit));
        assert!(keymap.keys_for(Action::StartRun).is_empty());
        assert_eq!(keymap.label(Action::Quit), "x/s");
    }

    #[test]
    fn bad_overrides_are_rejected_with_a_reason() {
        let err = Keymap::with_overrides("launch = \"l\"", "keymap.toml").unwrap_err();
        assert!(
            err.to_string().contains("unknown action \"launch\""),
            "{err}"
        );
        let err = Keymap::with_overrides("quit = \"shift-banana\"", "keymap.toml").unwrap_err();
        assert!(err.to_string().contains("bad key"), "{err}");
    }

    #[test]
    fn missing_keymap_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Keymap::load_from(Some(dir.path())).unwrap(),
            Keymap::default()
        );
    }
}
