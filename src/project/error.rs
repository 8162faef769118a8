//! Errors in a project file, pointing at `file:line:col` with a hint.

use std::fmt;
use std::ops::Range;

/// A problem with the project file. Displays as
/// `project.toml:42:9: unknown transform "canonicalise"; did you mean "canonicalize"?`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ProjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProjectError {}

/// Turns byte spans of the project text into `file:line:col` errors.
#[derive(Debug, Clone)]
pub struct Locator {
    file: String,
    text: String,
}

impl Locator {
    pub fn new(file: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            text: text.into(),
        }
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    pub fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ProjectError {
        let (line, column) = span.map_or((1, 1), |s| self.line_col(s.start));
        ProjectError {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
            hint: None,
        }
    }

    pub fn at(&self, span: Range<usize>, message: impl Into<String>) -> ProjectError {
        self.error(Some(span), message)
    }
}

impl ProjectError {
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word_l = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (c, strsim::jaro_winkler(&word_l, &c.to_ascii_lowercase())))
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

/// `did you mean "x"?` for the closest candidate, if any.
pub fn hint_for<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(word, candidates).map(|c| format!("did you mean \"{c}\"?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_chars() {
        let loc = Locator::new("p.toml", "a = 1\nbé = \"x\"\n");
        assert_eq!(loc.line_col(0), (1, 1));
        assert_eq!(loc.line_col(6), (2, 1));
        // "bé = " is 6 bytes but 5 chars: the quote sits at column 6
        assert_eq!(loc.line_col(12), (2, 6));
    }

    #[test]
    fn suggests_close_names_only() {
        let rules = ["canonicalize", "value_map", "lookup"];
        assert_eq!(did_you_mean("canonicalise", rules), Some("canonicalize"));
        assert_eq!(did_you_mean("frobnicate", rules), None);
    }
}
