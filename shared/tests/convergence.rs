//! The convergence property: any permutation of a set of webhook deliveries, with any
//! duplicates, leaves the same stored state as the in-order, exactly-once sequence.
//!
//! Runs 1,000+ generated cases against the in-memory store, and a smaller number against
//! DynamoDB (moto) in `convergence_dynamodb`, with the same generator.

mod support;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use shared::store::memory::MemoryStore;

use support::convergence::{Delivery, apply_all, deliveries, observe, permuted_with_duplicates};

#[test]
fn any_order_with_duplicates_converges_in_memory() {
    let mut runner = TestRunner::new(Config {
        cases: 1_000,
        ..Config::default()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runner
        .run(
            &deliveries().prop_flat_map(|ordered: Vec<Delivery>| {
                let len = ordered.len();
                (Just(ordered), permuted_with_duplicates(len))
            }),
            |(ordered, order)| {
                let shuffled: Vec<Delivery> = order.iter().map(|&i| ordered[i].clone()).collect();
                let (expected, actual) = runtime.block_on(async {
                    let in_order = MemoryStore::new();
                    apply_all(&in_order, &ordered).await;
                    let any_order = MemoryStore::new();
                    apply_all(&any_order, &shuffled).await;
                    (
                        observe(&in_order, &ordered).await,
                        observe(&any_order, &ordered).await,
                    )
                });
                prop_assert_eq!(expected, actual);
                Ok(())
            },
        )
        .unwrap();
}
