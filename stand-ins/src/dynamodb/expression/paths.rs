//! Document paths of update expressions (`a`, `#a.b`, `a[2].c`): parsed, resolved
//! through the expression's names, checked for overlaps as DynamoDB checks them,
//! and written to or removed from an item.

use std::cmp::Ordering;

use serde_json::Value;

use super::Bindings;
use super::parse::{Parser, Token};
use crate::dynamodb::{Item, Refusal};

/// One step of a path as written: a name (`a` or `#a`) or a list index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    Name(String),
    Index(usize),
}

/// One step of a path, its names resolved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Segment {
    Attribute(String),
    Index(usize),
}

impl Parser<'_> {
    /// A document path: a name, then any `.name` and `[n]`.
    pub(crate) fn doc_path(&mut self) -> Result<Vec<Step>, Refusal> {
        let mut steps = vec![Step::Name(self.path()?)];
        loop {
            match self.peek() {
                Some(Token::Dot) => {
                    self.at += 1;
                    steps.push(Step::Name(self.path()?));
                }
                Some(Token::OpenBracket) => {
                    self.at += 1;
                    let index = match self.next()? {
                        Token::Word(w) if w.bytes().all(|b| b.is_ascii_digit()) => {
                            w.parse().map_err(|_| {
                                Refusal::validation(
                                    "Invalid UpdateExpression: a list index is out of range",
                                )
                            })?
                        }
                        t => {
                            return Err(Refusal::validation(&format!(
                                "Invalid UpdateExpression: expected a list index, found {t:?}"
                            )));
                        }
                    };
                    self.expect(&Token::CloseBracket)?;
                    steps.push(Step::Index(index));
                }
                _ => return Ok(steps),
            }
        }
    }
}

/// The path with its names resolved through `ExpressionAttributeNames`.
pub(crate) fn resolve(steps: &[Step], bindings: &mut Bindings) -> Result<Vec<Segment>, Refusal> {
    steps
        .iter()
        .map(|step| match step {
            Step::Name(token) => Ok(Segment::Attribute(bindings.name(token)?)),
            Step::Index(i) => Ok(Segment::Index(*i)),
        })
        .collect()
}

/// DynamoDB's rendering of a path in its messages: `[a, b, [2]]`.
fn render(path: &[Segment]) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|s| match s {
            Segment::Attribute(a) => a.clone(),
            Segment::Index(i) => format!("[{i}]"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Refused as DynamoDB refuses an update expression two of whose paths are the same,
/// one within the other (`a` and `a.b`), or one a list where the other is a map.
pub(crate) fn check_overlaps(paths: &[Vec<Segment>]) -> Result<(), Refusal> {
    for (i, one) in paths.iter().enumerate() {
        for two in &paths[i + 1..] {
            let common = one.iter().zip(two).take_while(|(a, b)| a == b).count();
            let words = if common == one.len().min(two.len()) {
                "overlap"
            } else if matches!(
                (&one[common], &two[common]),
                (Segment::Attribute(_), Segment::Index(_))
                    | (Segment::Index(_), Segment::Attribute(_))
            ) {
                "conflict"
            } else {
                continue;
            };
            return Err(Refusal::validation(&format!(
                "Invalid UpdateExpression: Two document paths {words} with each other; \
                 must remove or rewrite one of these paths; path one: {}, path two: {}",
                render(one),
                render(two)
            )));
        }
    }
    Ok(())
}

fn invalid_path() -> Refusal {
    Refusal::validation("The document path provided in the update expression is invalid for update")
}

/// The value the path leads to within `value` (a map or a list), if any.
fn child_mut<'v>(value: &'v mut Value, segment: &Segment) -> Option<&'v mut Value> {
    match segment {
        Segment::Attribute(a) => value.get_mut("M")?.as_object_mut()?.get_mut(a),
        Segment::Index(i) => value.get_mut("L")?.as_array_mut()?.get_mut(*i),
    }
}

/// Sets the value at `path`: every step but the last must lead to an existing map or
/// list; an index past a list's end appends.
pub(crate) fn set_at(item: &mut Item, path: &[Segment], value: Value) -> Result<(), Refusal> {
    let (Segment::Attribute(first), rest) = path.split_first().ok_or_else(invalid_path)? else {
        return Err(invalid_path());
    };
    let Some((last, within)) = rest.split_last() else {
        item.insert(first.clone(), value);
        return Ok(());
    };
    let mut at = item.get_mut(first).ok_or_else(invalid_path)?;
    for segment in within {
        at = child_mut(at, segment).ok_or_else(invalid_path)?;
    }
    match last {
        Segment::Attribute(a) => {
            let map = at
                .get_mut("M")
                .and_then(Value::as_object_mut)
                .ok_or_else(invalid_path)?;
            map.insert(a.clone(), value);
        }
        Segment::Index(i) => {
            let list = at
                .get_mut("L")
                .and_then(Value::as_array_mut)
                .ok_or_else(invalid_path)?;
            match list.get_mut(*i) {
                Some(slot) => *slot = value,
                None => list.push(value),
            }
        }
    }
    Ok(())
}

/// Removes what `path` leads to, if anything: nothing there is no error.
pub(crate) fn remove_at(item: &mut Item, path: &[Segment]) -> Result<(), Refusal> {
    let (Segment::Attribute(first), rest) = path.split_first().ok_or_else(invalid_path)? else {
        return Err(invalid_path());
    };
    let Some((last, within)) = rest.split_last() else {
        item.remove(first);
        return Ok(());
    };
    let Some(mut at) = item.get_mut(first) else {
        return Ok(());
    };
    for segment in within {
        match child_mut(at, segment) {
            Some(next) => at = next,
            None => return Ok(()),
        }
    }
    match last {
        Segment::Attribute(a) => {
            if let Some(map) = at.get_mut("M").and_then(Value::as_object_mut) {
                map.remove(a);
            }
        }
        Segment::Index(i) => {
            if let Some(list) = at.get_mut("L").and_then(Value::as_array_mut)
                && *i < list.len()
            {
                list.remove(*i);
            }
        }
    }
    Ok(())
}

/// The order to remove paths in: later list elements first, so that removing one
/// does not move the others.
pub(crate) fn removal_order(a: &[Segment], b: &[Segment]) -> Ordering {
    b.cmp(a)
}
