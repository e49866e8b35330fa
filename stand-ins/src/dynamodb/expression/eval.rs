//! Conditions evaluated against an item: DynamoDB values compared, functions, `AND`, `OR`, `NOT`.

use serde_json::Value;

use super::Bindings;
use super::parse::{Cmp, Cond, Operand};
use crate::dynamodb::number::number;
use crate::dynamodb::{Item, Refusal};

pub(super) fn operand_value(
    operand: &Operand,
    item: &Item,
    bindings: &mut Bindings,
) -> Result<Option<Value>, Refusal> {
    Ok(match operand {
        Operand::Value(v) => Some(bindings.value(v)?),
        Operand::Path(p) => item.get(&bindings.name(p)?).cloned(),
    })
}

pub(crate) fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return Some(x.cmp(&y));
    }
    match (a.get("S"), b.get("S")) {
        (Some(x), Some(y)) => Some(x.as_str()?.cmp(y.as_str()?)),
        _ => None,
    }
}

pub(crate) fn eval(cond: &Cond, item: &Item, bindings: &mut Bindings) -> Result<bool, Refusal> {
    Ok(match cond {
        Cond::And(a, b) => {
            let (a, b) = (eval(a, item, bindings)?, eval(b, item, bindings)?);
            a && b
        }
        Cond::Or(a, b) => {
            let (a, b) = (eval(a, item, bindings)?, eval(b, item, bindings)?);
            a || b
        }
        Cond::Not(a) => !eval(a, item, bindings)?,
        Cond::Exists(p) => item.contains_key(&bindings.name(p)?),
        Cond::NotExists(p) => !item.contains_key(&bindings.name(p)?),
        Cond::Between(a, low, high) => {
            let (a, low, high) = (
                operand_value(a, item, bindings)?,
                operand_value(low, item, bindings)?,
                operand_value(high, item, bindings)?,
            );
            let (Some(a), Some(low), Some(high)) = (a, low, high) else {
                return Ok(false);
            };
            compare(&a, &low).is_some_and(|o| o.is_ge())
                && compare(&a, &high).is_some_and(|o| o.is_le())
        }
        Cond::BeginsWith(a, prefix) => {
            let (a, prefix) = (
                operand_value(a, item, bindings)?,
                operand_value(prefix, item, bindings)?,
            );
            let text = |v: &Option<Value>| {
                v.as_ref()
                    .and_then(|v| v.get("S"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            match (text(&a), text(&prefix)) {
                (Some(a), Some(prefix)) => a.starts_with(&prefix),
                _ => false,
            }
        }
        Cond::Compare(a, cmp, b) => {
            let (a, b) = (
                operand_value(a, item, bindings)?,
                operand_value(b, item, bindings)?,
            );
            let (Some(a), Some(b)) = (a, b) else {
                return Ok(false);
            };
            let equal = a == b
                || compare(&a, &b) == Some(std::cmp::Ordering::Equal) && number(&a).is_some();
            match cmp {
                Cmp::Eq => equal,
                Cmp::Ne => !equal,
                other => match compare(&a, &b) {
                    Some(order) => match other {
                        Cmp::Lt => order.is_lt(),
                        Cmp::Le => order.is_le(),
                        Cmp::Gt => order.is_gt(),
                        _ => order.is_ge(),
                    },
                    None => false,
                },
            }
        }
    })
}
