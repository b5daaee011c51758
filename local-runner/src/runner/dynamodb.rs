//! The DynamoDB store: the SDK pointed at a local endpoint or at AWS, and its table prepared
//! (created if missing on a local endpoint; on AWS checked, and created only with
//! `--create-table`), with a sentence naming the region or endpoint when that fails.

use anyhow::{Context as _, bail};
use shared::aws::sdk_config;
use shared::store::dynamodb::{DynamoStore, create_table};

use crate::options::DynamoEndpoint;

pub(super) async fn dynamo_store(
    endpoint: &DynamoEndpoint,
    table: &str,
    create_missing_table: bool,
) -> anyhow::Result<DynamoStore> {
    let local_url = match endpoint {
        DynamoEndpoint::Local(url) => Some(url.as_str().trim_end_matches('/').to_owned()),
        DynamoEndpoint::Aws => None,
    };
    let sdk = sdk_config(local_url.as_deref()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    match endpoint {
        DynamoEndpoint::Local(url) => create_table(&client, table)
            .await
            .with_context(|| format!("cannot prepare the DynamoDB table {table} at {url}"))?,
        DynamoEndpoint::Aws => {
            let described = client.describe_table().table_name(table).send().await;
            match described {
                Ok(_) => {}
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    if !create_missing_table {
                        bail!(
                            "the DynamoDB table {table} does not exist in region {}; pass --table with your table's name, or --create-table to create it",
                            sdk.region().map_or("(none)", |r| r.as_ref())
                        );
                    }
                    create_table(&client, table)
                        .await
                        .with_context(|| format!("cannot create the DynamoDB table {table}"))?;
                }
                Err(error) => {
                    bail!(
                        "cannot reach DynamoDB on AWS (region {}, default credential chain): {}",
                        sdk.region().map_or("(none)", |r| r.as_ref()),
                        aws_sdk_dynamodb::error::DisplayErrorContext(&error)
                    )
                }
            }
        }
    }
    Ok(DynamoStore::new(client, table))
}
