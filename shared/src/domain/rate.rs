//! Limits against floods: how many requests of one kind a caller may make, with a burst. The
//! arithmetic only; the store keeps each limit's state ([`RateState`]) and replaces it on a
//! condition, so that instances sharing a table share the limit.
//!
//! A limit allows `burst` requests at once and `per_minute` a minute after that: a token
//! bucket, kept as the generic cell rate algorithm (GCRA) keeps one. The state is one time, the
//! theoretical arrival time (`tat`): when the bucket would be full again. A request at `now` is
//! allowed while `tat - now` stays within the burst's tolerance, and moves `tat` one interval
//! (`60 s / per_minute`) on from `max(tat, now)`. No state, or a `tat` already past, is a full
//! bucket: the request is then written without knowing the state, on the condition that it is
//! still past ([`Expected::PastBy`]), which is one conditional write for a caller not in a
//! burst; inside a burst the write is conditioned on the `tat` read ([`Expected::Exactly`]).
//! A state may be forgotten (it expires) once it is past.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::visitor::VisitorKey;

/// How long a state is kept after its `tat` has passed (a margin for clock skew between
/// instances; once gone it reads as a full bucket, which it then is).
const KEPT_AFTER_FULL: Duration = Duration::from_secs(60);

/// A rate: `per_minute` requests a minute, at most `burst` at once. Both at least 1.
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

    /// The time one request takes from the bucket, in ms (rounded up: never more than the
    /// rate).
    fn interval_ms(&self) -> i64 {
        i64::from(60_000u32.div_ceil(self.per_minute))
    }

    /// How far ahead of now `tat` may be for a request to be allowed: a full bucket less one.
    fn tolerance_ms(&self) -> i64 {
        i64::from(self.burst - 1) * self.interval_ms()
    }

    /// What a request at `now` does, given the state as last seen (`None`: none seen, taken
    /// as a full bucket): the write to make, or the wait until a request is allowed.
    pub fn take(&self, seen: Option<RateState>, now: DateTime<Utc>) -> Take {
        let now_ms = now.timestamp_millis();
        let interval = self.interval_ms();
        let (expected, from) = match seen {
            Some(state) if state.tat_ms > now_ms => {
                // In a burst (or another instance's clock is ahead: time never goes back).
                if state.tat_ms - now_ms > self.tolerance_ms() {
                    let wait = state.tat_ms - self.tolerance_ms() - now_ms;
                    return Take::Refused {
                        retry_after: retry_after(Duration::from_millis(wait.unsigned_abs())),
                    };
                }
                (Expected::Exactly(state), state.tat_ms)
            }
            _ => (Expected::PastBy(now_ms), now_ms),
        };
        let next = RateState {
            tat_ms: from + interval,
        };
        let expires_at = DateTime::from_timestamp_millis(next.tat_ms).unwrap_or(now)
            + chrono::Duration::from_std(KEPT_AFTER_FULL).unwrap_or(chrono::Duration::days(1));
        Take::Write {
            expected,
            next,
            expires_at,
        }
    }
}

/// The wait a client is told (`Retry-After`): whole seconds, rounded up, at least one.
fn retry_after(wait: Duration) -> Duration {
    let seconds = wait.as_millis().div_ceil(1000).max(1);
    Duration::from_secs(u64::try_from(seconds).unwrap_or(u64::MAX))
}

/// A limit's state as stored: when its bucket would be full again (epoch milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RateState {
    pub tat_ms: i64,
}

/// The condition a state is written on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// No live state, or one whose `tat_ms` is at or before this time (a full bucket).
    PastBy(i64),
    /// Exactly this state (nobody took from the bucket since it was read).
    Exactly(RateState),
}

impl Expected {
    /// Whether `current` (`None`: no live state) meets the condition.
    pub fn holds_for(&self, current: Option<RateState>) -> bool {
        match (self, current) {
            (Self::PastBy(_), None) => true,
            (Self::PastBy(at_ms), Some(state)) => state.tat_ms <= *at_ms,
            (Self::Exactly(expected), current) => current == Some(*expected),
        }
    }
}

