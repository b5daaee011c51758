//! What a store holds, every item, for checks that nothing was forgotten (a TTL, an erasure):
//! the memory store's own listing, or a scan of the DynamoDB table on moto.

use shared::store::ItemKind;
use shared::store::memory::MemoryStore;

use super::moto;

/// One stored item: its kind, a text naming everything it holds (to find mentions of an id),
/// and its TTL in epoch seconds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Held {
    pub kind: ItemKind,
    pub text: String,
    pub expires_at: Option<i64>,
}

/// What a store holds, every item (expired ones not deleted yet included).
pub trait Inventory {
    fn held(&self) -> impl std::future::Future<Output = Vec<Held>> + Send;
}

impl Inventory for MemoryStore {
    async fn held(&self) -> Vec<Held> {
        self.inventory()
            .into_iter()
            .map(|item| Held {
                kind: item.kind,
                text: item.key,
                expires_at: item.expires_at.map(|at| at.timestamp()),
            })
            .collect()
    }
}

impl Inventory for shared::store::dynamodb::DynamoStore {
    async fn held(&self) -> Vec<Held> {
        let client = moto::client().await;
        let mut held = Vec::new();
        let mut start_key = None;
        loop {
            let page = client
                .scan()
                .table_name(self.table_name())
                .consistent_read(true)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .expect("the table scans");
            for item in page.items.unwrap_or_default() {
                let text = |name: &str| item.get(name).unwrap().as_s().unwrap().clone();
                let (pk, sk) = (text("pk"), text("sk"));
                let kind = shared::store::dynamodb::item_kind(&pk, &sk)
                    .unwrap_or_else(|| panic!("an item of no known kind: {pk} {sk}"));
                let expires_at = item
                    .get(shared::store::dynamodb::EXPIRES_AT)
                    .map(|value| value.as_n().unwrap().parse().unwrap());
                // As JSON: attributes in a stable order, so equal items compare equal.
                let attributes: serde_json::Value = serde_dynamo::from_item(item).unwrap();
                held.push(Held {
                    kind,
                    text: format!("{pk} {sk} {attributes}"),
                    expires_at,
                });
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => break,
            }
        }
        held.sort();
        held
    }
}
