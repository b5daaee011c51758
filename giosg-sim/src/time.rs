//! The simulator's clock and the rendering of timestamps in the [`TimestampFormat`] of the
//! current behaviour.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use crate::config::TimestampFormat;

/// A millisecond clock that never repeats or goes back, so `(created_at, id)` order is creation order.
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

    /// Now, truncated to milliseconds, strictly after every earlier reading.
    pub(crate) fn now(&mut self) -> DateTime<Utc> {
        let now = truncate_to_millis(Utc::now());
        let next = if now > self.last {
            now
        } else {
            self.last + TimeDelta::milliseconds(1)
        };
        self.last = next;
        next
    }
}

fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// Writes timestamps in the configured [`TimestampFormat`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamper<'a> {
    format: TimestampFormat,
    mixed_counter: Option<&'a AtomicU64>,
}

impl<'a> Stamper<'a> {
    /// Always the `Z` form: used to compare resources, never sent.
    pub(crate) fn canonical() -> Self {
        Self {
            format: TimestampFormat::Z,
            mixed_counter: None,
        }
    }

    pub(crate) fn new(format: TimestampFormat, mixed_counter: &'a AtomicU64) -> Self {
        Self {
            format,
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
        if with_z {
            t.to_rfc3339_opts(SecondsFormat::Millis, true)
        } else {
            t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
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
        let a = clock.now();
        let b = clock.now();
        assert!(b > a);
        assert_eq!(b.timestamp_subsec_nanos() % 1_000_000, 0);
    }

    #[test]
    fn stamps_in_each_format() {
        let t = DateTime::parse_from_rfc3339("2015-12-22T11:25:30.595Z")
            .unwrap()
            .to_utc();
        let counter = AtomicU64::new(0);
        assert_eq!(
            Stamper::new(TimestampFormat::Z, &counter).stamp(t),
            "2015-12-22T11:25:30.595Z"
        );
        assert_eq!(
            Stamper::new(TimestampFormat::NoOffset, &counter).stamp(t),
            "2015-12-22T11:25:30.595"
        );
        let mixed = Stamper::new(TimestampFormat::Mixed, &counter);
        assert_ne!(mixed.stamp(t), mixed.stamp(t));
    }
}
