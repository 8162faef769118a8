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
use crate::recommend::Month;
use crate::schema::ColumnType;

pub struct PostgresDdl;

impl OnlineDdl for PostgresDdl {
    /// The table's valid indexes other than its primary key's.
    fn dependents_query(&self) -> &'static str {
        "SELECT pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i \
         JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
         JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relname = $1 \
           AND NOT i.indisprimary AND i.indisvalid \
         ORDER BY ic.relname"
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
            // No index is built CONCURRENTLY on a partitioned table, and a
            // unique one must hold the partition column.
            Change::Unique if !live.partitioned_by.is_empty() => {
                return Err(format!(
                    "{t} is partitioned by {}: a unique index there must include it, which would not make {column} unique",
                    live.partitioned_by.join(", ")
                ));
            }
            Change::Index if !live.partitioned_by.is_empty() => {
                let name = d.quote_ident(&object_name("ix", t, column));
                Plan {
                    verify,
                    forward: vec![format!("CREATE INDEX IF NOT EXISTS {name} ON {qt} ({qc})")],
                    inverse: vec![format!("DROP INDEX IF EXISTS {name}")],
                    online: None,
                }
            }
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
            Change::Partition { by, from, until } => partition_plan(d, live, by, from, until)?,
        })
    }
}

/// Most monthly partitions a change creates (20 years).
const MAX_PARTITIONS: usize = 240;

