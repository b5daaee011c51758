//! The table's schema: its key, the four indexes, the TTL attribute and the stream (new and
//! old images, read by the real-time feed's notifier), as [`create_table`]
//! makes them for local servers and tests. `template.yaml` declares the same table for
//! deployment; `shared/tests/schema.rs` fails when the two drift apart.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::waiters::table_exists::WaitUntilTableExistsError;

use super::error::{built, unavailable};
use crate::store::{StoreError, StoreResult};

/// The GSI listing a visitor's chats.
pub const VISITOR_CHATS_INDEX: &str = "visitor-chats";
/// The GSI of the chats the reconciler looks at (sparse: keys and `counters_moved`).
pub const ACTIVE_CHATS_INDEX: &str = "active-chats";
/// The GSI finding visitors by who the company says they are (sparse: keys only, only
/// visitors with a [`crate::domain::visitor::PersonKey`]).
pub const VISITOR_REFS_INDEX: &str = "visitor-refs";
/// The LSI ordering a chat's history.
pub const HISTORY_INDEX: &str = "history";
/// The table's TTL attribute (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";

/// How long [`create_table`] waits for a new table: on-demand tables with an index take a minute
/// or so on AWS (the waiter polls every 20 s or more there); local servers are instant.
const ACTIVE_WITHIN: Duration = Duration::from_secs(120);

// The key attributes of the table and its indexes, all strings.
pub(super) const PK: &str = "pk";
pub(super) const SK: &str = "sk";
pub(super) const OWNER: &str = "owner";
pub(super) const CHAT_ORDER: &str = "chat_order";
pub(super) const MSG_ORDER: &str = "msg_order";
/// `open` or `ended`, on chats a visitor can see ([`crate::domain::chat::ChatRecord::activity`]).
pub(super) const ACTIVE_STATE: &str = "active_state";
/// Since when (fixed-width time; the end, for an ended chat), then `#` and the chat id.
pub(super) const ACTIVE_AT: &str = "active_at";
/// On an active chat whose Giosg counters moved since they were last checked (true, or
/// absent): projected into the `active-chats` index, so finding them reads nothing more.
pub(super) const COUNTERS_MOVED: &str = "counters_moved";
/// On a visitor with a person key (its `visitor_ref`, hashed): the `visitor-refs` index's key.
pub(super) const PERSON_REF: &str = "person_ref";

/// Creates the table with exactly the schema this adapter expects (on-demand, the
/// `visitor-chats`, `active-chats` and `visitor-refs` GSIs, the `history` LSI, TTL on `expires_at`, a stream of
/// new and old images) and waits
/// until it is active.
/// A table of that name that already exists is left as it is.
pub async fn create_table(client: &Client, table_name: &str) -> StoreResult<()> {
    create_table_with(client, table_name, TableStream::NewAndOldImages).await
}

/// Whether the table has its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableStream {
    /// As deployed: the real-time feed's notifier reads it.
    NewAndOldImages,
    /// None, for an emulator where nothing reads it: moto keeps every stream record and copies
    /// them with the table on each transaction, so with a stream its transactions slow down
    /// with every write ever made (the benchmark's table).
    Off,
}

/// [`create_table`], choosing whether the table has its stream.
pub async fn create_table_with(
    client: &Client,
    table_name: &str,
    stream: TableStream,
) -> StoreResult<()> {
    let string_attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
    };
    let everything = Projection::builder()
        .projection_type(ProjectionType::All)
        .build();
    let visitor_chats = GlobalSecondaryIndex::builder()
        .index_name(VISITOR_CHATS_INDEX)
        .key_schema(built(key(OWNER, KeyType::Hash))?)
        .key_schema(built(key(CHAT_ORDER, KeyType::Range))?)
        .projection(everything.clone())
        .build();
    let active_chats = GlobalSecondaryIndex::builder()
        .index_name(ACTIVE_CHATS_INDEX)
        .key_schema(built(key(ACTIVE_STATE, KeyType::Hash))?)
        .key_schema(built(key(ACTIVE_AT, KeyType::Range))?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .non_key_attributes(COUNTERS_MOVED)
                .build(),
        )
        .build();
    let visitor_refs = GlobalSecondaryIndex::builder()
        .index_name(VISITOR_REFS_INDEX)
        .key_schema(built(key(PERSON_REF, KeyType::Hash))?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build();
    let history = LocalSecondaryIndex::builder()
        .index_name(HISTORY_INDEX)
        .key_schema(built(key(PK, KeyType::Hash))?)
        .key_schema(built(key(MSG_ORDER, KeyType::Range))?)
        .projection(everything)
        .build();
    let created = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(
            [
                PK,
                SK,
                OWNER,
                CHAT_ORDER,
                MSG_ORDER,
                ACTIVE_STATE,
                ACTIVE_AT,
                PERSON_REF,
            ]
            .into_iter()
            .map(|name| built(string_attribute(name)))
            .collect::<StoreResult<Vec<_>>>()?,
        ))
        .key_schema(built(key(PK, KeyType::Hash))?)
        .key_schema(built(key(SK, KeyType::Range))?)
        .global_secondary_indexes(built(visitor_chats)?)
        .global_secondary_indexes(built(active_chats)?)
        .global_secondary_indexes(built(visitor_refs)?)
        .local_secondary_indexes(built(history)?)
        .set_stream_specification(match stream {
            TableStream::NewAndOldImages => Some(built(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build(),
            )?),
            TableStream::Off => None,
        })
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(error) if error.code() == Some("ResourceInUseException") => return Ok(()),
        Err(error) => return Err(unavailable("CreateTable", &error)),
    }
    wait_until_active(client, table_name).await?;
    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(built(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(EXPIRES_AT)
                .build(),
        )?)
        .send()
        .await
        .map_err(|error| unavailable("UpdateTimeToLive", &error))?;
    Ok(())
}

/// Waits with the SDK's `table_exists` waiter (polls `DescribeTable` until `ACTIVE`).
async fn wait_until_active(client: &Client, table_name: &str) -> StoreResult<()> {
    client
        .wait_until_table_exists()
        .table_name(table_name)
        .wait(ACTIVE_WITHIN)
        .await
        .map_err(|error| match error {
            WaitUntilTableExistsError::ExceededMaxWait(_) => StoreError::Unavailable(
                "the new DynamoDB table did not become active in time".into(),
            ),
            WaitUntilTableExistsError::OperationFailed(failed) => {
                unavailable("DescribeTable", failed.error())
            }
            _ => StoreError::Unavailable("DynamoDB DescribeTable: the waiter failed".into()),
        })?;
    Ok(())
}
