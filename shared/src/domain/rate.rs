//! Token buckets against floods: how many requests of one kind a caller may make, refilled
//! with time. The arithmetic only; the store keeps each bucket's state ([`Bucket`]) and replaces
//! it on the condition that nobody else did meanwhile, so that instances sharing a table share
//! the bucket.
//!
//! A bucket holds at most `burst` tokens and gains `per_minute` tokens a minute; a request
//! takes one, and is refused while there is none. A bucket nobody stored is full, so a bucket
//! may be forgotten (it expires) once it would be full again.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::visitor::VisitorKey;

/// Tokens are counted in 60,000ths: a rate of n a minute then adds exactly n of them a
/// millisecond, so refills and waits are whole numbers.
const UNIT: u64 = 60_000;

/// How long a bucket is kept after it would be full again (a margin for clock skew between
/// instances; once gone it reads as full, which it then is).
const KEPT_AFTER_FULL: Duration = Duration::from_secs(60);

/// A rate: `per_minute` tokens a minute, at most `burst` at once. Both at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    per_minute: u32,
    burst: u32,
}

impl RateLimit {
    /// The limit, or `None` (no limit) when `per_minute` is 0. A burst of 0 is taken as 1.
    pub fn new(per_minute: u32, burst: u32) -> Option<Self> {
        (per_minute > 0).then(|| Self {
            per_minute,
            burst: burst.max(1),
        })
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    fn capacity(&self) -> u64 {
        u64::from(self.burst) * UNIT
    }

    /// Tokens (in units) gained in `elapsed_ms`, at most a full bucket.
    fn refill(&self, elapsed_ms: u64) -> u64 {
        elapsed_ms
            .saturating_mul(u64::from(self.per_minute))
            .min(self.capacity())
    }

    /// Milliseconds until `missing` units have been gained, rounded up.
    fn time_to_gain(&self, missing: u64) -> u64 {
        missing.div_ceil(u64::from(self.per_minute))
    }

    /// Takes one token from `stored` (`None`: a full bucket) at `now`: the bucket to store in
    /// its place, or how long until a token is there.
    pub fn take(&self, stored: Option<&Bucket>, now: DateTime<Utc>) -> Take {
        let now_ms = now.timestamp_millis();
        let (tokens, at_ms) = match stored {
            None => (self.capacity(), now_ms),
            Some(bucket) => {
                // Another instance's clock may be ahead: no refill, and time never goes back.
                let elapsed = u64::try_from(now_ms - bucket.at_ms).unwrap_or(0);
                let tokens = bucket
                    .units
                    .min(self.capacity())
                    .saturating_add(self.refill(elapsed))
                    .min(self.capacity());
                (tokens, now_ms.max(bucket.at_ms))
            }
        };
        if tokens < UNIT {
            let wait = Duration::from_millis(self.time_to_gain(UNIT - tokens));
            return Take::Refused {
                retry_after: retry_after(wait),
            };
        }
        let left = tokens - UNIT;
        let full_in = Duration::from_millis(self.time_to_gain(self.capacity() - left));
        let at = DateTime::from_timestamp_millis(at_ms).unwrap_or(now);
        let expires_at = at
            + chrono::Duration::from_std(full_in + KEPT_AFTER_FULL)
                .unwrap_or(chrono::Duration::days(1));
        Take::Taken {
            bucket: Bucket { units: left, at_ms },
            expires_at,
        }
    }
}

/// The wait a client is told (`Retry-After`): whole seconds, rounded up, at least one.
fn retry_after(wait: Duration) -> Duration {
    let seconds = wait.as_millis().div_ceil(1000).max(1);
    Duration::from_secs(u64::try_from(seconds).unwrap_or(u64::MAX))
}

/// A bucket as stored: its tokens (in 60,000ths of a token) when they were last counted, at
/// `at_ms` (epoch milliseconds). Compared whole by the conditional write that replaces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub units: u64,
    pub at_ms: i64,
}

/// What taking a token came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// A token was there: store `bucket` (until `expires_at`, when it would be full anyway).
    Taken {
        bucket: Bucket,
        expires_at: DateTime<Utc>,
    },
    /// None was: try again after `retry_after` (whole seconds, at least one). Nothing changes.
    Refused { retry_after: Duration },
}

