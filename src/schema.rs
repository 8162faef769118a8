//! Database-independent description of tables and column types.

use std::fmt;
use std::str::FromStr;

/// A logical column type. Each dialect maps it to its own type name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    Bool,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Decimal(u8, u8),
    Text,
    Varchar(u32),
    Bytes,
    Uuid,
    Date,
    /// Zone-less date and time.
    DateTime,
    /// UTC instant.
    Timestamp,
    Json,
}

impl ColumnType {
    /// The names the project file accepts, for did-you-mean hints.
    pub const NAMES: &'static [&'static str] = &[
        "bool",
        "smallint",
        "int",
        "bigint",
        "float",
        "double",
        "decimal(p,s)",
        "text",
        "varchar(n)",
        "bytes",
        "uuid",
        "date",
        "datetime",
        "timestamp",
        "json",
    ];

    pub fn is_integer(self) -> bool {
        matches!(self, Self::SmallInt | Self::Int | Self::BigInt)
    }

    pub fn is_numeric(self) -> bool {
        self.is_integer() || matches!(self, Self::Float | Self::Double | Self::Decimal(..))
    }

    pub fn is_textual(self) -> bool {
        matches!(self, Self::Text | Self::Varchar(_))
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool => f.write_str("bool"),
            Self::SmallInt => f.write_str("smallint"),
            Self::Int => f.write_str("int"),
            Self::BigInt => f.write_str("bigint"),
            Self::Float => f.write_str("float"),
            Self::Double => f.write_str("double"),
            Self::Decimal(p, s) => write!(f, "decimal({p},{s})"),
            Self::Text => f.write_str("text"),
            Self::Varchar(n) => write!(f, "varchar({n})"),
            Self::Bytes => f.write_str("bytes"),
            Self::Uuid => f.write_str("uuid"),
            Self::Date => f.write_str("date"),
            Self::DateTime => f.write_str("datetime"),
            Self::Timestamp => f.write_str("timestamp"),
            Self::Json => f.write_str("json"),
        }
    }
}

impl FromStr for ColumnType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let (base, args) = match lower.split_once('(') {
            Some((b, rest)) => (b.trim(), Some(rest.trim_end_matches(')').trim())),
            None => (lower.as_str(), None),
        };
        let bad = || format!("unknown column type \"{s}\"");
        Ok(match (base, args) {
            ("bool" | "boolean", None) => Self::Bool,
            ("smallint", None) => Self::SmallInt,
            ("int" | "integer", None) => Self::Int,
            ("bigint", None) => Self::BigInt,
            ("float" | "real", None) => Self::Float,
            ("double", None) => Self::Double,
            ("text", None) => Self::Text,
            ("varchar", Some(n)) => Self::Varchar(n.parse().map_err(|_| bad())?),
            ("bytes" | "blob", None) => Self::Bytes,
            ("uuid", None) => Self::Uuid,
            ("date", None) => Self::Date,
            ("datetime", None) => Self::DateTime,
            ("timestamp", None) => Self::Timestamp,
            ("json", None) => Self::Json,
            ("decimal", Some(ps)) => {
                let (p, s2) = ps.split_once(',').ok_or_else(bad)?;
                Self::Decimal(
                    p.trim().parse().map_err(|_| bad())?,
                    s2.trim().parse().map_err(|_| bad())?,
                )
            }
            _ => return Err(bad()),
        })
    }
}

/// A column as introspected from a live database.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    /// The type as the database names it, e.g. `VARCHAR(64)`.
    pub native_type: String,
    /// Our reading of it.
    pub column_type: ColumnType,
    pub nullable: bool,
    pub primary_key: bool,
}

/// A table as introspected from a live database.
#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    pub name: String,
    pub columns: Vec<ColumnInfo>,
}

impl TableInfo {
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The primary key's columns, in table order.
    pub fn primary_key(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name.clone())
            .collect()
    }
}

/// An index or constraint of a live table beyond its primary key, as the
/// catalog shows it (drift compares them with what the run applied).
#[derive(Debug, Clone, PartialEq)]
pub struct ConstraintInfo {
    pub kind: ConstraintKind,
    /// Key columns in order; empty for a check.
    pub columns: Vec<String>,
    /// A check's (or SQLite guard trigger's) SQL; a foreign key's referenced
    /// table; an index's name.
    pub definition: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    Index,
    Check,
    ForeignKey,
}

/// A column of a table flightdeck creates in the target.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub column_type: ColumnType,
    pub nullable: bool,
}

/// A table flightdeck creates in the target.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub primary_key: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for s in [
            "bool",
            "int",
            "varchar(64)",
            "decimal(10,2)",
            "uuid",
            "timestamp",
        ] {
            let t: ColumnType = s.parse().unwrap();
            assert_eq!(t.to_string(), s);
        }
        assert!("varchar(x)".parse::<ColumnType>().is_err());
        assert!("strng".parse::<ColumnType>().is_err());
    }
}
