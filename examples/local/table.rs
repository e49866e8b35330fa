//! The approvals table as template.yaml defines it (`ApprovalsTable`: its keys and the
//! `WaitingSteps` index of what waits), in the DynamoDB stand-in.

use stand_ins::dynamodb::DynamoDbStandIn;

pub const TABLE: &str = "approvals";

pub fn create_approvals_table(dynamodb: &DynamoDbStandIn) {
    dynamodb.create_table(TABLE, "execution_id", Some("step_key"));
    dynamodb.add_global_secondary_index(
        TABLE,
        "WaitingSteps",
        ("waits", "S"),
        Some(("waiting_since", "N")),
    );
}
