//! MySQL and MariaDB forms of each change.
//!
//! Every DDL statement commits on its own, so every change runs between an
//! intent and a completion event, and InnoDB's online DDL is asked for
//! explicitly: `ALGORITHM=INPLACE, LOCK=NONE` first, so the server refuses
//! rather than silently copying the table under a lock; on that refusal,
//! `INPLACE, LOCK=SHARED`, then `COPY, LOCK=SHARED`. The event's `ddl` is the
//! form that ran. On MariaDB 10.11: indexes and NOT NULL go in place without
//! a lock; a CHECK and a narrower type need COPY (writes wait for the copy).
//! `MODIFY COLUMN` restates the column: its type as the catalog spells it and
//! its nullability, in the table's default character set.

use super::{
    LiveTable, Online, OnlineDdl, Plan, in_list, object_name, plain_narrowing, verify_query,
};
use crate::db::Dialect;
use crate::recommend::Change;
use crate::schema::ColumnType;

pub struct MySqlDdl;

/// The lock and algorithm clauses to ask for, best first.
const FORMS: [&str; 3] = [
    "ALGORITHM=INPLACE, LOCK=NONE",
    "ALGORITHM=INPLACE, LOCK=SHARED",
    "ALGORITHM=COPY, LOCK=SHARED",
];

/// Longest VARCHAR InnoDB indexes whole: 3072 key bytes, 4 bytes a character.
const MAX_INDEXED_CHARS: u32 = 768;

/// `ALTER TABLE t <clause>` with the best form first and the weaker ones as
/// its fallbacks.
fn ladder(qt: &str, clause: &str) -> (String, Vec<String>) {
    let mut forms = FORMS
        .iter()
        .map(|f| format!("ALTER TABLE {qt} {clause}, {f}"));
    let first = forms.next().unwrap_or_default();
    (first, forms.collect())
}

