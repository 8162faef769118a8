//! `when` conditions: `a > 1 and b IN ('x', 'y') or c IS NULL`.
//!
//! `and` binds tighter than `or`; there are no parentheses. Comparisons with
//! NULL are false, as in SQL.

use std::cmp::Ordering;

use crate::value::{Row, Value};

/// A parsed condition: true when any of its `and` groups holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    any: Vec<Vec<Test>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Test {
    column: String,
    /// Position of `column` in the source row, set by `bind`.
    index: usize,
    check: Check,
}

#[derive(Debug, Clone, PartialEq)]
enum Check {
    Compare(Op, Literal),
    IsNull,
    IsNotNull,
    In(Vec<Literal>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Number(f64),
    Text(String),
    Op(Op),
    Open,
    Close,
    Comma,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Self, String> {
        let tokens = tokenize(text)?;
        let mut p = Parser { tokens, pos: 0 };
        let mut any = vec![vec![p.test()?]];
        while let Some(word) = p.keyword() {
            match word.as_str() {
                "and" => any.last_mut().expect("never empty").push(p.test()?),
                "or" => any.push(vec![p.test()?]),
                _ => return Err(format!("expected \"and\" or \"or\", found \"{word}\"")),
            }
        }
        if let Some(t) = p.tokens.get(p.pos) {
            return Err(format!("expected \"and\" or \"or\", found {}", describe(t)));
        }
        Ok(Self { any })
    }

    /// Column names the condition reads, in order of appearance.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.any.iter().flatten().map(|t| t.column.as_str())
    }

    /// Resolves column names to row positions.
    pub fn bind(&mut self, mut index_of: impl FnMut(&str) -> usize) {
        for test in self.any.iter_mut().flatten() {
            test.index = index_of(&test.column);
        }
    }

    pub fn holds(&self, row: &Row) -> bool {
        self.any.iter().any(|all| {
            all.iter()
                .all(|t| t.holds(row.get(t.index).unwrap_or(&Value::Null)))
        })
    }
}

impl Test {
    fn holds(&self, v: &Value) -> bool {
        match &self.check {
            Check::IsNull => v.is_null(),
            Check::IsNotNull => !v.is_null(),
            Check::Compare(op, lit) => match compare(v, lit) {
                None => false,
                Some(ord) => match op {
                    Op::Eq => ord == Ordering::Equal,
                    Op::Ne => ord != Ordering::Equal,
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                },
            },
            Check::In(list) => list
                .iter()
                .any(|lit| compare(v, lit) == Some(Ordering::Equal)),
        }
    }
}

/// Numbers compare numerically, text compares as text; NULL and a value that is
/// not a number compared with a number give no answer.
fn compare(v: &Value, lit: &Literal) -> Option<Ordering> {
    match lit {
        Literal::Number(n) => v.as_f64()?.partial_cmp(n),
        Literal::Text(s) => Some(v.as_text()?.as_ref().cmp(s.as_str())),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&mut self) -> Option<String> {
        match self.tokens.get(self.pos) {
            Some(Token::Word(w)) => {
                self.pos += 1;
                Some(w.to_ascii_lowercase())
            }
            _ => None,
        }
    }

    fn test(&mut self) -> Result<Test, String> {
        let column = match self.next() {
            Some(Token::Word(w)) if !is_reserved(&w) => w,
            Some(t) => return Err(format!("expected a column name, found {}", describe(&t))),
            None => return Err("expected a column name, found the end".into()),
        };
        let check = match self.next() {
            Some(Token::Op(op)) => Check::Compare(op, self.literal()?),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("is") => match self.keyword().as_deref()
            {
                Some("null") => Check::IsNull,
                Some("not") if self.keyword().as_deref() == Some("null") => Check::IsNotNull,
                _ => return Err(format!("expected NULL or NOT NULL after \"{column} IS\"")),
            },
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => {
                if self.next() != Some(Token::Open) {
                    return Err(format!("expected ( after \"{column} IN\""));
                }
                let mut list = vec![self.literal()?];
                loop {
                    match self.next() {
                        Some(Token::Comma) => list.push(self.literal()?),
                        Some(Token::Close) => break,
                        _ => return Err(format!("expected , or ) in the IN list of \"{column}\"")),
                    }
                }
                Check::In(list)
            }
            Some(t) => {
                return Err(format!(
                    "expected an operator after \"{column}\", found {}",
                    describe(&t)
                ));
            }
            None => {
                return Err(format!(
                    "expected an operator after \"{column}\", found the end"
                ));
            }
        };
        Ok(Test {
            column,
            index: 0,
            check,
        })
    }

    fn literal(&mut self) -> Result<Literal, String> {
        match self.next() {
            Some(Token::Number(n)) => Ok(Literal::Number(n)),
            Some(Token::Text(s)) => Ok(Literal::Text(s)),
            Some(t) => Err(format!(
                "expected a number or a 'quoted string', found {}",
                describe(&t)
            )),
            None => Err("expected a number or a 'quoted string', found the end".into()),
        }
    }
}

