//! The prompt: a step that waits for a person, with its buttons and the details it shows.
//!
//! Every message has the same shape, so one can replace another in place:
//! a header, a status block (`block_id` [`STATUS_BLOCK`](super::blocks::STATUS_BLOCK)),
//! the details a person needs to decide, and, only while the step waits, the
//! Approve / Reject buttons.

use serde_json::{Value, json};

use super::blocks::{
    BUTTON_VALUE_MAX, FIELD_MAX, FIELDS_BLOCK, HEADER_MAX, NOTIFICATION_MAX, SECTION_MAX,
    SlackMessage, WAITING_FIELDS, console_url, context, mrkdwn, notification, section,
    status_block,
};
use super::text::{code, escape, mention, one_line, principal, quote, slack_date, truncate};
use crate::domain::execution::{Execution, Status, Step};
use crate::domain::inbound::block_actions::ACTIONS_BLOCK_PREFIX;
use crate::domain::inbound::button::button_value;
use crate::domain::inbound::{APPROVE_ACTION_ID, REJECT_ACTION_ID, RESUME_ACTION_ID};
use crate::domain::place::Shown;
use crate::domain::starter::{SelfApproval, StartedBy};
use crate::domain::waiting::{StepKind, StepTarget};

/// A confirm dialog's text holds at most 300 characters: two names of at most 40,
/// escaped (up to 5 characters each), fit with the sentence around them.
const CONFIRM_NAME_MAX: usize = 24;
const PARAMETERS_SHOWN: usize = 10;
pub(super) const PARAMETER_VALUE_MAX: usize = 120;

/// How prompts are drawn, from the deployment's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PromptStyle {
    /// Decisions are signalled under a session per person (`APPROVER_ROLE_ARN`), so
    /// a quorum can be met from Slack.
    pub per_person: bool,
    /// Reject opens a modal asking for a reason (which is its confirmation).
    pub reason_modal: bool,
    /// Different Slack people the rule asks for (its `approvals`); 0 or 1: no more
    /// than the runbook itself asks.
    pub rule_approvals: u32,
    /// Nobody may decide the step from Slack (`none`): no buttons, and
    /// [`NOBODY_FROM_SLACK`] says why.
    pub nobody_from_slack: bool,
}

/// Under a prompt nobody may decide from Slack, in place of its buttons.
pub const NOBODY_FROM_SLACK: &str = "Nobody may decide this step from Slack (no rule names it, \
    and this deployment allows nobody else): decide it in the AWS console.";

/// The prompt for a step that waits for a person: an `aws:approve` step (Approve /
/// Reject) or an `aws:pause` step (Resume). Each button names the execution and the
/// very step execution it decides (see [`StepTarget`]).
pub fn render_prompt(
    execution: &Execution,
    step: &Step,
    kind: StepKind,
    shown: &Shown<'_>,
    style: PromptStyle,
    who_decides: &str,
) -> SlackMessage {
    let status = match kind {
        StepKind::Approval => ":hourglass_flowing_sand: *Waiting for approval*",
        StepKind::Pause => ":double_vertical_bar: *Paused*: the runbook waits to be resumed",
    };
    let mut blocks = details(
        execution,
        step,
        shown,
        status.into(),
        style,
        Some(who_decides),
    );
    let target = StepTarget::on_button(execution, step, shown.place);
    match buttons(&target, step.key(), kind, style) {
        // Posted all the same: people see that it waits, and where to decide it.
        _ if style.nobody_from_slack => blocks.push(context(NOBODY_FROM_SLACK)),
        Some(actions) => blocks.push(actions),
        // A button must name its step; one that cannot is not offered at all.
        None => blocks.push(context(
            "This step's name is too long for a Slack button: decide in the AWS console.",
        )),
    }
    let text = match kind {
        StepKind::Approval => {
            let summary = step
                .approval()
                .message
                .unwrap_or_else(|| "an aws:approve step is waiting".into());
            format!(
                "Approval needed: {} — {}",
                escape(&execution.document_name),
                escape(&one_line(&truncate(&summary, NOTIFICATION_MAX)))
            )
        }
        StepKind::Pause => format!(
            "Runbook paused: {} waits to be resumed",
            escape(&execution.document_name)
        ),
    };
    SlackMessage {
        text: notification(&text),
        blocks,
    }
}