impl OnlineDdl for MySqlDdl {
    /// The table's secondary indexes as `CREATE INDEX` statements.
    fn dependents_query(&self) -> &'static str {
        "SELECT CONCAT('CREATE ', IF(MAX(NON_UNIQUE) = 0, 'UNIQUE ', ''), 'INDEX `', \
                REPLACE(INDEX_NAME, '`', '``'), '` ON `', REPLACE(TABLE_NAME, '`', '``'), '` (', \
                GROUP_CONCAT(CONCAT('`', REPLACE(COLUMN_NAME, '`', '``'), '`', \
                                    IFNULL(CONCAT('(', SUB_PART, ')'), '')) \
                             ORDER BY SEQ_IN_INDEX SEPARATOR ', '), ')') \
         FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY' \
         GROUP BY TABLE_NAME, INDEX_NAME ORDER BY INDEX_NAME"
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
        let lit = |s: &str| d.string_literal(s);
        let of_table = format!("TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {}", lit(t));
        let column_probe = |cond: String| {
            format!(
                "SELECT COUNT(*) FROM information_schema.COLUMNS \
                 WHERE {of_table} AND COLUMN_NAME = {} AND {cond}",
                lit(column)
            )
        };
        let online = |clause: String, inverse: String, probe: String| {
            let (forward, fallbacks) = ladder(&qt, &clause);
            Plan {
                verify: verify_query(d, t, column, change, "CHAR_LENGTH"),
                forward: vec![forward],
                inverse: vec![format!("ALTER TABLE {qt} {inverse}")],
                online: Some(Online {
                    probe,
                    // A statement either commits whole or not at all.
                    cleanup: vec![],
                    fallbacks: vec![fallbacks],
                    leftover: None,
                }),
            }
        };
        Ok(match change {
            Change::Index | Change::Unique => {
                let col = live.column(column)?;
                let whole = match col.column_type {
                    ColumnType::Varchar(n) => n <= MAX_INDEXED_CHARS,
                    ColumnType::Text | ColumnType::Bytes | ColumnType::Json => false,
                    _ => true,
                };
                if !whole {
                    return Err(format!(
                        "MySQL indexes only a prefix of a {} column, which cannot enforce or serve this",
                        live.sql_type(d, col)
                    ));
                }
                let unique = matches!(change, Change::Unique);
                let name = object_name(if unique { "uq" } else { "ix" }, t, column);
                online(
                    format!(
                        "ADD {}INDEX {} ({qc})",
                        if unique { "UNIQUE " } else { "" },
                        d.quote_ident(&name)
                    ),
                    format!("DROP INDEX {}", d.quote_ident(&name)),
                    format!(
                        "SELECT COUNT(*) FROM information_schema.STATISTICS \
                         WHERE {of_table} AND INDEX_NAME = {}{}",
                        lit(&name),
                        if unique { " AND NON_UNIQUE = 0" } else { "" }
                    ),
                )
            }
            Change::Check { values } => {
                let name = object_name("ck", t, column);
                online(
                    format!(
                        "ADD CONSTRAINT {} CHECK ({qc} IN ({}))",
                        d.quote_ident(&name),
                        in_list(d, values)
                    ),
                    format!("DROP CONSTRAINT {}", d.quote_ident(&name)),
                    // Servers that parse CHECK but do not enforce it (MySQL
                    // before 8.0.16) do not list it: it never counts as applied.
                    format!(
                        "SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS \
                         WHERE {of_table} AND CONSTRAINT_TYPE = 'CHECK' AND CONSTRAINT_NAME = {}",
                        lit(&name)
                    ),
                )
            }
            Change::NotNull => {
                let col = live.column(column)?;
                let sql_type = live.sql_type(d, col);
                online(
                    format!("MODIFY COLUMN {qc} {sql_type} NOT NULL"),
                    format!("MODIFY COLUMN {qc} {sql_type} NULL"),
                    column_probe("IS_NULLABLE = 'NO'".into()),
                )
            }
            Change::NarrowType { to, .. } => {
                let col = live.column(column)?;
                let to: ColumnType = to.parse()?;
                if !plain_narrowing(col.column_type, to) {
                    return Err(format!(
                        "MySQL changes {} to {to} only with a cast; not applied automatically",
                        col.column_type
                    ));
                }
                let null = if col.nullable { "NULL" } else { "NOT NULL" };
                let fits = match to {
                    ColumnType::Varchar(n) => {
                        format!("DATA_TYPE = 'varchar' AND CHARACTER_MAXIMUM_LENGTH = {n}")
                    }
                    ColumnType::SmallInt => "DATA_TYPE = 'smallint'".into(),
                    _ => "DATA_TYPE = 'int'".into(),
                };
                online(
                    format!("MODIFY COLUMN {qc} {} {null}", d.type_name(to)),
                    format!("MODIFY COLUMN {qc} {} {null}", live.sql_type(d, col)),
                    column_probe(fits),
                )
            }
            Change::EnumTable { .. } => {
                return Err(
                    "MySQL commits CREATE TABLE on its own, apart from the rows; create the lookup table by hand".into(),
                );
            }
            Change::Partition { .. } => {
                return Err(
                    "MySQL partitions an existing table only by copying it, and every unique key must include the partition column; plan it for a maintenance window".into(),
                );
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::MySqlDialect;
    use crate::evolve::tests::live_of;

    fn plan(column: &str, change: Change) -> Result<Plan, String> {
        let live = live_of(
            "m`x",
            &[
                ("a`b", ColumnType::Varchar(255), "varchar(255)", true),
                ("n", ColumnType::BigInt, "bigint(20)", false),
                ("notes", ColumnType::Text, "longtext", true),
            ],
        );
        MySqlDdl.plan(&MySqlDialect, &live, column, &change)
    }

    #[test]
    fn indexes_ask_for_in_place_without_a_lock_then_weaker_forms() {
        let p = plan("a`b", Change::Unique).unwrap();
        assert_eq!(
            p.forward,
            [
                "ALTER TABLE `m``x` ADD UNIQUE INDEX `fd_uq_m``x_a``b` (`a``b`), ALGORITHM=INPLACE, LOCK=NONE"
            ]
        );
        let online = p.online.unwrap();
        assert_eq!(
            online.fallbacks,
            [[
                "ALTER TABLE `m``x` ADD UNIQUE INDEX `fd_uq_m``x_a``b` (`a``b`), ALGORITHM=INPLACE, LOCK=SHARED",
                "ALTER TABLE `m``x` ADD UNIQUE INDEX `fd_uq_m``x_a``b` (`a``b`), ALGORITHM=COPY, LOCK=SHARED",
            ]]
        );
        assert_eq!(
            p.inverse,
            ["ALTER TABLE `m``x` DROP INDEX `fd_uq_m``x_a``b`"]
        );
        assert!(online.cleanup.is_empty());
        assert!(
            online
                .probe
                .contains("TABLE_NAME = 'm`x' AND INDEX_NAME = 'fd_uq_m`x_a`b' AND NON_UNIQUE = 0"),
            "{}",
            online.probe
        );
        assert!(p.verify.unwrap().ends_with(") AS fd_dups"));
        // InnoDB keys hold 3072 bytes: a LONGTEXT cannot be indexed whole.
        assert!(plan("notes", Change::Index).is_err());
    }

    #[test]
    fn check_values_escape_quotes_and_backslashes() {
        let p = plan(
            "a`b",
            Change::Check {
                values: vec![r"a\'b".into(), "Draft".into()],
            },
        )
        .unwrap();
        assert_eq!(
            p.forward,
            [
                r"ALTER TABLE `m``x` ADD CONSTRAINT `fd_ck_m``x_a``b` CHECK (`a``b` IN ('a\\''b', 'Draft')), ALGORITHM=INPLACE, LOCK=NONE"
            ]
        );
        assert_eq!(
            p.inverse,
            ["ALTER TABLE `m``x` DROP CONSTRAINT `fd_ck_m``x_a``b`"]
        );
        assert!(
            p.online
                .unwrap()
                .probe
                .contains("CONSTRAINT_TYPE = 'CHECK'")
        );
    }

    #[test]
    fn modify_column_restates_the_catalog_type() {
        let p = plan("a`b", Change::NotNull).unwrap();
        assert_eq!(
            p.forward,
            [
                "ALTER TABLE `m``x` MODIFY COLUMN `a``b` varchar(255) NOT NULL, ALGORITHM=INPLACE, LOCK=NONE"
            ]
        );
        assert_eq!(
            p.inverse,
            ["ALTER TABLE `m``x` MODIFY COLUMN `a``b` varchar(255) NULL"]
        );
        assert_eq!(
            p.verify.unwrap(),
            "SELECT COUNT(*) FROM `m``x` WHERE `a``b` IS NULL"
        );
        assert!(
            p.online
                .unwrap()
                .probe
                .contains("COLUMN_NAME = 'a`b' AND IS_NULLABLE = 'NO'")
        );

        let p = plan(
            "a`b",
            Change::NarrowType {
                from: "varchar(255)".into(),
                to: "varchar(16)".into(),
            },
        )
        .unwrap();
        assert_eq!(
            p.forward,
            [
                "ALTER TABLE `m``x` MODIFY COLUMN `a``b` VARCHAR(16) NULL, ALGORITHM=INPLACE, LOCK=NONE"
            ]
        );
        assert_eq!(
            p.inverse,
            ["ALTER TABLE `m``x` MODIFY COLUMN `a``b` varchar(255) NULL"]
        );
        assert_eq!(
            p.verify.unwrap(),
            "SELECT COUNT(*) FROM `m``x` WHERE (`a``b` IS NOT NULL AND CHAR_LENGTH(`a``b`) > 16)"
        );
        let p = plan(
            "n",
            Change::NarrowType {
                from: "bigint".into(),
                to: "smallint".into(),
            },
        )
        .unwrap();
        assert_eq!(
            p.inverse,
            ["ALTER TABLE `m``x` MODIFY COLUMN `n` bigint(20) NOT NULL"]
        );
        assert!(p.online.unwrap().probe.ends_with("DATA_TYPE = 'smallint'"));
    }

    #[test]
    fn lookup_tables_and_partitioning_are_refused() {
        let lookup = Change::EnumTable {
            lookup_table: "v".into(),
            values: vec!["a".into()],
        };
        assert!(plan("a`b", lookup).is_err());
        assert!(plan("a`b", Change::Partition { by: "a`b".into() }).is_err());
    }
}
