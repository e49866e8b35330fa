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
    let (partition, sort) = key_schema(&definition["KeySchema"], types)
        .map_err(|e| format!("index {name}: {e}"))?;
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
        other => return Err(format!("index {name}: ProjectionType {other:?} is not ALL, KEYS_ONLY or INCLUDE")),
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
            Refusal::validation(&format!("The table does not have the specified index: {name}"))
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
                if forward { o == Ordering::Greater } else { o == Ordering::Less }
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
    text(a).unwrap_or_default().as_bytes().cmp(text(b).unwrap_or_default().as_bytes())
}