/// The actions block of a waiting step (`step_key`: its run's key in the table), or
/// `None` when its value would not fit a button.
pub(crate) fn buttons(
    target: &StepTarget,
    step_key: &str,
    kind: StepKind,
    style: PromptStyle,
) -> Option<Value> {
    let value = button_value(target);
    let runbook = target.runbook.as_deref().unwrap_or("this runbook");
    if value.chars().count() > BUTTON_VALUE_MAX {
        return None;
    }
    let elements = match kind {
        StepKind::Approval => {
            let mut reject = json!({"type": "button", "action_id": REJECT_ACTION_ID, "style": "danger",
                "text": {"type": "plain_text", "text": "Reject"}, "value": value});
            if !style.reason_modal {
                reject["confirm"] = json!({
                    "title": {"type": "plain_text", "text": "Reject this runbook?"},
                    "text": mrkdwn(&format!(
                        "The approval step {} of {} fails and the runbook stops.",
                        code(&truncate(&target.step_name, CONFIRM_NAME_MAX)),
                        code(&truncate(runbook, CONFIRM_NAME_MAX)))),
                    "confirm": {"type": "plain_text", "text": "Reject"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                    "style": "danger"});
            }
            json!([
                {"type": "button", "action_id": APPROVE_ACTION_ID, "style": "primary",
                 "text": {"type": "plain_text", "text": "Approve"}, "value": value},
                reject
            ])
        }
        StepKind::Pause => json!([
            {"type": "button", "action_id": RESUME_ACTION_ID, "style": "primary",
             "text": {"type": "plain_text", "text": "Resume"}, "value": value}
        ]),
    };
    Some(json!({
        "type": "actions",
        "block_id": truncate(&format!("{ACTIONS_BLOCK_PREFIX}{step_key}"), 255),
        "elements": elements
    }))
}

pub(super) fn details(
    execution: &Execution,
    step: &Step,
    shown: &Shown<'_>,
    status: String,
    style: PromptStyle,
    who_decides: Option<&str>,
) -> Vec<Value> {
    let region = shown.place.region.as_str();
    let approval = step.approval();
    let pause = StepKind::of(step) == Some(StepKind::Pause);
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "emoji": true,
            "text": truncate(&format!("{}: {}",
                if pause { "Runbook paused" } else { "Runbook approval" },
                execution.document_name), HEADER_MAX)}}),
        status_block(status),
    ];
    if let Some(message) = &approval.message {
        blocks.push(section(&quote(message)));
    }
    let version = execution
        .document_version
        .as_deref()
        .map(|v| format!(" (v{})", escape(&one_line(&truncate(v, 40)))))
        .unwrap_or_default();
    let mut fields = vec![
        format!("*Runbook*\n{}{version}", code(&execution.document_name)),
        format!(
            "*Started by*\n{}",
            match shown.started_by {
                Some(started_by) =>
                    started_by_text(started_by, step.status == Status::Waiting && !pause),
                None => execution
                    .executed_by
                    .as_deref()
                    .map(principal)
                    .unwrap_or("unknown".into()),
            }
        ),
        format!("*Where*\n{}", where_text(shown)),
    ];
    if step.status == Status::Waiting && !pause {
        fields.push(format!(
            "{}\n{}",
            WAITING_FIELDS[0],
            approvals_needed(
                approval.min_required_approvals,
                style.per_person,
                style.rule_approvals
            )
        ));
        if let Some(at) = approval.times_out_at_unix {
            fields.push(format!("{}\n{}", WAITING_FIELDS[1], slack_date(at)));
        }
    }
    if step.status == Status::Waiting
        && let Some(who) = who_decides
    {
        fields.push(format!("{}\n{who}", WAITING_FIELDS[2]));
    }
    blocks.push(
        json!({"type": "section", "block_id": FIELDS_BLOCK, "fields": fields.iter()
        .map(|f| json!({"type": "mrkdwn", "text": truncate(f, FIELD_MAX), "verbatim": true}))
        .collect::<Vec<_>>()}),
    );
    if !execution.parameters.is_empty() {
        blocks.push(section(&parameters(execution)));
    }
    blocks.push(context(&format!(
        "Step {} · Execution <{}|{}> in {}",
        code(&step.name),
        console_url(region, execution.id.as_str()),
        execution.id,
        where_text(shown)
    )));
    blocks
}

