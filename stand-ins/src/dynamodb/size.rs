//! Item sizes as DynamoDB counts them: for the 400 KB an item may hold, and the 1 MB
//! a page of a `Query` may hold.

use base64::Engine;
use serde_json::Value;

use super::number::Number;
use super::{Item, Refusal};

/// DynamoDB's item size limit: 400 KB.
pub(super) const MAX_ITEM_BYTES: usize = 400 * 1024;

/// An item's size as DynamoDB counts it: each attribute's name (UTF-8 bytes) and
/// value, a number by its significant digits, a binary by its raw bytes, a list or a
/// map with 3 bytes of its own and 1 per element.
pub(super) fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, v)| name.len() + value_size(v))
        .sum()
}

/// Refused as DynamoDB refuses an item over 400 KB; `message`: the operation's words.
pub(super) fn check_item_size(item: &Item, message: &str) -> Result<(), Refusal> {
    if item_size(item) > MAX_ITEM_BYTES {
        return Err(Refusal::validation(message));
    }
    Ok(())
}

/// `PutItem`'s words for an item over the limit.
pub(super) const PUT_TOO_LARGE: &str = "Item size has exceeded the maximum allowed size";
/// `UpdateItem`'s words for an item an update would take over the limit.
pub(super) const UPDATE_TOO_LARGE: &str =
    "Item size to update has exceeded the maximum allowed size";

fn binary_size(encoded: &str) -> usize {
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_or(encoded.len() * 3 / 4, |raw| raw.len())
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
        "B" => inner.as_str().map_or(0, binary_size),
        "BOOL" | "NULL" => 1,
        "SS" => strings(inner).iter().map(String::len).sum(),
        "NS" => strings(inner).iter().map(|n| number_size(n)).sum(),
        "BS" => strings(inner).iter().map(|b| binary_size(b)).sum(),
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
pub(super) fn number_size(text: &str) -> usize {
    Number::parse(text).map_or_else(
        |_| {
            let digits = text.chars().filter(char::is_ascii_digit).count();
            digits.div_ceil(2) + 1
        },
        |n| n.size(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dynamodb::items::{put_item, update_item};
    use crate::dynamodb::test_support::state_with_table;

    /// An item of exactly `bytes` bytes: its keys (`execution_id` "e1", `step_key`
    /// "s1": 24 bytes) and a string `blob` ("blob": 4 bytes) of the rest.
    fn item_of(bytes: usize) -> Value {
        json!({"execution_id": {"S": "e1"}, "step_key": {"S": "s1"},
            "blob": {"S": "x".repeat(bytes - 24 - 4)}})
    }

    #[test]
    fn sizes_are_counted_as_dynamodb_counts_them() {
        let item = json!({"é": {"S": "ü"}, "n": {"N": "-0012.3400e5"}, "b": {"B": "AAEC"},
            "t": {"BOOL": true}, "z": {"NULL": true}, "l": {"L": [{"S": "ab"}, {"N": "1"}]},
            "m": {"M": {"k": {"S": "v"}}}, "ns": {"NS": ["1", "22"]}});
        let expected = (2 + 2) // é, ü: two bytes each
            + (1 + 3) // 1234: two bytes and one
            + (1 + 3) // three raw bytes
            + (1 + 1) + (1 + 1)
            + (1 + 3 + (1 + 2) + (1 + 2)) // a list: 3, and 1 per element
            + (1 + 3 + (1 + 1 + 1)) // a map: 3, and 1 per element
            + (2 + 2 + 2);
        assert_eq!(item_size(item.as_object().unwrap()), expected);
        assert_eq!(number_size("-0012.3400e5"), 3);
    }

    #[test]
    fn a_put_of_an_item_over_400_kb_is_refused() {
        let mut state = state_with_table();
        let put = |item: Value| json!({"TableName": "approvals", "Item": item});
        assert!(put_item(&mut state, &put(item_of(MAX_ITEM_BYTES))).is_ok());
        let refused = put_item(&mut state, &put(item_of(MAX_ITEM_BYTES + 1))).unwrap_err();
        assert_eq!(refused.error_type, "ValidationException");
        assert_eq!(
            refused.message,
            "Item size has exceeded the maximum allowed size"
        );
        // Multi-byte characters count by their UTF-8 bytes, not as characters.
        let mut wide = item_of(MAX_ITEM_BYTES);
        wide["blob"] = json!({"S": "é".repeat((MAX_ITEM_BYTES - 28) / 2 + 1)});
        assert!(put_item(&mut state, &put(wide)).is_err());
    }

    #[test]
    fn an_update_that_grows_an_item_past_400_kb_is_refused_and_not_applied() {
        let mut state = state_with_table();
        let mut item = item_of(MAX_ITEM_BYTES - 100);
        item["trail"] = json!({"L": []}); // 5 + 3 bytes
        put_item(&mut state, &json!({"TableName": "approvals", "Item": item})).unwrap();
        let append = |text: &str| {
            json!({"TableName": "approvals", "Key": {"execution_id": {"S": "e1"}, "step_key": {"S": "s1"}},
                "UpdateExpression": "SET trail = list_append(trail, :new)",
                "ExpressionAttributeValues": {":new": {"L": [{"S": text}]}}})
        };
        // 100 - 8 = 92 bytes to spare: an element of 1 + 91 fits, then no more.
        update_item(&mut state, &append(&"y".repeat(91))).unwrap();
        let refused = update_item(&mut state, &append("z")).unwrap_err();
        assert_eq!(refused.error_type, "ValidationException");
        assert_eq!(
            refused.message,
            "Item size to update has exceeded the maximum allowed size"
        );
        let stored = &state.tables["approvals"].items[&("e1".into(), "s1".into())];
        assert_eq!(stored["trail"]["L"].as_array().unwrap().len(), 1);
        assert_eq!(item_size(stored), MAX_ITEM_BYTES);
    }
}
