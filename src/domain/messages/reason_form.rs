//! The modal that asks for the reason of a rejection (read back in `inbound::view_submission`).

use serde_json::{Value, json};

use super::blocks::section;
use super::text::code;
use crate::domain::execution::{Execution, Step};
use crate::domain::inbound::view_submission::{
    REASON_BLOCK_ID, REASON_INPUT_ID, REASON_VIEW_ID, ReasonContext,
};

/// The longest reason the modal accepts.
pub const REASON_MAX: usize = 1000;

/// The modal that asks for the reason of a rejection. Its `private_metadata` carries
/// the step, the decision and the prompt's `response_url` (well under Slack's 3000
/// characters: a step target is at most a few hundred).
pub fn reason_modal(
    execution: &Execution,
    step: &Step,
    context: &ReasonContext,
    required: bool,
) -> Value {
    let metadata = serde_json::to_string(context).expect("a reason context is JSON");
    let mut input = json!({"type": "plain_text_input", "action_id": REASON_INPUT_ID,
        "multiline": true, "max_length": REASON_MAX,
        "placeholder": {"type": "plain_text", "text": "Why is this runbook rejected?"}});
    if required {
        input["min_length"] = json!(1);
    }
    json!({
        "type": "modal",
        "callback_id": REASON_VIEW_ID,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Reject runbook"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(&format!(
                "The approval step {} of {} fails and the runbook stops.",
                code(&step.name),
                code(&execution.document_name)
            )),
            {"type": "input", "block_id": REASON_BLOCK_ID, "optional": !required,
             "label": {"type": "plain_text", "text": if required { "Reason" } else { "Reason (optional)" }},
             "hint": {"type": "plain_text",
                      "text": "Sent to SSM with the rejection, kept in the audit trail and shown on the prompt."},
             "element": input}
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::execution::{APPROVE_ACTION, ExecutionId, Status};
    use crate::domain::inbound::Decision;
    use crate::domain::messages::blocks::TITLE_MAX;
    use crate::domain::messages::notices::notice_modal;
    use crate::domain::waiting::StepTarget;
    use std::collections::BTreeMap;

    fn execution(n: usize, action: &str) -> Execution {
        Execution {
            id: ExecutionId::parse(&format!("00000000-0000-4000-8000-{n:012}")).unwrap(),
            document_name: format!("Deploy<{n}>"),
            document_version: None,
            status: Status::Waiting,
            executed_by: None,
            parameters: BTreeMap::new(),
            steps: vec![Step {
                name: "approve".into(),
                action: action.into(),
                status: Status::Waiting,
                step_execution_id: Some(format!("s-{n}")),
                inputs: BTreeMap::from([("Message".into(), "\"ship <!here>\"".into())]),
                started_at_unix: Some(1_000),
                timeout_seconds: None,
                failure_message: None,
                outputs: BTreeMap::new(),
            }],
        }
    }

    #[test]
    fn the_reason_modal_fits_slack_limits_and_carries_its_context() {
        let e = execution(1, APPROVE_ACTION);
        let ctx = ReasonContext {
            decision: Decision::Reject,
            target: StepTarget::for_step(&e.id, &e.steps[0]),
            response_url: "https://hooks.slack.com/actions/T/1/x".into(),
            from_list: false,
            prompt: None,
            from_home: false,
        };
        let view = reason_modal(&e, &e.steps[0], &ctx, true);
        assert!(view["title"]["text"].as_str().unwrap().chars().count() <= TITLE_MAX);
        assert_eq!(view["blocks"][1]["optional"], json!(false));
        assert_eq!(view["blocks"][1]["element"]["min_length"], json!(1));
        let back: ReasonContext =
            serde_json::from_str(view["private_metadata"].as_str().unwrap()).unwrap();
        assert_eq!(back, ctx);
        let optional = reason_modal(&e, &e.steps[0], &ctx, false);
        assert_eq!(optional["blocks"][1]["optional"], json!(true));
        assert!(
            notice_modal("Nothing was done at all, sorry", "x")["title"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                <= TITLE_MAX
        );
    }
}
