//! Time as Giosg writes it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time as Giosg writes it.
///
/// Giosg sends ISO-8601 both with an offset (`2015-12-22T11:25:30.595Z`) and without one
/// (`2015-02-13T11:31:36.042`); the latter is UTC. Kept to the microsecond (the precision of
/// [`GiosgTime::sortable`]) and serialized as RFC 3339 UTC with `Z`, with as many fractional
/// digits as needed (milliseconds for Giosg's own times), so a stored time reads back equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GiosgTime(DateTime<Utc>);

/// A string that is not a Giosg timestamp.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an ISO-8601 timestamp of the years 0000 to 9999")]
pub struct InvalidGiosgTime;

impl GiosgTime {
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Whether `text` is a timestamp that would read but for its year, which is beyond 0000 to
    /// 9999 (`10000-01-01T00:00:00Z`, `-0001-...`): such a time cannot be sorted with the rest,
    /// so it is refused rather than quietly left out.
    pub fn is_out_of_range(text: &str) -> bool {
        let text = text.trim();
        let (negative, unsigned) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let digits = unsigned.bytes().take_while(u8::is_ascii_digit).count();
        let beyond = digits >= 5 || (negative && digits >= 4);
        beyond
            && unsigned[digits..].starts_with('-')
            && format!("2000{}", &unsigned[digits..])
                .parse::<Self>()
                .is_ok()
    }

    /// Fixed-width form whose lexical order is time order (`2015-12-22T11:25:30.595000Z`),
    /// for sort keys.
    pub fn sortable(&self) -> String {
        self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

impl From<DateTime<Utc>> for GiosgTime {
    fn from(value: DateTime<Utc>) -> Self {
        Self(value.trunc_subsecs(6))
    }
}

impl From<GiosgTime> for DateTime<Utc> {
    fn from(value: GiosgTime) -> Self {
        value.0
    }
}

impl FromStr for GiosgTime {
    type Err = InvalidGiosgTime;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let parsed = match DateTime::parse_from_rfc3339(s) {
            Ok(with_offset) => with_offset.with_timezone(&Utc),
            // `%.f` also accepts no fractional part at all.
            Err(_) => ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(s, format).ok())
                .ok_or(InvalidGiosgTime)?
                .and_utc(),
        };
        // Four-digit years only: the sortable form (history order, cursors) is fixed-width.
        if !(0..=9999).contains(&parsed.year()) {
            return Err(InvalidGiosgTime);
        }
        Ok(Self::from(parsed))
    }
}

impl fmt::Display for GiosgTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = if self.0.timestamp_subsec_micros().is_multiple_of(1000) {
            SecondsFormat::Millis
        } else {
            SecondsFormat::Micros
        };
        f.write_str(&self.0.to_rfc3339_opts(format, true))
    }
}

impl Serialize for GiosgTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GiosgTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(|_| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&raw),
                &"an ISO-8601 timestamp",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;
    #[test]
    fn time_with_z_and_millis_parses() {
        let time: GiosgTime = serde_json::from_value(json!("2015-12-22T11:25:30.595Z")).unwrap();
        let expected = Utc.with_ymd_and_hms(2015, 12, 22, 11, 25, 30).unwrap()
            + chrono::Duration::milliseconds(595);
        assert_eq!(time.as_datetime(), expected);
        assert_eq!(
            serde_json::to_value(time).unwrap(),
            json!("2015-12-22T11:25:30.595Z")
        );
    }

    #[test]
    fn only_times_beyond_four_digit_years_are_out_of_range() {
        for text in [
            "10000-01-01T00:00:00Z",
            "+275760-09-13T00:00:00.000",
            "-0044-03-15T12:00:00Z",
        ] {
            assert!(GiosgTime::is_out_of_range(text), "{text}");
        }
        for text in [
            "2026-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999",
            "garbage",
            "12345",
            "10000-13-45T00:00:00Z",
            "",
        ] {
            assert!(!GiosgTime::is_out_of_range(text), "{text}");
        }
    }

    #[test]
    fn time_without_offset_is_utc() {
        let time: GiosgTime = serde_json::from_value(json!("2015-02-13T11:31:36.042")).unwrap();
        assert_eq!(time.to_string(), "2015-02-13T11:31:36.042Z");
    }

    #[test]
    fn time_without_fraction_parses_in_both_forms() {
        let naive: GiosgTime = "2015-02-13T11:31:36".parse().unwrap();
        let zulu: GiosgTime = "2015-02-13T11:31:36Z".parse().unwrap();
        assert_eq!(naive, zulu);
        assert_eq!(zulu.to_string(), "2015-02-13T11:31:36.000Z");
    }

    #[test]
    fn time_with_offset_is_converted_to_utc() {
        let time: GiosgTime = "2015-12-22T13:25:30.595+02:00".parse().unwrap();
        assert_eq!(time.to_string(), "2015-12-22T11:25:30.595Z");
    }

    #[test]
    fn years_past_9999_are_refused_so_the_sortable_form_stays_fixed_width() {
        assert!("10000-01-01T00:00:00Z".parse::<GiosgTime>().is_err());
        assert!("+10000-01-01T00:00:00".parse::<GiosgTime>().is_err());
        let last: GiosgTime = "9999-12-31T23:59:59.999Z".parse().unwrap();
        let now: GiosgTime = "2026-11-30T00:00:00Z".parse().unwrap();
        assert_eq!(last.sortable().len(), now.sortable().len());
        assert!(now.sortable() < last.sortable());
    }

    #[test]
    fn time_rejects_garbage() {
        assert!("yesterday".parse::<GiosgTime>().is_err());
        assert!(serde_json::from_value::<GiosgTime>(json!("2015-13-45T00:00:00")).is_err());
    }

    #[test]
    fn sortable_form_is_fixed_width_and_ordered() {
        let a: GiosgTime = "2015-12-22T11:25:30Z".parse().unwrap();
        let b: GiosgTime = "2015-12-22T11:25:30.5Z".parse().unwrap();
        let c: GiosgTime = "2015-12-22T11:25:30.595123Z".parse().unwrap();
        assert_eq!(a.sortable(), "2015-12-22T11:25:30.000000Z");
        assert_eq!(c.sortable(), "2015-12-22T11:25:30.595123Z");
        assert_eq!(a.sortable().len(), c.sortable().len());
        assert!(a.sortable() < b.sortable() && b.sortable() < c.sortable());
        assert!(a < b && b < c);
    }

    #[test]
    fn sub_millisecond_times_read_back_equal() {
        for raw in [
            "2026-11-24T10:00:00.123Z",
            "2026-11-24T10:00:00.123456Z",
            "2026-11-24T10:00:00.123456789Z",
            "2026-11-24T10:00:00",
        ] {
            let time: GiosgTime = raw.parse().unwrap();
            let again: GiosgTime = time.to_string().parse().unwrap();
            assert_eq!(time, again, "{raw}");
            assert_eq!(time.sortable(), again.sortable());
        }
        let millis: GiosgTime = "2026-11-24T10:00:00.5Z".parse().unwrap();
        assert_eq!(millis.to_string(), "2026-11-24T10:00:00.500Z");
    }
}
