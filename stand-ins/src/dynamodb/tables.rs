//! Tables: created by the tests or from CloudFormation's definition, their items, their keys.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::index;
use super::{DynamoDbStandIn, Item, Refusal, State, Table};

impl DynamoDbStandIn {
    /// Creates a table with a string partition key and, optionally, a string sort key
    /// (as the SAM template would).
    pub fn create_table(&self, name: &str, partition_key: &str, sort_key: Option<&str>) {
        self.lock().tables.insert(
            name.into(),
            Table {
                partition_key: partition_key.into(),
                sort_key: sort_key.map(str::to_owned),
                items: BTreeMap::new(),
                previous: HashMap::new(),
                indexes: vec![],
            },
        );
    }

    /// Creates a table from CloudFormation's `AWS::DynamoDB::Table` `Properties` (as
    /// JSON): its `KeySchema` (string keys) and `GlobalSecondaryIndexes` (with their
    /// `Projection`), typed by its `AttributeDefinitions`. A definition DynamoDB would
    /// refuse is refused, saying why; properties that change no behaviour modelled here
    /// (`BillingMode`, `TimeToLiveSpecification`, `SSESpecification`, …) are ignored.
    pub fn create_table_from_definition(
        &self,
        name: &str,
        properties: &Value,
    ) -> Result<(), String> {
        let definitions = properties["AttributeDefinitions"]
            .as_array()
            .ok_or("AttributeDefinitions is not a list")?;
        let mut defined = HashSet::new();
        for d in definitions {
            let attribute = d["AttributeName"]
                .as_str()
                .filter(|a| !a.is_empty())
                .ok_or("an AttributeDefinitions entry has no AttributeName")?;
            if !matches!(d["AttributeType"].as_str(), Some("S" | "N" | "B")) {
                return Err(format!(
                    "{attribute}: AttributeType {} is not S, N or B",
                    d["AttributeType"]
                ));
            }
            if !defined.insert(attribute) {
                return Err(format!(
                    "{attribute} is defined twice in AttributeDefinitions"
                ));
            }
        }
        if !properties["LocalSecondaryIndexes"].is_null() {
            return Err("LocalSecondaryIndexes are not modelled by the stand-in".into());
        }
        let index_count = properties["GlobalSecondaryIndexes"]
            .as_array()
            .map_or(0, Vec::len);
        if index_count > 20 {
            return Err(format!(
                "{index_count} global secondary indexes: a table has at most 20"
            ));
        }
        let types = |attribute: &str| {
            definitions
                .iter()
                .find(|d| d["AttributeName"] == attribute)
                .and_then(|d| d["AttributeType"].as_str())
                .filter(|t| matches!(*t, "S" | "N" | "B"))
                .map(str::to_owned)
        };
        let ((partition, partition_type), sort) =
            index::key_schema(&properties["KeySchema"], &types)?;
        if partition_type != "S" || sort.as_ref().is_some_and(|(_, t)| t != "S") {
            return Err("the stand-in keeps tables with string keys only".into());
        }
        let mut indexes = vec![];
        for definition in properties["GlobalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let index = index::from_definition(definition, &types)?;
            if indexes.iter().any(|i: &index::Index| i.name == index.name) {
                return Err(format!("two indexes are named {}", index.name));
            }
            indexes.push(index);
        }
        // Every defined attribute must be a key of the table or of an index.
        for d in definitions {
            let attribute = d["AttributeName"].as_str().unwrap_or_default();
            let used = attribute == partition
                || sort.as_ref().is_some_and(|(s, _)| s == attribute)
                || indexes.iter().any(|i| {
                    i.partition.0 == attribute
                        || i.sort.as_ref().is_some_and(|(s, _)| s == attribute)
                });
            if !used {
                return Err(format!(
                    "{attribute} is in AttributeDefinitions but is no key: DynamoDB refuses that"
                ));
            }
        }
        self.lock().tables.insert(
            name.into(),
            Table {
                partition_key: partition,
                sort_key: sort.map(|(s, _)| s),
                items: BTreeMap::new(),
                previous: HashMap::new(),
                indexes,
            },
        );
        Ok(())
    }

    /// Adds a global secondary index (projection `ALL`) with these keys, each a name
    /// and a type (`S` or `N`).
    ///
    /// Panics if the table does not exist, already has an index of that name, or a
    /// type is not `S`, `N` or `B`: mistakes in the test.
    pub fn add_global_secondary_index(
        &self,
        table: &str,
        index_name: &str,
        partition_key: (&str, &str),
        sort_key: Option<(&str, &str)>,
    ) {
        for (name, kind) in std::iter::once(partition_key).chain(sort_key) {
            assert!(
                matches!(kind, "S" | "N" | "B"),
                "{name}: an index key is of type S, N or B, not {kind}"
            );
        }
        let owned = |(n, t): (&str, &str)| (n.to_owned(), t.to_owned());
        let mut state = self.lock();
        let table = state.tables.get_mut(table).expect("table exists");
        assert!(
            table.indexes.iter().all(|i| i.name != index_name),
            "the table already has an index {index_name}"
        );
        table.indexes.push(index::Index {
            name: index_name.into(),
            partition: owned(partition_key),
            sort: sort_key.map(owned),
            projection: index::Projection::All,
        });
    }

