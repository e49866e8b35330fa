//! Update expressions: `SET` and `REMOVE` actions parsed, and the values they set worked out.

use serde_json::{Value, json};

use super::Bindings;
use super::eval::operand_value;
use super::parse::{Operand, Parser, Token};
use super::paths::Step;
use crate::dynamodb::number::number;
use crate::dynamodb::{Item, Refusal};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ValueExpr {
    Operand(Operand),
    Plus(Box<ValueExpr>, Box<ValueExpr>),
    Minus(Box<ValueExpr>, Box<ValueExpr>),
    IfNotExists(String, Box<ValueExpr>),
    ListAppend(Box<ValueExpr>, Box<ValueExpr>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Set(Vec<Step>, ValueExpr),
    Remove(Vec<Step>),
}

impl Action {
    pub(crate) fn path(&self) -> &[Step] {
        match self {
            Self::Set(path, _) | Self::Remove(path) => path,
        }
    }
}

impl Parser<'_> {
    pub(crate) fn update(&mut self) -> Result<Vec<Action>, Refusal> {
        let mut actions = vec![];
        let mut sections: Vec<String> = vec![];
        while self.peek().is_some() {
            for section in ["SET", "REMOVE"] {
                if self.keyword(section) {
                    if sections.iter().any(|s| s == section) {
                        return Err(Refusal::validation(&format!(
                            "Invalid UpdateExpression: The \"{section}\" section can only be used once in an update expression;"
                        )));
                    }
                    sections.push(section.into());
                }
            }
            if self.keyword("SET") {
                self.at += 1;
                loop {
                    let path = self.doc_path()?;
                    self.expect(&Token::Op("=".into()))?;
                    actions.push(Action::Set(path, self.value_expr()?));
                    if self.peek() != Some(&Token::Comma) {
                        break;
                    }
                    self.at += 1;
                }
            } else if self.keyword("REMOVE") {
                self.at += 1;
                loop {
                    actions.push(Action::Remove(self.doc_path()?));
                    if self.peek() != Some(&Token::Comma) {
                        break;
                    }
                    self.at += 1;
                }
            } else {
                return Err(Refusal::validation(&format!(
                    "Invalid UpdateExpression: unexpected {:?}",
                    self.peek()
                )));
            }
        }
        if actions.is_empty() {
            return Err(Refusal::validation("Invalid UpdateExpression: empty"));
        }
        Ok(actions)
    }

    fn value_expr(&mut self) -> Result<ValueExpr, Refusal> {
        let first = self.value_term()?;
        match self.peek() {
            Some(Token::Op(op)) if op == "+" || op == "-" => {
                let plus = op == "+";
                self.at += 1;
                let second = self.value_term()?;
                Ok(if plus {
                    ValueExpr::Plus(Box::new(first), Box::new(second))
                } else {
                    ValueExpr::Minus(Box::new(first), Box::new(second))
                })
            }
            _ => Ok(first),
        }
    }

    fn value_term(&mut self) -> Result<ValueExpr, Refusal> {
        if self.keyword("if_not_exists") {
            self.at += 1;
            self.expect(&Token::Open)?;
            let path = self.path()?;
            self.expect(&Token::Comma)?;
            let fallback = self.value_expr()?;
            self.expect(&Token::Close)?;
            return Ok(ValueExpr::IfNotExists(path, Box::new(fallback)));
        }
        if self.keyword("list_append") {
            self.at += 1;
            self.expect(&Token::Open)?;
            let a = self.value_expr()?;
            self.expect(&Token::Comma)?;
            let b = self.value_expr()?;
            self.expect(&Token::Close)?;
            return Ok(ValueExpr::ListAppend(Box::new(a), Box::new(b)));
        }
        Ok(ValueExpr::Operand(self.operand()?))
    }
}

pub(crate) fn value_of(
    expr: &ValueExpr,
    item: &Item,
    bindings: &mut Bindings,
) -> Result<Value, Refusal> {
    match expr {
        ValueExpr::Operand(o) => operand_value(o, item, bindings)?.ok_or_else(|| {
            Refusal::validation(
                "The provided expression refers to an attribute that does not exist in the item",
            )
        }),
        ValueExpr::IfNotExists(path, fallback) => match item.get(&bindings.name(path)?) {
            Some(v) => {
                // Not needed, but its names and values must be defined all the same.
                bind(fallback, bindings)?;
                Ok(v.clone())
            }
            None => value_of(fallback, item, bindings),
        },
        ValueExpr::ListAppend(a, b) => {
            let (a, b) = (value_of(a, item, bindings)?, value_of(b, item, bindings)?);
            match (
                a.get("L").and_then(Value::as_array),
                b.get("L").and_then(Value::as_array),
            ) {
                (Some(x), Some(y)) => {
                    Ok(json!({"L": x.iter().chain(y).cloned().collect::<Vec<_>>()}))
                }
                _ => Err(Refusal::validation(
                    "Incorrect operand type for operator or function; operator or function: list_append",
                )),
            }
        }
        ValueExpr::Plus(a, b) | ValueExpr::Minus(a, b) => {
            let (a, b) = (value_of(a, item, bindings)?, value_of(b, item, bindings)?);
            let (Some(x), Some(y)) = (number(&a), number(&b)) else {
                return Err(Refusal::validation(
                    "An operand in the update expression has an incorrect data type",
                ));
            };
            let n = if matches!(expr, ValueExpr::Plus(..)) {
                x.add(&y)?
            } else {
                x.add(&y.negated())?
            };
            Ok(json!({"N": n.text()}))
        }
    }
}