/// Who started the run, as matched to Slack, and (while an approval waits, where they
/// may not approve it) that someone else must.
fn started_by_text(started_by: StartedBy<'_>, waiting: bool) -> String {
    let StartedBy { starter, policy } = started_by;
    let forbidden = waiting && policy == SelfApproval::Forbidden;
    let people: Vec<String> = starter.people.iter().map(|p| mention(p, p)).collect();
    match (people.as_slice(), forbidden) {
        ([one], true) => format!("{one}: someone else must approve"),
        ([one], false) => one.clone(),
        ([], _) => {
            let why = if starter.unchecked_email.is_some() {
                "not matched to a Slack person yet (Slack could not be asked)"
            } else {
                "could not be matched to a Slack person"
            };
            format!("{} ({why})", principal(&starter.principal))
        }
        (several, true) => format!(
            "{} (one AWS identity, several Slack people): none of them may approve",
            several.join(", ")
        ),
        (several, false) => several.join(", "),
    }
}

/// `payments-prod (111122223333) · eu-west-1`: the account (with its friendly name)
/// and the Region, as a prompt shows them.
pub fn where_text(shown: &Shown<'_>) -> String {
    let region = code(&shown.place.region);
    match (&shown.place.account, shown.account_name.as_deref()) {
        (Some(account), Some(name)) => format!(
            "{} ({}) · {region}",
            escape(&one_line(&truncate(name, 64))),
            code(account)
        ),
        (Some(account), None) => format!("account {} · {region}", code(account)),
        (None, _) => region,
    }
}

fn approvals_needed(n: u32, per_person: bool, rule: u32) -> String {
    if rule > n.max(1) || (rule > 1 && !per_person) {
        // The app counts: nothing is signalled before that many have approved.
        format!("{rule} different people (this runbook's rule)")
    } else if n > 1 && !per_person {
        // Honest about today's limit: every Slack decision is signalled by one AWS role.
        format!("{n} (decisions from Slack count as one AWS approver)")
    } else {
        n.to_string()
    }
}