    /// Every item of a table, in key order (DynamoDB JSON).
    pub fn items(&self, table: &str) -> Vec<Value> {
        self.lock()
            .tables
            .get(table)
            .map(|t| t.items.values().cloned().map(Value::Object).collect())
            .unwrap_or_default()
    }

    /// Stores an item as is (as if written earlier, e.g. by a process that died).
    pub fn put_raw(&self, table: &str, item: Value) {
        let mut state = self.lock();
        let table = state.tables.get_mut(table).expect("table exists");
        let item = item.as_object().expect("an item is an object").clone();
        let key = key_of(table, &item).expect("the item has its keys");
        table.items.insert(key, item);
    }
}

fn table_name(input: &Value) -> Result<String, Refusal> {
    input["TableName"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Refusal::validation("TableName is required"))
}

pub(super) fn table<'a>(state: &'a State, input: &Value) -> Result<&'a Table, Refusal> {
    let name = table_name(input)?;
    state
        .tables
        .get(&name)
        .ok_or_else(|| Refusal::new("ResourceNotFoundException", "Requested resource not found"))
}

pub(super) fn table_mut<'a>(state: &'a mut State, input: &Value) -> Result<&'a mut Table, Refusal> {
    let name = table_name(input)?;
    state
        .tables
        .get_mut(&name)
        .ok_or_else(|| Refusal::new("ResourceNotFoundException", "Requested resource not found"))
}

/// The storage key of an item (or a `Key`): its key attributes, which must be strings.
pub(super) fn key_of(table: &Table, item: &Item) -> Result<(String, String), Refusal> {
    let part = |name: &str| -> Result<String, Refusal> {
        match item
            .get(name)
            .and_then(|v| v.get("S"))
            .and_then(Value::as_str)
        {
            Some(s) if !s.is_empty() => Ok(s.to_owned()),
            _ => Err(Refusal::validation(&format!(
                "One of the required keys was not given a value: {name}"
            ))),
        }
    };
    let pk = part(&table.partition_key)?;
    let sk = match &table.sort_key {
        Some(sk) => part(sk)?,
        None => String::new(),
    };
    Ok((pk, sk))
}

pub(super) fn key_only(table: &Table, key: &Value) -> Result<(String, String), Refusal> {
    let key = key
        .as_object()
        .ok_or_else(|| Refusal::validation("Key is required"))?;
    let expected = 1 + usize::from(table.sort_key.is_some());
    if key.len() != expected {
        return Err(Refusal::validation(
            "The provided key element does not match the schema",
        ));
    }
    key_of(table, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_table_definition_dynamodb_would_refuse_is_refused_with_the_reason() {
        let base = json!({
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "at", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [{"IndexName": "ByTime",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                              {"AttributeName": "at", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"}}],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": true}
        });
        let dynamodb = DynamoDbStandIn::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(dynamodb.create_table_from_definition("ok", &base), Ok(()));
        let broken = |path: &[&str], value: Value| {
            let mut properties = base.clone();
            let mut at = &mut properties;
            for key in path {
                at = match key.parse::<usize>() {
                    Ok(n) => &mut at[n],
                    Err(_) => &mut at[*key],
                };
            }
            *at = value;
            dynamodb
                .create_table_from_definition("broken", &properties)
                .unwrap_err()
        };
        let cases: Vec<(&[&str], Value, &str)> = vec![
            (
                &["KeySchema", "0", "AttributeName"],
                json!("nope"),
                "nope is not in AttributeDefinitions",
            ),
            (
                &["KeySchema"],
                json!([{"AttributeName": "at", "KeyType": "RANGE"}, {"AttributeName": "pk", "KeyType": "HASH"}]),
                "The first KeySchemaElement is not a HASH key type",
            ),
            (
                &["KeySchema"],
                json!([{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "HASH"}]),
                "two keys of one KeyType",
            ),
            (
                &["AttributeDefinitions", "1", "AttributeType"],
                json!("X"),
                "AttributeType \"X\" is not S, N or B",
            ),
            (
                &["AttributeDefinitions", "1", "AttributeName"],
                json!("pk"),
                "pk is defined twice",
            ),
            (
                &["GlobalSecondaryIndexes", "0", "Projection"],
                json!({"ProjectionType": "SOME"}),
                "is not ALL, KEYS_ONLY or INCLUDE",
            ),
            (
                &["GlobalSecondaryIndexes", "0", "Projection"],
                json!({"ProjectionType": "ALL", "NonKeyAttributes": ["x"]}),
                "only INCLUDE takes them",
            ),
            (
                &["GlobalSecondaryIndexes", "0", "Projection"],
                json!({"ProjectionType": "INCLUDE"}),
                "INCLUDE needs 1 to 20",
            ),
            (
                &["GlobalSecondaryIndexes", "0", "Projection"],
                Value::Null,
                "Projection is required",
            ),
            (
                &["GlobalSecondaryIndexes", "0", "IndexName"],
                json!("by time"),
                "IndexName of 3-255",
            ),
            (
                &["GlobalSecondaryIndexes"],
                Value::Null,
                "at is in AttributeDefinitions but is no key",
            ),
            (
                &["LocalSecondaryIndexes"],
                json!([]),
                "LocalSecondaryIndexes are not modelled",
            ),
        ];
        for (path, value, expected) in cases {
            let message = broken(path, value);
            assert!(message.contains(expected), "{path:?}: {message}");
        }
    }
}
