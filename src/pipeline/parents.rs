//! Which parent rows a run has written, known without asking the target.
//!
//! Every source row a run reads is either written or quarantined (the
//! invariant the post-run checks verify). So once a parent table is loaded,
//! its written rows are its source keys minus the keys this run quarantined.
//! For integer keys that set is a bitmap of one bit per key in the key range
//! (125 kB per million keys), which answers a child's foreign-key check
//! without an index probe into the target. Values the bitmap does not hold
//! are still looked up in the target, so the check stays exact for rows
//! that were in the target before the run, unless the run created the parent
//! table itself and wrote every one of its rows: then the bitmap holds the
//! whole table and a value outside it is an orphan.

use uuid::Uuid;

use crate::db::{Database, DbError};
use crate::eventlog::store;
use crate::value::Value;

/// Larger key ranges (sparse keys) are left to the target's index.
const MAX_RANGE: i64 = 1 << 24;
/// Keys read per query while filling the bitmap.
const PAGE: i64 = if cfg!(test) { 2 } else { 10_000 };

/// Integer source keys of one parent table that this run wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentKeys {
    min: i64,
    bits: Vec<u64>,
    /// The target table holds no other row: this run created it and wrote
    /// every row it has.
    whole: bool,
}

impl ParentKeys {
    /// True when every row of the parent's target table is one of these
    /// keys, so a key outside them need not be looked up.
    pub fn whole_table(&self) -> bool {
        self.whole
    }

    pub fn contains(&self, key: i64) -> bool {
        let Some(i) = key.checked_sub(self.min).filter(|i| *i >= 0) else {
            return false;
        };
        let i = i as usize;
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    fn set(&mut self, key: i64, on: bool) {
        let i = (key - self.min) as usize;
        if let Some(w) = self.bits.get_mut(i / 64) {
            if on {
                *w |= 1u64 << (i % 64);
            } else {
                *w &= !(1u64 << (i % 64));
            }
        }
    }

    /// The written keys of `table` (source table, key column `key`), or
    /// `None` when its keys are not integers in a dense enough range.
    pub async fn load(
        source: &dyn Database,
        target: &dyn Database,
        run_id: Uuid,
        table: &str,
        key: &str,
    ) -> Result<Option<Self>, DbError> {
        let d = source.dialect();
        let (qt, qk) = (d.quote_ident(table), d.quote_ident(key));
        let bounds = source
            .query(&format!("SELECT MIN({qk}), MAX({qk}) FROM {qt}"), &[])
            .await?;
        let Some([lo, hi]) = bounds.first().map(|r| [&r[0], &r[1]]) else {
            return Ok(None);
        };
        let (Value::Int(min), Value::Int(max)) = (lo, hi) else {
            return Ok(None);
        };
        let Some(range) = max.checked_sub(*min).filter(|r| *r < MAX_RANGE) else {
            return Ok(None);
        };
        let mut keys = Self {
            min: *min,
            bits: vec![0; range as usize / 64 + 1],
            whole: false,
        };
        let page = format!(
            "SELECT {qk} FROM {qt} WHERE {qk} >= {} ORDER BY {qk} LIMIT {PAGE}",
            d.placeholder(1)
        );
        let mut from = *min;
        loop {
            let rows = source.query(&page, &[Value::Int(from)]).await?;
            for r in &rows {
                match r[0] {
                    Value::Int(k) => keys.set(k, true),
                    _ => return Ok(None),
                }
            }
            match rows.last().map(|r| &r[0]) {
                Some(Value::Int(last)) if rows.len() as i64 == PAGE => from = last + 1,
                _ => break,
            }
        }
        // Paged by id, so a large quarantine is never held in memory at once.
        let t = target.dialect();
        let q = |c: &str| t.quote_ident(c);
        let quarantined = format!(
            "SELECT {id}, {} FROM {} WHERE {} = {} AND {} = {} AND {id} > {} ORDER BY {id} LIMIT {PAGE}",
            q("source_key"),
            q(store::QUARANTINE),
            q("run_id"),
            t.placeholder(1),
            q("source_table"),
            t.placeholder(2),
            t.placeholder(3),
            id = q("id"),
        );
        let mut after = 0i64;
        loop {
            let params = [
                Value::Text(run_id.to_string()),
                Value::Text(table.into()),
                Value::Int(after),
            ];
            let rows = target.query(&quarantined, &params).await?;
            for r in &rows {
                if let Some(k) = r[1].as_text().and_then(|s| s.parse::<i64>().ok())
                    && (keys.min..=*max).contains(&k)
                {
                    keys.set(k, false);
                }
            }
            match rows.last().and_then(|r| r[0].as_i64()) {
                Some(id) if rows.len() as i64 == PAGE => after = id,
                _ => break,
            }
        }
        Ok(Some(keys))
    }
}

/// The keys of a parent table gathered while this run loads it, batch by
/// batch as each commits, so its children need not read them back from the
/// source. Keys arrive in ascending order (keyset extraction), so the first
/// one is the minimum and the bitmap only grows at its end.
#[derive(Debug, Default)]
pub struct KeyCollector {
    keys: Option<ParentKeys>,
    /// A key that is not an integer, lies below the first, or spreads the
    /// range past `MAX_RANGE`: the children fall back to `ParentKeys::load`.
    unusable: bool,
    /// The target table was created for these rows (see `ParentKeys::whole`).
    whole: bool,
}

impl KeyCollector {
    /// Collects the keys of a table this run has just created: the keys
    /// it gathers will be every row the table holds.
    pub fn of_new_table() -> Self {
        Self {
            whole: true,
            ..Self::default()
        }
    }

