//! Deterministic (UUIDv5) keys: re-runs and foreign keys agree without a lookup.

use std::fmt::Write;

use uuid::Uuid;

use crate::value::Value;

/// The namespace of flightdeck's deterministic keys when the project sets none.
pub const DEFAULT_NAMESPACE: Uuid = Uuid::from_u128(0x5d0c_4f1e_8a3b_5c27_b9e4_61f0_a2d8_37c5);

/// UUIDv5 of `"{source_table}:{key rendered}"` in `namespace`.
///
/// A referencing column calls this with the *parent's* source table, so the
/// value equals the parent's own deterministic key.
pub fn deterministic_uuid(namespace: Uuid, source_table: &str, key: &Value) -> Uuid {
    let mut name = String::with_capacity(source_table.len() + 24);
    name.push_str(source_table);
    name.push(':');
    match key {
        Value::Text(s) => name.push_str(s),
        // Ints are the common key: format them without an intermediate String.
        Value::Int(i) => {
            let _ = write!(name, "{i}");
        }
        other => name.push_str(&other.render()),
    }
    uuid_v5(namespace, name.as_bytes())
}

/// `Uuid::new_v5`, hashed by the `sha1` crate, which uses the CPU's SHA
/// instructions where it has them (uuid's own SHA-1 is portable code: a
/// third of the key rule's time on the 1M-row sample). The same bytes.
fn uuid_v5(namespace: Uuid, name: &[u8]) -> Uuid {
    use sha1::{Digest, Sha1};
    let mut hasher = Sha1::new();
    hasher.update(namespace.as_bytes());
    hasher.update(name);
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_uuid_v5_exactly() {
        // Keys written by earlier versions must come out the same.
        let ns = Uuid::from_u128(0x6ba7_b810_9dad_11d1_80b4_00c0_4fd4_30c8);
        let long = "k".repeat(200);
        for (table, key) in [
            ("models", Value::Int(7)),
            ("models", Value::Int(-1)),
            ("datasets", Value::Text("ä-ключ".into())),
            ("t", Value::Text(long.clone())),
            ("", Value::Text(String::new())),
        ] {
            let name = format!("{table}:{}", key.render());
            for namespace in [DEFAULT_NAMESPACE, ns] {
                assert_eq!(
                    deterministic_uuid(namespace, table, &key),
                    Uuid::new_v5(&namespace, name.as_bytes()),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn same_input_same_uuid_and_table_matters() {
        let a = deterministic_uuid(DEFAULT_NAMESPACE, "models", &Value::Int(7));
        assert_eq!(
            a,
            deterministic_uuid(DEFAULT_NAMESPACE, "models", &Value::Int(7))
        );
        assert_eq!(a.get_version_num(), 5);
        assert_ne!(
            a,
            deterministic_uuid(DEFAULT_NAMESPACE, "datasets", &Value::Int(7))
        );
        assert_ne!(
            a,
            deterministic_uuid(DEFAULT_NAMESPACE, "models", &Value::Int(8))
        );
        // an int key and its text form name the same row
        assert_eq!(
            a,
            deterministic_uuid(DEFAULT_NAMESPACE, "models", &Value::from("7"))
        );
        assert_eq!(a, Uuid::new_v5(&DEFAULT_NAMESPACE, b"models:7"));
    }
}