fn is_reserved(word: &str) -> bool {
    ["and", "or", "is", "not", "null", "in"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("\"{w}\""),
        Token::Number(n) => n.to_string(),
        Token::Text(s) => format!("'{s}'"),
        Token::Op(_) => "an operator".into(),
        Token::Open => "(".into(),
        Token::Close => ")".into(),
        Token::Comma => ",".into(),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                });
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        // '' inside a string is a quote, as in SQL
                        Some((_, '\'')) if chars.peek().map(|p| p.1) == Some('\'') => {
                            chars.next();
                            s.push('\'');
                        }
                        Some((_, '\'')) => break,
                        Some((_, ch)) => s.push(ch),
                        None => {
                            return Err(format!(
                                "unterminated string starting at character {}",
                                i + 1
                            ));
                        }
                    }
                }
                out.push(Token::Text(s));
            }
            '=' | '!' | '<' | '>' => {
                chars.next();
                let eq = chars.peek().map(|p| p.1) == Some('=');
                if eq {
                    chars.next();
                }
                let op = match (c, eq) {
                    ('=', _) => Op::Eq,
                    ('!', true) => Op::Ne,
                    ('<', false) if chars.peek().map(|p| p.1) == Some('>') => {
                        chars.next();
                        Op::Ne
                    }
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    _ => return Err("\"!\" must be followed by \"=\"".into()),
                };
                out.push(Token::Op(op));
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let mut s = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    let exponent_sign = (d == '-' || d == '+') && s.ends_with(['e', 'E']);
                    if d.is_ascii_digit()
                        || d == '.'
                        || d == 'e'
                        || d == 'E'
                        || exponent_sign
                        || (d == '-' && s.is_empty())
                    {
                        s.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let n = s
                    .parse::<f64>()
                    .map_err(|_| format!("bad number \"{s}\""))?;
                out.push(Token::Number(n));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut s = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' {
                        s.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(s));
            }
            other => {
                return Err(format!(
                    "unexpected character '{other}' at character {}",
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses and binds to the columns `a, b, c` (positions 0, 1, 2).
    fn cond(text: &str) -> Condition {
        let mut c = Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        c.bind(|name| ["a", "b", "c"].iter().position(|n| *n == name).unwrap());
        c
    }

    fn row(a: impl Into<Value>, b: impl Into<Value>, c: impl Into<Value>) -> Row {
        vec![a.into(), b.into(), c.into()]
    }

    #[test]
    fn comparisons() {
        let r = row(5, "RF", Value::Null);
        assert!(cond("a == 5").holds(&r));
        assert!(cond("a = 5.0").holds(&r));
        assert!(!cond("a != 5").holds(&r));
        assert!(cond("a <> 4").holds(&r));
        assert!(cond("a < 6 and a <= 5 and a > 4.5 and a >= 5").holds(&r));
        assert!(!cond("a > 5").holds(&r));
        assert!(cond("a > -1e3").holds(&r));
        assert!(cond("b == 'RF'").holds(&r));
        assert!(!cond("b == 'rf'").holds(&r));
        // text against a number has no answer, so it is false either way
        assert!(!cond("b > 1").holds(&r) && !cond("b <= 1").holds(&r));
        // a number held as text compares numerically
        assert!(cond("a > 4").holds(&row("5", 0, 0)));
    }

    #[test]
    fn null_checks_and_lists() {
        let r = row(5, "it's", Value::Null);
        assert!(cond("c IS NULL").holds(&r));
        assert!(cond("a is not null").holds(&r));
        assert!(!cond("c is not null").holds(&r));
        assert!(!cond("c == 1").holds(&r) && !cond("c != 1").holds(&r));
        assert!(cond("b IN ('x', 'it''s')").holds(&r));
        assert!(cond("a in (1, 5)").holds(&r));
        assert!(!cond("a IN (1, 2)").holds(&r));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // read as (a == 1 and b == 'x') or c IS NULL
        let c = cond("a == 1 and b == 'x' or c IS NULL");
        assert!(c.holds(&row(2, "y", Value::Null)));
        assert!(c.holds(&row(1, "x", 0)));
        assert!(!c.holds(&row(1, "y", 0)));
        // read as a == 1 or (b == 'x' and c IS NULL)
        let c = cond("a == 1 or b == 'x' and c IS NULL");
        assert!(c.holds(&row(1, "y", 0)));
        assert!(!c.holds(&row(2, "x", 0)));
        assert_eq!(c.columns().collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[test]
    fn parse_errors_say_what_was_expected() {
        let err = |t: &str| Condition::parse(t).unwrap_err();
        assert_eq!(err("a"), "expected an operator after \"a\", found the end");
        assert_eq!(
            err("a >"),
            "expected a number or a 'quoted string', found the end"
        );
        assert_eq!(
            err("a > 1 b < 2"),
            "expected \"and\" or \"or\", found \"b\""
        );
        assert_eq!(err("a IS 1"), "expected NULL or NOT NULL after \"a IS\"");
        assert_eq!(err("a IN 'x'"), "expected ( after \"a IN\"");
        assert_eq!(
            err("b == 'open"),
            "unterminated string starting at character 6"
        );
        assert_eq!(err("a > 1 and"), "expected a column name, found the end");
        assert_eq!(err("a ~ 1"), "unexpected character '~' at character 3");
        assert_eq!(err("and > 1"), "expected a column name, found \"and\"");
    }
}