/// What a request comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// Allowed, if the store writes `next` (kept until `expires_at`) on `expected`; when the
    /// condition fails, take again with the state as it is.
    Write {
        expected: Expected,
        next: RateState,
        expires_at: DateTime<Utc>,
    },
    /// Refused: try again after `retry_after` (whole seconds, at least one). Nothing changes.
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

    fn ms(at_ms: i64) -> i64 {
        at(at_ms).timestamp_millis()
    }

    /// A request at `now` against `state`, the store's condition holding: the new state.
    fn taken(limit: RateLimit, state: Option<RateState>, now: DateTime<Utc>) -> RateState {
        match limit.take(state, now) {
            Take::Write { expected, next, .. } => {
                assert!(expected.holds_for(state), "{expected:?} on {state:?}");
                next
            }
            Take::Refused { retry_after } => panic!("refused, retry after {retry_after:?}"),
        }
    }

    fn refused(limit: RateLimit, state: Option<RateState>, now: DateTime<Utc>) -> Duration {
        match limit.take(state, now) {
            Take::Refused { retry_after } => retry_after,
            Take::Write { next, .. } => panic!("allowed: {next:?}"),
        }
    }

    /// Requests at `now` until refused: how many were allowed, and the state left.
    fn drain(
        limit: RateLimit,
        mut state: Option<RateState>,
        now: DateTime<Utc>,
    ) -> (u32, RateState) {
        let mut allowed = 0;
        loop {
            match limit.take(state, now) {
                Take::Write { next, .. } => {
                    state = Some(next);
                    allowed += 1;
                }
                Take::Refused { .. } => return (allowed, state.unwrap()),
            }
        }
    }

    #[test]
    fn zero_per_minute_is_no_limit_and_a_zero_burst_is_one() {
        assert_eq!(RateLimit::new(0, 10), None);
        assert_eq!(RateLimit::new(30, 0).unwrap().burst(), 1);
    }

    #[test]
    fn no_state_is_a_full_bucket_that_gives_the_burst_at_once() {
        let limit = RateLimit::new(30, 10).unwrap();
        let (count, state) = drain(limit, None, at(0));
        assert_eq!(count, 10);
        // Full again after ten intervals of 2 s.
        assert_eq!(state.tat_ms, ms(20_000));
    }

    #[test]
    fn a_past_state_is_a_full_bucket_written_on_still_being_past() {
        let limit = RateLimit::new(30, 10).unwrap();
        let past = RateState { tat_ms: ms(-5_000) };
        let Take::Write { expected, next, .. } = limit.take(Some(past), at(0)) else {
            panic!("refused");
        };
        assert_eq!(expected, Expected::PastBy(ms(0)));
        assert_eq!(next.tat_ms, ms(2_000));
        assert_eq!(limit.take(None, at(0)), limit.take(Some(past), at(0)));
        assert!(expected.holds_for(None));
        assert!(expected.holds_for(Some(RateState { tat_ms: ms(0) })));
        assert!(!expected.holds_for(Some(RateState { tat_ms: ms(1) })));
        // Inside a burst the write is on the state read.
        let Take::Write { expected, .. } = limit.take(Some(next), at(0)) else {
            panic!("refused");
        };
        assert_eq!(expected, Expected::Exactly(next));
        assert!(!expected.holds_for(None));
        assert!(!expected.holds_for(Some(RateState { tat_ms: ms(4_000) })));
    }

    #[test]
    fn an_empty_bucket_refills_by_elapsed_time() {
        // 30 a minute: one request every 2 s.
        let limit = RateLimit::new(30, 10).unwrap();
        let (_, empty) = drain(limit, None, at(0));
        assert_eq!(
            refused(limit, Some(empty), at(1_999)),
            Duration::from_secs(1)
        );
        let after = taken(limit, Some(empty), at(2_000));
        assert_eq!(
            refused(limit, Some(after), at(2_000)),
            Duration::from_secs(2)
        );
        // Half an interval is kept for the next one.
        let half = taken(limit, Some(empty), at(3_000));
        assert_eq!(
            refused(limit, Some(half), at(3_999)),
            Duration::from_secs(1)
        );
        taken(limit, Some(half), at(4_000));
    }

    #[test]
    fn refill_stops_at_the_burst() {
        let limit = RateLimit::new(30, 10).unwrap();
        let (_, empty) = drain(limit, None, at(0));
        let (count, _) = drain(limit, Some(empty), at(3_600_000));
        assert_eq!(count, 10);
    }

    #[test]
    fn retry_after_is_the_wait_for_one_request_in_whole_seconds_at_least_one() {
        // 1 a minute: an empty bucket waits 60 s; 10 s later, 50 s.
        let slow = RateLimit::new(1, 1).unwrap();
        let (_, empty) = drain(slow, None, at(0));
        assert_eq!(refused(slow, Some(empty), at(0)), Duration::from_secs(60));
        assert_eq!(
            refused(slow, Some(empty), at(10_000)),
            Duration::from_secs(50)
        );
        assert_eq!(
            refused(slow, Some(empty), at(10_001)),
            Duration::from_secs(50)
        );
        assert_eq!(
            refused(slow, Some(empty), at(59_999)),
            Duration::from_secs(1)
        );
        // 600 a minute: a request every 100 ms, still told one second.
        let fast = RateLimit::new(600, 1).unwrap();
        let (_, empty) = drain(fast, None, at(0));
        assert_eq!(refused(fast, Some(empty), at(50)), Duration::from_secs(1));
    }

    #[test]
    fn a_rate_that_does_not_divide_a_minute_never_allows_more_than_it() {
        // 7 a minute: 8,572 ms apart (rounded up), so 7 in a minute and never 8.
        let limit = RateLimit::new(7, 1).unwrap();
        let mut state = None;
        let mut allowed = 0;
        for second in 0..=60 {
            if let Take::Write { next, .. } = limit.take(state, at(second * 1_000)) {
                state = Some(next);
                allowed += 1;
            }
        }
        assert_eq!(allowed, 7);
    }

    #[test]
    fn a_clock_behind_sees_the_bucket_as_it_was_that_much_earlier_and_never_goes_back() {
        let limit = RateLimit::new(30, 2).unwrap();
        // An instance 500 ms ahead took one request from a full bucket at its 500 ms.
        let stored = RateState { tat_ms: ms(2_500) };
        assert_eq!(refused(limit, Some(stored), at(0)), Duration::from_secs(1));
        let next = taken(limit, Some(stored), at(500));
        assert_eq!(
            next.tat_ms,
            ms(4_500),
            "on from the stored time, not back to now"
        );
    }

    #[test]
    fn a_state_stored_under_a_larger_burst_allows_no_more_than_this_one() {
        let limit = RateLimit::new(30, 2).unwrap();
        // Forty requests ahead under a burst of 50.
        let stored = RateState { tat_ms: ms(80_000) };
        assert_eq!(drain(limit, Some(stored), at(0)).0, 0);
        assert_eq!(refused(limit, Some(stored), at(0)), Duration::from_secs(78));
    }

    #[test]
    fn a_state_expires_a_minute_after_its_bucket_is_full_again() {
        // 30 a minute, burst 10: emptied at once, it is full after 20 s; kept a minute longer.
        let limit = RateLimit::new(30, 10).unwrap();
        let mut state = None;
        let mut expires = at(0);
        for _ in 0..10 {
            let Take::Write {
                next, expires_at, ..
            } = limit.take(state, at(0))
            else {
                panic!("refused");
            };
            state = Some(next);
            expires = expires_at;
        }
        assert_eq!(expires, at(20_000 + 60_000));
        // One request on a full bucket: full again in 2 s.
        let Take::Write { expires_at, .. } = limit.take(None, at(0)) else {
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
