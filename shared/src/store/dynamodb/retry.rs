//! The retry of conditional writes that lost to a concurrent writer.

use std::time::Duration;

/// How often a conditional write is retried against concurrent writers before giving up.
pub(super) const MAX_ATTEMPTS: u32 = 8;

/// A few milliseconds, doubling per attempt, with full jitter: concurrent webhook deliveries of
/// the same resource are rare and short.
pub(super) async fn backoff(attempt: u32) {
    let ceiling_ms = 4u64 << attempt.min(5);
    tokio::time::sleep(Duration::from_millis(rand::random_range(0..=ceiling_ms))).await;
}
