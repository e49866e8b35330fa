//! Global secondary indexes, as DynamoDB keeps them: an item is in an index only if
//! it has the index's key attributes (a sparse index), a key attribute of the wrong
//! type is refused at write time, and a `Query` with `IndexName` reads the index in
//! its sort key's order, a page at a time (`Limit`, `ExclusiveStartKey`,
//! `LastEvaluatedKey` holding the table's and the index's keys, the 1 MB page cap).
//! Index reads are eventually consistent only: `ConsistentRead: true` is refused.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::{Bindings, Cmp, Cond, Item, Operand, Parser, Refusal, Table, eval, tokenize};

/// DynamoDB stops a page once it has read 1 MB of items.
const PAGE_BYTES: usize = 1024 * 1024;

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

    /// Whether the item is in this index: it has every key attribute.
    fn holds(&self, item: &Item) -> bool {
        self.keys().all(|(name, _)| item.contains_key(name))
    }

    fn project(&self, table: &Table, item: &Item) -> Item {
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
    fn key_of(&self, table: &Table, item: &Item) -> Item {
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
        .filter(|n| (3..=255).contains(&n.len()))
        .ok_or("a global secondary index needs an IndexName of 3-255 characters")?;
    let (partition, sort) =
        key_schema(&definition["KeySchema"], types).map_err(|e| format!("index {name}: {e}"))?;
    let projection = match definition["Projection"]["ProjectionType"].as_str() {
        Some("ALL") => Projection::All,
        Some("KEYS_ONLY") => Projection::KeysOnly,
        Some("INCLUDE") => Projection::Include(
            definition["Projection"]["NonKeyAttributes"]
                .as_array()
                .ok_or(format!("index {name}: INCLUDE needs NonKeyAttributes"))?
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
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
) -> Result<((String, String), Option<(String, String)>), String> {
    let entries = schema.as_array().ok_or("KeySchema is not a list")?;
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

/// `Query` with `IndexName`.
pub(super) fn query(table: &Table, input: &Value, stale: bool) -> Result<Value, Refusal> {
    let name = input["IndexName"].as_str().unwrap_or_default();
    let index = table
        .indexes
        .iter()
        .find(|i| i.name == name)
        .ok_or_else(|| {
            Refusal::validation(&format!(
                "The table does not have the specified index: {name}"
            ))
        })?;
    if input["ConsistentRead"] == true {
        return Err(Refusal::validation(
            "Consistent reads are not supported on global secondary indexes",
        ));
    }
    let text = input["KeyConditionExpression"]
        .as_str()
        .ok_or_else(|| Refusal::validation("KeyConditionExpression is required"))?;
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens: &tokens,
        at: 0,
    };
    let condition = parser.or_expr()?;
    parser.end()?;
    let mut bindings = Bindings::of(input);
    let missed = || Refusal::validation("Query condition missed key schema element");
    let (path, value) = match &condition {
        Cond::Compare(Operand::Path(p), Cmp::Eq, Operand::Value(v)) => (p, v),
        Cond::And(first, _) => match first.as_ref() {
            Cond::Compare(Operand::Path(p), Cmp::Eq, Operand::Value(v)) => (p, v),
            _ => return Err(missed()),
        },
        _ => return Err(missed()),
    };
    if bindings.name(path)? != index.partition.0 {
        return Err(missed());
    }
    let wanted = bindings.value(value)?;
    let filter = match input["FilterExpression"].as_str() {
        Some(text) => {
            let tokens = tokenize(text)?;
            let mut parser = Parser {
                tokens: &tokens,
                at: 0,
            };
            let filter = parser.or_expr()?;
            parser.end()?;
            Some(filter)
        }
        None => None,
    };
    // The index's items of that partition, as the (eventually consistent) index holds them.
    let mut entries: Vec<Item> = vec![];
    for key in table.items.keys() {
        if let Some(item) = super::read(table, key, false, stale)
            && index.holds(&item)
            && item.get(&index.partition.0) == Some(&wanted)
        {
            entries.push(item);
        }
    }
    let order = |a: &Item, b: &Item| index_order(table, index, a, b);
    entries.sort_by(order);
    if input["ScanIndexForward"] == false {
        entries.reverse();
    }
    let forward = input["ScanIndexForward"] != false;
    let start = input["ExclusiveStartKey"].as_object();
    let mut from = 0;
    if let Some(start) = start {
        from = entries
            .iter()
            .position(|e| {
                let o = order(e, start);
                if forward {
                    o == Ordering::Greater
                } else {
                    o == Ordering::Less
                }
            })
            .unwrap_or(entries.len());
    }
    let limit = input["Limit"].as_u64().map(|l| l as usize);
    if limit == Some(0) {
        return Err(Refusal::validation(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
             Member must have value greater than or equal to 1",
        ));
    }
    let (mut items, mut scanned, mut bytes, mut last) = (vec![], 0usize, 0usize, None);
    for item in &entries[from..] {
        if limit.is_some_and(|l| scanned >= l) || bytes >= PAGE_BYTES {
            break;
        }
        scanned += 1;
        bytes += Value::Object(item.clone()).to_string().len();
        last = Some(index.key_of(table, item));
        let keep = match &filter {
            Some(f) => eval(f, item, &mut bindings)?,
            None => true,
        };
        if eval(&condition, item, &mut bindings)? && keep {
            items.push(Value::Object(index.project(table, item)));
        }
    }
    bindings.check_all_used()?;
    let more = from + scanned < entries.len();
    let mut out = json!({"Items": items, "Count": items.len(), "ScannedCount": scanned});
    if more && let Some(last) = last {
        out["LastEvaluatedKey"] = Value::Object(last);
    }
    Ok(out)
}

/// The index's order: by its sort key (numbers as numbers, strings by their UTF-8
/// bytes), then by the table's keys, so that every entry has one place.
fn index_order(table: &Table, index: &Index, a: &Item, b: &Item) -> Ordering {
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
    let number = |v: &Value| v.get("N").and_then(Value::as_str)?.parse::<f64>().ok();
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x.total_cmp(&y);
    }
    let text = |v: &Value| v.get("S").and_then(Value::as_str).map(str::to_owned);
    text(a)
        .unwrap_or_default()
        .as_bytes()
        .cmp(text(b).unwrap_or_default().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::{State, put_item, query as base_query, update_item};
    use super::*;

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
        assert!(second.get("LastEvaluatedKey").is_none(), "{second}");
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
