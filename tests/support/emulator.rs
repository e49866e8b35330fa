//! Another DynamoDB emulator behind the end-to-end tests (moto's server, when
//! `APPROVALS_TEST_DYNAMODB` names it): a table of its own per harness, created from
//! template.yaml's definition, and the table's items read and written through the SDK
//! as DynamoDB JSON, as the stand-in gives and takes them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ssm::config::{Credentials, Region};
use serde_json::{Map, Value, json};

use super::{FUNCTION_KEY, REGION};

fn client(url: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(FUNCTION_KEY, "local", None, None, "test"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Runs `work` to its end from a synchronous test helper (the tests run on the
/// multi-threaded runtime).
fn wait<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(work))
}

/// A table of its own for one harness in the DynamoDB emulator at `url`, created with
/// `CreateTable` from template.yaml's definition (keys, attribute types, indexes).
pub async fn create_table(url: &str) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let name = format!("approvals-{}", uuid_like());
    let definition = super::table_definition();
    let keys = |schema: &Value| -> Vec<KeySchemaElement> {
        schema
            .as_array()
            .expect("a KeySchema")
            .iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(k["AttributeName"].as_str().unwrap())
                    .key_type(KeyType::from(k["KeyType"].as_str().unwrap()))
                    .build()
                    .unwrap()
            })
            .collect()
    };
    let mut create = client(url)
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(keys(&definition["KeySchema"])));
    for a in definition["AttributeDefinitions"].as_array().unwrap() {
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(a["AttributeName"].as_str().unwrap())
                .attribute_type(ScalarAttributeType::from(
                    a["AttributeType"].as_str().unwrap(),
                ))
                .build()
                .unwrap(),
        );
    }
    for index in definition["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        create = create.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index["IndexName"].as_str().unwrap())
                .set_key_schema(Some(keys(&index["KeySchema"])))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            index["Projection"]["ProjectionType"].as_str().unwrap(),
                        ))
                        .build(),
                )
                .build()
                .unwrap(),
        );
    }
    create.send().await.unwrap_or_else(|e| {
        panic!(
            "CreateTable at {url}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        )
    });
    name
}

fn uuid_like() -> String {
    format!("{:016x}", approvals::deadline::random_u64())
}

/// Every item of `table` (a consistent scan), as DynamoDB JSON.
pub fn items(url: &str, table: &str) -> Vec<Value> {
    wait(async {
        let mut items = vec![];
        let mut start = None;
        loop {
            let out = client(url)
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .expect("Scan");
            items.extend(out.items().iter().map(item_json));
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return items,
            }
        }
    })
}

/// Writes `item` (DynamoDB JSON) into `table` as it is.
pub fn put(url: &str, table: &str, item: Value) {
    let item: HashMap<String, AttributeValue> = item
        .as_object()
        .expect("an item is an object")
        .iter()
        .map(|(k, v)| (k.clone(), attribute(v)))
        .collect();
    wait(
        client(url)
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send(),
    )
    .expect("PutItem");
}

fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), value_json(v)))
            .collect(),
    )
}

fn value_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::Ss(list) => json!({"SS": list}),
        AttributeValue::Ns(list) => json!({"NS": list}),
        AttributeValue::L(list) => json!({"L": list.iter().map(value_json).collect::<Vec<_>>()}),
        AttributeValue::M(map) => {
            let map: Map<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), value_json(v)))
                .collect();
            json!({"M": map})
        }
        other => panic!("an attribute the tests do not write: {other:?}"),
    }
}

fn attribute(v: &Value) -> AttributeValue {
    let (kind, inner) = v
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("an attribute value is {type: value}");
    let strings = |inner: &Value| -> Vec<String> {
        inner
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str().unwrap().to_owned()),
        "N" => AttributeValue::N(inner.as_str().unwrap().to_owned()),
        "BOOL" => AttributeValue::Bool(inner.as_bool().unwrap()),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(strings(inner)),
        "NS" => AttributeValue::Ns(strings(inner)),
        "L" => AttributeValue::L(inner.as_array().unwrap().iter().map(attribute).collect()),
        "M" => AttributeValue::M(
            inner
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), attribute(v)))
                .collect(),
        ),
        other => panic!("an attribute type the tests do not write: {other}"),
    }
}
