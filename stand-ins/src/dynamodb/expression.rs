//! Expressions: condition, key-condition, filter and update expressions, their names and values.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::Refusal;

mod eval;
mod parse;
mod paths;
mod reserved;
mod update;

pub(super) use eval::{compare, eval};
pub(super) use parse::{Cmp, Cond, Operand, Parser, Token, tokenize};
pub(super) use paths::{Segment, check_overlaps, removal_order, remove_at, resolve, set_at};
use reserved::RESERVED_WORDS;
pub(super) use update::{Action, value_of};

/// Expression names and values, with the ones an expression used ticked off.
pub(super) struct Bindings<'a> {
    names: Option<&'a Map<String, Value>>,
    values: Option<&'a Map<String, Value>>,
    used: HashSet<String>,
}

impl<'a> Bindings<'a> {
    pub(super) fn of(input: &'a Value) -> Self {
        Self {
            names: input["ExpressionAttributeNames"].as_object(),
            values: input["ExpressionAttributeValues"].as_object(),
            used: HashSet::new(),
        }
    }

    pub(super) fn name(&mut self, token: &str) -> Result<String, Refusal> {
        if !token.starts_with('#') {
            let upper = token.to_ascii_uppercase();
            if RESERVED_WORDS.binary_search(&upper.as_str()).is_ok() {
                return Err(Refusal::validation(&format!(
                    "Invalid expression: Attribute name is a reserved keyword; reserved keyword: {token}"
                )));
            }
            return Ok(token.to_owned());
        }
        self.used.insert(token.to_owned());
        self.names
            .and_then(|n| n.get(token))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                Refusal::validation(&format!(
                    "An expression attribute name used in the document path is not defined; attribute name: {token}"
                ))
            })
    }

    pub(super) fn value(&mut self, token: &str) -> Result<Value, Refusal> {
        self.used.insert(token.to_owned());
        self.values.and_then(|v| v.get(token)).cloned().ok_or_else(|| {
            Refusal::validation(&format!(
                "An expression attribute value used in expression is not defined; attribute value: {token}"
            ))
        })
    }

    /// DynamoDB refuses names and values that no expression used.
    pub(super) fn check_all_used(&self) -> Result<(), Refusal> {
        for (kind, map) in [("names", self.names), ("values", self.values)] {
            let unused: Vec<&String> = map
                .into_iter()
                .flat_map(|m| m.keys())
                .filter(|k| !self.used.contains(*k))
                .collect();
            if !unused.is_empty() {
                return Err(Refusal::validation(&format!(
                    "Value provided in ExpressionAttribute{} unused in expressions: keys: {{{}}}",
                    if kind == "names" { "Names" } else { "Values" },
                    unused
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// A condition (a condition, key-condition or filter expression), parsed whole.
pub(super) fn parse_condition(text: &str) -> Result<Cond, Refusal> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens: &tokens,
        at: 0,
    };
    let condition = parser.or_expr()?;
    parser.end()?;
    Ok(condition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::dynamodb::items::put_item;
    use crate::dynamodb::test_support::{claim, state_with_table};

    #[test]
    fn reserved_words_must_be_aliased() {
        assert!(
            RESERVED_WORDS.windows(2).all(|w| w[0] < w[1]),
            "sorted, for binary search"
        );
        let mut state = state_with_table();
        let mut bare = claim("a");
        bare["ConditionExpression"] = json!("attribute_not_exists(status)");
        bare.as_object_mut()
            .unwrap()
            .remove("ExpressionAttributeNames");
        assert!(
            put_item(&mut state, &bare)
                .unwrap_err()
                .message
                .contains("reserved keyword: status")
        );
    }
}
