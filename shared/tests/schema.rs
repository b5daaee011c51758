//! The table `template.yaml` deploys and the one `create_table` makes (for moto, DynamoDB Local
//! and the tests) are the same table: key, attributes, indexes, billing mode, TTL attribute and
//! stream.
//! The expected definition is read from the template; the actual one is what moto reports for a
//! table `create_table` made, so a change to either side alone fails here.

mod support;

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{KeySchemaElement, Projection, TableDescription, TimeToLiveStatus};
use serde_yaml_ng::Value as Yaml;
use shared::store::dynamodb::{EXPIRES_AT, HISTORY_INDEX, VISITOR_CHATS_INDEX};
use support::moto::fresh_table_with_stream;

/// The parts of a table definition that the store depends on, in one comparable form.
#[derive(Debug, PartialEq)]
struct TableDefinition {
    billing_mode: String,
    /// Attribute name to type (`S`, `N`, `B`).
    attributes: BTreeMap<String, String>,
    /// `(attribute, HASH or RANGE)` in key order.
    key_schema: Vec<(String, String)>,
    global_indexes: BTreeMap<String, Index>,
    local_indexes: BTreeMap<String, Index>,
    /// The TTL attribute, when TTL is on.
    ttl_attribute: Option<String>,
    /// The stream's view type, when the stream is on.
    stream_view_type: Option<String>,
}

#[derive(Debug, PartialEq)]
struct Index {
    key_schema: Vec<(String, String)>,
    projection_type: String,
    non_key_attributes: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// The template's side

fn template_table() -> TableDefinition {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    // Tags (`!Ref`, `!Sub`, `!If`...) elsewhere in the template parse as `Yaml::Tagged`.
    let template: Yaml = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let tables: Vec<(&Yaml, &Yaml)> = literal(&template["Resources"], "Resources")
        .as_mapping()
        .expect("template.yaml has Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::DynamoDB::Table"))
        .collect();
    let [(name, table)] = tables[..] else {
        panic!("template.yaml should declare exactly one DynamoDB table, found {tables:?}");
    };
    let what = format!("Resources.{}.Properties", name.as_str().unwrap_or("?"));
    let properties = field(table, "Properties", &what);
    let indexes = |key: &str| {
        items(properties, key, &what)
            .iter()
            .map(|index| {
                let what = format!("{what}.{key}[]");
                let projection = field(index, "Projection", &what);
                let index_definition = Index {
                    key_schema: template_key_schema(index, &what),
                    projection_type: text(projection, "ProjectionType", &what),
                    non_key_attributes: items(projection, "NonKeyAttributes", &what)
                        .iter()
                        .map(|name| string(name, &what))
                        .collect(),
                };
                (text(index, "IndexName", &what), index_definition)
            })
            .collect()
    };
    let ttl = field(properties, "TimeToLiveSpecification", &what);
    let ttl_enabled = field(ttl, "Enabled", &what).as_bool() == Some(true);
    let stream = field(properties, "StreamSpecification", &what);
    TableDefinition {
        // CloudFormation's default when the property is absent.
        billing_mode: match field(properties, "BillingMode", &what) {
            Yaml::Null => "PROVISIONED".to_owned(),
            mode => string(mode, &what),
        },
        attributes: items(properties, "AttributeDefinitions", &what)
            .iter()
            .map(|attribute| {
                (
                    text(attribute, "AttributeName", &what),
                    text(attribute, "AttributeType", &what),
                )
            })
            .collect(),
        key_schema: template_key_schema(properties, &what),
        global_indexes: indexes("GlobalSecondaryIndexes"),
        local_indexes: indexes("LocalSecondaryIndexes"),
        ttl_attribute: ttl_enabled.then(|| text(ttl, "AttributeName", &what)),
        stream_view_type: (!stream.is_null()).then(|| text(stream, "StreamViewType", &what)),
    }
}

fn template_key_schema(parent: &Yaml, what: &str) -> Vec<(String, String)> {
    items(parent, "KeySchema", what)
        .iter()
        .map(|key| (text(key, "AttributeName", what), text(key, "KeyType", what)))
        .collect()
}

/// `value` itself, refusing an intrinsic function: serde_yaml_ng's accessors look through tags,
/// so `!Ref Mode` would otherwise read as the string "Mode".
fn literal<'a>(value: &'a Yaml, what: &str) -> &'a Yaml {
    if let Yaml::Tagged(tagged) = value {
        panic!(
            "{what} in template.yaml is {} {:?}, not a literal this test can compare",
            tagged.tag, tagged.value
        );
    }
    value
}

