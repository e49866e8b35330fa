//! `Query`, on a table or on one of its global secondary indexes, as DynamoDB answers
//! it.
//!
//! The key condition names the partition key with `=` and at most one condition on
//! the sort key (`=`, `<`, `<=`, `>`, `>=`, `BETWEEN`, `begins_with`), each value of the
//! key's type. The partition's items come in sort key order (numbers as numbers,
//! strings by their UTF-8 bytes; on an index, ties broken by the table's keys),
//! reversed by `ScanIndexForward: false`. A page ends after `Limit` items evaluated or
//! before 1 MB of them; `LastEvaluatedKey` names the last item evaluated (the table's
//! keys, plus the index's on an index) whenever a page ended so, even if nothing
//! follows, and `ExclusiveStartKey` resumes after it. `FilterExpression` applies to
//! the items evaluated (so `ScannedCount` counts them and `Count` what is returned)
//! and may not name the keys queried; `ProjectionExpression` picks top-level
//! attributes from what the index projects.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::expression::{Bindings, compare, eval};
use super::index::{self, Index};
use super::items::read;
use super::{Item, Refusal, State, Table};

mod conditions;

use super::size::item_size;
use conditions::{QueriedKeys, filter_expression, key_condition, projection_expression, text};

/// DynamoDB reads at most 1 MB of items for one page.
const PAGE_BYTES: usize = 1024 * 1024;

/// `Limit`: at least 1 when given.
fn limit(input: &Value) -> Result<Option<usize>, Refusal> {
    match &input["Limit"] {
        Value::Null => Ok(None),
        limit => match limit.as_i64() {
            Some(n) if n >= 1 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            _ => Err(Refusal::validation(&format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy \
                 constraint: Member must have value greater than or equal to 1"
            ))),
        },
    }
}

