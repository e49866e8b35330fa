//! Update expressions: `SET` and `REMOVE` actions parsed, and the values they set worked out.

use serde_json::{Value, json};

use super::Bindings;
use super::eval::{number, operand_value};
use super::parse::{Operand, Parser, Token};
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
    Set(String, ValueExpr),
    Remove(String),
}

impl Parser<'_> {
    pub(crate) fn update(&mut self) -> Result<Vec<Action>, Refusal> {
        let mut actions = vec![];
        while self.peek().is_some() {
            if self.keyword("SET") {
                self.at += 1;
                loop {
                    let path = self.path()?;
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
                    actions.push(Action::Remove(self.path()?));
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
                // The fallback's values still count as used.
                let _ = value_of(fallback, item, bindings);
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
                x + y
            } else {
                x - y
            };
            Ok(json!({"N": format_number(n)}))
        }
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}
