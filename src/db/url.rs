//! Database URLs: scheme, `${ENV}` expansion, paths relative to the project
//! file, and a redacted form for every place a URL is shown.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::MySql => "MySQL",
        })
    }
}

/// A database URL. `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    url: String,
    backend: Backend,
    sqlite_path: Option<PathBuf>,
}

impl DbUrl {
    /// Parses an already expanded URL; SQLite paths are resolved against `base`.
    pub fn parse(url: &str, base: &Path) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("\"{}\" is not a URL", redact(url)))?;
        let backend = match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" => Backend::Postgres,
            "mysql" | "mariadb" => Backend::MySql,
            other => {
                return Err(format!("unsupported URL scheme \"{other}\""));
            }
        };
        let sqlite_path = (backend == Backend::Sqlite).then(|| {
            let file = rest.split('?').next().unwrap_or(rest);
            let path = Path::new(file);
            if path.is_absolute() {
                path.to_path_buf()
            } else {
                base.join(path)
            }
        });
        if backend == Backend::Sqlite && rest.split('?').next().unwrap_or("").is_empty() {
            return Err("sqlite URL has no file name".into());
        }
        Ok(Self {
            url: url.to_string(),
            backend,
            sqlite_path,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The full URL, secrets included: only for handing to the driver.
    pub fn expose(&self) -> &str {
        &self.url
    }

    pub fn sqlite_path(&self) -> Option<&Path> {
        self.sqlite_path.as_deref()
    }

    pub fn redacted(&self) -> String {
        redact(&self.url)
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({})", self.redacted())
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the password of `scheme://user:password@host` and any
/// `password=`/`pass=`/`pwd=` query value with `***`.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let auth_start = scheme_end + 3;
        let rest = &out[auth_start..];
        let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..host_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            out.replace_range(auth_start + colon + 1..auth_start + at, "***");
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let parts: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _))
                    if ["password", "pass", "pwd", "sslpassword"]
                        .contains(&k.to_ascii_lowercase().as_str()) =>
                {
                    format!("{k}=***")
                }
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", parts.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:s3cr3t@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            redact("mysql://root@h/db?password=hunter2&ssl=1"),
            "mysql://root@h/db?password=***&ssl=1"
        );
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
        let u = DbUrl::parse("postgres://a:pw@h/d", Path::new("/")).unwrap();
        assert!(!format!("{u:?} {u}").contains("pw@"));
    }

    #[test]
    fn sqlite_paths_are_relative_to_the_project() {
        let u = DbUrl::parse("sqlite://legacy.db", Path::new("/p")).unwrap();
        assert_eq!(u.sqlite_path(), Some(Path::new("/p/legacy.db")));
        let u = DbUrl::parse("sqlite:///abs/x.db", Path::new("/p")).unwrap();
        assert_eq!(u.sqlite_path(), Some(Path::new("/abs/x.db")));
        assert!(DbUrl::parse("oracle://x", Path::new("/")).is_err());
    }
}