/// The key attributes that name an item in what is queried: the table's keys, and
/// the index's too on an index.
fn key_names<'a>(table: &'a Table, index: Option<&'a Index>) -> Vec<&'a str> {
    let mut names: Vec<&str> = [
        Some(table.partition_key.as_str()),
        table.sort_key.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(index) = index {
        for (name, _) in std::iter::once(&index.partition).chain(index.sort.iter()) {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    names
}

/// `ExclusiveStartKey`: exactly the key attributes of what is queried, in the
/// partition queried.
fn exclusive_start_key(
    input: &Value,
    table: &Table,
    index: Option<&Index>,
    keys: &QueriedKeys,
    partition: &Value,
) -> Result<Option<Item>, Refusal> {
    let invalid = || Refusal::validation("The provided starting key is invalid");
    let start = match &input["ExclusiveStartKey"] {
        Value::Null => return Ok(None),
        Value::Object(start) => start,
        _ => return Err(invalid()),
    };
    let names = key_names(table, index);
    if start.len() != names.len() || !names.iter().all(|n| start.contains_key(*n)) {
        return Err(invalid());
    }
    let typed_as = |name: &str| -> &str {
        match index {
            Some(index) => std::iter::once(&index.partition)
                .chain(index.sort.iter())
                .find(|(n, _)| n == name)
                .map_or("S", |(_, t)| t.as_str()),
            None => "S",
        }
    };
    for name in &names {
        let fits = start[*name]
            .as_object()
            .is_some_and(|o| o.len() == 1 && o.contains_key(typed_as(name)));
        if !fits {
            return Err(invalid());
        }
    }
    if compare(&start[keys.partition.0], partition) != Some(Ordering::Equal) {
        return Err(Refusal::validation(
            "The provided starting key is outside query boundaries based on provided conditions",
        ));
    }
    Ok(Some(start.clone()))
}

/// The order of what is queried: the table's sort key, or the index's order.
fn order(table: &Table, index: Option<&Index>, a: &Item, b: &Item) -> Ordering {
    match index {
        Some(index) => index::index_order(table, index, a, b),
        None => match &table.sort_key {
            Some(sort) => match (a.get(sort), b.get(sort)) {
                (Some(x), Some(y)) => compare(x, y).unwrap_or(Ordering::Equal),
                (x, y) => x.is_some().cmp(&y.is_some()),
            },
            None => Ordering::Equal,
        },
    }
}

/// The items of the partition queried, in order: read from the table (consistently
/// if asked) or from the index (eventually consistent).
fn partition_items(
    state: &State,
    table: &Table,
    index: Option<&Index>,
    partition: &Value,
    consistent: bool,
) -> Vec<Item> {
    match index {
        None => {
            let wanted = text(partition);
            table
                .items
                .keys()
                .filter(|(pk, _)| Some(pk.as_str()) == wanted)
                .filter_map(|key| read(table, key, consistent, state.stale_reads))
                .collect()
        }
        Some(index) => {
            let mut items: Vec<Item> = table
                .items
                .keys()
                .filter_map(|key| read(table, key, false, state.stale_reads))
                .filter(|item| {
                    index.holds(item)
                        && item
                            .get(&index.partition.0)
                            .is_some_and(|v| compare(v, partition) == Some(Ordering::Equal))
                })
                .collect();
            items.sort_by(|a, b| index::index_order(table, index, a, b));
            items
        }
    }
}

pub(super) fn query(state: &State, input: &Value) -> Result<Value, Refusal> {
    let table = super::tables::table(state, input)?;
    let index = match &input["IndexName"] {
        Value::Null => None,
        name => {
            let name = name.as_str().unwrap_or_default();
            let index = table.indexes.iter().find(|i| i.name == name);
            Some(index.ok_or_else(|| {
                Refusal::validation(&format!(
                    "The table does not have the specified index: {name}"
                ))
            })?)
        }
    };
    let consistent = input["ConsistentRead"] == true;
    if index.is_some() && consistent {
        return Err(Refusal::validation(
            "Consistent reads are not supported on global secondary indexes",
        ));
    }
    let limit = limit(input)?;
    let keys = QueriedKeys::of(table, index);
    let text = input["KeyConditionExpression"]
        .as_str()
        .ok_or_else(|| Refusal::validation("KeyConditionExpression is required"))?;
    let mut bindings = Bindings::of(input);
    let condition = key_condition(text, &keys, &mut bindings)?;
    let filter = filter_expression(input, &keys, &mut bindings)?;
    let projection = projection_expression(input, &mut bindings)?;
    bindings.check_all_used()?;
    let start = exclusive_start_key(input, table, index, &keys, &condition.partition)?;

    let mut entries = partition_items(state, table, index, &condition.partition, consistent);
    if let (Some(sort), Some((sort_key, _))) = (&condition.sort, keys.sort) {
        entries.retain(|item| sort.admits(item.get(sort_key)));
    }
    let forward = input["ScanIndexForward"] != false;
    if !forward {
        entries.reverse();
    }
    let from = start.map_or(0, |start| {
        entries
            .iter()
            .position(|item| {
                let o = order(table, index, item, &start);
                if forward { o.is_gt() } else { o.is_lt() }
            })
            .unwrap_or(entries.len())
    });

    let (mut items, mut scanned, mut bytes, mut last) = (vec![], 0usize, 0usize, None);
    for item in &entries[from..] {
        if limit.is_some_and(|l| scanned >= l) {
            break;
        }
        let size = item_size(item);
        if scanned > 0 && bytes + size > PAGE_BYTES {
            break;
        }
        scanned += 1;
        bytes += size;
        last = Some(item);
        let kept = match &filter {
            Some(filter) => eval(filter, item, &mut bindings)?,
            None => true,
        };
        if kept {
            items.push(Value::Object(projected(
                table,
                index,
                projection.as_deref(),
                item,
            )));
        }
    }
    let more = from + scanned < entries.len();
    let mut out = json!({"Items": items, "Count": items.len(), "ScannedCount": scanned});
    if let Some(last) = last
        && (more || limit == Some(scanned))
    {
        let key: Map<String, Value> = match index {
            Some(index) => index.key_of(table, last),
            None => key_names(table, None)
                .into_iter()
                .filter_map(|name| Some((name.to_owned(), last.get(name)?.clone())))
                .collect(),
        };
        out["LastEvaluatedKey"] = Value::Object(key);
    }
    Ok(out)
}

/// What a `Query` returns of an item: what the index projects (all of it, from the
/// table), narrowed to the `ProjectionExpression`'s attributes.
fn projected(
    table: &Table,
    index: Option<&Index>,
    projection: Option<&[String]>,
    item: &Item,
) -> Item {
    let mut out = match index {
        Some(index) => index.project(table, item),
        None => item.clone(),
    };
    if let Some(names) = projection {
        out.retain(|name, _| names.contains(name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::DynamoDbStandIn;
    use crate::dynamodb::query::test_support::{
        ask, by_size, filled, on_table, put, refusal, sks, state,
    };
    use crate::dynamodb::size::number_size;
    use crate::test_requests::signed;

    #[test]
    fn a_table_query_pages_with_limit_and_exclusive_start_key_in_either_direction() {
        let state = filled();
        let all = on_table("pk = :p", json!({":p": {"S": "p"}}));
        assert_eq!(
            sks(&ask(&state, all.clone()).unwrap()),
            ["a", "b", "c", "d", "e"]
        );
        for (forward, expected) in [
            (true, ["a", "b", "c", "d", "e"]),
            (false, ["e", "d", "c", "b", "a"]),
        ] {
            let mut input = all.clone();
            input["ScanIndexForward"] = json!(forward);
            input["Limit"] = json!(2);
            let mut seen = vec![];
            let mut pages = 0;
            loop {
                let page = ask(&state, input.clone()).unwrap();
                pages += 1;
                assert_eq!(page["ScannedCount"], page["Count"]);
                seen.extend(sks(&page));
                match page.get("LastEvaluatedKey") {
                    Some(last) => {
                        assert_eq!(last.as_object().unwrap().len(), 2, "the table's keys");
                        input["ExclusiveStartKey"] = last.clone();
                    }
                    None => break,
                }
            }
            assert_eq!(seen, expected);
            assert_eq!(pages, 3);
        }
        let mut exact = all.clone();
        exact["Limit"] = json!(5);
        let page = ask(&state, exact).unwrap();
        assert_eq!(
            page["LastEvaluatedKey"],
            json!({"pk": {"S": "p"}, "sk": {"S": "e"}}),
            "a page that reached its Limit says where it stopped"
        );
        let mut more = all.clone();
        more["Limit"] = json!(6);
        assert!(ask(&state, more).unwrap().get("LastEvaluatedKey").is_none());
        let mut zero = all;
        zero["Limit"] = json!(0);
        assert!(
            refusal(&state, zero).contains("Member must have value greater than or equal to 1")
        );
    }

    #[test]
    fn an_index_orders_numbers_as_numbers_and_projects_only_what_it_holds() {
        let state = filled();
        let page = ask(&state, by_size(json!({}))).unwrap();
        assert_eq!(
            sks(&page),
            ["d", "a", "b", "c"],
            "2 < 9 < 10 < 100; e has no size"
        );
        assert_eq!(
            page["Items"][0],
            json!({"pk": {"S": "p"}, "sk": {"S": "d"}, "group": {"S": "g"}, "size": {"N": "2"}}),
            "KEYS_ONLY: the table's and the index's keys"
        );
        let descending = ask(&state, by_size(json!({"ScanIndexForward": false}))).unwrap();
        assert_eq!(sks(&descending), ["c", "b", "a", "d"]);
        let mut range =
            by_size(json!({"KeyConditionExpression": "#g = :g AND #s BETWEEN :lo AND :hi"}));
        range["ExpressionAttributeNames"]["#s"] = json!("size");
        range["ExpressionAttributeValues"][":lo"] = json!({"N": "9"});
        range["ExpressionAttributeValues"][":hi"] = json!({"N": "10.0"});
        assert_eq!(sks(&ask(&state, range).unwrap()), ["a", "b"]);

        let by_name = json!({"IndexName": "ByName", "KeyConditionExpression": "#g = :g",
            "ExpressionAttributeNames": {"#g": "group"},
            "ExpressionAttributeValues": {":g": {"S": "g"}}});
        let page = ask(&state, by_name.clone()).unwrap();
        assert_eq!(sks(&page), ["b", "d", "c", "a", "e"], "by name");
        let first = page["Items"][0].as_object().unwrap();
        let mut attributes: Vec<&str> = first.keys().map(String::as_str).collect();
        attributes.sort_unstable();
        assert_eq!(
            attributes,
            ["group", "name", "note", "pk", "sk"],
            "INCLUDE note, not extra"
        );
        let mut picked = by_name;
        picked["ProjectionExpression"] = json!("sk, #n");
        picked["ExpressionAttributeNames"]["#n"] = json!("note");
        let page = ask(&state, picked).unwrap();
        assert_eq!(
            page["Items"][0],
            json!({"sk": {"S": "b"}, "note": {"S": "note b"}})
        );
    }

    #[test]
    fn an_index_page_resumes_after_its_last_evaluated_key() {
        let state = filled();
        let first = ask(
            &state,
            by_size(json!({"Limit": 3, "ScanIndexForward": false})),
        )
        .unwrap();
        assert_eq!(sks(&first), ["c", "b", "a"]);
        let last = &first["LastEvaluatedKey"];
        assert_eq!(
            *last,
            json!({"pk": {"S": "p"}, "sk": {"S": "a"}, "group": {"S": "g"}, "size": {"N": "9"}})
        );
        let next =
            by_size(json!({"Limit": 3, "ScanIndexForward": false, "ExclusiveStartKey": last}));
        let second = ask(&state, next).unwrap();
        assert_eq!(sks(&second), ["d"]);
        assert!(second.get("LastEvaluatedKey").is_none());

        let table_keys_only =
            by_size(json!({"ExclusiveStartKey": {"pk": {"S": "p"}, "sk": {"S": "a"}}}));
        assert_eq!(
            refusal(&state, table_keys_only),
            "The provided starting key is invalid"
        );
        let mistyped = by_size(json!({"ExclusiveStartKey":
            {"pk": {"S": "p"}, "sk": {"S": "a"}, "group": {"S": "g"}, "size": {"S": "9"}}}));
        assert_eq!(
            refusal(&state, mistyped),
            "The provided starting key is invalid"
        );
        let elsewhere = by_size(json!({"ExclusiveStartKey":
            {"pk": {"S": "q"}, "sk": {"S": "a"}, "group": {"S": "h"}, "size": {"N": "1"}}}));
        assert!(refusal(&state, elsewhere).contains("outside query boundaries"));
    }

    #[test]
    fn an_index_is_read_eventually_consistent_only_and_by_name() {
        let mut state = filled();
        let consistent = by_size(json!({"ConsistentRead": true}));
        assert_eq!(
            refusal(&state, consistent),
            "Consistent reads are not supported on global secondary indexes"
        );
        assert_eq!(
            refusal(&state, by_size(json!({"IndexName": "BySpeed"}))),
            "The table does not have the specified index: BySpeed"
        );
        put(
            &mut state,
            json!({"pk": {"S": "p"}, "sk": {"S": "f"}, "group": {"S": "g"}, "size": {"N": "1"}}),
        );
        state.stale_reads = true;
        assert!(
            !sks(&ask(&state, by_size(json!({}))).unwrap()).contains(&"f".to_owned()),
            "not in the index yet"
        );
    }

    #[test]
    fn a_page_stops_before_it_would_pass_one_megabyte() {
        let mut state = state();
        let big = "x".repeat(300 * 1024);
        for sk in ["a", "b", "c", "d", "e"] {
            put(
                &mut state,
                json!({"pk": {"S": "p"}, "sk": {"S": sk}, "blob": {"S": big}}),
            );
        }
        let all = on_table("pk = :p", json!({":p": {"S": "p"}}));
        let first = ask(&state, all.clone()).unwrap();
        assert_eq!(sks(&first), ["a", "b", "c"]);
        let mut next = all;
        next["ExclusiveStartKey"] = first["LastEvaluatedKey"].clone();
        let second = ask(&state, next).unwrap();
        assert_eq!(sks(&second), ["d", "e"]);
        assert!(second.get("LastEvaluatedKey").is_none());
        assert_eq!(number_size("-0012.3400e5"), 3, "1234: two bytes and one");
    }

    #[tokio::test]
    async fn index_queries_are_logged_and_take_injected_faults() {
        let dynamodb = DynamoDbStandIn::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        dynamodb.create_table("approvals", "execution_id", Some("step_key"));
        dynamodb.add_global_secondary_index(
            "approvals",
            "WaitingSteps",
            ("waits", "S"),
            Some(("waiting_since", "N")),
        );
        dynamodb.put_raw(
            "approvals",
            json!({"execution_id": {"S": "e1"}, "step_key": {"S": "s"},
                "waits": {"S": "waiting"}, "waiting_since": {"N": "5"}}),
        );
        let body = json!({"TableName": "approvals", "IndexName": "WaitingSteps",
            "KeyConditionExpression": "waits = :w",
            "ExpressionAttributeValues": {":w": {"S": "waiting"}}})
        .to_string();
        let send = || {
            let req = signed(
                "AKIDEXAMPLE",
                "dynamodb",
                "application/x-amz-json-1.0",
                Some("DynamoDB_20120810.Query"),
                &body,
            );
            let out = dynamodb.serve(req);
            let reply: Value = serde_json::from_slice(&out.body).unwrap();
            (out.status, reply)
        };
        dynamodb.answer_next_normally("Query");
        dynamodb.fail_next("Query", 400, "ProvisionedThroughputExceededException");
        let (status, reply) = send();
        assert_eq!((status, reply["Count"].as_u64()), (200, Some(1)));
        let (status, reply) = send();
        assert_eq!(status, 400);
        assert!(
            reply["__type"]
                .as_str()
                .unwrap()
                .ends_with("#ProvisionedThroughputExceededException")
        );
        assert_eq!(send().0, 200);
        assert_eq!(dynamodb.count_calls("Query"), 3);
        assert!(
            dynamodb
                .inputs("Query")
                .iter()
                .all(|i| i["IndexName"] == "WaitingSteps")
        );
        let wrong = json!({"TableName": "approvals", "Item": {"execution_id": {"S": "e2"},
            "step_key": {"S": "s"}, "waits": {"S": "waiting"}, "waiting_since": {"S": "soon"}}});
        let req = signed(
            "AKIDEXAMPLE",
            "dynamodb",
            "application/x-amz-json-1.0",
            Some("DynamoDB_20120810.PutItem"),
            &wrong.to_string(),
        );
        let reply: Value = serde_json::from_slice(&dynamodb.serve(req).body).unwrap();
        assert_eq!(
            reply["message"],
            "One or more parameter values were invalid: Type mismatch for Index Key waiting_since \
             Expected: N Actual: S IndexName: WaitingSteps"
        );
        assert_eq!(dynamodb.items("approvals").len(), 1, "nothing written");
    }
}

#[cfg(test)]
mod test_support;
