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

use super::index::{self, Index};
use super::{
    Bindings, Cmp, Cond, Item, Operand, Refusal, State, Table, Token, compare, eval,
    parse_condition, read, tokenize,
};

/// DynamoDB reads at most 1 MB of items for one page.
const PAGE_BYTES: usize = 1024 * 1024;

/// The keys a `Query` reads by, the table's or an index's: (name, type) each.
struct QueriedKeys<'a> {
    partition: (&'a str, &'a str),
    sort: Option<(&'a str, &'a str)>,
}

impl<'a> QueriedKeys<'a> {
    fn of(table: &'a Table, index: Option<&'a Index>) -> Self {
        match index {
            Some(index) => Self {
                partition: (&index.partition.0, &index.partition.1),
                sort: index.sort.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
            },
            None => Self {
                partition: (&table.partition_key, "S"),
                sort: table.sort_key.as_deref().map(|n| (n, "S")),
            },
        }
    }

    fn is_key(&self, name: &str) -> bool {
        self.partition.0 == name || self.sort.is_some_and(|(n, _)| n == name)
    }
}

/// What a key condition asks for on the sort key.
#[derive(Debug)]
enum SortCondition {
    Compare(Cmp, Value),
    Between(Value, Value),
    BeginsWith(Value),
}

impl SortCondition {
    fn admits(&self, value: Option<&Value>) -> bool {
        let Some(value) = value else {
            return false;
        };
        match self {
            Self::Compare(cmp, bound) => compare(value, bound).is_some_and(|o| match cmp {
                Cmp::Eq => o.is_eq(),
                Cmp::Lt => o.is_lt(),
                Cmp::Le => o.is_le(),
                Cmp::Gt => o.is_gt(),
                Cmp::Ge => o.is_ge(),
                Cmp::Ne => false,
            }),
            Self::Between(low, high) => {
                compare(value, low).is_some_and(Ordering::is_ge)
                    && compare(value, high).is_some_and(Ordering::is_le)
            }
            Self::BeginsWith(prefix) => match (text(value), text(prefix)) {
                (Some(value), Some(prefix)) => value.starts_with(prefix),
                _ => false,
            },
        }
    }
}

fn text(value: &Value) -> Option<&str> {
    value.get("S").and_then(Value::as_str)
}

/// A `KeyConditionExpression`, checked against the keys queried.
#[derive(Debug)]
struct KeyCondition {
    partition: Value,
    sort: Option<SortCondition>,
}

/// One `AND`ed part of a key condition, its attribute not yet resolved.
enum Clause<'c> {
    Compare(Cmp, &'c str),
    Between(&'c str, &'c str),
    BeginsWith(&'c str),
}

/// The parts of a key condition: only `AND` joins them.
fn clauses<'c>(cond: &'c Cond, out: &mut Vec<(&'c str, Clause<'c>)>) -> Result<(), Refusal> {
    let invalid = |operator: &str| {
        Refusal::validation(&format!(
            "Invalid operator used in KeyConditionExpression: {operator}"
        ))
    };
    match cond {
        Cond::And(a, b) => {
            clauses(a, out)?;
            clauses(b, out)
        }
        Cond::Or(..) => Err(invalid("OR")),
        Cond::Not(_) => Err(invalid("NOT")),
        Cond::Exists(_) => Err(invalid("attribute_exists")),
        Cond::NotExists(_) => Err(invalid("attribute_not_exists")),
        Cond::Compare(_, Cmp::Ne, _) => Err(invalid("<>")),
        Cond::Compare(Operand::Path(path), cmp, Operand::Value(value)) => {
            out.push((path, Clause::Compare(*cmp, value)));
            Ok(())
        }
        Cond::Between(Operand::Path(path), Operand::Value(low), Operand::Value(high)) => {
            out.push((path, Clause::Between(low, high)));
            Ok(())
        }
        Cond::BeginsWith(Operand::Path(path), Operand::Value(prefix)) => {
            out.push((path, Clause::BeginsWith(prefix)));
            Ok(())
        }
        _ => Err(Refusal::validation(
            "Invalid KeyConditionExpression: a key condition compares a key attribute with \
             an expression attribute value",
        )),
    }
}