fn parameters(execution: &Execution) -> String {
    let mut text = String::from("*Parameters*");
    let mut shown = 0;
    for (name, values) in execution.parameters.iter().take(PARAMETERS_SHOWN) {
        let value = truncate(&values.join(", "), PARAMETER_VALUE_MAX);
        let line = format!(
            "\n• {}: {}",
            code(&truncate(name, PARAMETER_VALUE_MAX)),
            if value.is_empty() {
                "_(empty)_".into()
            } else {
                code(&value)
            }
        );
        // Whole lines only: a cut inside a code span would let the rest out of it.
        if text.chars().count() + line.chars().count() > SECTION_MAX - 60 {
            break;
        }
        text.push_str(&line);
        shown += 1;
    }
    if execution.parameters.len() > shown {
        text.push_str(&format!(
            "\n_…and {} more in the console_",
            execution.parameters.len() - shown
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages::fixtures::{all_text, execution, shown};
    use crate::domain::messages::text::mention;

    #[test]
    fn prompt_shows_what_a_person_needs_and_two_buttons() {
        let (e, s) = execution(Status::Waiting, Status::Waiting);
        let m = render_prompt(
            &e,
            &s,
            StepKind::Approval,
            &shown("eu-west-1"),
            PromptStyle::default(),
            "<@U0ALICE>",
        );
        let text = all_text(&m.blocks);
        for expected in [
            "Deploy-Prod",
            "(v3)",
            "Roll &lt;prod&gt; out &amp; restart",
            "assumed-role/Ops/alice",
            "*Approvals needed*\\n1",
            "Times out",
            "<!date^1763733600^",
            "`Version`: `1.2.3`",
            "https://eu-west-1.console.aws.amazon.com/systems-manager/automation/execution/333ba70b-2333-48db-b17e-a5e69c6f4d1c?region=eu-west-1",
        ] {
            assert!(text.contains(expected), "missing {expected} in {text}");
        }
        assert!(
            !text.contains(&"x".repeat(PARAMETER_VALUE_MAX)),
            "a parameter was not shortened"
        );
        let actions = m.blocks.last().unwrap();
        assert_eq!(actions["type"], "actions");
        let buttons = actions["elements"].as_array().unwrap();
        assert_eq!(
            (
                buttons[0]["action_id"].as_str(),
                buttons[0]["style"].as_str()
            ),
            (Some(APPROVE_ACTION_ID), Some("primary"))
        );
        assert_eq!(
            (
                buttons[1]["action_id"].as_str(),
                buttons[1]["style"].as_str()
            ),
            (Some(REJECT_ACTION_ID), Some("danger"))
        );
        assert!(buttons[1]["confirm"].is_object());
        // Each button names the execution and the very step execution it decides.
        for b in buttons {
            let target =
                crate::domain::inbound::button::parse_button_value(b["value"].as_str().unwrap())
                    .unwrap();
            let place = crate::domain::place::Place::new(None, "eu-west-1");
            assert_eq!(target, StepTarget::on_button(&e, &s, &place));
            assert_eq!(target.step_name, "approveProd");
            assert_eq!(target.runbook.as_deref(), Some("Deploy-Prod"));
        }
        assert!(m.text.starts_with("Approval needed: Deploy-Prod"));
    }

    #[test]
    fn a_prompt_nobody_may_decide_from_slack_has_no_buttons_and_says_why() {
        let (e, s) = execution(Status::Waiting, Status::Waiting);
        let style = PromptStyle {
            nobody_from_slack: true,
            ..PromptStyle::default()
        };
        let who = crate::domain::approvers::ApproverPolicy::NobodyFromSlack.describe();
        for kind in [StepKind::Approval, StepKind::Pause] {
            let m = render_prompt(&e, &s, kind, &shown("eu-west-1"), style, &who);
            assert!(m.blocks.iter().all(|b| b["type"] != "actions"), "{kind:?}");
            let last = m.blocks.last().unwrap();
            assert_eq!(last["type"], "context");
            assert_eq!(
                last["elements"][0]["text"].as_str(),
                Some(
                    "Nobody may decide this step from Slack (no rule names it, and this \
                     deployment allows nobody else): decide it in the AWS console."
                )
            );
            let text = all_text(&m.blocks);
            // Still everything a person needs to decide it in the console.
            for expected in [
                "Deploy-Prod",
                "nobody from Slack: decide in the AWS console",
                "https://eu-west-1.console.aws.amazon.com/systems-manager/automation/execution/",
            ] {
                assert!(text.contains(expected), "missing {expected} in {text}");
            }
        }
    }

    #[test]
    fn limits_hold_for_huge_inputs() {
        let (mut e, mut s) = execution(Status::Waiting, Status::Waiting);
        e.document_name = "D".repeat(400);
        s.inputs.insert(
            "Message".into(),
            serde_json::to_string(&"&".repeat(4096)).unwrap(),
        );
        e.parameters = (0..40)
            .map(|i| (format!("P{i}"), vec!["v".repeat(300)]))
            .collect();
        let m = render_prompt(
            &e,
            &s,
            StepKind::Approval,
            &shown("us-east-1"),
            PromptStyle::default(),
            "<@U0ALICE>",
        );
        assert!(m.blocks.len() <= 50);
        assert!(
            m.blocks[0]["text"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                <= HEADER_MAX
        );
        for b in &m.blocks {
            if let Some(t) = b["text"]["text"].as_str() {
                assert!(t.chars().count() <= SECTION_MAX);
                assert!(!t.ends_with("&am…"), "half an escape left");
            }
        }
        assert!(m.text.chars().count() <= NOTIFICATION_MAX);
    }

    #[test]
    fn a_mention_in_the_message_is_not_a_notification() {
        let (e, mut s) = execution(Status::Waiting, Status::Waiting);
        s.inputs.insert(
            "Message".into(),
            serde_json::to_string("<!channel> read <https://evil.example|the runbook>").unwrap(),
        );
        let m = render_prompt(
            &e,
            &s,
            StepKind::Approval,
            &shown("us-east-1"),
            PromptStyle::default(),
            "<@U0ALICE>",
        );
        assert_eq!(
            m.text,
            "Approval needed: Deploy-Prod — &lt;!channel&gt; read &lt;https://evil.example|the runbook&gt;"
        );
        assert!(
            all_text(&m.blocks)
                .contains(">&lt;!channel&gt; read &lt;https://evil.example|the runbook&gt;")
        );
        assert_eq!(code("a`b\nc"), "`a\u{02CB}b\u{21B5}c`");
        assert_eq!(code(""), "_(empty)_");
        assert_eq!(mention("U0ALICE", "alice"), "<@U0ALICE>");
        assert_eq!(mention("<!here>", "<!here>"), "&lt;!here&gt;");
    }
}
