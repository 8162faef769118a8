//! Time zones and zone-less local times → UTC, with explicit DST policies.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::project::error::{Locator, ProjectError, hint_for};
use crate::project::model::S;

/// An IANA zone name from the project file.
pub fn parse_timezone(name: &S<String>, locator: &Locator) -> Result<Tz, ProjectError> {
    name.get_ref().trim().parse::<Tz>().map_err(|_| {
        let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
        locator
            .at(
                name.span(),
                format!("unknown time zone \"{}\"", name.get_ref()),
            )
            .with_hint_opt(hint_for(name.get_ref(), names))
    })
}

/// What to do with a local time that a spring-forward transition skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapPolicy {
    /// Read the time with the offset in force *before* the transition, which moves
    /// it forward by the gap: 02:30 on a spring-forward day becomes 03:30 local.
    ShiftForward,
    Quarantine,
}

/// What to do with a local time that a fall-back transition made occur twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlapPolicy {
    /// The first occurrence (still on summer time).
    Earliest,
    /// The second occurrence (already on standard time).
    Latest,
    Quarantine,
}

pub const GAP_POLICIES: &[&str] = &["shift_forward", "quarantine"];
pub const OVERLAP_POLICIES: &[&str] = &["earliest", "latest", "quarantine"];

impl GapPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "shift_forward" => Some(Self::ShiftForward),
            "quarantine" => Some(Self::Quarantine),
            _ => None,
        }
    }
}

impl OverlapPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "earliest" => Some(Self::Earliest),
            "latest" => Some(Self::Latest),
            "quarantine" => Some(Self::Quarantine),
            _ => None,
        }
    }
}

/// The UTC instant of a local time in `tz`, or why there is none.
pub fn local_to_utc(
    local: NaiveDateTime,
    tz: Tz,
    gap: GapPolicy,
    overlap: OverlapPolicy,
) -> Result<DateTime<Utc>, String> {
    use chrono::LocalResult;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(early, late) => match overlap {
            OverlapPolicy::Earliest => Ok(early.with_timezone(&Utc)),
            OverlapPolicy::Latest => Ok(late.with_timezone(&Utc)),
            OverlapPolicy::Quarantine => Err(format!(
                "{} is ambiguous in {} (DST overlap)",
                local.format("%Y-%m-%d %H:%M:%S"),
                tz.name()
            )),
        },
        LocalResult::None => match gap {
            GapPolicy::ShiftForward => shift_forward(local, tz),
            GapPolicy::Quarantine => Err(format!(
                "{} does not exist in {} (DST gap)",
                local.format("%Y-%m-%d %H:%M:%S"),
                tz.name()
            )),
        },
    }
}

fn shift_forward(local: NaiveDateTime, tz: Tz) -> Result<DateTime<Utc>, String> {
    // Walk back to the last local time that exists; its offset is the one before
    // the transition. 15-minute steps cover every real gap (up to a whole day).
    for step in 1..=(4 * 48) {
        let probe = local - Duration::minutes(15 * step);
        if let Some(offset) = tz.offset_from_local_datetime(&probe).latest() {
            let seconds = offset.fix().local_minus_utc();
            return Ok(Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(seconds)))));
        }
    }
    Err(format!("{local} does not exist in {}", tz.name()))
}

