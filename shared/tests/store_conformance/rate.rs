//! Token buckets against floods: a bucket is replaced only from the state it was read in, so
//! concurrent takers (on any instance) never take more tokens than it holds; an expired bucket
//! reads as absent (full).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use shared::domain::rate::{Bucket, RateKey, RateLimit, SourceKey, Take};
use shared::store::ChatStore;

use crate::visitor_key;

/// Takes one token as the service does, retrying a lost write until it wins or is refused:
/// whether a token was taken.
pub(crate) async fn take<S: ChatStore>(store: &S, key: &RateKey, limit: RateLimit) -> bool {
    loop {
        let read = store.rate_bucket(key).await.unwrap();
        match limit.take(read.as_ref(), Utc::now()) {
            Take::Refused { .. } => return false,
            Take::Taken { bucket, expires_at } => {
                let replaced = store
                    .replace_rate_bucket(key, read.as_ref(), &bucket, expires_at)
                    .await
                    .unwrap();
                if replaced {
                    return true;
                }
            }
        }
    }
}

pub(crate) async fn a_bucket_is_replaced_only_from_the_state_it_was_read_in<S: ChatStore>(
    store: S,
) {
    let key = RateKey::Sends(visitor_key("ada"));
    assert_eq!(store.rate_bucket(&key).await.unwrap(), None);
    let later = Utc::now() + chrono::Duration::minutes(5);
    let first = Bucket { units: 5, at_ms: 1 };
    assert!(
        store
            .replace_rate_bucket(&key, None, &first, later)
            .await
            .unwrap()
    );
    assert_eq!(store.rate_bucket(&key).await.unwrap(), Some(first));
    // A second writer that read no bucket lost.
    let second = Bucket { units: 4, at_ms: 2 };
    assert!(
        !store
            .replace_rate_bucket(&key, None, &second, later)
            .await
            .unwrap()
    );
    // One that read a state no longer there lost too, and changed nothing.
    assert!(
        !store
            .replace_rate_bucket(&key, Some(&second), &second, later)
            .await
            .unwrap()
    );
    assert_eq!(store.rate_bucket(&key).await.unwrap(), Some(first));
    assert!(
        store
            .replace_rate_bucket(&key, Some(&first), &second, later)
            .await
            .unwrap()
    );
    assert_eq!(store.rate_bucket(&key).await.unwrap(), Some(second));
    // Other buckets are others'.
    let starts = RateKey::Starts(visitor_key("ada"));
    let from = RateKey::AnonymousStartsFrom(SourceKey::of("198.51.100.23".parse().unwrap()));
    for other in [starts, from, RateKey::AnonymousStarts] {
        assert_eq!(store.rate_bucket(&other).await.unwrap(), None, "{other:?}");
    }

    // Expired (DynamoDB's TTL is in whole seconds): absent, and replaced as absent.
    let soon = Utc::now() + chrono::Duration::seconds(1);
    let short = RateKey::Sends(visitor_key("bob"));
    assert!(
        store
            .replace_rate_bucket(&short, None, &first, soon)
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(store.rate_bucket(&short).await.unwrap(), None);
    assert!(
        store
            .replace_rate_bucket(&short, None, &second, later)
            .await
            .unwrap()
    );
    assert_eq!(store.rate_bucket(&short).await.unwrap(), Some(second));
}

pub(crate) async fn concurrent_takers_never_overdraw_a_bucket<S: ChatStore>(store: S) {
    // Five at once, then one a minute: the twenty concurrent takers get five.
    let limit = RateLimit::new(1, 5).unwrap();
    let store = Arc::new(store);
    let key = RateKey::AnonymousStarts;
    let taken = Arc::new(AtomicUsize::new(0));
    let takers: Vec<_> = (0..20)
        .map(|_| {
            let (store, key, taken) = (Arc::clone(&store), key.clone(), Arc::clone(&taken));
            tokio::spawn(async move {
                if take(store.as_ref(), &key, limit).await {
                    taken.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for taker in takers {
        taker.await.unwrap();
    }
    assert_eq!(taken.load(Ordering::SeqCst), 5);
    let left = store.rate_bucket(&key).await.unwrap().unwrap();
    // Nothing left but what refilled in the moments the takers took (a fraction of a token).
    assert!(left.units < 60_000, "{left:?}");
    assert!(!take(store.as_ref(), &key, limit).await);
}
