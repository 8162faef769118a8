//! MySQL and MariaDB forms of each change.
//!
//! Every DDL statement commits on its own, so every change runs between an
//! intent and a completion event, and InnoDB's online DDL is asked for
//! explicitly: `ALGORITHM=INPLACE, LOCK=NONE` first, so the server refuses
//! rather than silently copying the table under a lock; on that refusal,
//! `INPLACE, LOCK=SHARED`, then `COPY, LOCK=SHARED`. The event's `ddl` is the
//! form that ran. On MariaDB 10.11: indexes and NOT NULL go in place without
//! a lock; a CHECK and a narrower type need COPY (writes wait for the copy).
//! `MODIFY COLUMN` replaces the whole column definition, so it restates
//! everything the catalog holds of the column, read when the change is
//! applied: type, nullability, default, character set and collation,
//! `ON UPDATE`, `AUTO_INCREMENT`, `INVISIBLE` and comment; the inverse
//! restates the same with the type and nullability from before. A column
//! with anything else (a generation expression, an attribute this does not
//! know) is refused rather than stripped.

use super::{
    ColumnAttributes, LiveTable, Online, OnlineDdl, Plan, in_list, lookup_table_def, object_name,
    plain_narrowing, verify_query,
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

/// The definition of column `name` for `MODIFY COLUMN`: `sql_type`,
/// nullability, and what `attributes` hold (none when unknown, as in a
/// preview before the change meets the live table).
fn column_definition(
    d: &dyn Dialect,
    name: &str,
    sql_type: &str,
    not_null: bool,
    attributes: Option<&ColumnAttributes>,
) -> Result<String, String> {
    let null = if not_null { "NOT NULL" } else { "NULL" };
    let mut out = format!("{} {sql_type}", d.quote_ident(name));
    let Some(a) = attributes else {
        return Ok(format!("{out} {null}"));
    };
    let refuse = |what: String| {
        Err(format!(
            "column {name} has {what}, which MODIFY COLUMN would have to restate; not applied automatically"
        ))
    };
    if !a.generation.is_empty() {
        return refuse(format!("the generation expression {}", a.generation));
    }
    let mut on_update = None;
    let (mut auto_increment, mut invisible, mut default_generated) = (false, false, false);
    let mut words = a.extra.split_whitespace();
    while let Some(w) = words.next() {
        match w.to_ascii_lowercase().as_str() {
            "auto_increment" => auto_increment = true,
            "invisible" => invisible = true,
            "default_generated" => default_generated = true,
            "on" if words
                .next()
                .is_some_and(|u| u.eq_ignore_ascii_case("update")) =>
            {
                match words.next() {
                    Some(expr) => on_update = Some(expr),
                    None => return refuse(format!("EXTRA {}", a.extra)),
                }
            }
            _ => return refuse(format!("EXTRA {}", a.extra)),
        }
    }
    if let Some(cs) = &a.charset {
        out.push_str(&format!(" CHARACTER SET {}", d.quote_ident(cs)));
    }
    if let Some(co) = &a.collation {
        out.push_str(&format!(" COLLATE {}", d.quote_ident(co)));
    }
    out.push(' ');
    out.push_str(null);
    match default_sql(d, a, sql_type, default_generated) {
        // A NOT NULL column has no NULL default: it has none at all.
        Some(v) if not_null && v.eq_ignore_ascii_case("NULL") => {}
        Some(v) => out.push_str(&format!(" DEFAULT {v}")),
        None => {}
    }
    if let Some(expr) = on_update {
        out.push_str(&format!(" ON UPDATE {expr}"));
    }
    if auto_increment {
        out.push_str(" AUTO_INCREMENT");
    }
    if invisible {
        out.push_str(" INVISIBLE");
    }
    if !a.comment.is_empty() {
        out.push_str(&format!(" COMMENT {}", d.string_literal(&a.comment)));
    }
    Ok(out)
}

/// The column's default as SQL, `NULL` included; `None` when it has none.
/// MariaDB reports it as SQL already (`'it''s'`, `NULL`, `current_timestamp()`,
/// `(1 + 2)`), as its own `SHOW CREATE TABLE` writes it. MySQL reports the
/// bare value, and flags an expression with `DEFAULT_GENERATED`.
fn default_sql(
    d: &dyn Dialect,
    a: &ColumnAttributes,
    sql_type: &str,
    generated: bool,
) -> Option<String> {
    let v = a.default.as_deref()?;
    if a.default_is_sql {
        return Some(v.to_string());
    }
    let lower = v.to_ascii_lowercase();
    let ty = sql_type.to_ascii_lowercase();
    let temporal = ty.starts_with("timestamp") || ty.starts_with("datetime");
    Some(
        if lower.starts_with("current_timestamp") && (generated || temporal) {
            v.to_string()
        } else if generated {
            format!("({v})")
        } else if (ty.starts_with("bit") && lower.starts_with("b'"))
            || ((ty.contains("binary") || ty.contains("blob")) && lower.starts_with("0x"))
        {
            v.to_string()
        } else {
            d.string_literal(v)
        },
    )
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

    /// MariaDB 10.2.7+ reports `COLUMN_DEFAULT` as SQL text.
    fn attributes_query(&self) -> Option<&'static str> {
        Some(
            "SELECT COLUMN_NAME, COLUMN_DEFAULT, VERSION() LIKE '%MariaDB%', \
                    CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_COMMENT, EXTRA, \
                    COALESCE(GENERATION_EXPRESSION, '') \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION",
        )
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
                let def = |not_null| {
                    column_definition(d, column, &sql_type, not_null, live.attributes.get(column))
                };
                online(
                    format!("MODIFY COLUMN {}", def(true)?),
                    format!("MODIFY COLUMN {}", def(false)?),
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
                let def = |sql_type: &str| {
                    column_definition(
                        d,
                        column,
                        sql_type,
                        !col.nullable,
                        live.attributes.get(column),
                    )
                };
                let fits = match to {
                    ColumnType::Varchar(n) => {
                        format!("DATA_TYPE = 'varchar' AND CHARACTER_MAXIMUM_LENGTH = {n}")
                    }
                    ColumnType::SmallInt => "DATA_TYPE = 'smallint'".into(),
                    _ => "DATA_TYPE = 'int'".into(),
                };
                online(
                    format!("MODIFY COLUMN {}", def(&d.type_name(to))?),
                    format!("MODIFY COLUMN {}", def(&live.sql_type(d, col))?),
                    column_probe(fits),
                )
            }
            // CREATE TABLE commits on its own, so the rows come in the same
            // statement (CREATE ... SELECT): the table never exists without
            // them, and the catalog answers whether it took.
            Change::EnumTable {
                lookup_table,
                values,
            } => {
                if values.is_empty() {
                    return Err("a lookup table needs at least one value".into());
                }
                let q = d.quote_ident("value");
                let rows: Vec<String> = values
                    .iter()
                    .map(|v| format!("SELECT {} AS {q}", lit(v)))
                    .collect();
                let def = lookup_table_def(lookup_table, values);
                Plan {
                    verify: None,
                    forward: vec![format!(
                        "{} {}",
                        d.create_table(&def),
                        rows.join(" UNION ALL ")
                    )],
                    inverse: vec![d.drop_table(lookup_table)],
                    online: Some(Online {
                        probe: format!(
                            "SELECT COUNT(*) FROM information_schema.TABLES \
                             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {}",
                            lit(lookup_table)
                        ),
                        cleanup: vec![],
                        fallbacks: vec![],
                        leftover: None,
                    }),
                }
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
    use crate::evolve::ColumnAttributes;
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

    /// The plan of `change` on column `a``b` (varchar(255), nullable) of a
    /// live table whose catalog says `attributes` of it.
    fn plan_with(attributes: ColumnAttributes, change: Change) -> Result<Plan, String> {
        let mut live = live_of(
            "m`x",
            &[("a`b", ColumnType::Varchar(255), "varchar(255)", true)],
        );
        live.attributes.insert("a`b".into(), attributes);
        MySqlDdl.plan(&MySqlDialect, &live, "a`b", &change)
    }

    fn narrow() -> Change {
        Change::NarrowType {
            from: "varchar(255)".into(),
            to: "varchar(16)".into(),
        }
    }

    /// What MariaDB 10.11 reports of a latin1 column with a default and a
    /// comment that hold quotes, a backtick and a backslash.
    fn mariadb_column() -> ColumnAttributes {
        ColumnAttributes {
            default: Some(r"'it''s \\ x'".into()),
            default_is_sql: true,
            charset: Some("latin1".into()),
            collation: Some("latin1_german1_ci".into()),
            comment: r"the 'a`b' \ column".into(),
            extra: String::new(),
            generation: String::new(),
        }
    }

    #[test]
    fn modify_column_restates_default_charset_collation_and_comment() {
        let tail = r"DEFAULT 'it''s \\ x' COMMENT 'the ''a`b'' \\ column'";
        let cs = "CHARACTER SET `latin1` COLLATE `latin1_german1_ci`";
        let p = plan_with(mariadb_column(), Change::NotNull).unwrap();
        assert_eq!(
            p.forward,
            [format!(
                "ALTER TABLE `m``x` MODIFY COLUMN `a``b` varchar(255) {cs} NOT NULL {tail}, ALGORITHM=INPLACE, LOCK=NONE"
            )]
        );
        assert_eq!(
            p.inverse,
            [format!(
                "ALTER TABLE `m``x` MODIFY COLUMN `a``b` varchar(255) {cs} NULL {tail}"
            )]
        );
        let fallbacks = &p.online.unwrap().fallbacks[0];
        assert!(fallbacks.iter().all(|f| f.contains(tail)), "{fallbacks:?}");

        let p = plan_with(mariadb_column(), narrow()).unwrap();
        assert_eq!(
            p.forward,
            [format!(
                "ALTER TABLE `m``x` MODIFY COLUMN `a``b` VARCHAR(16) {cs} NULL {tail}, ALGORITHM=INPLACE, LOCK=NONE"
            )]
        );
        assert_eq!(
            p.inverse,
            [format!(
                "ALTER TABLE `m``x` MODIFY COLUMN `a``b` varchar(255) {cs} NULL {tail}"
            )]
        );

        // Names from the catalog are quoted like any identifier.
        let odd = ColumnAttributes {
            collation: Some("we`ird".into()),
            ..mariadb_column()
        };
        let p = plan_with(odd, Change::NotNull).unwrap();
        assert!(
            p.forward[0].contains("COLLATE `we``ird`"),
            "{}",
            p.forward[0]
        );
    }

    #[test]
    fn a_null_default_is_kept_for_the_nullable_column_only() {
        // MariaDB's implicit default of a nullable column, and MySQL's.
        for (default, default_is_sql) in [(Some("NULL".to_string()), true), (None, false)] {
            let a = ColumnAttributes {
                default: default.clone(),
                default_is_sql,
                ..ColumnAttributes::default()
            };
            let p = plan_with(a.clone(), Change::NotNull).unwrap();
            assert_eq!(
                p.forward[0],
                "ALTER TABLE `m``x` MODIFY COLUMN `a``b` varchar(255) NOT NULL, ALGORITHM=INPLACE, LOCK=NONE"
            );
            let back = if default.is_some() {
                " DEFAULT NULL"
            } else {
                ""
            };
            assert_eq!(
                p.inverse,
                [format!(
                    "ALTER TABLE `m``x` MODIFY COLUMN `a``b` varchar(255) NULL{back}"
                )]
            );
            let p = plan_with(a, narrow()).unwrap();
            assert!(
                p.forward[0].ends_with(&format!(
                    "VARCHAR(16) NULL{back}, ALGORITHM=INPLACE, LOCK=NONE"
                )),
                "{}",
                p.forward[0]
            );
        }
    }

    #[test]
    fn expression_defaults_and_extra_attributes_are_restated() {
        let d = MySqlDialect;
        let def = |a: ColumnAttributes, sql_type: &str| {
            column_definition(&d, "c", sql_type, true, Some(&a)).unwrap()
        };
        // MariaDB: the default is SQL already.
        let a = ColumnAttributes {
            default: Some("current_timestamp(6)".into()),
            default_is_sql: true,
            extra: "on update current_timestamp(6)".into(),
            ..ColumnAttributes::default()
        };
        assert_eq!(
            def(a, "datetime(6)"),
            "`c` datetime(6) NOT NULL DEFAULT current_timestamp(6) ON UPDATE current_timestamp(6)"
        );
        // MySQL 8: bare values, expressions flagged DEFAULT_GENERATED.
        let mysql = |default: &str, extra: &str| ColumnAttributes {
            default: Some(default.into()),
            extra: extra.into(),
            ..ColumnAttributes::default()
        };
        assert_eq!(
            def(
                mysql(
                    "CURRENT_TIMESTAMP",
                    "DEFAULT_GENERATED on update CURRENT_TIMESTAMP"
                ),
                "timestamp"
            ),
            "`c` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"
        );
        assert_eq!(
            def(mysql("uuid()", "DEFAULT_GENERATED"), "char(36)"),
            "`c` char(36) NOT NULL DEFAULT (uuid())"
        );
        assert_eq!(
            def(mysql(r"it's \ x", ""), "varchar(9)"),
            r"`c` varchar(9) NOT NULL DEFAULT 'it''s \\ x'"
        );
        assert_eq!(def(mysql("42", ""), "int"), "`c` int NOT NULL DEFAULT '42'");
        assert_eq!(
            def(mysql("b'101'", ""), "bit(3)"),
            "`c` bit(3) NOT NULL DEFAULT b'101'"
        );
        let a = ColumnAttributes {
            extra: "auto_increment INVISIBLE".into(),
            ..ColumnAttributes::default()
        };
        assert_eq!(
            def(a, "bigint(20)"),
            "`c` bigint(20) NOT NULL AUTO_INCREMENT INVISIBLE"
        );
    }

    #[test]
    fn columns_with_what_modify_cannot_restate_are_refused() {
        let generated = ColumnAttributes {
            extra: "VIRTUAL GENERATED".into(),
            generation: "`n` + 1".into(),
            ..ColumnAttributes::default()
        };
        let e = plan_with(generated, Change::NotNull).unwrap_err();
        assert!(e.contains("generation expression `n` + 1"), "{e}");
        let unknown = ColumnAttributes {
            extra: "SOMETHING NEW".into(),
            ..ColumnAttributes::default()
        };
        let e = plan_with(unknown, narrow()).unwrap_err();
        assert!(e.contains("EXTRA SOMETHING NEW"), "{e}");
    }

    #[test]
    fn a_lookup_table_is_created_with_its_rows_in_one_statement() {
        let lookup = Change::EnumTable {
            lookup_table: "v`s".into(),
            values: vec!["a".into(), "it's".into()],
        };
        let p = plan("a`b", lookup).unwrap();
        assert_eq!(
            p.forward,
            vec![
                "CREATE TABLE `v``s` (\n  `value` VARCHAR(4) NOT NULL,\n  PRIMARY KEY (`value`)\n) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin \
                 SELECT 'a' AS `value` UNION ALL SELECT 'it''s' AS `value`"
                    .to_string()
            ]
        );
        assert_eq!(p.inverse, vec!["DROP TABLE `v``s`".to_string()]);
        let online = p.online.unwrap();
        assert!(
            online.probe.ends_with("TABLE_NAME = 'v`s'"),
            "{}",
            online.probe
        );
        let empty = Change::EnumTable {
            lookup_table: "v".into(),
            values: vec![],
        };
        assert!(plan("a`b", empty).is_err());
    }

    #[test]
    fn partitioning_is_refused() {
        let partition = Change::Partition {
            by: "a`b".into(),
            from: "2024-01".into(),
            until: "2025-01".into(),
        };
        assert!(plan("a`b", partition).is_err());
    }
}
