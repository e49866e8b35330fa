//! What the `Query` tests share: a table with two indexes, filled, and queries on it.

use serde_json::{Value, json};

use crate::dynamodb::dispatch::query as run_query;
use crate::dynamodb::index;
use crate::dynamodb::items::put_item;
use crate::dynamodb::{Refusal, State, Table};

/// A table `t` (keys `pk`, `sk`) with an index `BySize` on `group` and the number
/// `size`, projecting `KEYS_ONLY`, and one `ByName` on `group` and `name`,
/// projecting `INCLUDE` of `note`.
pub(super) fn state() -> State {
    let stand_in = json!({
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "group", "AttributeType": "S"},
            {"AttributeName": "size", "AttributeType": "N"},
            {"AttributeName": "name", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                      {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {"IndexName": "BySize",
             "KeySchema": [{"AttributeName": "group", "KeyType": "HASH"},
                           {"AttributeName": "size", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}},
            {"IndexName": "ByName",
             "KeySchema": [{"AttributeName": "group", "KeyType": "HASH"},
                           {"AttributeName": "name", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]}}]
    });
    let types = |name: &str| {
        stand_in["AttributeDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["AttributeName"] == name)
            .map(|d| d["AttributeType"].as_str().unwrap().to_owned())
    };
    let indexes = stand_in["GlobalSecondaryIndexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| index::from_definition(d, &types).unwrap())
        .collect();
    let mut state = State::default();
    state.tables.insert(
        "t".into(),
        Table {
            partition_key: "pk".into(),
            sort_key: Some("sk".into()),
            items: Default::default(),
            previous: Default::default(),
            indexes,
        },
    );
    state
}

pub(super) fn put(state: &mut State, item: Value) {
    put_item(state, &json!({"TableName": "t", "Item": item})).unwrap();
}

/// Items `p`/`a`…`e`, each with `note` and `extra`; sizes 9, 10, 100, 2 and none.
pub(super) fn filled() -> State {
    let mut state = state();
    for (sk, size, name) in [
        ("a", Some("9"), "delta"),
        ("b", Some("10"), "alpha"),
        ("c", Some("100"), "charlie"),
        ("d", Some("2"), "bravo"),
        ("e", None, "echo"),
    ] {
        let mut item = json!({"pk": {"S": "p"}, "sk": {"S": sk}, "group": {"S": "g"},
                "name": {"S": name}, "note": {"S": format!("note {sk}")}, "extra": {"N": "1"}});
        if let Some(size) = size {
            item["size"] = json!({"N": size});
        }
        put(&mut state, item);
    }
    put(
        &mut state,
        json!({"pk": {"S": "q"}, "sk": {"S": "a"}, "group": {"S": "h"}, "size": {"N": "1"}}),
    );
    state
}

pub(super) fn ask(state: &State, input: Value) -> Result<Value, Refusal> {
    let mut input = input;
    input["TableName"] = json!("t");
    run_query(state, &input)
}

pub(super) fn sks(page: &Value) -> Vec<String> {
    page["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sk"]["S"].as_str().unwrap().to_owned())
        .collect()
}

pub(super) fn refusal(state: &State, input: Value) -> String {
    let refused = ask(state, input).unwrap_err();
    assert_eq!(refused.error_type, "ValidationException");
    refused.message
}

pub(super) fn on_table(condition: &str, values: Value) -> Value {
    json!({"KeyConditionExpression": condition, "ExpressionAttributeValues": values})
}

pub(super) fn by_size(extra: Value) -> Value {
    let mut input = json!({"IndexName": "BySize", "KeyConditionExpression": "#g = :g",
            "ExpressionAttributeNames": {"#g": "group"},
            "ExpressionAttributeValues": {":g": {"S": "g"}}});
    for (k, v) in extra.as_object().unwrap() {
        input[k] = v.clone();
    }
    input
}
