//! Retention on every item (spec §3): with `RetentionDays` set, every item the store holds
//! carries a TTL in the right range; without it, the transient kinds still expire and the
//! transcripts (and everything about them) do not. Expired items read as absent.

use std::time::Duration;

use chrono::Utc;
use shared::domain::ChatId;
use shared::domain::rate::{RateKey, RateLimit, SourceKey};
use shared::store::{
    ChatStore, Claim, ItemKind, Reservation, START_CLAIM_TTL, StoreContext, SubscriptionStore,
};

use super::erasure::fill;
use crate::support::inventory::{Held, Inventory};
use crate::{at, chat_changed, chat_id, context, visitor, visitor_key};

const TEN_YEARS: Duration = Duration::from_secs(3650 * 24 * 3600);

/// Every kind of item: a person's everything (see `fill`), a pending chat, the sweep cursor,
/// the anonymous starts' buckets.
async fn fill_every_kind<S: ChatStore + SubscriptionStore>(store: &S, context: &StoreContext) {
    fill(store, "ada", context).await;
    let limit = RateLimit::new(30, 10).unwrap();
    let source = SourceKey::of("198.51.100.23".parse().unwrap());
    for key in [
        RateKey::AnonymousStartsFrom(source),
        RateKey::AnonymousStarts,
    ] {
        assert!(super::rate::take(store, &key, limit).await);
    }
    let change = chat_changed(shared::domain::ChatResource::default());
    store
        .apply_chat_event(&chat_id("pending"), &change, context)
        .await
        .unwrap();
    store
        .set_reconcile_cursor(Some(&ChatId::new("chat-ada")))
        .await
        .unwrap();
}

fn kinds_without_a_ttl(held: &[Held]) -> Vec<ItemKind> {
    let mut kinds: Vec<ItemKind> = held
        .iter()
        .filter(|item| item.expires_at.is_none())
        .map(|item| item.kind)
        .collect();
    kinds.dedup();
    kinds
}

pub(crate) async fn with_retention_every_item_expires<
    S: ChatStore + SubscriptionStore + Inventory,
>(
    store: S,
) {
    let context = StoreContext {
        retention: Some(TEN_YEARS),
        ..context()
    };
    fill_every_kind(&store, &context).await;
    let held = store.held().await;
    let kinds: std::collections::BTreeSet<ItemKind> = held.iter().map(|item| item.kind).collect();
    let expected: Vec<ItemKind> = ItemKind::ALL
        .iter()
        .copied()
        // The memory store has no connection notes: they are DynamoDB's index of them.
        .filter(|kind| *kind != ItemKind::ConnectionNote || kinds.contains(kind))
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        expected,
        "the scenario stores every kind"
    );
    assert_eq!(kinds_without_a_ttl(&held), [], "kinds that never expire");

    let now = Utc::now().timestamp();
    let retained = now + TEN_YEARS.as_secs() as i64;
    // Chats and messages from their creation (`at(..)`), the rest from now.
    let created = at(0).as_datetime().timestamp() + TEN_YEARS.as_secs() as i64;
    for item in &held {
        let ttl = item.expires_at.unwrap();
        let range = match item.kind {
            ItemKind::Chat if item.text.contains("pending") => now..=now + 24 * 3600 + 60,
            ItemKind::Chat | ItemKind::Message | ItemKind::FeedEntry => created..=created + 3600,
            ItemKind::StartClaim | ItemKind::ReconcileCursor => {
                now..=now + START_CLAIM_TTL.as_secs() as i64 + 60
            }
            ItemKind::Connection | ItemKind::ConnectionNote | ItemKind::Subscription => {
                now..=now + 2 * 3600 + 60
            }
            // One token of 30 a minute taken: full again in 2 s, kept a minute more.
            ItemKind::RateBucket => now - 5..=now + 2 + 60 + 1,
            _ => retained - 60..=retained + 60,
        };
        assert!(
            range.contains(&ttl),
            "{:?} expires at {ttl}, not in {range:?}: {}",
            item.kind,
            item.text
        );
    }
}

pub(crate) async fn without_retention_only_transient_items_expire<
    S: ChatStore + SubscriptionStore + Inventory,
>(
    store: S,
) {
    fill_every_kind(&store, &context()).await;
    for item in store.held().await {
        let pending = item.kind == ItemKind::Chat && item.text.contains("pending");
        assert_eq!(
            item.expires_at.is_some(),
            item.kind.is_transient() || pending,
            "{:?}: {}",
            item.kind,
            item.text
        );
    }
}

pub(crate) async fn expired_visitors_and_send_keys_read_as_absent<S: ChatStore>(store: S) {
    // Three seconds: DynamoDB's TTL is in whole seconds, so an item written with one second
    // could read as expired at once (written at x.9 s, expiring at the next whole second),
    // and a loaded machine can take a second between a write and the read after it.
    let short = StoreContext {
        retention: Some(Duration::from_secs(3)),
        ..context()
    };
    let ada = visitor("ada", "Ada");
    store.put_visitor(&ada, &short).await.unwrap();
    let chat = chat_id("c1");
    let claim = |owner: &str| Claim {
        owner: owner.into(),
        text_digest: "digest".into(),
    };
    let first = claim("first");
    assert_eq!(
        store
            .reserve_send(&chat, "k1", &first, &short)
            .await
            .unwrap(),
        Reservation::Reserved
    );
    assert!(store.get_visitor(&ada.key).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(4100)).await;
    assert_eq!(store.get_visitor(&visitor_key("ada")).await.unwrap(), None);
    let read = store
        .send_context(&ada.key, &chat, Some("k1"))
        .await
        .unwrap();
    assert!(
        read.visitor.is_none() && read.key_state.is_none(),
        "{read:?}"
    );
    assert!(store.open_send_claims(&chat).await.unwrap().is_empty());
    assert_eq!(
        store
            .reserve_send(&chat, "k1", &claim("second"), &context())
            .await
            .unwrap(),
        Reservation::Reserved,
        "an expired key is free"
    );
}
