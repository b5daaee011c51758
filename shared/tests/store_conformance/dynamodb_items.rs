//! The DynamoDB item layout, what only the raw items show: the TTL attributes (DynamoDB only).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use shared::domain::{ChatResource, Field};
use shared::store::StoreContext;
use shared::store::dynamodb::{DynamoStore, EXPIRES_AT};

use super::{ChatStore, MessageId, at, chat_added, chat_changed, chat_id, context};
use crate::support::moto::fresh_table;

async fn raw_item(
    client: &Client,
    table: &str,
    pk: &str,
    sk: &str,
) -> HashMap<String, AttributeValue> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the item exists")
}

fn expires_at(item: &HashMap<String, AttributeValue>) -> Option<i64> {
    item.get(EXPIRES_AT)
        .map(|value| value.as_n().unwrap().parse().unwrap())
}

#[tokio::test]
async fn pending_items_carry_a_ttl_of_the_pending_period() {
    let (client, table) = fresh_table().await;
    let store = DynamoStore::new(client.clone(), table.clone());
    let change = chat_changed(ChatResource {
        is_waiting: Field::Value(true),
        ..ChatResource::default()
    });
    store
        .apply_chat_event(&chat_id("c1"), &change, &context())
        .await
        .unwrap();
    let edit = super::message_changed(shared::domain::MessageResource {
        message: Field::Value("edited".into()),
        ..Default::default()
    });
    store
        .apply_message_event(&chat_id("c1"), &MessageId::new("m1"), &edit, &context())
        .await
        .unwrap();
    let day_from_now = (Utc::now() + chrono::Duration::hours(24)).timestamp();
    for sk in ["CHAT", "MSG#m1"] {
        let item = raw_item(&client, &table, "CHAT#c1", sk).await;
        let ttl = expires_at(&item).unwrap_or_else(|| panic!("{sk} has a TTL"));
        assert!((ttl - day_from_now).abs() < 60, "{sk} expires in 24 h");
    }
}

#[tokio::test]
async fn known_chat_has_no_ttl_unless_retention_is_on() {
    let (client, table) = fresh_table().await;
    let store = DynamoStore::new(client.clone(), table.clone());
    store
        .apply_chat_event(&chat_id("c1"), &chat_added("c1", 10), &context())
        .await
        .unwrap();
    let item = raw_item(&client, &table, "CHAT#c1", "CHAT").await;
    assert_eq!(expires_at(&item), None);

    let retained = StoreContext {
        retention: Some(Duration::from_secs(30 * 24 * 3600)),
        ..context()
    };
    store
        .apply_chat_event(&chat_id("c2"), &chat_added("c2", 10), &retained)
        .await
        .unwrap();
    let item = raw_item(&client, &table, "CHAT#c2", "CHAT").await;
    let thirty_days_after_creation = at(10).as_datetime().timestamp() + 30 * 24 * 3600;
    assert_eq!(expires_at(&item), Some(thirty_days_after_creation));
}

/// A token bucket an earlier version stored (`tokens`, `at_ms`, no `tat_ms`) counts as no state:
/// the first request after an upgrade is written over it, as on a full bucket.
#[tokio::test]
async fn an_earlier_versions_token_bucket_is_written_over_as_a_full_one() {
    use shared::domain::rate::{RateKey, RateLimit, Take};
    use shared::domain::visitor::VisitorToken;
    use shared::store::{RateLimitStore, RateWrite};

    let (client, table) = fresh_table().await;
    let store = DynamoStore::new(client.clone(), table.clone());
    let visitor = VisitorToken::generate().key();
    let pk = format!("VISITOR#{}", visitor.as_str());
    let later = (Utc::now() + chrono::Duration::minutes(5)).timestamp();
    client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S(pk.clone()))
        .item("sk", AttributeValue::S("RATE#send".into()))
        .item("tokens", AttributeValue::N("0".into()))
        .item("at_ms", AttributeValue::N("1".into()))
        .item(EXPIRES_AT, AttributeValue::N(later.to_string()))
        .send()
        .await
        .unwrap();
    let limit = RateLimit::new(30, 10).unwrap();
    let Take::Write {
        expected,
        next,
        expires_at,
    } = limit.take(None, Utc::now())
    else {
        panic!("refused");
    };
    let written = store
        .write_rate_state(&RateKey::Sends(visitor), expected, next, expires_at)
        .await
        .unwrap();
    assert_eq!(written, RateWrite::Written);
    let item = raw_item(&client, &table, &pk, "RATE#send").await;
    assert_eq!(item["tat_ms"], AttributeValue::N(next.tat_ms.to_string()));
}

/// Counts the DynamoDB operations a client makes, by name.
#[derive(Debug, Default)]
struct Operations(std::sync::Mutex<Vec<String>>);

impl Operations {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

#[derive(Debug)]
struct Counting(std::sync::Arc<Operations>);

impl aws_smithy_runtime_api::client::interceptors::Intercept for Counting {
    fn name(&self) -> &'static str {
        "Counting"
    }

    fn read_before_transmit(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        self.0.0.lock().unwrap().push(operation);
        Ok(())
    }
}

/// What a limit costs in DynamoDB: one conditional write for a request not in a burst, two in a
/// burst (the failed condition returns the state: no read), one and no write when refused.
#[tokio::test]
async fn a_limit_costs_one_write_outside_a_burst_and_no_read() {
    use shared::domain::rate::{RateKey, RateLimit};

    let (_, table) = fresh_table().await;
    let operations = std::sync::Arc::new(Operations::default());
    let sdk = shared::aws::sdk_config(Some(crate::support::moto::endpoint())).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(Counting(std::sync::Arc::clone(&operations)))
        .build();
    let store = DynamoStore::new(Client::from_conf(config), table);
    let key = RateKey::AnonymousStarts;
    // Two at once, then one a minute: the third request here is refused however slow moto is.
    let limit = RateLimit::new(1, 2).unwrap();
    assert!(super::rate::take(&store, &key, limit).await);
    assert_eq!(operations.take(), ["PutItem"], "a full bucket");
    assert!(super::rate::take(&store, &key, limit).await);
    assert_eq!(operations.take(), ["PutItem", "PutItem"], "in a burst");
    assert!(!super::rate::take(&store, &key, limit).await);
    assert_eq!(operations.take(), ["PutItem"], "refused, nothing written");
}