/// The value `token` stands for, if it has the key's type.
fn typed(bindings: &mut Bindings, token: &str, key_type: &str) -> Result<Value, Refusal> {
    let value = bindings.value(token)?;
    let matches = value
        .as_object()
        .is_some_and(|o| o.len() == 1 && o.contains_key(key_type));
    if !matches {
        return Err(Refusal::validation(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ));
    }
    Ok(value)
}

fn key_condition(
    text: &str,
    keys: &QueriedKeys,
    bindings: &mut Bindings,
) -> Result<KeyCondition, Refusal> {
    let cond = parse_condition(text)?;
    let mut parts = vec![];
    clauses(&cond, &mut parts)?;
    let mut resolved = vec![];
    for (path, clause) in parts {
        resolved.push((bindings.name(path)?, clause));
    }
    let (partition_key, partition_type) = keys.partition;
    if !resolved.iter().any(|(name, _)| name == partition_key) {
        return Err(Refusal::validation(&format!(
            "Query condition missed key schema element: {partition_key}"
        )));
    }
    let one_per_key =
        || Refusal::validation("KeyConditionExpressions must only contain one condition per key");
    let unsupported = || Refusal::validation("Query key condition not supported");
    let (mut partition, mut sort) = (None, None);
    for (name, clause) in resolved {
        if name == partition_key {
            let Clause::Compare(Cmp::Eq, value) = clause else {
                return Err(unsupported());
            };
            let value = typed(bindings, value, partition_type)?;
            if partition.replace(value).is_some() {
                return Err(one_per_key());
            }
            continue;
        }
        let Some((_, sort_type)) = keys.sort.filter(|(sort_key, _)| *sort_key == name) else {
            return Err(unsupported());
        };
        let condition = match clause {
            Clause::Compare(cmp, value) => {
                SortCondition::Compare(cmp, typed(bindings, value, sort_type)?)
            }
            Clause::Between(low, high) => {
                let (low, high) = (
                    typed(bindings, low, sort_type)?,
                    typed(bindings, high, sort_type)?,
                );
                if compare(&low, &high).is_some_and(Ordering::is_gt) {
                    return Err(Refusal::validation(&format!(
                        "Invalid KeyConditionExpression: The BETWEEN operator requires upper \
                         bound to be greater than or equal to lower bound; lower bound operand: \
                         AttributeValue: {low}, upper bound operand: AttributeValue: {high}"
                    )));
                }
                SortCondition::Between(low, high)
            }
            Clause::BeginsWith(prefix) => {
                if sort_type != "S" && sort_type != "B" {
                    return Err(Refusal::validation(&format!(
                        "Invalid KeyConditionExpression: Incorrect operand type for operator or \
                         function; operator or function: begins_with, operand type: {sort_type}"
                    )));
                }
                SortCondition::BeginsWith(typed(bindings, prefix, sort_type)?)
            }
        };
        if sort.replace(condition).is_some() {
            return Err(one_per_key());
        }
    }
    Ok(KeyCondition {
        partition: partition.expect("checked above"),
        sort,
    })
}

/// Every attribute path and value token a condition names.
fn operands<'c>(cond: &'c Cond, out: &mut Vec<&'c Operand>, paths: &mut Vec<&'c str>) {
    match cond {
        Cond::And(a, b) | Cond::Or(a, b) => {
            operands(a, out, paths);
            operands(b, out, paths);
        }
        Cond::Not(a) => operands(a, out, paths),
        Cond::Exists(p) | Cond::NotExists(p) => paths.push(p),
        Cond::Compare(a, _, b) | Cond::BeginsWith(a, b) => out.extend([a, b]),
        Cond::Between(a, low, high) => out.extend([a, low, high]),
    }
}

/// The `FilterExpression`, if any: it may not name the keys queried. Its names and
/// values are resolved now, so that they count as used even if no item is evaluated.
fn filter_expression(
    input: &Value,
    keys: &QueriedKeys,
    bindings: &mut Bindings,
) -> Result<Option<Cond>, Refusal> {
    let Some(text) = input["FilterExpression"].as_str() else {
        return Ok(None);
    };
    let filter = parse_condition(text)?;
    let (mut found, mut paths) = (vec![], vec![]);
    operands(&filter, &mut found, &mut paths);
    for operand in found {
        match operand {
            Operand::Path(p) => paths.push(p),
            Operand::Value(v) => {
                bindings.value(v)?;
            }
        }
    }
    for path in paths {
        let name = bindings.name(path)?;
        if keys.is_key(&name) {
            return Err(Refusal::validation(&format!(
                "Filter Expression can only contain non-primary key attributes: Primary key \
                 attribute: {name}"
            )));
        }
    }
    Ok(Some(filter))
}