/// Resolves every name and value `expr` uses, refused if one is not defined.
fn bind(expr: &ValueExpr, bindings: &mut Bindings) -> Result<(), Refusal> {
    match expr {
        ValueExpr::Operand(Operand::Value(v)) => bindings.value(v).map(drop),
        ValueExpr::Operand(Operand::Path(p)) => bindings.name(p).map(drop),
        ValueExpr::IfNotExists(path, fallback) => {
            bindings.name(path)?;
            bind(fallback, bindings)
        }
        ValueExpr::Plus(a, b) | ValueExpr::Minus(a, b) | ValueExpr::ListAppend(a, b) => {
            bind(a, bindings)?;
            bind(b, bindings)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::dynamodb::items::{get_item, put_item, update_item};
    use crate::dynamodb::test_support::{claim, state_with_table};
    use crate::dynamodb::{Refusal, State};

    fn key() -> Value {
        json!({"execution_id": {"S": "e1"}, "step_key": {"S": "s1"}})
    }

    /// An item with a map `m`, a list `l` and a number `n`.
    fn state() -> State {
        let mut state = state_with_table();
        let mut item = claim("a");
        item["Item"]["m"] = json!({"M": {"a": {"S": "x"}}});
        item["Item"]["l"] = json!({"L": [{"S": "0"}, {"S": "1"}, {"S": "2"}]});
        item["Item"]["n"] = json!({"N": "9007199254740993"});
        put_item(&mut state, &item).unwrap();
        state
    }

    fn update(state: &mut State, expression: &str, values: Value) -> Result<Value, Refusal> {
        let mut input = json!({"TableName": "approvals", "Key": key(),
            "UpdateExpression": expression, "ReturnValues": "ALL_NEW"});
        if values != json!({}) {
            input["ExpressionAttributeValues"] = values;
        }
        if expression.contains("#a") {
            input["ExpressionAttributeNames"] = json!({"#a": "claim"});
        }
        update_item(state, &input)
    }

    fn stored(state: &State) -> Value {
        get_item(
            state,
            &json!({"TableName": "approvals", "Key": key(), "ConsistentRead": true}),
        )
        .unwrap()["Item"]
            .clone()
    }

    #[test]
    fn overlapping_or_duplicate_document_paths_are_refused() {
        let mut state = state();
        let x = json!({":x": {"S": "x"}});
        let xy = json!({":x": {"S": "x"}, ":y": {"S": "y"}});
        let cases = [
            (
                "SET claim = :x, claim = :y",
                xy.clone(),
                "overlap",
                "[claim], path two: [claim]",
            ),
            (
                "SET claim = :x REMOVE claim",
                x.clone(),
                "overlap",
                "[claim]",
            ),
            ("SET #a = :x, claim = :y", xy.clone(), "overlap", "[claim]"),
            (
                "SET m = :x, m.b = :y",
                xy.clone(),
                "overlap",
                "path one: [m], path two: [m, b]",
            ),
            ("REMOVE l[1].b, l[1]", json!({}), "overlap", "[l, [1], b]"),
            ("SET m.a = :x, m[0] = :y", xy.clone(), "conflict", "[m, a]"),
        ];
        for (expression, values, words, paths) in cases {
            let refused = update(&mut state, expression, values).unwrap_err();
            assert_eq!(refused.error_type, "ValidationException", "{expression}");
            assert!(
                refused.message.starts_with(&format!(
                    "Invalid UpdateExpression: Two document paths {words} with each other; \
                     must remove or rewrite one of these paths; path one: "
                )) && refused.message.contains(paths),
                "{expression}: {}",
                refused.message
            );
        }
        assert_eq!(
            stored(&state)["claim"],
            json!({"S": "a"}),
            "nothing applied"
        );
        // Paths side by side do not overlap: a map's two keys, a list's two elements.
        let out = update(&mut state, "SET m.b = :x, m.c = :y REMOVE l[0], l[2]", xy).unwrap();
        assert_eq!(
            out["Attributes"]["m"],
            json!({"M": {"a": {"S": "x"}, "b": {"S": "x"}, "c": {"S": "y"}}})
        );
        assert_eq!(out["Attributes"]["l"], json!({"L": [{"S": "1"}]}));
    }

    #[test]
    fn a_section_appears_once_and_a_nested_path_needs_its_parent() {
        let mut state = state();
        let xy = json!({":x": {"S": "x"}, ":y": {"S": "y"}});
        let refused = update(&mut state, "SET claim = :x SET m = :y", xy).unwrap_err();
        assert!(
            refused
                .message
                .contains("The \"SET\" section can only be used once"),
            "{}",
            refused.message
        );
        let x = json!({":x": {"S": "x"}});
        let refused = update(&mut state, "SET nowhere.b = :x", x.clone()).unwrap_err();
        assert_eq!(
            refused.message,
            "The document path provided in the update expression is invalid for update"
        );
        let out = update(&mut state, "SET l[9] = :x REMOVE nowhere.b", x).unwrap();
        assert_eq!(
            out["Attributes"]["l"]["L"][3],
            json!({"S": "x"}),
            "appended"
        );
    }

    #[test]
    fn an_update_of_a_key_attribute_is_refused() {
        let mut state = state();
        let x = json!({":x": {"S": "x"}});
        for (expression, values, attribute) in [
            ("SET execution_id = :x", x.clone(), "execution_id"),
            ("SET claim = :x, step_key = :x", x.clone(), "step_key"),
            ("REMOVE step_key", json!({}), "step_key"),
            ("SET execution_id.b = :x", x, "execution_id"),
        ] {
            let refused = update(&mut state, expression, values).unwrap_err();
            assert_eq!(refused.error_type, "ValidationException");
            assert_eq!(
                refused.message,
                format!(
                    "One or more parameter values were invalid: Cannot update attribute \
                     {attribute}. This attribute is part of the key"
                ),
                "{expression}"
            );
        }
        assert_eq!(
            stored(&state)["claim"],
            json!({"S": "a"}),
            "nothing applied"
        );
    }

    #[test]
    fn an_undefined_value_in_an_if_not_exists_fallback_is_refused_even_when_not_needed() {
        let mut state = state();
        // `claim` exists: the fallback is not needed, and still must be defined.
        let refused = update(
            &mut state,
            "SET claim = if_not_exists(claim, :nope)",
            json!({}),
        )
        .unwrap_err();
        assert_eq!(refused.error_type, "ValidationException");
        assert!(
            refused.message.contains("attribute value: :nope"),
            "{}",
            refused.message
        );
        let refused = update(
            &mut state,
            "SET n = if_not_exists(n, :zero + #nope)",
            json!({":zero": {"N": "0"}}),
        )
        .unwrap_err();
        assert!(
            refused.message.contains("attribute name: #nope"),
            "{}",
            refused.message
        );
        // Defined, it is used, and the attribute kept.
        let out = update(
            &mut state,
            "SET claim = if_not_exists(claim, :other)",
            json!({":other": {"S": "b"}}),
        )
        .unwrap();
        assert_eq!(out["Attributes"]["claim"], json!({"S": "a"}));
    }

    #[test]
    fn numbers_are_added_exactly_and_refused_past_38_digits() {
        let mut state = state();
        let one = json!({":one": {"N": "1"}});
        let out = update(&mut state, "SET n = n + :one", one.clone()).unwrap();
        assert_eq!(out["Attributes"]["n"], json!({"N": "9007199254740994"}));
        let out = update(&mut state, "SET n = n - :d", json!({":d": {"N": "0.50"}})).unwrap();
        assert_eq!(out["Attributes"]["n"], json!({"N": "9007199254740993.5"}));
        let too_precise = json!({":v": {"N": "1234567890123456789012345678901234567890"}});
        let refused = update(&mut state, "SET v = :v", too_precise).unwrap_err();
        assert_eq!(
            refused.message,
            "Attempting to store more than 38 significant digits in a Number"
        );
        let big = json!({":big": {"N": "99999999999999999999999999999999999999"}, ":tenth": {"N": "0.1"}});
        let refused = update(&mut state, "SET v = :big + :tenth", big).unwrap_err();
        assert!(refused.message.contains("38 significant digits"));
        let mut put = claim("a");
        put.as_object_mut().unwrap().remove("ConditionExpression");
        put.as_object_mut()
            .unwrap()
            .remove("ExpressionAttributeNames");
        put["Item"]["n"] = json!({"N": "00100.500"});
        put["Item"]["l"] = json!({"L": [{"NS": ["1.0", "2e1"]}]});
        put_item(&mut state, &put).unwrap();
        assert_eq!(stored(&state)["n"], json!({"N": "100.5"}), "zeroes trimmed");
        assert_eq!(stored(&state)["l"], json!({"L": [{"NS": ["1", "20"]}]}));
        put["Item"]["n"] = json!({"N": "1e126"});
        let refused = put_item(&mut state, &put).unwrap_err();
        assert!(
            refused.message.starts_with("Number overflow."),
            "{}",
            refused.message
        );
        put["Item"]["n"] = json!({"N": "twelve"});
        let refused = put_item(&mut state, &put).unwrap_err();
        assert_eq!(
            refused.message,
            "The parameter cannot be converted to a numeric value: twelve"
        );
    }
}