fn field<'a>(parent: &'a Yaml, key: &str, what: &str) -> &'a Yaml {
    literal(&literal(parent, what)[key], &format!("{what}.{key}"))
}

fn string(value: &Yaml, what: &str) -> String {
    literal(value, what)
        .as_str()
        .unwrap_or_else(|| panic!("{what} in template.yaml has {value:?} where a string belongs"))
        .to_owned()
}

fn text(parent: &Yaml, key: &str, what: &str) -> String {
    string(field(parent, key, what), &format!("{what}.{key}"))
}

/// The list under `key`; empty when the key is absent.
fn items<'a>(parent: &'a Yaml, key: &str, what: &str) -> &'a [Yaml] {
    match field(parent, key, what) {
        Yaml::Null => &[],
        list => list
            .as_sequence()
            .unwrap_or_else(|| panic!("{what}.{key} in template.yaml is not a list")),
    }
}

// ---------------------------------------------------------------------------------------------
// `create_table`'s side, as moto describes the table it made

async fn created_table() -> TableDefinition {
    let (client, table) = fresh_table_with_stream().await;
    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("moto describes the new table");
    let description: &TableDescription = described.table().expect("a table description");
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .expect("moto describes the table's TTL");
    let ttl = ttl.time_to_live_description();
    let ttl_on = matches!(
        ttl.and_then(|ttl| ttl.time_to_live_status()),
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    );
    TableDefinition {
        billing_mode: description
            .billing_mode_summary()
            .and_then(|summary| summary.billing_mode())
            .map_or("PROVISIONED", |mode| mode.as_str())
            .to_owned(),
        attributes: description
            .attribute_definitions()
            .iter()
            .map(|attribute| {
                (
                    attribute.attribute_name().to_owned(),
                    attribute.attribute_type().as_str().to_owned(),
                )
            })
            .collect(),
        key_schema: described_key_schema(description.key_schema()),
        global_indexes: description
            .global_secondary_indexes()
            .iter()
            .map(|index| {
                described_index(index.index_name(), index.key_schema(), index.projection())
            })
            .collect(),
        local_indexes: description
            .local_secondary_indexes()
            .iter()
            .map(|index| {
                described_index(index.index_name(), index.key_schema(), index.projection())
            })
            .collect(),
        ttl_attribute: ttl_on
            .then(|| ttl.and_then(|ttl| ttl.attribute_name()).map(str::to_owned))
            .flatten(),
        stream_view_type: description
            .stream_specification()
            .filter(|stream| stream.stream_enabled())
            .and_then(|stream| stream.stream_view_type())
            .map(|view| view.as_str().to_owned()),
    }
}

fn described_key_schema(keys: &[KeySchemaElement]) -> Vec<(String, String)> {
    keys.iter()
        .map(|key| {
            (
                key.attribute_name().to_owned(),
                key.key_type().as_str().to_owned(),
            )
        })
        .collect()
}

fn described_index(
    name: Option<&str>,
    keys: &[KeySchemaElement],
    projection: Option<&Projection>,
) -> (String, Index) {
    let index = Index {
        key_schema: described_key_schema(keys),
        projection_type: projection
            .and_then(|projection| projection.projection_type())
            .map_or("", |projection_type| projection_type.as_str())
            .to_owned(),
        non_key_attributes: projection
            .map(|projection| projection.non_key_attributes().to_vec())
            .unwrap_or_default(),
    };
    (name.unwrap_or_default().to_owned(), index)
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_template_table_and_create_table_agree() {
    assert_eq!(
        created_table().await,
        template_table(),
        "the table create_table makes (left) differs from template.yaml's (right)"
    );
}

#[test]
fn the_template_table_has_the_indexes_and_ttl_the_store_uses() {
    let template = template_table();
    assert!(
        template.global_indexes.contains_key(VISITOR_CHATS_INDEX),
        "{VISITOR_CHATS_INDEX} is not a GSI of the template's table"
    );
    assert!(
        template.local_indexes.contains_key(HISTORY_INDEX),
        "{HISTORY_INDEX} is not an LSI of the template's table"
    );
    assert_eq!(template.ttl_attribute.as_deref(), Some(EXPIRES_AT));
    // The notifier reads chats' old and new images from the stream.
    assert_eq!(
        template.stream_view_type.as_deref(),
        Some("NEW_AND_OLD_IMAGES")
    );
}
