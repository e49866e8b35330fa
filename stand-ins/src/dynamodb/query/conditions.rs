//! What a `Query` asks for: its key condition, filter and projection expressions, checked.

use std::cmp::Ordering;

use serde_json::Value;

use crate::dynamodb::expression::{
    Bindings, Cmp, Cond, Operand, Token, compare, parse_condition, tokenize,
};
use crate::dynamodb::index::Index;
use crate::dynamodb::{Refusal, Table};

/// The keys a `Query` reads by, the table's or an index's: (name, type) each.
pub(super) struct QueriedKeys<'a> {
    pub(super) partition: (&'a str, &'a str),
    pub(super) sort: Option<(&'a str, &'a str)>,
}

impl<'a> QueriedKeys<'a> {
    pub(super) fn of(table: &'a Table, index: Option<&'a Index>) -> Self {
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
pub(super) enum SortCondition {
    Compare(Cmp, Value),
    Between(Value, Value),
    BeginsWith(Value),
}

impl SortCondition {
    pub(super) fn admits(&self, value: Option<&Value>) -> bool {
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

pub(super) fn text(value: &Value) -> Option<&str> {
    value.get("S").and_then(Value::as_str)
}

/// A `KeyConditionExpression`, checked against the keys queried.
#[derive(Debug)]
pub(super) struct KeyCondition {
    pub(super) partition: Value,
    pub(super) sort: Option<SortCondition>,
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

pub(super) fn key_condition(
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
pub(super) fn filter_expression(
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
pub(super) fn projection_expression(
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::dynamodb::query::test_support::{ask, by_size, filled, on_table, refusal, sks};

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
}
