//! Limits against floods: a state is written only on its condition (no live state or one
//! already past, or exactly the state read), and a failed condition answers the state as it
//! is, so concurrent takers (on any instance) never take more than the burst; an expired state
//! counts as none.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use shared::domain::rate::{Expected, RateKey, RateLimit, RateState, SourceKey, Take};
use shared::store::{ChatStore, RateWrite};

use crate::visitor_key;

/// Takes a place as the service does, deciding again on the state a failed write answers:
/// whether one was taken.
pub(crate) async fn take<S: ChatStore>(store: &S, key: &RateKey, limit: RateLimit) -> bool {
    let mut seen = None;
    loop {
        match limit.take(seen, Utc::now()) {
            Take::Refused { .. } => return false,
            Take::Write {
                expected,
                next,
                expires_at,
            } => match store
                .write_rate_state(key, expected, next, expires_at)
                .await
                .unwrap()
            {
                RateWrite::Written => return true,
                RateWrite::NotAsExpected(current) => seen = current,
            },
        }
    }
}

fn state(tat_ms: i64) -> RateState {
    RateState { tat_ms }
}

/// The state held, through the port: a write on a state nobody holds fails and answers it.
async fn held<S: ChatStore>(store: &S, key: &RateKey) -> Option<RateState> {
    let nobody = Expected::Exactly(state(i64::MIN));
    match store
        .write_rate_state(key, nobody, state(0), Utc::now())
        .await
        .unwrap()
    {
        RateWrite::NotAsExpected(current) => current,
        RateWrite::Written => panic!("written on a state nobody holds"),
    }
}

async fn write<S: ChatStore>(
    store: &S,
    key: &RateKey,
    expected: Expected,
    next: RateState,
    expires_at: DateTime<Utc>,
) -> RateWrite {
    store
        .write_rate_state(key, expected, next, expires_at)
        .await
        .unwrap()
}

pub(crate) async fn a_state_is_written_only_on_its_condition<S: ChatStore>(store: S) {
    let key = RateKey::Sends(visitor_key("ada"));
    let later = Utc::now() + chrono::Duration::minutes(5);
    let now_ms = Utc::now().timestamp_millis();
    assert_eq!(held(&store, &key).await, None);
    // No state: past by any time.
    let first = state(now_ms + 60_000);
    assert_eq!(
        write(&store, &key, Expected::PastBy(now_ms), first, later).await,
        RateWrite::Written
    );
    assert_eq!(held(&store, &key).await, Some(first));
    // Not past yet: refused, and told the state.
    let second = state(now_ms + 62_000);
    assert_eq!(
        write(&store, &key, Expected::PastBy(now_ms), second, later).await,
        RateWrite::NotAsExpected(Some(first))
    );
    // On a state no longer there: refused too, nothing changed.
    assert_eq!(
        write(&store, &key, Expected::Exactly(second), second, later).await,
        RateWrite::NotAsExpected(Some(first))
    );
    assert_eq!(held(&store, &key).await, Some(first));
    // On the state held.
    assert_eq!(
        write(&store, &key, Expected::Exactly(first), second, later).await,
        RateWrite::Written
    );
    assert_eq!(held(&store, &key).await, Some(second));
    // Past by a later time: written over.
    let third = state(now_ms + 70_000);
    assert_eq!(
        write(&store, &key, Expected::PastBy(second.tat_ms), third, later).await,
        RateWrite::Written
    );
    assert_eq!(held(&store, &key).await, Some(third));
    // Other limits are others'.
    let starts = RateKey::Starts(visitor_key("ada"));
    let from = RateKey::AnonymousStartsFrom(SourceKey::of("198.51.100.23".parse().unwrap()));
    for other in [starts, from, RateKey::AnonymousStarts] {
        assert_eq!(held(&store, &other).await, None, "{other:?}");
    }

    // Expired (DynamoDB's TTL is in whole seconds): none, and written over as none.
    let soon = Utc::now() + chrono::Duration::seconds(1);
    let short = RateKey::Sends(visitor_key("bob"));
    let ahead = state(now_ms + 3_600_000);
    assert_eq!(
        write(&store, &short, Expected::PastBy(now_ms), ahead, soon).await,
        RateWrite::Written
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(held(&store, &short).await, None);
    assert_eq!(
        write(&store, &short, Expected::PastBy(now_ms), first, later).await,
        RateWrite::Written
    );
    assert_eq!(held(&store, &short).await, Some(first));
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
    // The bucket is full again five minutes on.
    let left = held(store.as_ref(), &key).await.unwrap();
    let full_in = left.tat_ms - Utc::now().timestamp_millis();
    assert!((290_000..=300_000).contains(&full_in), "{left:?}");
    assert!(!take(store.as_ref(), &key, limit).await);
}
