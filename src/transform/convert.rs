//! Converting a value to a target column type (`copy`/`cast` and every rule's output).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use super::time::{GapPolicy, OverlapPolicy, local_to_utc, parse_local};
use crate::schema::ColumnType;
use crate::value::Value;

/// `value` as `to`, or why not. Zone-less times becoming timestamps are read in `tz`.
pub fn convert(value: Value, to: ColumnType, tz: Tz) -> Result<Value, String> {
    use ColumnType as T;
    let fail = |v: &Value| Err(format!("cannot read {} as {to}", quoted(v)));
    match (to, value) {
        (_, Value::Null) => Ok(Value::Null),
        (T::Bool, v) => match &v {
            Value::Bool(_) => Ok(v),
            Value::Int(0) => Ok(Value::Bool(false)),
            Value::Int(1) => Ok(Value::Bool(true)),
            Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "1" => Ok(Value::Bool(true)),
                "false" | "f" | "no" | "n" | "0" => Ok(Value::Bool(false)),
                _ => fail(&v),
            },
            _ => fail(&v),
        },
        (T::SmallInt | T::Int | T::BigInt, v) => {
            let n = match &v {
                Value::Int(i) => Some(*i),
                Value::Text(s) => s
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .or_else(|| whole(s.trim().parse().ok()?)),
                Value::Float(f) => whole(*f),
                Value::Bool(b) => Some(i64::from(*b)),
                _ => None,
            };
            let fits = |n: i64| match to {
                T::SmallInt => i16::try_from(n).is_ok(),
                T::Int => i32::try_from(n).is_ok(),
                _ => true,
            };
            match n {
                Some(n) if fits(n) => Ok(Value::Int(n)),
                Some(_) => Err(format!("{} is out of range for {to}", v.render())),
                None => fail(&v),
            }
        }
        (T::Float | T::Double | T::Decimal(..), v) => match &v {
            Value::Float(_) => Ok(v),
            Value::Int(i) => Ok(Value::Float(*i as f64)),
            Value::Text(s) => s
                .trim()
                .parse::<f64>()
                .map(Value::Float)
                .or_else(|_| fail(&v)),
            _ => fail(&v),
        },
        (T::Text, Value::Text(s)) => Ok(Value::Text(s)),
        (T::Varchar(n), Value::Text(s)) => {
            let len = s.chars().count();
            if len <= n as usize {
                Ok(Value::Text(s))
            } else {
                Err(format!("text of {len} characters is longer than {to}"))
            }
        }
        // Bytes become text only when they are UTF-8: rendering them as a hex
        // literal would silently change the data.
        (T::Text | T::Varchar(_), Value::Bytes(b)) => match String::from_utf8(b) {
            Ok(s) => convert(Value::Text(s), to, tz),
            Err(e) => Err(format!(
                "bytes are not valid UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            )),
        },
        (T::Text | T::Varchar(_), v) => convert(Value::Text(v.render()), to, tz),
        (T::Bytes, Value::Text(s)) => Ok(Value::Bytes(s.into_bytes())),
        (T::Bytes, v @ Value::Bytes(_)) => Ok(v),
        (T::Uuid, v) => match &v {
            Value::Uuid(_) => Ok(v),
            Value::Text(s) => Uuid::parse_str(s.trim())
                .map(Value::Uuid)
                .or_else(|_| fail(&v)),
            Value::Bytes(b) => Uuid::from_slice(b).map(Value::Uuid).or_else(|_| fail(&v)),
            _ => fail(&v),
        },
        (T::Date, v) => match &v {
            Value::Date(_) => Ok(v),
            Value::DateTime(t) => Ok(Value::Date(t.date())),
            Value::Timestamp(t) => Ok(Value::Date(t.date_naive())),
            Value::Text(s) => match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
                Ok(d) => Ok(Value::Date(d)),
                Err(_) => parse_local(s).map(|t| Value::Date(t.date())),
            },
            _ => fail(&v),
        },
        (T::DateTime, v) => match &v {
            Value::DateTime(_) => Ok(v),
            Value::Date(d) => Ok(Value::DateTime(d.and_time(NaiveTime::MIN))),
            Value::Timestamp(t) => Ok(Value::DateTime(t.naive_utc())),
            Value::Text(s) => parse_local(s).map(Value::DateTime),
            _ => fail(&v),
        },
        (T::Timestamp, v) => {
            let local = match &v {
                Value::Timestamp(_) => return Ok(v),
                Value::DateTime(t) => *t,
                Value::Date(d) => d.and_time(NaiveTime::MIN),
                Value::Text(s) => match DateTime::parse_from_rfc3339(s.trim()) {
                    Ok(t) => return Ok(Value::Timestamp(t.with_timezone(&Utc))),
                    Err(_) => parse_local(s)?,
                },
                _ => return fail(&v),
            };
            local_to_utc(local, tz, GapPolicy::ShiftForward, OverlapPolicy::Earliest)
                .map(Value::Timestamp)
        }
        (T::Json, Value::Text(s)) => match serde_json::from_str::<serde::de::IgnoredAny>(&s) {
            Ok(_) => Ok(Value::Text(s)),
            Err(_) => Err(format!("{} is not valid JSON", quoted(&Value::Text(s)))),
        },
        (T::Json, v) => Ok(Value::Text(v.to_json().to_string())),
        (_, v) => fail(&v),
    }
}

