//! PostgreSQL forms of each change, chosen for the locks they take while the
//! load goes on.
//!
//! Indexes are built `CONCURRENTLY`, which no transaction may hold; a failed
//! build leaves an INVALID index behind, which the clean-up drops. A CHECK is
//! added `NOT VALID` (a brief lock, no scan) and validated in a second
//! statement under SHARE UPDATE EXCLUSIVE, which lets writes go on. NOT NULL
//! rides on such a validated CHECK, since `SET NOT NULL` then skips its scan
//! (PostgreSQL 12+). Those statements must not share a transaction either,
//! or the first one's ACCESS EXCLUSIVE lock would last through the scan.
//! A narrower type has no online form: one `ALTER COLUMN ... TYPE` in a
//! transaction, under the lock budget.
//!
//! Every statement runs with `lock_timeout` at the lock budget (`SET LOCAL`
//! in a transaction; outside one, on a session of its own), and the clean-up
//! of a failed attempt runs only when the catalog shows something to remove:
//! even `DROP CONSTRAINT IF EXISTS` waits for ACCESS EXCLUSIVE.

use super::{
    LiveTable, Online, OnlineDdl, Plan, in_list, lookup_table_plan, object_name, plain_narrowing,
    verify_query,
};
use crate::db::Dialect;
use crate::recommend::Change;
use crate::schema::ColumnType;

pub struct PostgresDdl;

impl OnlineDdl for PostgresDdl {
    fn dependents_query(&self) -> &'static str {
        "SELECT indexdef FROM pg_catalog.pg_indexes \
         WHERE schemaname = current_schema() AND tablename = $1 ORDER BY indexname"
    }

    fn plan(
        &self,
        d: &dyn Dialect,
        live: &LiveTable,
        column: &str,
        change: &Change,
    ) -> Result<Plan, String> {
        let t = &live.def.name;
        let (qt, qc) = (d.quote_ident(t), d.quote_ident(column));
        // The table's oid, resolved the way the DDL resolves its name.
        let table_oid = format!("pg_catalog.to_regclass({})", d.string_literal(&qt));
        let alter = |rest: String| format!("ALTER TABLE {qt} {rest}");
        let verify = verify_query(d, t, column, change, "char_length");
        Ok(match change {
            Change::Index | Change::Unique => {
                let unique = matches!(change, Change::Unique);
                let name = object_name(if unique { "uq" } else { "ix" }, t, column);
                let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {}", d.quote_ident(&name));
                Plan {
                    verify,
                    forward: vec![format!(
                        "CREATE {}INDEX CONCURRENTLY IF NOT EXISTS {} ON {qt} ({qc})",
                        if unique { "UNIQUE " } else { "" },
                        d.quote_ident(&name)
                    )],
                    inverse: vec![drop.clone()],
                    online: Some(Online {
                        probe: format!(
                            "SELECT COUNT(*) FROM pg_catalog.pg_index i \
                             JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
                             WHERE i.indrelid = {table_oid} AND c.relname = {} \
                             AND i.indisvalid{}",
                            d.string_literal(&name),
                            if unique { " AND i.indisunique" } else { "" }
                        ),
                        // Drops an INVALID leftover only: it runs when the probe
                        // finds no valid index of that name.
                        cleanup: vec![drop],
                        fallbacks: vec![],
                        leftover: Some(format!(
                            "SELECT COUNT(*) FROM pg_catalog.pg_index i \
                             JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
                             WHERE i.indrelid = {table_oid} AND c.relname = {}",
                            d.string_literal(&name)
                        )),
                    }),
                }
            }
            Change::Check { values } => {
                let name = d.quote_ident(&object_name("ck", t, column));
                let drop = alter(format!("DROP CONSTRAINT IF EXISTS {name}"));
                Plan {
                    verify,
                    forward: vec![
                        alter(format!(
                            "ADD CONSTRAINT {name} CHECK ({qc} IN ({})) NOT VALID",
                            in_list(d, values)
                        )),
                        alter(format!("VALIDATE CONSTRAINT {name}")),
                    ],
                    inverse: vec![drop.clone()],
                    online: Some(Online {
                        probe: constraint_probe(d, &table_oid, &object_name("ck", t, column)),
                        cleanup: vec![drop],
                        fallbacks: vec![],
                        leftover: Some(constraint_leftover(
                            d,
                            &table_oid,
                            &object_name("ck", t, column),
                        )),
                    }),
                }
            }
            Change::NotNull => {
                let helper = d.quote_ident(&object_name("nn", t, column));
                let drop_helper = alter(format!("DROP CONSTRAINT IF EXISTS {helper}"));
                Plan {
                    verify,
                    forward: vec![
                        alter(format!(
                            "ADD CONSTRAINT {helper} CHECK ({qc} IS NOT NULL) NOT VALID"
                        )),
                        alter(format!("VALIDATE CONSTRAINT {helper}")),
                        alter(format!("ALTER COLUMN {qc} SET NOT NULL")),
                        drop_helper.clone(),
                    ],
                    // The helper too, should an interruption have left it.
                    inverse: vec![
                        alter(format!("ALTER COLUMN {qc} DROP NOT NULL")),
                        drop_helper.clone(),
                    ],
                    online: Some(Online {
                        probe: format!(
                            "SELECT COUNT(*) FROM pg_catalog.pg_attribute \
                             WHERE attrelid = {table_oid} AND attname = {} AND attnotnull",
                            d.string_literal(column)
                        ),
                        cleanup: vec![drop_helper],
                        fallbacks: vec![],
                        leftover: Some(constraint_leftover(
                            d,
                            &table_oid,
                            &object_name("nn", t, column),
                        )),
                    }),
                }
            }
            Change::NarrowType { to, .. } => {
                let col = live.column(column)?;
                let to: ColumnType = to.parse()?;
                if !plain_narrowing(col.column_type, to) {
                    return Err(format!(
                        "PostgreSQL changes {} to {to} only with a cast; not applied automatically",
                        col.column_type
                    ));
                }
                Plan {
                    verify,
                    forward: vec![alter(format!("ALTER COLUMN {qc} TYPE {}", d.type_name(to)))],
                    inverse: vec![alter(format!(
                        "ALTER COLUMN {qc} TYPE {}",
                        live.sql_type(d, col)
                    ))],
                    online: None,
                }
            }
            Change::EnumTable {
                lookup_table,
                values,
            } => lookup_table_plan(d, lookup_table, values),
            Change::Partition { .. } => {
                return Err(
                    "PostgreSQL cannot partition an existing table in place: it takes a new partitioned table and a copy of the rows; plan it for a maintenance window".into(),
                );
            }
        })
    }
}

