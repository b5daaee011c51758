//! The one retry policy of the adapter: a request that lost to a concurrent writer (a failed
//! condition, a transaction conflict) or that DynamoDB only partly served (`UnprocessedKeys`)
//! is made again with a few jittered milliseconds between: at least [`MIN_ATTEMPTS`] times, and
//! on while [`BUDGET`] has not run out since the first attempt.
//!
//! Why a time budget and not only a count: the writes of one chat take its feed position one at
//! a time (`feed.rs`), so a busy chat (an agent typing, webhooks retried, the visitor sending)
//! has several writers racing for one item, and a writer that lost eight times in a row under
//! such a burst had not failed, it had been unlucky. A send whose Giosg call already succeeded
//! should then wait a little longer rather than answer a 500.

use std::time::{Duration, Instant};

/// Attempts made whatever the time taken.
const MIN_ATTEMPTS: u32 = 8;
/// How long a request keeps trying against concurrent writers after its first attempt
/// (the shortest function timeout in the template is 5 s).
const BUDGET: Duration = Duration::from_millis(2_500);

/// The attempts at one request, paced: `while attempts.another().await { ... }` runs the body
/// at least [`MIN_ATTEMPTS`] times and until [`BUDGET`] ran out, with a [`backoff`] before each
/// repeat; after the loop the caller says what running out means (`Contention` for a
/// conditional write).
///
/// A loop driver rather than a function taking the attempt as a closure: the loop bodies return
/// early and carry state into the next attempt (`BatchGetItem`'s unprocessed keys), and an
/// async closure's future cannot be proven `Send` for the `ChatStore` futures (rustc 1.95: E0477).
pub(super) struct Attempts {
    made: u32,
    /// When the attempts began (the budget counts from here).
    began: Instant,
}

impl Attempts {
    pub(super) fn new() -> Self {
        Self {
            made: 0,
            began: Instant::now(),
        }
    }

    /// Whether to make another attempt; when it is a repeat, after the backoff.
    pub(super) async fn another(&mut self) -> bool {
        if !may_repeat(self.made, self.began.elapsed()) {
            return false;
        }
        if self.made > 0 {
            backoff(self.made).await;
        }
        self.made += 1;
        true
    }
}

/// Whether an attempt after `made` ones, `elapsed` after the first, is still made.
fn may_repeat(made: u32, elapsed: Duration) -> bool {
    made < MIN_ATTEMPTS || elapsed < BUDGET
}

/// A few milliseconds, doubling per attempt up to 128 ms, with full jitter: concurrent writes
/// of one chat are short, and the jitter spreads the losers of one round.
async fn backoff(attempt: u32) {
    let ceiling_ms = 4u64 << attempt.min(5);
    tokio::time::sleep(Duration::from_millis(rand::random_range(0..=ceiling_ms))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_go_on_for_a_count_and_then_for_the_budget() {
        assert!(may_repeat(0, Duration::ZERO));
        assert!(may_repeat(MIN_ATTEMPTS - 1, BUDGET * 2), "the count first");
        assert!(may_repeat(MIN_ATTEMPTS, BUDGET / 2), "then the budget");
        assert!(may_repeat(100, BUDGET - Duration::from_millis(1)));
        assert!(!may_repeat(MIN_ATTEMPTS, BUDGET));
        assert!(!may_repeat(100, BUDGET * 2));
    }
}
