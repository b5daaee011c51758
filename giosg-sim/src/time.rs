//! The simulator's clock and the rendering of timestamps in the [`TimestampFormat`] and
//! [`TimestampPrecision`] of the current behaviour.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use crate::config::{TimestampFormat, TimestampPrecision};

/// A clock that never repeats or goes back, so `(created_at, id)` order is creation order. It
/// ticks in milliseconds or microseconds, as each reading asks.
#[derive(Debug)]
pub(crate) struct Clock {
    last: DateTime<Utc>,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            last: DateTime::<Utc>::MIN_UTC,
        }
    }

    /// Now, truncated to `precision`, strictly after every earlier reading (by at least one
    /// unit of `precision`).
    pub(crate) fn now(&mut self, precision: TimestampPrecision) -> DateTime<Utc> {
        let now = truncate(Utc::now(), precision);
        let next = if now > self.last {
            now
        } else {
            truncate(self.last, precision) + unit(precision)
        };
        self.last = next;
        next
    }
}

fn unit(precision: TimestampPrecision) -> TimeDelta {
    match precision {
        TimestampPrecision::Millis => TimeDelta::milliseconds(1),
        TimestampPrecision::Micros => TimeDelta::microseconds(1),
    }
}

fn truncate(t: DateTime<Utc>, precision: TimestampPrecision) -> DateTime<Utc> {
    let truncated = match precision {
        TimestampPrecision::Millis => DateTime::from_timestamp_millis(t.timestamp_millis()),
        TimestampPrecision::Micros => DateTime::from_timestamp_micros(t.timestamp_micros()),
    };
    truncated.unwrap_or(t)
}

/// Writes timestamps in the configured [`TimestampFormat`] and [`TimestampPrecision`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamper<'a> {
    format: TimestampFormat,
    precision: TimestampPrecision,
    mixed_counter: Option<&'a AtomicU64>,
}

impl<'a> Stamper<'a> {
    /// Always the `Z` form with every digit the clock has: used to compare resources, never
    /// sent.
    pub(crate) fn canonical() -> Self {
        Self {
            format: TimestampFormat::Z,
            precision: TimestampPrecision::Micros,
            mixed_counter: None,
        }
    }

    pub(crate) fn new(
        format: TimestampFormat,
        precision: TimestampPrecision,
        mixed_counter: &'a AtomicU64,
    ) -> Self {
        Self {
            format,
            precision,
            mixed_counter: Some(mixed_counter),
        }
    }

    pub(crate) fn stamp(&self, t: DateTime<Utc>) -> String {
        let with_z = match self.format {
            TimestampFormat::Z => true,
            TimestampFormat::NoOffset => false,
            TimestampFormat::Mixed => self
                .mixed_counter
                .is_none_or(|counter| counter.fetch_add(1, Ordering::Relaxed) % 2 == 0),
        };
        match (with_z, self.precision) {
            (true, TimestampPrecision::Millis) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
            (true, TimestampPrecision::Micros) => t.to_rfc3339_opts(SecondsFormat::Micros, true),
            (false, TimestampPrecision::Millis) => t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
            (false, TimestampPrecision::Micros) => t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        }
    }

    pub(crate) fn stamp_opt(&self, t: Option<DateTime<Utc>>) -> Option<String> {
        t.map(|t| self.stamp(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_strictly_increasing_in_milliseconds() {
        let mut clock = Clock::new();
        let a = clock.now(TimestampPrecision::Millis);
        let b = clock.now(TimestampPrecision::Millis);
        assert!(b > a);
        assert_eq!(b.timestamp_subsec_nanos() % 1_000_000, 0);
    }

    #[test]
    fn micro_clock_is_strictly_increasing_by_at_least_a_microsecond() {
        let mut clock = Clock::new();
        let readings: Vec<DateTime<Utc>> = (0..1000)
            .map(|_| clock.now(TimestampPrecision::Micros))
            .collect();
        for pair in readings.windows(2) {
            assert!(pair[1] - pair[0] >= TimeDelta::microseconds(1));
            assert_eq!(pair[1].timestamp_subsec_nanos() % 1_000, 0);
        }
        assert!(
            readings
                .iter()
                .any(|t| t.timestamp_subsec_micros() % 1_000 != 0),
            "sub-millisecond digits are used"
        );
        let back_to_millis = clock.now(TimestampPrecision::Millis);
        assert!(back_to_millis > readings[999]);
        assert_eq!(back_to_millis.timestamp_subsec_nanos() % 1_000_000, 0);
    }

    #[test]
    fn stamps_in_each_format() {
        let t = DateTime::parse_from_rfc3339("2015-12-22T11:25:30.595123Z")
            .unwrap()
            .to_utc();
        let counter = AtomicU64::new(0);
        let millis = TimestampPrecision::Millis;
        let micros = TimestampPrecision::Micros;
        assert_eq!(
            Stamper::new(TimestampFormat::Z, millis, &counter).stamp(t),
            "2015-12-22T11:25:30.595Z"
        );
        assert_eq!(
            Stamper::new(TimestampFormat::NoOffset, millis, &counter).stamp(t),
            "2015-12-22T11:25:30.595"
        );
        assert_eq!(
            Stamper::new(TimestampFormat::Z, micros, &counter).stamp(t),
            "2015-12-22T11:25:30.595123Z"
        );
        assert_eq!(
            Stamper::new(TimestampFormat::NoOffset, micros, &counter).stamp(t),
            "2015-12-22T11:25:30.595123"
        );
        let mixed = Stamper::new(TimestampFormat::Mixed, millis, &counter);
        assert_ne!(mixed.stamp(t), mixed.stamp(t));
    }
}
