//! What the DynamoDB stand-in's tests share: a table of approvals, and a claim to put in it.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::{State, Table};

pub(super) fn state_with_table() -> State {
    let mut state = State::default();
    state.tables.insert(
        "approvals".into(),
        Table {
            partition_key: "execution_id".into(),
            sort_key: Some("step_key".into()),
            items: BTreeMap::new(),
            previous: HashMap::new(),
            indexes: vec![],
        },
    );
    state
}

pub(super) fn claim(token: &str) -> Value {
    json!({"TableName": "approvals",
            "Item": {"execution_id": {"S": "e1"}, "step_key": {"S": "s1"}, "claim": {"S": token}},
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": "execution_id"},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"})
}