fn whole(f: f64) -> Option<i64> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
}

/// A value for a message: text in quotes, the rest as rendered; long text is cut.
pub fn quoted(v: &Value) -> String {
    match v {
        Value::Text(s) => {
            let cut: String = s.chars().take(80).collect();
            if cut.len() < s.len() {
                format!("\"{cut}…\"")
            } else {
                format!("\"{s}\"")
            }
        }
        other => other.render(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(v: impl Into<Value>, to: &str) -> Result<Value, String> {
        convert(v.into(), to.parse().unwrap(), chrono_tz::UTC)
    }

    #[test]
    fn numbers() {
        assert_eq!(conv(" 42 ", "int"), Ok(Value::Int(42)));
        assert_eq!(conv("42.0", "bigint"), Ok(Value::Int(42)));
        assert_eq!(conv(3.0, "int"), Ok(Value::Int(3)));
        assert_eq!(conv("abc", "int"), Err("cannot read \"abc\" as int".into()));
        assert_eq!(conv(3.5, "int"), Err("cannot read 3.5 as int".into()));
        assert_eq!(
            conv(70_000, "smallint"),
            Err("70000 is out of range for smallint".into())
        );
        assert_eq!(conv(7, "double"), Ok(Value::Float(7.0)));
        assert_eq!(conv("0.93", "double"), Ok(Value::Float(0.93)));
    }

    #[test]
    fn text_uuid_bool_and_times() {
        assert_eq!(conv(12, "text"), Ok(Value::from("12")));
        assert!(conv("abcdef", "varchar(3)").is_err());
        assert_eq!(conv("yes", "bool"), Ok(Value::Bool(true)));
        let u = Uuid::new_v4();
        assert_eq!(conv(u.to_string(), "uuid"), Ok(Value::Uuid(u)));
        assert!(conv("not-a-uuid", "uuid").is_err());
        assert!(matches!(
            conv("2024-01-02 03:04:05", "datetime"),
            Ok(Value::DateTime(_))
        ));
        assert!(matches!(conv("2024-01-02", "date"), Ok(Value::Date(_))));
        let ts = conv("2024-01-02T03:04:05+01:00", "timestamp").unwrap();
        assert_eq!(ts.render(), "2024-01-02T02:04:05Z");
        assert_eq!(conv(Value::Null, "uuid"), Ok(Value::Null));
        assert!(conv("{\"a\":1}", "json").is_ok());
        assert!(conv("{oops", "json").is_err());
    }
}