/// The top-level attributes a `ProjectionExpression` names, if there is one.
fn projection_expression(
    input: &Value,
    bindings: &mut Bindings,
) -> Result<Option<Vec<String>>, Refusal> {
    let Some(text) = input["ProjectionExpression"].as_str() else {
        return Ok(None);
    };
    let invalid = || {
        Refusal::validation(&format!(
            "Invalid ProjectionExpression: Syntax error; {text}"
        ))
    };
    let mut names = vec![];
    let mut want_name = true;
    for token in tokenize(text).map_err(|_| invalid())? {
        match (token, want_name) {
            (Token::Name(n) | Token::Word(n), true) => {
                names.push(bindings.name(&n)?);
                want_name = false;
            }
            (Token::Comma, false) => want_name = true,
            _ => return Err(invalid()),
        }
    }
    if want_name {
        return Err(invalid());
    }
    Ok(Some(names))
}

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
    let table = super::table(state, input)?;
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

/// An item's size as DynamoDB counts it: each attribute's name and value, a number
/// by its significant digits.
fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, v)| name.len() + value_size(v))
        .sum()
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        "N" => number_size(inner.as_str().unwrap_or_default()),
        "B" => inner.as_str().map_or(0, |b| b.len() * 3 / 4),
        "BOOL" | "NULL" => 1,
        "SS" => strings(inner).iter().map(String::len).sum(),
        "NS" => strings(inner).iter().map(|n| number_size(n)).sum(),
        "BS" => strings(inner).iter().map(|b| b.len() * 3 / 4).sum(),
        "L" => {
            3 + inner
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| 1 + value_size(v))
                .sum::<usize>()
        }
        "M" => {
            3 + inner
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, v)| 1 + name.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// One byte per two significant digits, plus one.
fn number_size(text: &str) -> usize {
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::super::{DynamoDbStandIn, State, put_item, query as run_query};
    use super::*;
    use crate::test_requests::signed;

    /// A table `t` (keys `pk`, `sk`) with an index `BySize` on `group` and the number
    /// `size`, projecting `KEYS_ONLY`, and one `ByName` on `group` and `name`,
    /// projecting `INCLUDE` of `note`.
    fn state() -> State {
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

    fn put(state: &mut State, item: Value) {
        put_item(state, &json!({"TableName": "t", "Item": item})).unwrap();
    }

    /// Items `p`/`a`…`e`, each with `note` and `extra`; sizes 9, 10, 100, 2 and none.
    fn filled() -> State {
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

    fn ask(state: &State, input: Value) -> Result<Value, Refusal> {
        let mut input = input;
        input["TableName"] = json!("t");
        run_query(state, &input)
    }

    fn sks(page: &Value) -> Vec<String> {
        page["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["sk"]["S"].as_str().unwrap().to_owned())
            .collect()
    }

    fn refusal(state: &State, input: Value) -> String {
        let refused = ask(state, input).unwrap_err();
        assert_eq!(refused.error_type, "ValidationException");
        refused.message
    }

    fn on_table(condition: &str, values: Value) -> Value {
        json!({"KeyConditionExpression": condition, "ExpressionAttributeValues": values})
    }

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
    fn sort_key_conditions_select_a_range_of_the_partition() {
        let state = filled();
        let cases = [
            ("pk = :p AND sk = :x", json!({":x": {"S": "c"}}), vec!["c"]),
            (
                "pk = :p AND sk < :x",
                json!({":x": {"S": "c"}}),
                vec!["a", "b"],
            ),
            (
                "pk = :p AND sk <= :x",
                json!({":x": {"S": "c"}}),
                vec!["a", "b", "c"],
            ),
            (
                "pk = :p AND sk > :x",
                json!({":x": {"S": "c"}}),
                vec!["d", "e"],
            ),
            (
                "sk >= :x AND pk = :p",
                json!({":x": {"S": "c"}}),
                vec!["c", "d", "e"],
            ),
            (
                "pk = :p AND sk BETWEEN :x AND :y",
                json!({":x": {"S": "b"}, ":y": {"S": "d"}}),
                vec!["b", "c", "d"],
            ),
            (
                "(pk = :p) AND begins_with(sk, :x)",
                json!({":x": {"S": "d"}}),
                vec!["d"],
            ),
        ];
        for (condition, mut values, expected) in cases {
            values[":p"] = json!({"S": "p"});
            let page = ask(&state, on_table(condition, values)).unwrap();
            assert_eq!(sks(&page), expected, "{condition}");
        }
    }

    #[test]
    fn key_conditions_dynamodb_refuses_are_refused() {
        let state = filled();
        let p = json!({"S": "p"});
        let cases = [
            ("sk = :p", "Query condition missed key schema element: pk"),
            (
                "pk = :p OR sk = :p",
                "Invalid operator used in KeyConditionExpression: OR",
            ),
            (
                "pk = :p AND pk = :p",
                "KeyConditionExpressions must only contain one condition per key",
            ),
            (
                "pk = :p AND sk = :p AND sk > :p",
                "KeyConditionExpressions must only contain one condition per key",
            ),
            ("pk = :p AND note = :p", "Query key condition not supported"),
            ("pk > :p", "Query key condition not supported"),
            (
                "pk = :p AND sk <> :p",
                "Invalid operator used in KeyConditionExpression: <>",
            ),
        ];
        for (condition, expected) in cases {
            let message = refusal(&state, on_table(condition, json!({":p": p})));
            assert_eq!(message, expected, "{condition}");
        }
        let wrong_type = on_table("pk = :n", json!({":n": {"N": "1"}}));
        assert!(
            refusal(&state, wrong_type)
                .contains("Condition parameter type does not match schema type")
        );
        let reversed = on_table(
            "pk = :p AND sk BETWEEN :y AND :x",
            json!({":p": p, ":x": {"S": "a"}, ":y": {"S": "b"}}),
        );
        assert!(
            refusal(&state, reversed)
                .contains("requires upper bound to be greater than or equal to lower bound")
        );
        let mut on_number = on_table(
            "#g = :g AND begins_with(#s, :n)",
            json!({":g": {"S": "g"}, ":n": {"N": "1"}}),
        );
        on_number["IndexName"] = json!("BySize");
        on_number["ExpressionAttributeNames"] = json!({"#g": "group", "#s": "size"});
        assert!(refusal(&state, on_number).contains("begins_with, operand type: N"));
        let unused = on_table("pk = :p", json!({":p": p, ":spare": p}));
        assert!(refusal(&state, unused).contains("unused in expressions"));
    }

    fn by_size(extra: Value) -> Value {
        let mut input = json!({"IndexName": "BySize", "KeyConditionExpression": "#g = :g",
            "ExpressionAttributeNames": {"#g": "group"},
            "ExpressionAttributeValues": {":g": {"S": "g"}}});
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        input
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
    fn a_filter_applies_after_the_limit_and_may_not_name_the_keys_queried() {
        let state = filled();
        let filtered = by_size(json!({"IndexName": "ByName", "Limit": 3,
            "FilterExpression": "note <> :skip",
            "ExpressionAttributeValues": {":g": {"S": "g"}, ":skip": {"S": "note d"}}}));
        let page = ask(&state, filtered).unwrap();
        assert_eq!(
            sks(&page),
            ["b", "c"],
            "alpha, bravo (filtered out), charlie"
        );
        assert_eq!(
            (page["Count"].as_u64(), page["ScannedCount"].as_u64()),
            (Some(2), Some(3))
        );
        assert_eq!(page["LastEvaluatedKey"]["name"], json!({"S": "charlie"}));

        let nothing_matches = on_table("pk = :p", json!({":p": {"S": "nobody"}, ":x": {"S": "x"}}));
        let mut nothing_matches = nothing_matches;
        nothing_matches["FilterExpression"] = json!("attribute_exists(#x) AND note = :x");
        nothing_matches["ExpressionAttributeNames"] = json!({"#x": "extra"});
        let page = ask(&state, nothing_matches).unwrap();
        assert_eq!(page["Count"], 0, "its names and values count as used");

        let on_key = by_size(json!({"FilterExpression": "#g = :g"}));
        assert_eq!(
            refusal(&state, on_key),
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: group"
        );
        let mut on_table_key = on_table("pk = :p", json!({":p": {"S": "p"}}));
        on_table_key["FilterExpression"] = json!("begins_with(sk, :p)");
        assert!(refusal(&state, on_table_key).ends_with("Primary key attribute: sk"));
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
