//! SQLite forms of each change.
//!
//! SQLite cannot add NOT NULL or CHECK to an existing column. A table rebuild
//! (create, copy, swap) would rewrite every row already loaded and hold the write
//! lock for all of it, while the load is still appending. Triggers give the same
//! guarantee for every later write, cost O(1) DDL, and their inverse is an exact
//! DROP TRIGGER; existing rows are verified by a query before the DDL. A narrower
//! declared type is only possible by a rebuild, so `narrow_type` rebuilds, and
//! re-creates the table's indexes and triggers from the catalog both ways.

use super::{LiveTable, OnlineDdl, Plan};
use crate::db::Dialect;
use crate::eventlog::store::literal;
use crate::recommend::Change;
use crate::schema::{ColumnDef, ColumnType, TableDef};
use crate::value::Value;

pub struct SqliteDdl;

fn text(s: &str) -> String {
    literal(&Value::Text(s.to_string()))
}

impl SqliteDdl {
    /// A BEFORE INSERT and a BEFORE UPDATE trigger raising when `bad` holds for NEW.
    fn guard_triggers(
        &self,
        d: &dyn Dialect,
        t: &str,
        c: &str,
        tag: &str,
        bad: &str,
        msg: &str,
    ) -> (Vec<String>, Vec<String>) {
        let mut fwd = Vec::new();
        let mut inv = Vec::new();
        for (suffix, event) in [
            ("i", "INSERT".to_string()),
            ("u", format!("UPDATE OF {}", d.quote_ident(c))),
        ] {
            let name = d.quote_ident(&format!("fd_{tag}_{t}_{c}_{suffix}"));
            fwd.push(format!(
                "CREATE TRIGGER {name} BEFORE {event} ON {} FOR EACH ROW WHEN {bad} BEGIN SELECT RAISE(ABORT, {}); END",
                d.quote_ident(t),
                text(msg)
            ));
            inv.insert(0, format!("DROP TRIGGER {name}"));
        }
        (fwd, inv)
    }

    fn rebuild(&self, d: &dyn Dialect, live: &LiveTable, def: &TableDef) -> Vec<String> {
        let tmp = format!("fd_rebuild_{}", live.def.name);
        let mut staged = def.clone();
        staged.name = tmp.clone();
        let cols: Vec<String> = def.columns.iter().map(|c| d.quote_ident(&c.name)).collect();
        let cols = cols.join(", ");
        let mut out = vec![
            d.create_table(&staged),
            format!(
                "INSERT INTO {} ({cols}) SELECT {cols} FROM {}",
                d.quote_ident(&tmp),
                d.quote_ident(&live.def.name)
            ),
            d.drop_table(&live.def.name),
            format!(
                "ALTER TABLE {} RENAME TO {}",
                d.quote_ident(&tmp),
                d.quote_ident(&live.def.name)
            ),
        ];
        out.extend(live.dependents.iter().cloned());
        out
    }
}

fn in_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| text(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A condition true when `col` does not fit `t`.
fn misfit(col: &str, t: ColumnType) -> Option<String> {
    let range =
        |lo: i64, hi: i64| format!("({col} IS NOT NULL AND ({col} < {lo} OR {col} > {hi}))");
    Some(match t {
        ColumnType::Varchar(n) => format!("({col} IS NOT NULL AND length({col}) > {n})"),
        ColumnType::SmallInt => range(i16::MIN as i64, i16::MAX as i64),
        ColumnType::Int => range(i32::MIN as i64, i32::MAX as i64),
        _ => return None,
    })
}

impl OnlineDdl for SqliteDdl {
    fn dependents_query(&self) -> &'static str {
        "SELECT sql FROM sqlite_master WHERE tbl_name = ?1 AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
    }

    fn plan(
        &self,
        d: &dyn Dialect,
        live: &LiveTable,
        column: &str,
        change: &Change,
    ) -> Result<Plan, String> {
        let t = &live.def.name;
        let q = |s: &str| d.quote_ident(s);
        let (qt, qc) = (q(t), q(column));
        let count = |cond: String| format!("SELECT COUNT(*) FROM {qt} WHERE {cond}");
        Ok(match change {
            Change::NotNull => {
                let (forward, inverse) = self.guard_triggers(
                    d,
                    t,
                    column,
                    "nn",
                    &format!("NEW.{qc} IS NULL"),
                    &format!("{t}.{column} must not be NULL"),
                );
                Plan {
                    verify: Some(count(format!("{qc} IS NULL"))),
                    forward,
                    inverse,
                }
            }
            Change::Check { values } => {
                let bad = format!(
                    "NEW.{qc} IS NOT NULL AND NEW.{qc} NOT IN ({})",
                    in_list(values)
                );
                let (forward, inverse) = self.guard_triggers(
                    d,
                    t,
                    column,
                    "ck",
                    &bad,
                    &format!("{t}.{column} must be one of {}", values.join(", ")),
                );
                Plan {
                    verify: Some(count(format!(
                        "{qc} IS NOT NULL AND {qc} NOT IN ({})",
                        in_list(values)
                    ))),
                    forward,
                    inverse,
                }
            }
            Change::Unique | Change::Index => {
                let unique = matches!(change, Change::Unique);
                let name = q(&format!(
                    "fd_{}_{t}_{column}",
                    if unique { "uq" } else { "ix" }
                ));
                Plan {
                    verify: unique.then(|| {
                        format!(
                            "SELECT COUNT(*) FROM (SELECT {qc} FROM {qt} WHERE {qc} IS NOT NULL GROUP BY {qc} HAVING COUNT(*) > 1)"
                        )
                    }),
                    forward: vec![format!(
                        "CREATE {}INDEX {name} ON {qt} ({qc})",
                        if unique { "UNIQUE " } else { "" }
                    )],
                    inverse: vec![format!("DROP INDEX {name}")],
                }
            }
            Change::NarrowType { to, .. } => {
                let to: ColumnType = to.parse()?;
                let mut def = live.def.clone();
                let col = def
                    .columns
                    .iter_mut()
                    .find(|c| c.name == column)
                    .ok_or_else(|| format!("{t} has no column {column}"))?;
                col.column_type = to;
                Plan {
                    verify: misfit(&qc, to).map(count),
                    forward: self.rebuild(d, live, &def),
                    inverse: self.rebuild(d, live, &live.def),
                }
            }
            Change::EnumTable {
                lookup_table,
                values,
            } => {
                let width = values.iter().map(|v| v.chars().count()).max().unwrap_or(1) as u32;
                let def = TableDef {
                    name: lookup_table.clone(),
                    columns: vec![ColumnDef {
                        name: "value".into(),
                        column_type: ColumnType::Varchar(width.max(1)),
                        nullable: false,
                    }],
                    primary_key: vec!["value".into()],
                };
                let rows: Vec<String> = values.iter().map(|v| format!("({})", text(v))).collect();
                Plan {
                    verify: None,
                    forward: vec![
                        d.create_table(&def),
                        format!(
                            "INSERT INTO {} ({}) VALUES {}",
                            q(lookup_table),
                            q("value"),
                            rows.join(", ")
                        ),
                    ],
                    inverse: vec![d.drop_table(lookup_table)],
                }
            }
            Change::Partition { .. } => {
                return Err(
                    "SQLite has no table partitioning; apply it on the production database".into(),
                );
            }
        })
    }
}