/// What is limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LimitKind {
    /// A visitor's sends.
    Send,
    /// A visitor's starts (with its token).
    Start,
    /// Starts without a token (each makes a Giosg visitor), per source address.
    AnonymousStart,
    /// Starts without a token, all sources together.
    AnonymousStartTotal,
}

impl LimitKind {
    pub const ALL: &'static [LimitKind] = &[
        Self::Send,
        Self::Start,
        Self::AnonymousStart,
        Self::AnonymousStartTotal,
    ];

    /// Its name in keys, metrics and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Start => "start",
            Self::AnonymousStart => "anonymous_start",
            Self::AnonymousStartTotal => "anonymous_start_total",
        }
    }
}

/// Whose bucket.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RateKey {
    /// A visitor's sends.
    Sends(VisitorKey),
    /// A visitor's starts.
    Starts(VisitorKey),
    /// Anonymous starts from one source.
    AnonymousStartsFrom(SourceKey),
    /// Anonymous starts from anywhere.
    AnonymousStarts,
}

impl RateKey {
    pub fn kind(&self) -> LimitKind {
        match self {
            Self::Sends(_) => LimitKind::Send,
            Self::Starts(_) => LimitKind::Start,
            Self::AnonymousStartsFrom(_) => LimitKind::AnonymousStart,
            Self::AnonymousStarts => LimitKind::AnonymousStartTotal,
        }
    }

    /// The visitor whose bucket it is, if a visitor's (erased with the visitor).
    pub fn visitor(&self) -> Option<&VisitorKey> {
        match self {
            Self::Sends(visitor) | Self::Starts(visitor) => Some(visitor),
            Self::AnonymousStartsFrom(_) | Self::AnonymousStarts => None,
        }
    }
}

/// A source address as stored: a hash, never the address. An IPv6 address counts by its /64
/// (what one subscriber is given), so rotating addresses within it buys nothing; an
/// IPv4-mapped IPv6 address counts as its IPv4 address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceKey(String);

impl SourceKey {
    pub fn of(address: IpAddr) -> Self {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        let mut hasher = Sha256::new();
        hasher.update(b"giosg-bridge/source/v1\0");
        match address {
            IpAddr::V4(v4) => hasher.update(v4.octets()),
            IpAddr::V6(v6) => hasher.update(&v6.octets()[..8]),
        }
        Self(hex::encode(&hasher.finalize()[..16]))
    }

