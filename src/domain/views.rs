//! The other things people see: the modal that asks for a reason, the modal that
//! says why nothing was done, and the `/approvals` list of what waits.

use serde_json::{Value, json};

use super::execution::{Execution, Step};
use super::interaction::{REASON_BLOCK_ID, REASON_INPUT_ID, REASON_VIEW_ID, ReasonContext};
use super::render::{
    PromptStyle, REASON_MAX, SlackMessage, buttons, code, console_executions_url, console_url,
    context, escape, mrkdwn, notification, one_line, quote, section, truncate,
};
use super::waiting::{StepKind, StepTarget};

/// At most this many executions are listed with their buttons (two blocks each, well
/// inside a message's 50 blocks; each needs one `GetAutomationExecution`).
pub const LISTED_MAX: usize = 10;
/// A modal title holds at most 24 characters.
const TITLE_MAX: usize = 24;
const LIST_MESSAGE_MAX: usize = 300;

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

/// A modal that replaces the reason modal to say what happened instead (the answer
/// to a submission: `response_action: update`).
pub fn notice_modal(title: &str, text: &str) -> Value {
    json!({
        "type": "modal",
        "title": {"type": "plain_text", "text": truncate(title, TITLE_MAX)},
        "close": {"type": "plain_text", "text": "OK"},
        "blocks": [section(text)]
    })
}

/// One execution that waits, as `/approvals` lists it.
#[derive(Debug, Clone)]
pub enum Listed<'a> {
    /// Waiting for a person at a step the list can decide: with its buttons.
    Decidable {
        execution: &'a Execution,
        step: &'a Step,
        kind: StepKind,
    },
    /// Waiting for a person, listed without buttons (approvers are anyone who can see
    /// the prompt, so it is decided on the prompt): a link to it, if it has one.
    Linked {
        execution: &'a Execution,
        step: &'a Step,
        kind: StepKind,
        permalink: Option<String>,
    },
    /// Waiting on something else, or its steps could not be read in time.
    Elsewhere {
        execution_id: &'a str,
        document_name: &'a str,
        why: String,
    },
}