/// Counts a validated constraint `name` on the table.
fn constraint_probe(d: &dyn Dialect, table_oid: &str, name: &str) -> String {
    format!(
        "SELECT COUNT(*) FROM pg_catalog.pg_constraint \
         WHERE conrelid = {table_oid} AND conname = {} AND convalidated",
        d.string_literal(name)
    )
}

/// Counts constraints `name` on the table, validated or not.
fn constraint_leftover(d: &dyn Dialect, table_oid: &str, name: &str) -> String {
    format!(
        "SELECT COUNT(*) FROM pg_catalog.pg_constraint \
         WHERE conrelid = {table_oid} AND conname = {}",
        d.string_literal(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::PostgresDialect;
    use crate::evolve::tests::live_of;

    fn plan(change: Change) -> Result<Plan, String> {
        let live = live_of(
            "m\"x",
            &[
                (
                    "a\"b",
                    ColumnType::Varchar(255),
                    "character varying(255)",
                    true,
                ),
                ("n", ColumnType::BigInt, "bigint", true),
            ],
        );
        let column = if matches!(change, Change::NarrowType { ref to, .. } if to == "int") {
            "n"
        } else {
            "a\"b"
        };
        PostgresDdl.plan(&PostgresDialect, &live, column, &change)
    }

    #[test]
    fn indexes_build_concurrently_and_invalid_leftovers_are_dropped() {
        let p = plan(Change::Unique).unwrap();
        assert_eq!(
            p.forward,
            [
                r#"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "fd_uq_m""x_a""b" ON "m""x" ("a""b")"#
            ]
        );
        assert_eq!(
            p.inverse,
            [r#"DROP INDEX CONCURRENTLY IF EXISTS "fd_uq_m""x_a""b""#]
        );
        let online = p.online.unwrap();
        assert_eq!(online.cleanup, p.inverse);
        assert!(
            online
                .probe
                .contains(r#"i.indrelid = pg_catalog.to_regclass('"m""x"')"#)
                && online.probe.contains(r#"c.relname = 'fd_uq_m"x_a"b'"#)
                && online.probe.contains("i.indisvalid AND i.indisunique"),
            "{}",
            online.probe
        );
        // The clean-up runs for an index of that name, valid or not.
        let leftover = online.leftover.unwrap();
        assert!(
            leftover.contains(r#"i.indrelid = pg_catalog.to_regclass('"m""x"')"#)
                && leftover.ends_with(r#"c.relname = 'fd_uq_m"x_a"b'"#),
            "{leftover}"
        );
        assert_eq!(
            p.verify.unwrap(),
            r#"SELECT COUNT(*) FROM (SELECT "a""b" FROM "m""x" WHERE "a""b" IS NOT NULL GROUP BY "a""b" HAVING COUNT(*) > 1) AS fd_dups"#
        );
        let p = plan(Change::Index).unwrap();
        assert!(
            p.forward[0]
                .starts_with(r#"CREATE INDEX CONCURRENTLY IF NOT EXISTS "fd_ix_m""x_a""b""#)
        );
        assert!(p.verify.is_none());
    }

    #[test]
    fn check_is_added_not_valid_then_validated() {
        let p = plan(Change::Check {
            values: vec!["O'Brien".into(), "Draft".into()],
        })
        .unwrap();
        assert_eq!(
            p.forward,
            [
                r#"ALTER TABLE "m""x" ADD CONSTRAINT "fd_ck_m""x_a""b" CHECK ("a""b" IN ('O''Brien', 'Draft')) NOT VALID"#,
                r#"ALTER TABLE "m""x" VALIDATE CONSTRAINT "fd_ck_m""x_a""b""#,
            ]
        );
        assert_eq!(
            p.inverse,
            [r#"ALTER TABLE "m""x" DROP CONSTRAINT IF EXISTS "fd_ck_m""x_a""b""#]
        );
        assert_eq!(
            p.verify.unwrap(),
            r#"SELECT COUNT(*) FROM "m""x" WHERE "a""b" IS NOT NULL AND "a""b" NOT IN ('O''Brien', 'Draft')"#
        );
        let online = p.online.unwrap();
        assert!(
            online
                .probe
                .contains("conname = 'fd_ck_m\"x_a\"b' AND convalidated"),
            "{}",
            online.probe
        );
        // A NOT VALID leftover counts too.
        assert!(
            online
                .leftover
                .unwrap()
                .ends_with("conname = 'fd_ck_m\"x_a\"b'")
        );
    }

    #[test]
    fn not_null_rides_on_a_validated_check() {
        let p = plan(Change::NotNull).unwrap();
        assert_eq!(
            p.forward,
            [
                r#"ALTER TABLE "m""x" ADD CONSTRAINT "fd_nn_m""x_a""b" CHECK ("a""b" IS NOT NULL) NOT VALID"#,
                r#"ALTER TABLE "m""x" VALIDATE CONSTRAINT "fd_nn_m""x_a""b""#,
                r#"ALTER TABLE "m""x" ALTER COLUMN "a""b" SET NOT NULL"#,
                r#"ALTER TABLE "m""x" DROP CONSTRAINT IF EXISTS "fd_nn_m""x_a""b""#,
            ]
        );
        assert_eq!(
            p.inverse,
            [
                r#"ALTER TABLE "m""x" ALTER COLUMN "a""b" DROP NOT NULL"#,
                r#"ALTER TABLE "m""x" DROP CONSTRAINT IF EXISTS "fd_nn_m""x_a""b""#,
            ]
        );
        let online = p.online.unwrap();
        assert_eq!(online.cleanup, p.inverse[1..]);
        assert!(online.probe.contains(r#"attname = 'a"b' AND attnotnull"#));
        assert!(
            online
                .leftover
                .unwrap()
                .ends_with(r#"conname = 'fd_nn_m"x_a"b'"#)
        );
    }

    #[test]
    fn narrowing_is_one_transactional_statement_restoring_the_catalog_type() {
        let p = plan(Change::NarrowType {
            from: "varchar(255)".into(),
            to: "varchar(16)".into(),
        })
        .unwrap();
        assert!(p.online.is_none());
        assert_eq!(
            p.forward,
            [r#"ALTER TABLE "m""x" ALTER COLUMN "a""b" TYPE VARCHAR(16)"#]
        );
        assert_eq!(
            p.inverse,
            [r#"ALTER TABLE "m""x" ALTER COLUMN "a""b" TYPE character varying(255)"#]
        );
        assert_eq!(
            p.verify.unwrap(),
            r#"SELECT COUNT(*) FROM "m""x" WHERE ("a""b" IS NOT NULL AND char_length("a""b") > 16)"#
        );
        let p = plan(Change::NarrowType {
            from: "bigint".into(),
            to: "int".into(),
        })
        .unwrap();
        assert_eq!(
            p.forward,
            [r#"ALTER TABLE "m""x" ALTER COLUMN "n" TYPE INTEGER"#]
        );
        assert_eq!(
            p.inverse,
            [r#"ALTER TABLE "m""x" ALTER COLUMN "n" TYPE bigint"#]
        );
        // Text into a number needs a cast the engine does not write.
        assert!(
            plan(Change::NarrowType {
                from: "varchar(255)".into(),
                to: "smallint".into(),
            })
            .is_err()
        );
    }

    #[test]
    fn lookup_tables_are_transactional_and_partitioning_is_refused() {
        let p = plan(Change::EnumTable {
            lookup_table: "v\"s".into(),
            values: vec!["a'b".into()],
        })
        .unwrap();
        assert!(p.online.is_none());
        assert_eq!(
            p.forward[1],
            r#"INSERT INTO "v""s" ("value") VALUES ('a''b')"#
        );
        assert_eq!(p.inverse, [r#"DROP TABLE "v""s""#]);
        assert!(plan(Change::Partition { by: "a\"b".into() }).is_err());
    }
}