    /// A key read back from the store.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap()
    }

    fn taken(take: Take) -> Bucket {
        match take {
            Take::Taken { bucket, .. } => bucket,
            Take::Refused { retry_after } => panic!("refused, retry after {retry_after:?}"),
        }
    }

    fn refused(take: Take) -> Duration {
        match take {
            Take::Refused { retry_after } => retry_after,
            Take::Taken { bucket, .. } => panic!("taken: {bucket:?}"),
        }
    }

    /// Takes tokens at `now` until refused: how many were taken, and the bucket left.
    fn drain(limit: RateLimit, mut bucket: Option<Bucket>, now: DateTime<Utc>) -> (u32, Bucket) {
        let mut taken_count = 0;
        loop {
            match limit.take(bucket.as_ref(), now) {
                Take::Taken { bucket: next, .. } => {
                    bucket = Some(next);
                    taken_count += 1;
                }
                Take::Refused { .. } => return (taken_count, bucket.unwrap()),
            }
        }
    }

    #[test]
    fn zero_per_minute_is_no_limit_and_a_zero_burst_is_one() {
        assert_eq!(RateLimit::new(0, 10), None);
        assert_eq!(RateLimit::new(30, 0).unwrap().burst(), 1);
    }

    #[test]
    fn a_new_bucket_is_full_and_gives_the_burst_at_once() {
        let limit = RateLimit::new(30, 10).unwrap();
        let (count, bucket) = drain(limit, None, at(0));
        assert_eq!(count, 10);
        assert_eq!(bucket.units, 0);
        assert_eq!(bucket.at_ms, at(0).timestamp_millis());
    }

    #[test]
    fn an_empty_bucket_refills_by_elapsed_time() {
        // 30 a minute: one token every 2 s.
        let limit = RateLimit::new(30, 10).unwrap();
        let (_, empty) = drain(limit, None, at(0));
        assert_eq!(
            refused(limit.take(Some(&empty), at(1_999))),
            Duration::from_secs(1)
        );
        let after = taken(limit.take(Some(&empty), at(2_000)));
        assert_eq!(after.units, 0);
        // Half a token is kept for the next refill.
        let half = taken(limit.take(Some(&empty), at(3_000)));
        assert_eq!(half.units, UNIT / 2);
        assert_eq!(taken(limit.take(Some(&half), at(4_000))).units, 0);
    }

    #[test]
    fn refill_stops_at_the_burst() {
        let limit = RateLimit::new(30, 10).unwrap();
        let (_, empty) = drain(limit, None, at(0));
        let (count, _) = drain(limit, Some(empty), at(3_600_000));
        assert_eq!(count, 10);
    }

    #[test]
    fn retry_after_is_the_wait_for_one_token_in_whole_seconds_at_least_one() {
        // 1 a minute: an empty bucket waits 60 s; 10 s later, 50 s.
        let slow = RateLimit::new(1, 1).unwrap();
        let (_, empty) = drain(slow, None, at(0));
        assert_eq!(
            refused(slow.take(Some(&empty), at(0))),
            Duration::from_secs(60)
        );
        assert_eq!(
            refused(slow.take(Some(&empty), at(10_000))),
            Duration::from_secs(50)
        );
        assert_eq!(
            refused(slow.take(Some(&empty), at(10_001))),
            Duration::from_secs(50)
        );
        assert_eq!(
            refused(slow.take(Some(&empty), at(59_999))),
            Duration::from_secs(1)
        );
        // 600 a minute: a token every 100 ms, still told one second.
        let fast = RateLimit::new(600, 1).unwrap();
        let (_, empty) = drain(fast, None, at(0));
        assert_eq!(
            refused(fast.take(Some(&empty), at(50))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn a_clock_behind_the_stored_bucket_neither_refills_nor_goes_back() {
        let limit = RateLimit::new(30, 2).unwrap();
        let stored = Bucket {
            units: 2 * UNIT,
            at_ms: at(10_000).timestamp_millis(),
        };
        let next = taken(limit.take(Some(&stored), at(0)));
        assert_eq!(next.units, UNIT);
        assert_eq!(next.at_ms, stored.at_ms);
    }

    #[test]
    fn a_bucket_stored_under_a_larger_burst_is_cut_to_this_one() {
        let limit = RateLimit::new(30, 2).unwrap();
        let stored = Bucket {
            units: 50 * UNIT,
            at_ms: at(0).timestamp_millis(),
        };
        let (count, _) = drain(limit, Some(stored), at(0));
        assert_eq!(count, 2);
    }

    #[test]
    fn a_bucket_expires_once_it_would_be_full_again() {
        // 30 a minute, burst 10: empty, it is full after 20 s; kept a minute longer.
        let limit = RateLimit::new(30, 10).unwrap();
        let mut bucket = None;
        let mut expires = at(0);
        for _ in 0..10 {
            let Take::Taken {
                bucket: next,
                expires_at,
            } = limit.take(bucket.as_ref(), at(0))
            else {
                panic!("refused");
            };
            bucket = Some(next);
            expires = expires_at;
        }
        assert_eq!(expires, at(20_000 + 60_000));
        // One token taken from a full bucket: full again in 2 s.
        let Take::Taken { expires_at, .. } = limit.take(None, at(0)) else {
            panic!("refused");
        };
        assert_eq!(expires_at, at(2_000 + 60_000));
    }

    #[test]
    fn source_keys_hash_the_address_and_group_an_ipv6_slash_64() {
        let v4: IpAddr = "198.51.100.23".parse().unwrap();
        let key = SourceKey::of(v4);
        assert!(!key.as_str().contains("198"));
        assert_eq!(key.as_str().len(), 32);
        assert_ne!(key, SourceKey::of("198.51.100.24".parse().unwrap()));
        assert_eq!(key, SourceKey::of("::ffff:198.51.100.23".parse().unwrap()));
        assert_eq!(
            SourceKey::of("2001:db8:1:2::1".parse().unwrap()),
            SourceKey::of("2001:db8:1:2:ffff::9".parse().unwrap())
        );
        assert_ne!(
            SourceKey::of("2001:db8:1:2::1".parse().unwrap()),
            SourceKey::of("2001:db8:1:3::1".parse().unwrap())
        );
    }
}