/// The ephemeral answer to `/approvals`: what waits, newest first, each with its own
/// buttons, and how many more there are.
pub fn waiting_list(
    listed: &[Listed<'_>],
    more: usize,
    count_is_complete: bool,
    now_unix: i64,
    region: &str,
    style: PromptStyle,
) -> SlackMessage {
    let total = listed.len() + more;
    let counted = if count_is_complete { "" } else { "at least " };
    if total == 0 {
        return SlackMessage {
            text: "No runbook waits for a decision.".into(),
            blocks: vec![section(
                ":white_check_mark: No automation execution waits for approval right now.",
            )],
        };
    }
    let mut blocks = vec![section(&format!(
        "*{counted}{total} {} for a decision*",
        if total == 1 {
            "runbook waits"
        } else {
            "runbooks wait"
        }
    ))];
    for item in listed.iter().take(LISTED_MAX) {
        match item {
            Listed::Decidable {
                execution,
                step,
                kind,
            } => {
                blocks.push(section(&decidable_line(
                    execution, step, *kind, now_unix, region,
                )));
                let target = StepTarget::for_step(&execution.id, step);
                // The reason modal is the rejection's confirmation here too.
                if let Some(mut actions) = buttons(execution, step, &target, *kind, style) {
                    actions["block_id"] = json!(truncate(
                        &format!("ssm_list/{}/{}", execution.id, step.key()),
                        255
                    ));
                    blocks.push(actions);
                }
            }
            Listed::Linked {
                execution,
                step,
                kind,
                permalink,
            } => {
                let mut line = decidable_line(execution, step, *kind, now_unix, region);
                line.push_str(&match permalink {
                    Some(link) => format!("\n<{link}|Decide on its prompt>"),
                    None => "\nIts prompt could not be found: decide in the console.".into(),
                });
                blocks.push(section(&line));
            }
            Listed::Elsewhere {
                execution_id,
                document_name,
                why,
            } => blocks.push(section(&format!(
                "*<{}|{}>* · {}",
                console_url(region, execution_id),
                escape(&one_line(&truncate(document_name, 80))),
                why
            ))),
        }
    }
    let not_shown = total - listed.len().min(LISTED_MAX);
    if not_shown > 0 {
        blocks.push(context(&format!(
            "…and {counted}{not_shown} more: see them all in the <{}|AWS console>.",
            console_executions_url(region)
        )));
    }
    SlackMessage {
        text: notification(&format!("{counted}{total} runbooks wait for a decision")),
        blocks,
    }
}

fn decidable_line(
    execution: &Execution,
    step: &Step,
    kind: StepKind,
    now_unix: i64,
    region: &str,
) -> String {
    let waiting = match step.started_at_unix {
        Some(since) => format!(" · waiting {}", age(now_unix - since)),
        None => String::new(),
    };
    let what = match kind {
        StepKind::Approval => "approval",
        StepKind::Pause => "pause",
    };
    let mut line = format!(
        "*<{}|{}>* · {what} step {}{waiting}",
        console_url(region, execution.id.as_str()),
        escape(&one_line(&truncate(&execution.document_name, 80))),
        code(&step.name)
    );
    if kind == StepKind::Approval
        && let Some(message) = step.approval().message
    {
        line.push_str(&format!(
            "\n{}",
            quote(&one_line(&truncate(&message, LIST_MESSAGE_MAX)))
        ));
    }
    line
}

/// `45 s`, `12 min`, `3 h`, `2 d`.
pub fn age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

/// The mrkdwn of a refusal or notice, for an ephemeral answer.
pub fn ephemeral(text: &str) -> Value {
    json!({"response_type": "ephemeral", "text": text,
        "blocks": [{"type": "section", "text": mrkdwn(text)}]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::execution::{APPROVE_ACTION, ExecutionId, PAUSE_ACTION, Status};
    use crate::domain::interaction::Decision;
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
    fn a_linked_entry_has_no_buttons_and_opens_its_prompt() {
        let e = execution(1, APPROVE_ACTION);
        let listed = [
            Listed::Linked {
                execution: &e,
                step: &e.steps[0],
                kind: StepKind::Approval,
                permalink: Some("https://x.slack.com/archives/C1/p1".into()),
            },
            Listed::Linked {
                execution: &e,
                step: &e.steps[0],
                kind: StepKind::Approval,
                permalink: None,
            },
        ];
        let m = waiting_list(&listed, 0, true, 2_000, "us-east-1", PromptStyle::default());
        assert!(m.blocks.iter().all(|b| b["type"] != "actions"));
        let text = serde_json::to_string(&m.blocks).unwrap();
        assert!(text.contains("<https://x.slack.com/archives/C1/p1|Decide on its prompt>"));
        assert!(text.contains("decide in the console"));
    }

    #[test]
    fn the_list_stays_within_block_kit_limits_and_counts_the_rest() {
        let executions: Vec<Execution> = (0..30).map(|n| execution(n, APPROVE_ACTION)).collect();
        let listed: Vec<Listed> = executions
            .iter()
            .map(|e| Listed::Decidable {
                execution: e,
                step: &e.steps[0],
                kind: StepKind::Approval,
            })
            .collect();
        let m = waiting_list(
            &listed,
            95,
            true,
            1_000 + 3 * 3600,
            "us-east-1",
            PromptStyle::default(),
        );
        assert!(m.blocks.len() <= 50, "{}", m.blocks.len());
        let actions = m.blocks.iter().filter(|b| b["type"] == "actions").count();
        assert_eq!(actions, LISTED_MAX);
        let ids: std::collections::BTreeSet<_> = m
            .blocks
            .iter()
            .filter_map(|b| b["block_id"].as_str())
            .collect();
        assert_eq!(ids.len(), LISTED_MAX, "block_ids are unique");
        let text = m.blocks.iter().map(|b| b.to_string()).collect::<String>();
        assert!(text.contains("125 runbooks wait"), "{text}");
        assert!(text.contains("…and 115 more"), "{text}");
        assert!(text.contains("waiting 3 h"));
        // Runbook text stays data.
        assert!(
            !text.contains("<!here>") && !text.contains("Deploy<"),
            "{text}"
        );
    }

    #[test]
    fn a_pause_is_listed_with_resume_and_an_empty_list_says_so() {
        let e = execution(1, PAUSE_ACTION);
        let listed = [Listed::Decidable {
            execution: &e,
            step: &e.steps[0],
            kind: StepKind::Pause,
        }];
        let m = waiting_list(
            &listed,
            0,
            false,
            2_000,
            "us-east-1",
            PromptStyle::default(),
        );
        let text = m.blocks.iter().map(|b| b.to_string()).collect::<String>();
        assert!(text.contains("ssm_resume") && !text.contains("ssm_approve"));
        assert!(text.contains("at least 1 runbook waits"));
        let empty = waiting_list(&[], 0, true, 0, "us-east-1", PromptStyle::default());
        assert!(empty.text.contains("No runbook waits"));
    }

    #[test]
    fn the_reason_modal_fits_slack_limits_and_carries_its_context() {
        let e = execution(1, APPROVE_ACTION);
        let ctx = ReasonContext {
            decision: Decision::Reject,
            target: StepTarget::for_step(&e.id, &e.steps[0]),
            response_url: "https://hooks.slack.com/actions/T/1/x".into(),
            from_ephemeral: false,
            prompt: None,
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

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(5), "5 s");
        assert_eq!(age(600), "10 min");
        assert_eq!(age(7200), "2 h");
        assert_eq!(age(3 * 86_400), "3 d");
        assert_eq!(age(-4), "0 s");
    }
}
