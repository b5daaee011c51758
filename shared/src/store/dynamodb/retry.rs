//! The one retry policy of the adapter: a request that lost to a concurrent writer (a failed
//! condition, a transaction conflict) or that DynamoDB only partly served (`UnprocessedKeys`)
//! is made again, up to [`MAX_ATTEMPTS`] times with a few jittered milliseconds between.

use std::time::Duration;

/// How often a request is made against concurrent writers before giving up.
const MAX_ATTEMPTS: u32 = 8;

/// The attempts at one request, paced: `while attempts.another().await { ... }` runs the body
/// at most [`MAX_ATTEMPTS`] times with a [`backoff`] before each repeat; after the loop the
/// caller says what running out means (`Contention` for a conditional write).
///
/// A loop driver rather than a function taking the attempt as a closure: the loop bodies return
/// early and carry state into the next attempt (`BatchGetItem`'s unprocessed keys), and an
/// async closure's future cannot be proven `Send` for the `ChatStore` futures (rustc 1.95: E0477).
pub(super) struct Attempts {
    made: u32,
}

impl Attempts {
    pub(super) fn new() -> Self {
        Self { made: 0 }
    }

    /// Whether to make another attempt; when it is a repeat, after the backoff.
    pub(super) async fn another(&mut self) -> bool {
        if self.made >= MAX_ATTEMPTS {
            return false;
        }
        if self.made > 0 {
            backoff(self.made).await;
        }
        self.made += 1;
        true
    }
}

/// A few milliseconds, doubling per attempt, with full jitter: concurrent webhook deliveries of
/// the same resource are rare and short.
async fn backoff(attempt: u32) {
    let ceiling_ms = 4u64 << attempt.min(5);
    tokio::time::sleep(Duration::from_millis(rand::random_range(0..=ceiling_ms))).await;
}