/// Range partitioning by month of column `by`, in one transaction: the table
/// is renamed aside, a partitioned table of the same columns, defaults and
/// checks takes its name with a partition a month from `from` to `until`
/// and a default one, the rows are copied over, and the indexes and the
/// primary key are built again, the key with `by` added (PostgreSQL keeps a
/// key unique across partitions only if it holds the partition column).
/// The inverse copies the rows back into a plain table the same way.
fn partition_plan(
    d: &dyn Dialect,
    live: &LiveTable,
    by: &str,
    from: &str,
    until: &str,
) -> Result<Plan, String> {
    let t = &live.def.name;
    if !live.partitioned_by.is_empty() {
        return Err(format!(
            "{t} is already partitioned by {}",
            live.partitioned_by.join(", ")
        ));
    }
    let col = live.column(by)?;
    if col.column_type != ColumnType::Timestamp {
        return Err(format!(
            "{t}.{by} is {}, not a timestamp: nothing to partition by month",
            live.sql_type(d, col)
        ));
    }
    if t.contains('$') {
        return Err(format!(
            "{t}: a table name with $ cannot go into the guard block; partition it by hand"
        ));
    }
    if let Some(unique) = live
        .dependents
        .iter()
        .find(|s| s.starts_with("CREATE UNIQUE INDEX"))
    {
        return Err(format!(
            "{t} has a unique index that does not hold {by} ({unique}); a partitioned table cannot keep it"
        ));
    }
    let (Some(first), Some(end)) = (Month::parse(from), Month::parse(until)) else {
        return Err(format!(
            "no month range to partition {t} by: {from}..{until}"
        ));
    };
    let months: Vec<Month> = std::iter::successors(Some(first), |m| Some(m.plus(1)))
        .take_while(|m| *m < end)
        .take(MAX_PARTITIONS + 1)
        .collect();
    if months.is_empty() || months.len() > MAX_PARTITIONS {
        return Err(format!(
            "{from}..{until} is not a range of 1 to {MAX_PARTITIONS} months; partition {t} by hand"
        ));
    }
    let q = |s: &str| d.quote_ident(s);
    let qt = q(t);
    let lit = |s: &str| d.string_literal(s);
    let like = |src: &str, partitioned: bool| {
        format!(
            "CREATE TABLE {qt} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS){}",
            q(src),
            if partitioned {
                format!(" PARTITION BY RANGE ({})", q(by))
            } else {
                String::new()
            }
        )
    };
    let key = &live.def.primary_key;
    let mut partitioned_key = key.clone();
    if !partitioned_key.iter().any(|k| k == by) {
        partitioned_key.push(by.to_string());
    }

    let aside = object_name("pre", t, "partitioning");
    // A copy drops foreign keys silently (LIKE does not carry them).
    let mut forward = vec![format!(
        "DO $flightdeck$ BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_constraint \
         WHERE conrelid = pg_catalog.to_regclass({}) AND contype = 'f') THEN \
         RAISE EXCEPTION 'table % has foreign keys, which a partitioned copy would lose', {}; \
         END IF; END $flightdeck$",
        lit(&qt),
        lit(t)
    )];
    forward.push(format!("ALTER TABLE {qt} RENAME TO {}", q(&aside)));
    forward.push(like(&aside, true));
    for m in &months {
        let next = m.plus(1);
        forward.push(format!(
            "CREATE TABLE {} PARTITION OF {qt} FOR VALUES FROM ('{m}-01') TO ('{next}-01')",
            q(&object_name(
                "pt",
                t,
                &format!("{:04}{:02}", m.year, m.month)
            ))
        ));
    }
    forward.push(format!(
        "CREATE TABLE {} PARTITION OF {qt} DEFAULT",
        q(&object_name("pt", t, "default"))
    ));
    forward.push(format!("INSERT INTO {qt} SELECT * FROM {}", q(&aside)));
    forward.push(format!("DROP TABLE {}", q(&aside)));
    if !key.is_empty() {
        forward.push(d.add_primary_key(t, &partitioned_key).0);
    }
    forward.extend(live.dependents.iter().cloned());

    let back = object_name("partitioned", t, by);
    let mut inverse = vec![
        format!("ALTER TABLE {qt} RENAME TO {}", q(&back)),
        like(&back, false),
        format!("INSERT INTO {qt} SELECT * FROM {}", q(&back)),
        format!("DROP TABLE {}", q(&back)),
    ];
    // The partitioned key made `by` NOT NULL; so may a key built since.
    if col.nullable {
        inverse.push(format!(
            "ALTER TABLE {qt} ALTER COLUMN {} DROP NOT NULL",
            q(by)
        ));
    }
    if !key.is_empty() {
        inverse.push(d.add_primary_key(t, key).0);
    }
    inverse.extend(live.dependents.iter().cloned());
    Ok(Plan {
        verify: verify_query(d, t, by, &Change::NotNull, "char_length"),
        forward,
        inverse,
        online: None,
    })
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
    fn lookup_tables_are_transactional_and_partitioning_needs_a_timestamp() {
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
        let partition = |by: &str, from: &str, until: &str| Change::Partition {
            by: by.into(),
            from: from.into(),
            until: until.into(),
        };
        assert!(
            plan(partition("a\"b", "2024-01", "2025-01")).is_err(),
            "not a timestamp"
        );
    }

    fn timed() -> LiveTable {
        let mut live = live_of(
            "m\"x",
            &[
                (
                    "at",
                    ColumnType::Timestamp,
                    "timestamp with time zone",
                    true,
                ),
                ("n", ColumnType::BigInt, "bigint", true),
            ],
        );
        live.dependents = vec![r#"CREATE INDEX fd_ix_n ON public."m""x" USING btree (n)"#.into()];
        live
    }

    fn partition(from: &str, until: &str) -> Change {
        Change::Partition {
            by: "at".into(),
            from: from.into(),
            until: until.into(),
        }
    }

    #[test]
    fn partitioning_copies_the_table_into_monthly_partitions_in_one_transaction() {
        let p = PostgresDdl
            .plan(
                &PostgresDialect,
                &timed(),
                "at",
                &partition("2023-11", "2024-02"),
            )
            .unwrap();
        assert!(p.online.is_none(), "one transaction with its event");
        assert!(
            p.forward[0].starts_with("DO $flightdeck$") && p.forward[0].contains("contype = 'f'")
        );
        assert_eq!(
            p.forward[1..].to_vec(),
            vec![
                r#"ALTER TABLE "m""x" RENAME TO "fd_pre_m""x_partitioning""#,
                r#"CREATE TABLE "m""x" (LIKE "fd_pre_m""x_partitioning" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE ("at")"#,
                r#"CREATE TABLE "fd_pt_m""x_202311" PARTITION OF "m""x" FOR VALUES FROM ('2023-11-01') TO ('2023-12-01')"#,
                r#"CREATE TABLE "fd_pt_m""x_202312" PARTITION OF "m""x" FOR VALUES FROM ('2023-12-01') TO ('2024-01-01')"#,
                r#"CREATE TABLE "fd_pt_m""x_202401" PARTITION OF "m""x" FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')"#,
                r#"CREATE TABLE "fd_pt_m""x_default" PARTITION OF "m""x" DEFAULT"#,
                r#"INSERT INTO "m""x" SELECT * FROM "fd_pre_m""x_partitioning""#,
                r#"DROP TABLE "fd_pre_m""x_partitioning""#,
                r#"ALTER TABLE "m""x" ADD CONSTRAINT "m""x_pkey" PRIMARY KEY ("id", "at")"#,
                r#"CREATE INDEX fd_ix_n ON public."m""x" USING btree (n)"#,
            ]
        );
        assert_eq!(
            p.inverse,
            vec![
                r#"ALTER TABLE "m""x" RENAME TO "fd_partitioned_m""x_at""#,
                r#"CREATE TABLE "m""x" (LIKE "fd_partitioned_m""x_at" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)"#,
                r#"INSERT INTO "m""x" SELECT * FROM "fd_partitioned_m""x_at""#,
                r#"DROP TABLE "fd_partitioned_m""x_at""#,
                r#"ALTER TABLE "m""x" ALTER COLUMN "at" DROP NOT NULL"#,
                r#"ALTER TABLE "m""x" ADD CONSTRAINT "m""x_pkey" PRIMARY KEY ("id")"#,
                r#"CREATE INDEX fd_ix_n ON public."m""x" USING btree (n)"#,
            ]
        );
        assert_eq!(
            p.verify.as_deref(),
            Some(r#"SELECT COUNT(*) FROM "m""x" WHERE "at" IS NULL"#)
        );
    }

    #[test]
    fn partitioning_refuses_what_a_partitioned_table_cannot_keep() {
        let plan = |live: &LiveTable, change: Change| {
            PostgresDdl.plan(&PostgresDialect, live, "at", &change)
        };
        assert!(
            plan(&timed(), partition("2024-01", "2044-02")).is_err(),
            "241 months"
        );
        assert!(
            plan(&timed(), partition("2024-01", "2024-01")).is_err(),
            "no month"
        );
        assert!(plan(&timed(), partition("soon", "2024-01")).is_err());
        let mut unique = timed();
        unique.dependents =
            vec![r#"CREATE UNIQUE INDEX u ON public."m""x" USING btree (n)"#.into()];
        assert!(plan(&unique, partition("2024-01", "2025-01")).is_err());
        let mut done = timed();
        done.partitioned_by = vec!["at".into()];
        assert!(plan(&done, partition("2024-01", "2025-01")).is_err());
        // On a partitioned table an index is built in a transaction, and a
        // unique key of one column cannot be had.
        let index = PostgresDdl
            .plan(&PostgresDialect, &done, "n", &Change::Index)
            .unwrap();
        assert!(index.online.is_none());
        assert_eq!(
            index.forward,
            [r#"CREATE INDEX IF NOT EXISTS "fd_ix_m""x_n" ON "m""x" ("n")"#]
        );
        assert!(
            PostgresDdl
                .plan(&PostgresDialect, &done, "n", &Change::Unique)
                .is_err()
        );
    }
}