/// `YYYY-MM-DD HH:MM:SS[.fff]` or with a `T`; written by hand because this runs
/// once per row and chrono's format parser is several times slower.
pub fn parse_local(text: &str) -> Result<NaiveDateTime, String> {
    let s = text.trim();
    let b = s.as_bytes();
    if s.starts_with("0000-00-00") {
        return Err(format!("zero date \"{s}\" is not a real point in time"));
    }
    let bad = || format!("cannot read \"{s}\" as a date and time (expected YYYY-MM-DD HH:MM:SS)");
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = (
        num(0, 4),
        num(5, 7),
        num(8, 10),
        num(11, 13),
        num(14, 16),
        num(17, 19),
    ) else {
        return Err(bad());
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let n = num(20, b.len()).ok_or_else(bad)?;
            n * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return Err(bad()),
    };
    let date = NaiveDate::from_ymd_opt(y as i32, mo, d).ok_or_else(bad)?;
    let time = NaiveTime::from_hms_nano_opt(h, mi, sec, nanos).ok_or_else(bad)?;
    Ok(NaiveDateTime::new(date, time))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> Tz {
        "America/New_York".parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn local(s: &str) -> NaiveDateTime {
        parse_local(s).unwrap()
    }

    #[test]
    fn parses_both_separators_and_fractions() {
        let t = local("2024-03-10T02:30:00.25");
        assert_eq!(t.and_utc().timestamp_subsec_millis(), 250);
        assert_eq!(local(" 2024-03-10 02:30:00 "), local("2024-03-10T02:30:00"));
        for bad in [
            "2024-03-10",
            "2024-13-10 00:00:00",
            "2024-03-10 25:00:00",
            "yesterday",
            "2024-03-10 02:30:00.",
            "2024-03-10 02:30:00Z",
        ] {
            assert!(parse_local(bad).is_err(), "{bad}");
        }
        assert!(
            parse_local("0000-00-00 00:00:00")
                .unwrap_err()
                .contains("zero date")
        );
    }

    #[test]
    fn ordinary_time_converts() {
        let got = local_to_utc(
            local("2024-07-01 12:00:00"),
            ny(),
            GapPolicy::Quarantine,
            OverlapPolicy::Quarantine,
        );
        assert_eq!(got.unwrap(), utc("2024-07-01T16:00:00Z"));
    }

    #[test]
    fn dst_gap_policies() {
        let t = local("2024-03-10 02:30:00");
        // read with EST (-5): 07:30 UTC, which is 03:30 EDT
        let shifted =
            local_to_utc(t, ny(), GapPolicy::ShiftForward, OverlapPolicy::Earliest).unwrap();
        assert_eq!(shifted, utc("2024-03-10T07:30:00Z"));
        assert_eq!(
            shifted.with_timezone(&ny()).format("%H:%M").to_string(),
            "03:30"
        );
        let err =
            local_to_utc(t, ny(), GapPolicy::Quarantine, OverlapPolicy::Earliest).unwrap_err();
        assert_eq!(
            err,
            "2024-03-10 02:30:00 does not exist in America/New_York (DST gap)"
        );
    }

    #[test]
    fn dst_overlap_policies() {
        let t = local("2024-11-03 01:30:00");
        let early =
            local_to_utc(t, ny(), GapPolicy::ShiftForward, OverlapPolicy::Earliest).unwrap();
        let late = local_to_utc(t, ny(), GapPolicy::ShiftForward, OverlapPolicy::Latest).unwrap();
        assert_eq!(early, utc("2024-11-03T05:30:00Z"));
        assert_eq!(late, utc("2024-11-03T06:30:00Z"));
        let err =
            local_to_utc(t, ny(), GapPolicy::ShiftForward, OverlapPolicy::Quarantine).unwrap_err();
        assert!(
            err.contains("ambiguous") && err.contains("DST overlap"),
            "{err}"
        );
    }

    #[test]
    fn unknown_zone_has_a_hint() {
        let text = "tz = \"America/New_Yrok\"";
        #[derive(serde::Deserialize)]
        struct Doc {
            tz: S<String>,
        }
        let doc: Doc = toml::from_str(text).unwrap();
        let loc = Locator::new("project.toml", text);
        let err = parse_timezone(&doc.tz, &loc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "project.toml:1:6: unknown time zone \"America/New_Yrok\"; did you mean \"America/New_York\"?"
        );
        assert_eq!(
            parse_timezone(&S::new(0..1, "Europe/Paris".into()), &loc).unwrap(),
            chrono_tz::Europe::Paris
        );
    }
}
