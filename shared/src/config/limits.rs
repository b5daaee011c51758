//! The limits against floods, from their settings: a rate a minute and a burst for each
//! [`LimitKind`], 0 a minute for no limit.

use crate::domain::rate::{LimitKind, RateLimit};

use super::ConfigError;

/// The token buckets of the frontend API (see README, "Limits"). `None`: not limited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// `SEND_RATE_PER_MINUTE` (default 30), `SEND_BURST` (default 10): a visitor's sends.
    pub sends: Option<RateLimit>,
    /// `START_RATE_PER_MINUTE` (default 10), `START_BURST` (default 10): a visitor's starts
    /// (`POST /v1/chats` with its token).
    pub starts: Option<RateLimit>,
    /// `ANONYMOUS_START_RATE_PER_MINUTE` (default 10), `ANONYMOUS_START_BURST` (default 20):
    /// starts without a token (each makes a Giosg visitor), per source address.
    pub anonymous_starts_per_source: Option<RateLimit>,
    /// `ANONYMOUS_START_TOTAL_RATE_PER_MINUTE` (default 0: off),
    /// `ANONYMOUS_START_TOTAL_BURST` (default 100): starts without a token from all sources.
    pub anonymous_starts: Option<RateLimit>,
}

/// A limit's two settings and their defaults.
pub struct LimitSetting {
    pub kind: LimitKind,
    pub rate_name: &'static str,
    pub burst_name: &'static str,
    pub default_rate: u32,
    pub default_burst: u32,
}

/// Every limit setting (the local runner passes these through from its environment).
pub const LIMIT_SETTINGS: &[LimitSetting] = &[
    LimitSetting {
        kind: LimitKind::Send,
        rate_name: "SEND_RATE_PER_MINUTE",
        burst_name: "SEND_BURST",
        default_rate: 30,
        default_burst: 10,
    },
    LimitSetting {
        kind: LimitKind::Start,
        rate_name: "START_RATE_PER_MINUTE",
        burst_name: "START_BURST",
        default_rate: 10,
        default_burst: 10,
    },
    LimitSetting {
        kind: LimitKind::AnonymousStart,
        rate_name: "ANONYMOUS_START_RATE_PER_MINUTE",
        burst_name: "ANONYMOUS_START_BURST",
        default_rate: 10,
        default_burst: 20,
    },
    LimitSetting {
        kind: LimitKind::AnonymousStartTotal,
        rate_name: "ANONYMOUS_START_TOTAL_RATE_PER_MINUTE",
        burst_name: "ANONYMOUS_START_TOTAL_BURST",
        default_rate: 0,
        default_burst: 100,
    },
];

impl Limits {
    /// No limit at all.
    pub fn off() -> Self {
        Self::default()
    }

    /// The limit on `kind`, if any.
    pub fn of(&self, kind: LimitKind) -> Option<RateLimit> {
        match kind {
            LimitKind::Send => self.sends,
            LimitKind::Start => self.starts,
            LimitKind::AnonymousStart => self.anonymous_starts_per_source,
            LimitKind::AnonymousStartTotal => self.anonymous_starts,
        }
    }

    pub(super) fn from_lookup(
        get: &impl Fn(&'static str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut limits = Self::off();
        for setting in LIMIT_SETTINGS {
            let rate = super::parse_number(
                setting.rate_name,
                get(setting.rate_name),
                setting.default_rate,
            )?;
            let burst = super::parse_number(
                setting.burst_name,
                get(setting.burst_name),
                setting.default_burst,
            )?;
            if rate > 0 && burst == 0 {
                return Err(ConfigError::Malformed {
                    name: setting.burst_name,
                    reason: format!("must be at least 1 while {} is set", setting.rate_name),
                });
            }
            let limit = RateLimit::new(rate, burst);
            match setting.kind {
                LimitKind::Send => limits.sends = limit,
                LimitKind::Start => limits.starts = limit,
                LimitKind::AnonymousStart => limits.anonymous_starts_per_source = limit,
                LimitKind::AnonymousStartTotal => limits.anonymous_starts = limit,
            }
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn limits(pairs: &[(&str, &str)]) -> Result<Limits, ConfigError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        Limits::from_lookup(&|name| map.get(name).map(|v| (*v).to_owned()))
    }

    #[test]
    fn defaults_limit_sends_starts_and_anonymous_starts_per_source() {
        let defaults = limits(&[]).unwrap();
        assert_eq!(defaults.sends, RateLimit::new(30, 10));
        assert_eq!(defaults.starts, RateLimit::new(10, 10));
        assert_eq!(defaults.anonymous_starts_per_source, RateLimit::new(10, 20));
        assert_eq!(defaults.anonymous_starts, None);
        for setting in LIMIT_SETTINGS {
            assert_eq!(
                defaults.of(setting.kind),
                RateLimit::new(setting.default_rate, setting.default_burst)
            );
        }
    }

    #[test]
    fn zero_turns_a_limit_off_and_bad_values_are_named() {
        let set = limits(&[
            ("SEND_RATE_PER_MINUTE", "0"),
            ("ANONYMOUS_START_TOTAL_RATE_PER_MINUTE", "100"),
            ("ANONYMOUS_START_TOTAL_BURST", "5"),
        ])
        .unwrap();
        assert_eq!(set.sends, None);
        assert_eq!(set.anonymous_starts, RateLimit::new(100, 5));
        for (name, value) in [("SEND_BURST", "0"), ("START_RATE_PER_MINUTE", "-1")] {
            let error = limits(&[(name, value)]).unwrap_err().to_string();
            assert!(error.contains(name), "{error}");
        }
        // Off, its burst does not matter.
        assert!(limits(&[("SEND_RATE_PER_MINUTE", "0"), ("SEND_BURST", "0")]).is_ok());
    }
}