    /// Records the source key of a row that was written.
    pub fn add(&mut self, key: &Value) {
        if self.unusable {
            return;
        }
        let Value::Int(k) = *key else {
            self.unusable = true;
            return;
        };
        let keys = self.keys.get_or_insert_with(|| ParentKeys {
            min: k,
            bits: Vec::new(),
            whole: self.whole,
        });
        let Some(i) = k
            .checked_sub(keys.min)
            .filter(|i| (0..MAX_RANGE).contains(i))
        else {
            self.unusable = true;
            return;
        };
        let word = i as usize / 64;
        if word >= keys.bits.len() {
            keys.bits.resize(word + 1, 0);
        }
        keys.set(k, true);
    }

    /// The written keys, or `None` when they cannot be held as a bitmap
    /// (then, and for a table with no written row, the children read them).
    pub fn finish(self) -> Option<ParentKeys> {
        if self.unusable { None } else { self.keys }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collected_keys_are_exactly_the_written_ones() {
        let mut c = KeyCollector::default();
        for k in [5, 6, 9, 70, 200] {
            c.add(&Value::Int(k));
        }
        let keys = c.finish().expect("dense integer keys");
        for k in 0..300 {
            assert_eq!(keys.contains(k), [5, 6, 9, 70, 200].contains(&k), "key {k}");
        }
        // Not integers, out of order, or too sparse: the children read them.
        for bad in [
            vec![Value::Int(1), Value::Text("2".into())],
            vec![Value::Int(10), Value::Int(9)],
            vec![Value::Int(0), Value::Int(MAX_RANGE)],
        ] {
            let mut c = KeyCollector::default();
            bad.iter().for_each(|k| c.add(k));
            assert_eq!(c.finish(), None, "{bad:?}");
        }
        assert_eq!(KeyCollector::default().finish(), None);
        // Only the keys of a table this run created hold the whole table.
        for (mut c, whole) in [
            (KeyCollector::default(), false),
            (KeyCollector::of_new_table(), true),
        ] {
            c.add(&Value::Int(1));
            assert_eq!(c.finish().map(|k| k.whole_table()), Some(whole));
        }
    }

    #[test]
    fn holds_exactly_the_keys_set() {
        let mut k = ParentKeys {
            min: -3,
            bits: vec![0; 3],
            whole: false,
        };
        for x in [-3, 0, 63, 64, 130] {
            k.set(x, true);
        }
        k.set(63, false);
        let held: Vec<i64> = (-10..200).filter(|x| k.contains(*x)).collect();
        assert_eq!(held, vec![-3, 0, 64, 130]);
        assert!(!k.contains(i64::MIN) && !k.contains(i64::MAX));
    }

    #[tokio::test]
    async fn loads_source_keys_minus_this_runs_quarantine() {
        use crate::db::{DbUrl, connect};
        let dir = tempfile::tempdir().unwrap();
        let db = connect(&DbUrl::parse("sqlite://k.db", dir.path()).unwrap(), true)
            .await
            .unwrap();
        store::ensure_schema(db.as_ref()).await.unwrap();
        db.execute(
            "CREATE TABLE \"p\" (\"id\" INTEGER PRIMARY KEY, \"t\" TEXT)",
            &[],
        )
        .await
        .unwrap();
        for k in [5, 6, 7, 9, 70_000] {
            db.execute(
                "INSERT INTO \"p\" VALUES (?, ?)",
                &[Value::Int(k), Value::Text(format!("k{k}"))],
            )
            .await
            .unwrap();
        }
        let run = Uuid::new_v4();
        let quarantine = |run: Uuid, key: &str| {
            format!(
                "INSERT INTO flightdeck_quarantine (run_id, source_table, batch_no, source_key, rule, column_name, reason, raw_row, at) VALUES ('{run}', 'p', 1, '{key}', 'r', 'c', 'why', '{{}}', 'now')"
            )
        };
        // Three of this run's quarantined rows: more than one page of them.
        for key in ["6", "70000", "9"] {
            db.execute(&quarantine(run, key), &[]).await.unwrap();
        }
        // Another run's quarantine says nothing about this run's writes.
        db.execute(&quarantine(Uuid::new_v4(), "7"), &[])
            .await
            .unwrap();
        let keys = ParentKeys::load(db.as_ref(), db.as_ref(), run, "p", "id")
            .await
            .unwrap()
            .unwrap();
        let held: Vec<i64> = (0..80_000).filter(|k| keys.contains(*k)).collect();
        assert_eq!(held, vec![5, 7]);
        // Text keys are left to the target's index.
        assert_eq!(
            ParentKeys::load(db.as_ref(), db.as_ref(), run, "p", "t")
                .await
                .unwrap(),
            None
        );
        db.close().await;
    }
}
