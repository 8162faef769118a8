//! SQLite forms of each change.
//!
//! SQLite cannot add NOT NULL or CHECK to an existing column. A table rebuild
//! (create, copy, swap) would rewrite every row already loaded and hold the write
//! lock for all of it, while the load is still appending. Triggers give the same
//! guarantee for every later write, cost O(1) DDL, and their inverse is an exact
//! DROP TRIGGER; existing rows are verified by a query before the DDL. A narrower
//! declared type is only possible by a rebuild, so `narrow_type` rebuilds, and
//! re-creates the table's indexes and triggers from the catalog both ways.

use super::{LiveTable, OnlineDdl, Plan, in_list, lookup_table_plan, verify_query};
use crate::db::Dialect;
use crate::recommend::Change;
use crate::schema::{ColumnType, TableDef};

pub struct SqliteDdl;

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
                d.string_literal(msg)
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
        let verify = verify_query(d, t, column, change, "length");
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
                    verify,
                    forward,
                    inverse,
                    online: None,
                }
            }
            Change::Check { values } => {
                let bad = format!(
                    "NEW.{qc} IS NOT NULL AND NEW.{qc} NOT IN ({})",
                    in_list(d, values)
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
                    verify,
                    forward,
                    inverse,
                    online: None,
                }
            }
            Change::Unique | Change::Index => {
                let unique = matches!(change, Change::Unique);
                let name = q(&format!(
                    "fd_{}_{t}_{column}",
                    if unique { "uq" } else { "ix" }
                ));
                Plan {
                    verify,
                    forward: vec![format!(
                        "CREATE {}INDEX {name} ON {qt} ({qc})",
                        if unique { "UNIQUE " } else { "" }
                    )],
                    inverse: vec![format!("DROP INDEX {name}")],
                    online: None,
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
                    verify,
                    forward: self.rebuild(d, live, &def),
                    inverse: self.rebuild(d, live, &live.def),
                    online: None,
                }
            }
            Change::EnumTable {
                lookup_table,
                values,
            } => lookup_table_plan(d, lookup_table, values),
            Change::Partition { .. } => {
                return Err(
                    "SQLite has no table partitioning; apply it on the production database".into(),
                );
            }
        })
    }
}
