//! The reconciler's view of the table: the active chats (the `active-chats` GSI) and where its
//! sweep stopped (the `RECONCILE` item).

use super::DynamoStore;
use super::error::unavailable;
use super::item::{ACTIVE_ENDED, ACTIVE_OPEN, AFTER, ItemKey, is_expired, set_expiry, string};
use crate::domain::{ChatId, GiosgTime};
use crate::store::{ActiveChat, RECONCILE_CURSOR_TTL, StoreResult, transient_expiry};

impl DynamoStore {
    /// The open chats and those ended since `ended_since`, by id.
    pub(super) async fn active(&self, ended_since: GiosgTime) -> StoreResult<Vec<ActiveChat>> {
        // Eventually consistent (a GSI): a chat stored a moment ago is in the next sweep.
        let mut active = self.query_active(ACTIVE_OPEN, None).await?;
        let since = ended_since.sortable();
        active.extend(self.query_active(ACTIVE_ENDED, Some(&since)).await?);
        active.sort_by(|a, b| a.id.cmp(&b.id));
        active.dedup_by(|a, b| a.id == b.id);
        Ok(active)
    }

    /// Where the sweep stopped, unless that was longer ago than [`RECONCILE_CURSOR_TTL`].
    pub(super) async fn read_reconcile_cursor(&self) -> StoreResult<Option<ChatId>> {
        let item = self.get_item(&ItemKey::reconcile_cursor()).await?;
        if let Some(item) = &item
            && is_expired(item, "reconcile cursor")?
        {
            return Ok(None);
        }
        Ok(item
            .as_ref()
            .and_then(|item| item.get(AFTER))
            .and_then(|after| after.as_s().ok())
            .map(|after| ChatId::new(after.as_str())))
    }

    /// Keeps where the sweep stopped, or forgets it (`None`).
    pub(super) async fn write_reconcile_cursor(&self, cursor: Option<&ChatId>) -> StoreResult<()> {
        let key = ItemKey::reconcile_cursor();
        match cursor {
            Some(after) => {
                let mut item = key.attributes();
                item.insert(AFTER.into(), string(after.as_str()));
                set_expiry(&mut item, Some(transient_expiry(RECONCILE_CURSOR_TTL)));
                self.put_all(vec![item]).await
            }
            None => self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key.attributes()))
                .send()
                .await
                .map(|_| ())
                .map_err(|error| unavailable("DeleteItem", &error)),
        }
    }
}
