//! The convergence property: any permutation of a set of webhook deliveries, with any
//! duplicates, leaves the same stored state as the in-order, exactly-once sequence.
//!
//! 1,000 generated cases per run against the in-memory store, and a smaller number against
//! DynamoDB (moto), with the same generator and the same parsing and folding the webhook
//! handler uses.

mod support;

use std::future::Future;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use shared::store::ChatStore;
use shared::store::memory::MemoryStore;

use support::convergence::{
    Delivery, WireShape, apply_all, deliveries, observe, permuted_with_duplicates,
};

/// Runs `cases` generated delivery sets, each applied in order to one fresh store and shuffled
/// with duplicates to another, and compares what the two stores show.
fn check_convergence<S, F>(cases: u32, fresh_store: impl Fn() -> F)
where
    S: ChatStore,
    F: Future<Output = S>,
{
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Not vacuous: across the cases, messages do reach histories (in every profile's shape,
    // e.g. without `room_id` on messages).
    let shown = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(
            &deliveries(WireShape::of_profile()).prop_flat_map(|ordered: Vec<Delivery>| {
                let len = ordered.len();
                (Just(ordered), permuted_with_duplicates(len))
            }),
            |(ordered, order)| {
                let shuffled: Vec<Delivery> = order.iter().map(|&i| ordered[i].clone()).collect();
                let (expected, actual) = runtime.block_on(async {
                    let in_order = fresh_store().await;
                    apply_all(&in_order, &ordered).await;
                    let any_order = fresh_store().await;
                    apply_all(&any_order, &shuffled).await;
                    (
                        observe(&in_order, &ordered).await,
                        observe(&any_order, &ordered).await,
                    )
                });
                shown.fetch_add(
                    expected.messages_in_history(),
                    std::sync::atomic::Ordering::Relaxed,
                );
                prop_assert_eq!(expected, actual);
                Ok(())
            },
        )
        .unwrap();
    assert!(
        shown.into_inner() > 0,
        "no generated message ever reached a history"
    );
}

#[test]
fn any_order_with_duplicates_converges_in_memory() {
    check_convergence(1_000, || async { MemoryStore::new() });
}

/// Fewer cases: each needs two fresh tables.
#[test]
fn any_order_with_duplicates_converges_in_dynamodb() {
    check_convergence(24, support::moto::fresh_store);
}
