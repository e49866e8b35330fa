//! Global secondary indexes, as DynamoDB keeps them: an item is in an index only if
//! it has the index's key attributes (a sparse index), a key attribute of the wrong
//! type is refused at write time, and the index holds its items in its sort key's
//! order, projecting what its `Projection` says. Reading an index (`Query` with
//! `IndexName`) is [`super::query`]'s.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::number::number;
use super::{Item, Refusal, Table};

/// A key attribute: its name and its type (`S`, `N` or `B`).
pub(super) type KeyAttribute = (String, String);

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Index {
    pub name: String,
    /// Attribute name and type (`S` or `N`).
    pub partition: (String, String),
    pub sort: Option<(String, String)>,
    pub projection: Projection,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Projection {
    All,
    KeysOnly,
    Include(Vec<String>),
}

impl Index {
    fn keys(&self) -> impl Iterator<Item = &(String, String)> {
        std::iter::once(&self.partition).chain(self.sort.iter())
    }

    /// Whether the item is in this index: it has every key attribute, of its type.
    pub(super) fn holds(&self, item: &Item) -> bool {
        self.keys().all(|(name, kind)| {
            item.get(name)
                .and_then(Value::as_object)
                .is_some_and(|v| v.contains_key(kind))
        })
    }

    pub(super) fn project(&self, table: &Table, item: &Item) -> Item {
        let keep = |name: &str| match &self.projection {
            Projection::All => true,
            Projection::KeysOnly => false,
            Projection::Include(extra) => extra.iter().any(|e| e == name),
        };
        item.iter()
            .filter(|(name, _)| {
                keep(name)
                    || **name == table.partition_key
                    || Some(*name) == table.sort_key.as_ref()
                    || self.keys().any(|(k, _)| k == *name)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The `LastEvaluatedKey` of `item`: the table's keys and this index's.
    pub(super) fn key_of(&self, table: &Table, item: &Item) -> Item {
        let mut key = Map::new();
        let names = [Some(&table.partition_key), table.sort_key.as_ref()]
            .into_iter()
            .flatten()
            .chain(self.keys().map(|(n, _)| n));
        for name in names {
            if let Some(v) = item.get(name) {
                key.insert(name.clone(), v.clone());
            }
        }
        key
    }
}

/// Refuses an item whose index key attribute has another type than the index's.
pub(super) fn check_keys(indexes: &[Index], item: &Item) -> Result<(), Refusal> {
    for index in indexes {
        for (name, wanted) in index.keys() {
            let Some(value) = item.get(name).and_then(Value::as_object) else {
                continue;
            };
            let actual = value.keys().next().map(String::as_str).unwrap_or("?");
            let empty = value.get("S").and_then(Value::as_str) == Some("");
            if actual != wanted {
                return Err(Refusal::validation(&format!(
                    "One or more parameter values were invalid: Type mismatch for Index Key {name} \
                     Expected: {wanted} Actual: {actual} IndexName: {}",
                    index.name
                )));
            }
            if empty {
                return Err(Refusal::validation(&format!(
                    "One or more parameter values are not valid. A value specified for a secondary \
                     index key is not supported. The AttributeValue for a key attribute cannot \
                     contain an empty string value. IndexName: {}, IndexKey: {name}",
                    index.name
                )));
            }
        }
    }
    Ok(())
}

/// Reads an index definition (CloudFormation's `GlobalSecondaryIndexes` entry), with
/// the types from the table's `AttributeDefinitions`.
pub(super) fn from_definition(
    definition: &Value,
    types: &dyn Fn(&str) -> Option<String>,
) -> Result<Index, String> {
    let name = definition["IndexName"]
        .as_str()
        .filter(|n| {
            (3..=255).contains(&n.len())
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        })
        .ok_or(
            "a global secondary index needs an IndexName of 3-255 characters of [a-zA-Z0-9_.-]",
        )?;
    let (partition, sort) =
        key_schema(&definition["KeySchema"], types).map_err(|e| format!("index {name}: {e}"))?;
    let projection = &definition["Projection"];
    if !projection.is_object() {
        return Err(format!("index {name}: Projection is required"));
    }
    let non_key = &projection["NonKeyAttributes"];
    let kind = projection["ProjectionType"].as_str();
    if !non_key.is_null() && kind != Some("INCLUDE") {
        return Err(format!(
            "index {name}: NonKeyAttributes are given with ProjectionType {}: only INCLUDE takes them",
            kind.unwrap_or("null")
        ));
    }
    let projection = match kind {
        Some("ALL") => Projection::All,
        Some("KEYS_ONLY") => Projection::KeysOnly,
        Some("INCLUDE") => {
            let names: Vec<String> = non_key
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            if names.is_empty() || names.len() > 20 {
                return Err(format!(
                    "index {name}: INCLUDE needs 1 to 20 NonKeyAttributes"
                ));
            }
            Projection::Include(names)
        }
        other => {
            return Err(format!(
                "index {name}: ProjectionType {other:?} is not ALL, KEYS_ONLY or INCLUDE"
            ));
        }
    };
    Ok(Index {
        name: name.into(),
        partition,
        sort,
        projection,
    })
}

/// A `KeySchema`: one HASH key, at most one RANGE key, each defined with a type.
pub(super) fn key_schema(
    schema: &Value,
    types: &dyn Fn(&str) -> Option<String>,
) -> Result<(KeyAttribute, Option<KeyAttribute>), String> {
    let entries = schema.as_array().ok_or("KeySchema is not a list")?;
    if entries.is_empty() || entries.len() > 2 {
        return Err("KeySchema has one or two keys".into());
    }
    if entries[0]["KeyType"] != "HASH" {
        return Err("Invalid KeySchema: The first KeySchemaElement is not a HASH key type".into());
    }
    if entries.len() == 2 && entries[0]["AttributeName"] == entries[1]["AttributeName"] {
        return Err(format!(
            "Invalid KeySchema: {} is both the HASH and the RANGE key",
            entries[0]["AttributeName"]
        ));
    }
    let (mut hash, mut range) = (None, None);
    for entry in entries {
        let name = entry["AttributeName"]
            .as_str()
            .ok_or("a KeySchema entry has no AttributeName")?;
        let kind = types(name).ok_or(format!("{name} is not in AttributeDefinitions"))?;
        let slot = match entry["KeyType"].as_str() {
            Some("HASH") => &mut hash,
            Some("RANGE") => &mut range,
            other => return Err(format!("{name}: KeyType {other:?} is not HASH or RANGE")),
        };
        if slot.replace((name.to_owned(), kind)).is_some() {
            return Err("KeySchema has two keys of one KeyType".into());
        }
    }
    Ok((hash.ok_or("KeySchema has no HASH key")?, range))
}

/// The index's order: by its sort key (numbers as numbers, strings by their UTF-8
/// bytes), then by the table's keys, so that every entry has one place.
pub(super) fn index_order(table: &Table, index: &Index, a: &Item, b: &Item) -> Ordering {
    let by = |name: &str| -> Ordering {
        match (a.get(name), b.get(name)) {
            (Some(x), Some(y)) => value_order(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        }
    };
    let mut o = match &index.sort {
        Some((name, _)) => by(name),
        None => Ordering::Equal,
    };
    for name in [Some(&table.partition_key), table.sort_key.as_ref()]
        .into_iter()
        .flatten()
    {
        o = o.then_with(|| by(name));
    }
    o
}

fn value_order(a: &Value, b: &Value) -> Ordering {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x.cmp(&y);
    }
    let text = |v: &Value| v.get("S").and_then(Value::as_str).map(str::to_owned);
    text(a)
        .unwrap_or_default()
        .as_bytes()
        .cmp(text(b).unwrap_or_default().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::State;
    use super::super::dispatch::query as base_query;
    use super::super::items::{put_item, update_item};
    use super::*;
    use serde_json::json;

    /// The approvals table as template.yaml defines it: keys and the WaitingSteps index.
    fn state() -> State {
        let stand_in_like = json!({
            "AttributeDefinitions": [
                {"AttributeName": "execution_id", "AttributeType": "S"},
                {"AttributeName": "step_key", "AttributeType": "S"},
                {"AttributeName": "waits", "AttributeType": "S"},
                {"AttributeName": "waiting_since", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "execution_id", "KeyType": "HASH"},
                          {"AttributeName": "step_key", "KeyType": "RANGE"}],
            "GlobalSecondaryIndexes": [{"IndexName": "WaitingSteps",
                "KeySchema": [{"AttributeName": "waits", "KeyType": "HASH"},
                              {"AttributeName": "waiting_since", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"}}]
        });
        let types = |name: &str| {
            stand_in_like["AttributeDefinitions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["AttributeName"] == name)
                .map(|d| d["AttributeType"].as_str().unwrap().to_owned())
        };
        let index = from_definition(&stand_in_like["GlobalSecondaryIndexes"][0], &types).unwrap();
        let mut state = State::default();
        state.tables.insert(
            "approvals".into(),
            Table {
                partition_key: "execution_id".into(),
                sort_key: Some("step_key".into()),
                items: Default::default(),
                previous: Default::default(),
                indexes: vec![index],
            },
        );
        state
    }

    fn put(state: &mut State, id: &str, since: Option<i64>) -> Result<Value, Refusal> {
        let mut item =
            json!({"execution_id": {"S": id}, "step_key": {"S": "s"}, "runbook": {"S": "R"}});
        if let Some(since) = since {
            item["waits"] = json!({"S": "waiting"});
            item["waiting_since"] = json!({"N": since.to_string()});
        }
        put_item(state, &json!({"TableName": "approvals", "Item": item}))
    }

    fn page(state: &State, extra: Value) -> Result<Value, Refusal> {
        let mut input = json!({"TableName": "approvals", "IndexName": "WaitingSteps",
            "KeyConditionExpression": "#w = :w", "ExpressionAttributeNames": {"#w": "waits"},
            "ExpressionAttributeValues": {":w": {"S": "waiting"}}, "ScanIndexForward": false});
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        base_query(state, &input)
    }

    fn ids(page: &Value) -> Vec<String> {
        page["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["execution_id"]["S"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn only_items_with_the_index_keys_are_in_the_index_newest_first_and_paged() {
        let mut state = state();
        for (id, since) in [
            ("a", Some(30)),
            ("b", None),
            ("c", Some(10)),
            ("d", Some(20)),
            ("e", Some(20)),
        ] {
            put(&mut state, id, since).unwrap();
        }
        let all = page(&state, json!({})).unwrap();
        assert_eq!(
            ids(&all),
            ["a", "e", "d", "c"],
            "sparse, by waiting_since then keys"
        );
        assert!(all.get("LastEvaluatedKey").is_none());
        let first = page(&state, json!({"Limit": 2})).unwrap();
        assert_eq!(ids(&first), ["a", "e"]);
        let last = first["LastEvaluatedKey"].clone();
        assert_eq!(
            last,
            json!({"execution_id": {"S": "e"}, "step_key": {"S": "s"}, "waits": {"S": "waiting"}, "waiting_since": {"N": "20"}})
        );
        let second = page(&state, json!({"Limit": 2, "ExclusiveStartKey": last})).unwrap();
        assert_eq!(ids(&second), ["d", "c"]);
        // As DynamoDB, a page that reached its Limit names where it stopped even if
        // nothing follows: the page after it is empty, and the last.
        let third = json!({"Limit": 2, "ExclusiveStartKey": second["LastEvaluatedKey"]});
        let third = page(&state, third).unwrap();
        assert_eq!(ids(&third), Vec::<String>::new());
        assert!(third.get("LastEvaluatedKey").is_none(), "{third}");
        let rest = page(&state, json!({"Limit": 3, "ExclusiveStartKey": last})).unwrap();
        assert_eq!(ids(&rest), ["d", "c"]);
        assert!(rest.get("LastEvaluatedKey").is_none(), "{rest}");
        // Removing the keys takes an item out of the index.
        update_item(
            &mut state,
            &json!({"TableName": "approvals", "Key": {"execution_id": {"S": "a"}, "step_key": {"S": "s"}},
                    "UpdateExpression": "REMOVE waits, waiting_since"}),
        )
        .unwrap();
        assert_eq!(ids(&page(&state, json!({})).unwrap()), ["e", "d", "c"]);
    }

    #[test]
    fn what_dynamodb_refuses_on_an_index_is_refused() {
        let mut state = state();
        let mut wrong = json!({"execution_id": {"S": "x"}, "step_key": {"S": "s"}, "waits": {"S": "w"}, "waiting_since": {"S": "soon"}});
        let refused = put_item(
            &mut state,
            &json!({"TableName": "approvals", "Item": wrong.clone()}),
        )
        .unwrap_err();
        assert!(
            refused
                .message
                .contains("Type mismatch for Index Key waiting_since Expected: N Actual: S"),
            "{}",
            refused.message
        );
        wrong["waiting_since"] = json!({"N": "1"});
        wrong["waits"] = json!({"S": ""});
        assert!(
            put_item(
                &mut state,
                &json!({"TableName": "approvals", "Item": wrong})
            )
            .is_err()
        );
        let consistent = page(&state, json!({"ConsistentRead": true})).unwrap_err();
        assert_eq!(
            consistent.message,
            "Consistent reads are not supported on global secondary indexes"
        );
        let unknown = page(&state, json!({"IndexName": "Nope"})).unwrap_err();
        assert!(
            unknown
                .message
                .contains("does not have the specified index: Nope")
        );
        let wrong_key = base_query(&state, &json!({"TableName": "approvals", "IndexName": "WaitingSteps",
            "KeyConditionExpression": "execution_id = :w", "ExpressionAttributeValues": {":w": {"S": "x"}}})).unwrap_err();
        assert!(wrong_key.message.contains("missed key schema element"));
    }

    #[test]
    fn a_definition_dynamodb_would_refuse_is_refused() {
        let types = |name: &str| (name == "a").then(|| "S".to_owned());
        let no_hash = json!([{"AttributeName": "a", "KeyType": "RANGE"}]);
        assert!(key_schema(&no_hash, &types).is_err());
        let undefined = json!([{"AttributeName": "b", "KeyType": "HASH"}]);
        assert!(
            key_schema(&undefined, &types)
                .unwrap_err()
                .contains("not in AttributeDefinitions")
        );
        let bad_projection = json!({"IndexName": "Idx", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "SOME"}});
        assert!(from_definition(&bad_projection, &types).is_err());
    }
}
