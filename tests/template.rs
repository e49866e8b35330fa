//! What the code expects of the deployment and what template.yaml deploys agree: the
//! table's keys and TTL attribute, the permissions each function's calls need (and no
//! more), the variables, and the EventBridge rules that let through only what the
//! events function acts on.

use approvals::store::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap()
}

/// The block of a top-level resource: from its name to the next resource or section.
fn resource(template: &str, name: &str) -> String {
    let header = format!("  {name}:");
    let mut lines = template.lines().skip_while(|l| *l != header);
    let first = lines.next().unwrap_or_else(|| panic!("no resource {name}"));
    let body = lines.take_while(|l| l.is_empty() || l.starts_with("   ") || l.starts_with("  #"));
    std::iter::once(first)
        .chain(body)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The IAM actions a resource's policies allow, in order.
fn actions(block: &str) -> Vec<String> {
    block
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("- ").or_else(|| l.strip_prefix("Action: ")))
        .filter(|l| {
            ["ssm:", "dynamodb:", "kms:", "sts:"]
                .iter()
                .any(|service| l.starts_with(service))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_table_is_keyed_and_expires_as_the_code_expects() {
    let table = resource(&template(), "ApprovalsTable");
    assert!(table.contains("Type: AWS::DynamoDB::Table"));
    for (name, kind) in [(PARTITION_KEY, "HASH"), (SORT_KEY, "RANGE")] {
        assert!(
            table.contains(&format!(
                "- AttributeName: {name}\n          KeyType: {kind}"
            )),
            "{name} {kind}: {table}"
        );
        assert!(table.contains(&format!(
            "- AttributeName: {name}\n          AttributeType: S"
        )));
    }
    assert!(table.contains(&format!(
        "AttributeName: {TTL_ATTRIBUTE}\n        Enabled: true"
    )));
    assert!(table.contains("BillingMode: PAY_PER_REQUEST"));
    assert!(table.contains("SSEEnabled: true"));
}

#[test]
fn each_function_may_make_exactly_the_calls_it_makes() {
    let t = template();
    assert_eq!(
        actions(&resource(&t, "AutomationEventsFunction")),
        [
            "ssm:GetAutomationExecution",
            "ssm:DescribeAutomationStepExecutions",
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            "ssm:GetParameter",
            "kms:Decrypt",
        ]
    );
    assert_eq!(
        actions(&resource(&t, "SlackInteractionsFunction")),
        [
            "ssm:SendAutomationSignal",
            "ssm:GetAutomationExecution",
            "ssm:DescribeAutomationStepExecutions",
            "ssm:DescribeAutomationExecutions",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "ssm:GetParameter",
            "kms:Decrypt",
        ]
    );
    // Table actions only on the table; nothing on executions' tags.
    for function in ["AutomationEventsFunction", "SlackInteractionsFunction"] {
        let block = resource(&t, function);
        assert!(
            block.contains("Resource: !GetAtt ApprovalsTable.Arn"),
            "{function}"
        );
        assert!(!block.contains("Tags"), "{function} touches tags");
    }
}

#[test]
fn the_events_function_scales_and_hears_only_what_it_acts_on() {
    let t = template();
    let events = resource(&t, "AutomationEventsFunction");
    assert!(!events.contains("ReservedConcurrentExecutions"));
    assert!(events.contains(
        "detail-type: [EC2 Automation Step Status-change Notification]\n              detail:\n                Action: [aws:approve, aws:pause]"
    ));
    assert!(events.contains("detail-type: [EC2 Automation Execution Status-change Notification]"));
    for status in ["Waiting", "Success", "Failed", "TimedOut", "Cancelled"] {
        assert!(
            events.contains(&format!("                  - {status}\n")),
            "{status}"
        );
    }
    assert!(!events.contains("InProgress"));
    // Both functions find the table by the variable the code reads.
    assert!(t.contains(&format!(
        "{}: !Ref ApprovalsTable",
        approvals::config::TABLE
    )));
}

#[test]
fn per_person_sessions_are_allowed_exactly_as_the_code_asks_for_them() {
    let t = template();
    // The approver role trusts the interactions function's role, with source identity.
    let role = resource(&t, "SlackApproverRole");
    assert!(role.contains("Condition: PerPerson"));
    assert!(role.contains("AWS: !GetAtt SlackInteractionsFunctionRole.Arn"));
    assert_eq!(
        actions(&role),
        [
            "sts:AssumeRole",
            "sts:SetSourceIdentity",
            "ssm:SendAutomationSignal"
        ]
    );
    // The function's role may assume it, and set the source identity the code sets.
    let assume = resource(&t, "SlackApproverAssumePolicy");
    assert!(assume.contains("- !Ref SlackInteractionsFunctionRole"));
    assert!(assume.contains("Resource: !GetAtt SlackApproverRole.Arn"));
    assert_eq!(
        actions(&assume),
        ["sts:AssumeRole", "sts:SetSourceIdentity"]
    );
    // The variable the code reads is set from the role, only when enabled.
    assert!(t.contains(&format!(
        "{}: !If [PerPerson, !GetAtt SlackApproverRole.Arn, \"\"]",
        approvals::config::APPROVER_ROLE_ARN
    )));
    assert!(t.contains(&format!("{}: !Ref SlackRoutes", approvals::config::ROUTES)));
    assert!(t.contains(&format!(
        "{}: !Ref RejectReason",
        approvals::config::REJECT_REASON
    )));
}
