//! The prompt of a step in an account the hub cannot assume into: what waits where,
//! from the event alone (SSM there cannot be read), why it cannot be decided from
//! Slack, and no buttons. The sweep turns it into a prompt with buttons once the
//! account can be reached.

use serde_json::json;

use super::blocks::{SlackMessage, console_url, notification};
use super::prompt::{PromptStyle, details};
use super::text::{code, escape, truncate};
use crate::domain::execution::{Execution, Step};
use crate::domain::place::Shown;

/// Under the prompt, in place of its buttons.
pub const CANNOT_REACH: &str = "This deployment cannot act in that account: its spoke role \
     does not let the hub in (no spoke stack there, or a role that no longer trusts the hub).";

/// `execution` and `step` as the event names them; `reason`: what STS answered.
pub fn render_unreachable(
    execution: &Execution,
    step: &Step,
    shown: &Shown<'_>,
    reason: &str,
) -> SlackMessage {
    let style = PromptStyle {
        per_person: false,
        reason_modal: false,
        rule_approvals: 0,
        nobody_from_slack: true,
    };
    let status = ":no_entry: *Waiting for a decision, which cannot be made from Slack*".to_owned();
    let mut blocks = details(execution, step, shown, status, style, None);
    let console = console_url(&shown.place.region, execution.id.as_str());
    blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
        "{CANNOT_REACH} AWS said: {}\nDecide it in the <{console}|AWS console> of that account. Once \
         the hub can reach the account, the next sweep posts a prompt with buttons.",
        code(&truncate(reason, 300))
    )}}));
    SlackMessage {
        text: notification(&format!(
            "Waiting, not decidable from Slack: {} (account unreachable)",
            escape(&execution.document_name)
        )),
        blocks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages::fixtures::all_text;
    use crate::domain::place::Place;

    #[test]
    fn an_unreachable_step_is_shown_where_it_waits_and_why_without_buttons() {
        let execution = Execution::as_an_event_names_it(
            crate::domain::execution::ExecutionId::parse("5c3e9b1a-7d2f-4e8a-9b6c-1f0a2d3e4b5c")
                .unwrap(),
            "Deploy-Payments",
            "approveRollout",
            "aws:approve",
        );
        let place = Place::new(Some("222222222222"), "eu-west-1");
        let message = render_unreachable(
            &execution,
            &execution.steps[0],
            &Shown::new(&place, &Default::default()),
            "AccessDenied: not authorized to perform sts:AssumeRole",
        );
        let text = all_text(&message.blocks);
        for part in [
            "Deploy-Payments",
            "approveRollout",
            "`222222222222`",
            "eu-west-1",
            "cannot be made from Slack",
            "AccessDenied",
            "https://eu-west-1.console.aws.amazon.com/",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        assert!(message.blocks.iter().all(|b| b["type"] != "actions"));
    }
}
