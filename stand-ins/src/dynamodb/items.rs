//! Items: `PutItem`, `GetItem` and `UpdateItem`, their conditions, and what they return.

use serde_json::{Value, json};

use super::expression::{
    Action, Bindings, Parser, Segment, check_overlaps, eval, parse_condition, removal_order,
    remove_at, resolve, set_at, tokenize, value_of,
};
use super::index;
use super::number::{canonical_attributes, check_expression_values};
use super::size::{PUT_TOO_LARGE, UPDATE_TOO_LARGE, check_item_size};
use super::tables::{key_of, key_only, table, table_mut};
use super::{Item, Refusal, State, Table};

fn check_condition(
    input: &Value,
    bindings: &mut Bindings,
    current: Option<&Item>,
) -> Result<bool, Refusal> {
    let Some(text) = input["ConditionExpression"].as_str() else {
        return Ok(true);
    };
    let condition = parse_condition(text)?;
    let empty = Item::new();
    eval(&condition, current.unwrap_or(&empty), bindings)
}

fn condition_failed(input: &Value, old: Option<&Item>) -> Refusal {
    let mut refusal = Refusal::new(
        "ConditionalCheckFailedException",
        "The conditional request failed",
    );
    if input["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD" {
        refusal.item = old.cloned();
    }
    refusal
}

fn remember_previous(table: &mut Table, key: &(String, String)) {
    let before = table.items.get(key).cloned();
    table.previous.insert(key.clone(), before);
}

pub(super) fn put_item(state: &mut State, input: &Value) -> Result<Value, Refusal> {
    let table = table_mut(state, input)?;
    let item = canonical_attributes(
        input["Item"]
            .as_object()
            .ok_or_else(|| Refusal::validation("Item is required"))?,
    )?;
    check_expression_values(input)?;
    check_item_size(&item, PUT_TOO_LARGE)?;
    let key = key_of(table, &item)?;
    let mut bindings = Bindings::of(input);
    let current = table.items.get(&key).cloned();
    let holds = check_condition(input, &mut bindings, current.as_ref())?;
    bindings.check_all_used()?;
    if !holds {
        return Err(condition_failed(input, current.as_ref()));
    }
    index::check_keys(&table.indexes, &item)?;
    remember_previous(table, &key);
    table.items.insert(key, item);
    Ok(match input["ReturnValues"].as_str() {
        Some("ALL_OLD") => current.map_or(json!({}), |old| json!({"Attributes": old})),
        _ => json!({}),
    })
}

pub(super) fn read(
    table: &Table,
    key: &(String, String),
    consistent: bool,
    stale: bool,
) -> Option<Item> {
    if stale
        && !consistent
        && let Some(before) = table.previous.get(key)
    {
        return before.clone();
    }
    table.items.get(key).cloned()
}

pub(super) fn get_item(state: &State, input: &Value) -> Result<Value, Refusal> {
    let table = table(state, input)?;
    let key = key_only(table, &input["Key"])?;
    let consistent = input["ConsistentRead"] == true;
    Ok(match read(table, &key, consistent, state.stale_reads) {
        Some(item) => json!({"Item": item}),
        None => json!({}),
    })
}

pub(super) fn update_item(state: &mut State, input: &Value) -> Result<Value, Refusal> {
    let table = table_mut(state, input)?;
    let key_value = input["Key"].clone();
    let key = key_only(table, &key_value)?;
    check_expression_values(input)?;
    let mut bindings = Bindings::of(input);
    let current = table.items.get(&key).cloned();
    let holds = check_condition(input, &mut bindings, current.as_ref())?;
    let text = input["UpdateExpression"]
        .as_str()
        .ok_or_else(|| Refusal::validation("UpdateExpression is required here"))?;
    let tokens = tokenize(text)?;
    let actions = Parser {
        tokens: &tokens,
        at: 0,
    }
    .update()?;
    // Every path resolved and checked before anything is worked out.
    let mut paths = vec![];
    for action in &actions {
        let path = resolve(action.path(), &mut bindings)?;
        if let Some(Segment::Attribute(name)) = path.first()
            && (*name == table.partition_key || Some(name) == table.sort_key.as_ref())
        {
            return Err(Refusal::validation(&format!(
                "One or more parameter values were invalid: Cannot update attribute {name}. \
                 This attribute is part of the key"
            )));
        }
        paths.push(path);
    }
    check_overlaps(&paths)?;
    // The new item: the values set, all worked out against the old item, set, then
    // the paths removed.
    let old = current.clone().unwrap_or_default();
    let mut item = current
        .clone()
        .unwrap_or_else(|| key_value.as_object().cloned().unwrap_or_default());
    let mut removed = vec![];
    for (action, path) in actions.iter().zip(&paths) {
        match action {
            Action::Set(_, expr) => {
                let value = value_of(expr, &old, &mut bindings)?;
                set_at(&mut item, path, value)?;
            }
            Action::Remove(_) => removed.push(path),
        }
    }
    removed.sort_by(|a, b| removal_order(a, b));
    for path in removed {
        remove_at(&mut item, path)?;
    }
    let item = canonical_attributes(&item)?;
    bindings.check_all_used()?;
    if !holds {
        return Err(condition_failed(input, current.as_ref()));
    }
    check_item_size(&item, UPDATE_TOO_LARGE)?;
    index::check_keys(&table.indexes, &item)?;
    remember_previous(table, &key);
    table.items.insert(key, item.clone());
    Ok(match input["ReturnValues"].as_str() {
        Some("ALL_NEW") => json!({"Attributes": item}),
        Some("ALL_OLD") => current.map_or(json!({}), |old| json!({"Attributes": old})),
        _ => json!({}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::dispatch::query;
    use crate::dynamodb::test_support::{claim, state_with_table};

    #[test]
    fn a_conditional_put_claims_an_item_once() {
        let mut state = state_with_table();
        assert!(put_item(&mut state, &claim("a")).is_ok());
        let lost = put_item(&mut state, &claim("b")).unwrap_err();
        assert_eq!(lost.error_type, "ConditionalCheckFailedException");
        assert_eq!(lost.item.unwrap()["claim"], json!({"S": "a"}));
    }

    #[test]
    fn updates_set_append_add_and_check_conditions() {
        let mut state = state_with_table();
        put_item(&mut state, &claim("a")).unwrap();
        let update = |condition: &str, token: &str| {
            json!({"TableName": "approvals", "Key": {"execution_id": {"S": "e1"}, "step_key": {"S": "s1"}},
                "UpdateExpression": "SET #ts = :ts, decisions = list_append(if_not_exists(decisions, :none), :d), n = if_not_exists(n, :zero) + :one REMOVE claim",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#ts": "ts"},
                "ExpressionAttributeValues": {":ts": {"S": "171.1"}, ":none": {"L": []},
                    ":d": {"L": [{"S": "approve"}]}, ":zero": {"N": "0"}, ":one": {"N": "1"}, ":t": {"S": token}},
                "ReturnValues": "ALL_NEW"})
        };
        let refused = update_item(
            &mut state,
            &update("claim = :t AND attribute_not_exists(#ts)", "b"),
        )
        .unwrap_err();
        assert_eq!(refused.error_type, "ConditionalCheckFailedException");
        let out = update_item(
            &mut state,
            &update("claim = :t AND attribute_not_exists(#ts)", "a"),
        )
        .unwrap();
        let item = &out["Attributes"];
        assert_eq!(item["ts"], json!({"S": "171.1"}));
        assert_eq!(item["decisions"], json!({"L": [{"S": "approve"}]}));
        assert_eq!(item["n"], json!({"N": "1"}));
        assert!(item.get("claim").is_none());
        let again = update_item(&mut state, &update("NOT (n > :one) OR claim = :t", "x")).unwrap();
        assert_eq!(again["Attributes"]["n"], json!({"N": "2"}));
        assert_eq!(
            again["Attributes"]["decisions"]["L"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn unused_or_undefined_names_and_values_are_refused() {
        let mut state = state_with_table();
        let mut unused = claim("a");
        unused["ExpressionAttributeValues"] = json!({":spare": {"S": "x"}});
        assert!(
            put_item(&mut state, &unused)
                .unwrap_err()
                .message
                .contains("unused")
        );
        let mut undefined = claim("a");
        undefined["ConditionExpression"] = json!("attribute_not_exists(#nope)");
        assert!(
            put_item(&mut state, &undefined)
                .unwrap_err()
                .message
                .contains("not defined")
        );
        let mut broken = claim("a");
        broken["ConditionExpression"] = json!("attribute_not_exists(#pk");
        assert_eq!(
            put_item(&mut state, &broken).unwrap_err().error_type,
            "ValidationException"
        );
    }

    #[test]
    fn queries_by_partition_and_stale_reads_when_not_consistent() {
        let mut state = state_with_table();
        put_item(&mut state, &claim("a")).unwrap();
        let mut other = claim("b");
        other["Item"]["step_key"] = json!({"S": "s2"});
        put_item(&mut state, &other).unwrap();
        let q = json!({"TableName": "approvals", "KeyConditionExpression": "execution_id = :e",
            "ExpressionAttributeValues": {":e": {"S": "e1"}}});
        assert_eq!(query(&state, &q).unwrap()["Count"], 2);
        state.stale_reads = true;
        let get = |consistent: bool| {
            json!({"TableName": "approvals", "ConsistentRead": consistent,
                "Key": {"execution_id": {"S": "e1"}, "step_key": {"S": "s2"}}})
        };
        assert_eq!(
            get_item(&state, &get(false)).unwrap(),
            json!({}),
            "served stale"
        );
        assert!(get_item(&state, &get(true)).unwrap()["Item"].is_object());
    }
}
