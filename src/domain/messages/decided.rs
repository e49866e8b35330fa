//! The message once a step no longer waits, and what a clicker who came too late is told.

use serde_json::Value;

use super::blocks::{
    FIELDS_BLOCK, STATUS_BLOCK, SlackMessage, WAITING_FIELDS, block_id, context, notification,
    status_block, verbatim,
};
use super::prompt::{PromptStyle, details};
use super::text::{code, escape, handles, mentions, quote, slack_date, truncate};
use crate::domain::execution::{Execution, Status, Step};
use crate::domain::inbound::Decision;
use crate::domain::place::Shown;
use crate::domain::record::DecisionRecord;
use crate::domain::waiting::StepKind;

/// A reason is shown in full up to this many characters (the modal takes at most
/// [`REASON_MAX`](super::reason_form::REASON_MAX)).
const REASON_SHOWN_MAX: usize = 1000;

/// The message once the step is no longer waiting (or the execution ended): the
/// outcome in words, no buttons. `decided` are the decisions made in Slack that
/// explain the outcome (see `StepRecord::deciding`); empty when there are none.
pub fn render_outcome(
    execution: &Execution,
    step: &Step,
    decided: &[DecisionRecord],
    shown: &Shown<'_>,
) -> SlackMessage {
    let decided = agreeing(step, decided);
    let pause = StepKind::of(step) == Some(StepKind::Pause);
    let mut status = match (&step.status, decided.is_empty()) {
        (_, false) => decided_line(&decided),
        (Status::Success, true) if pause => ":arrow_forward: *Resumed*".to_owned(),
        (Status::Success, true) => ":white_check_mark: *Approved*".to_owned(),
        (Status::Failed, true) if pause => ":x: *Failed*".to_owned(),
        (Status::Failed, true) => ":x: *Rejected or failed*".to_owned(),
        (Status::TimedOut, true) if pause => ":alarm_clock: *Timed out* while paused".to_owned(),
        (Status::TimedOut, true) => ":alarm_clock: *Timed out*: nobody decided in time".to_owned(),
        (Status::Cancelled | Status::Cancelling, true) => {
            ":no_entry_sign: *Cancelled* before a decision".to_owned()
        }
        (Status::Waiting, true) if pause => ":double_vertical_bar: *Still paused*".to_owned(),
        (Status::Waiting, true) => {
            ":hourglass_flowing_sand: *Still waiting for approval*".to_owned()
        }
        (other, true) => format!(
            ":grey_question: {} step is *{}*",
            if pause { "Pause" } else { "Approval" },
            escape(other.as_str())
        ),
    };
    if decided.is_empty()
        && let Some(failure) = step.failure_message.as_deref().filter(|f| !f.is_empty())
    {
        status.push_str(&format!("\n{}", quote(&truncate(failure, 500))));
    }
    status.push_str(&format!("\n{}", execution_line(&execution.status)));
    let headline = plain_headline(&step.status, &decided, pause);
    SlackMessage {
        text: notification(&format!("{headline}: {}", escape(&execution.document_name))),
        blocks: details(execution, step, shown, status, PromptStyle::default(), None),
    }
}

/// The decision just accepted by SSM for a step that waited, drawn from the
/// execution (for a decision made in a modal, which has no clicked message at hand).
pub fn render_decided_step(
    execution: &Execution,
    step: &Step,
    decided: &[DecisionRecord],
    shown: &Shown<'_>,
) -> SlackMessage {
    let mut over = step.clone();
    over.status = Status::Success; // not waiting: no waiting-only fields
    SlackMessage {
        text: notification(&decided_headline(decided)),
        blocks: details(
            execution,
            &over,
            shown,
            decided_line(&decided.iter().collect::<Vec<_>>()),
            PromptStyle::default(),
            None,
        ),
    }
}

/// The clicked prompt after SSM accepted a decision: the same blocks with the status
/// replaced and the buttons gone. Works from the message Slack sent with the click,
/// so no extra call to SSM is needed; falls back to a minimal message without it.
pub fn render_decided(
    clicked_blocks: &[Value],
    decided: &[DecisionRecord],
    execution_id: &str,
) -> SlackMessage {
    SlackMessage {
        text: notification(&decided_headline(decided)),
        blocks: replace_status(
            clicked_blocks,
            decided_line(&decided.iter().collect::<Vec<_>>()),
            execution_id,
        ),
    }
}

fn decided_headline(decided: &[DecisionRecord]) -> String {
    match decided.first() {
        Some(first) => format!(
            "{} in Slack by {}",
            first.decision.past_tense(),
            handles(decided)
        ),
        None => "Decided in Slack".into(),
    }
}

/// Why a clicker is being told what became of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepNews {
    /// The step no longer waited when the click came: nothing was signalled.
    NothingDone,
    /// The signal got no clear answer; SSM's state now shows the step over.
    Unconfirmed,
}

/// What a clicker is told when the step their prompt showed no longer waits:
/// what became of that step, and whether their click did anything.
pub fn explain_no_longer_waiting(
    execution: &Execution,
    step: &Step,
    decided: &[DecisionRecord],
    news: StepNews,
) -> String {
    let pause = StepKind::of(step) == Some(StepKind::Pause);
    let kind = if pause { "pause" } else { "approval" };
    let lead = match news {
        StepNews::NothingDone => format!("Nothing was done: the {kind} step"),
        StepNews::Unconfirmed => format!(
            "AWS did not confirm your decision in time, so it was not sent again. The {kind} step"
        ),
    };
    format!(
        "{lead} {} is no longer waiting. It {}",
        code(&step.name),
        explain_outcome(execution, step, decided)
    )
}

/// What became of a step that no longer waits, and of its runbook: `was *Rejected* by
/// @bob. The runbook …`.
pub(super) fn explain_outcome(
    execution: &Execution,
    step: &Step,
    decided: &[DecisionRecord],
) -> String {
    let decided = agreeing(step, decided);
    let pause = StepKind::of(step) == Some(StepKind::Pause);
    let became = match (&step.status, decided.first()) {
        (_, Some(d)) => format!(
            "was *{}* by {}",
            d.decision.past_tense(),
            mentions(decided.iter().copied())
        ),
        (Status::Success, None) if pause => "was *Resumed*".into(),
        (Status::Success, None) => "was *Approved*".into(),
        (Status::Failed, None) if pause => "*Failed*".into(),
        (Status::Failed, None) => "was *Rejected or failed*".into(),
        (Status::TimedOut, None) => "*Timed out*".into(),
        (Status::Cancelled | Status::Cancelling, None) => "was *Cancelled*".into(),
        (Status::Waiting, None) => "no longer takes decisions".into(),
        (other, None) => format!("is *{}*", escape(other.as_str())),
    };
    format!("{became}. {}", execution_line(&execution.status))
}

/// The decisions that agree with how `step` ended, for that very step run.
fn agreeing<'a>(step: &Step, decided: &'a [DecisionRecord]) -> Vec<&'a DecisionRecord> {
    decided
        .iter()
        .filter(|d| d.step_key == step.key() && agrees(d.decision, &step.status))
        .collect()
}

/// The clicked prompt for an execution SSM no longer knows: no buttons left.
pub fn render_gone(clicked_blocks: &[Value], execution_id: &str) -> SlackMessage {
    SlackMessage {
        text: format!("Automation execution {execution_id} no longer exists"),
        blocks: replace_status(
            clicked_blocks,
            ":grey_question: *This automation execution no longer exists*; nothing can be decided."
                .into(),
            execution_id,
        ),
    }
}

fn replace_status(clicked_blocks: &[Value], status_text: String, execution_id: &str) -> Vec<Value> {
    let status = status_block(status_text);
    let mut blocks: Vec<Value> = clicked_blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) != Some("actions"))
        .map(|b| match block_id(b) {
            Some(STATUS_BLOCK) => status.clone(),
            Some(FIELDS_BLOCK) => verbatim(without_waiting_fields(b)),
            _ => verbatim(b.clone()),
        })
        .collect();
    if !blocks.iter().any(|b| block_id(b) == Some(STATUS_BLOCK)) {
        blocks = vec![
            status,
            context(&format!("Execution {}", code(execution_id))),
        ];
    }
    blocks
}

/// The fields section once the step is decided: no "approvals needed", no time-out.
fn without_waiting_fields(block: &Value) -> Value {
    let mut block = block.clone();
    if let Some(fields) = block.get_mut("fields").and_then(Value::as_array_mut) {
        fields.retain(|f| {
            let text = f.get("text").and_then(Value::as_str).unwrap_or_default();
            !WAITING_FIELDS.iter().any(|w| text.starts_with(w))
        });
    }
    block
}

/// "Approved by @alice, @bob <date>", with the reason given, if any, quoted below.
fn decided_line(decided: &[&DecisionRecord]) -> String {
    let Some(last) = decided.last() else {
        return ":grey_question: *Decided*".into();
    };
    let icon = match last.decision {
        Decision::Approve => ":white_check_mark:",
        Decision::Reject => ":x:",
        Decision::Resume => ":arrow_forward:",
    };
    let mut line = format!(
        "{icon} *{}* by {} {}",
        last.decision.past_tense(),
        mentions(decided.iter().copied()),
        slack_date(last.at_unix)
    );
    // A reason from Slack is quoted; a comment made outside Slack stays in the trail
    // (it may read like anything, a person's name included).
    if let Some(reason) = last.reason.as_deref().filter(|r| !r.trim().is_empty())
        && last.principal.is_none()
    {
        line.push_str(&format!("\n{}", quote(&truncate(reason, REASON_SHOWN_MAX))));
    }
    line
}

fn plain_headline(step_status: &Status, decided: &[&DecisionRecord], pause: bool) -> String {
    match (step_status, decided.last()) {
        (_, Some(d)) => format!(
            "{} by {}",
            d.decision.past_tense(),
            handles(decided.iter().copied())
        ),
        (Status::Success, None) if pause => "Resumed".into(),
        (Status::Success, None) => "Approved".into(),
        (Status::Failed, None) if pause => "Failed".into(),
        (Status::Failed, None) => "Rejected or failed".into(),
        (Status::TimedOut, None) if pause => "Pause timed out".into(),
        (Status::TimedOut, None) => "Approval timed out".into(),
        (Status::Cancelled | Status::Cancelling, None) => "Cancelled".into(),
        (other, None) => format!(
            "{} step {}",
            if pause { "Pause" } else { "Approval" },
            escape(other.as_str())
        ),
    }
}

fn execution_line(status: &Status) -> String {
    match status {
        Status::Success => "The runbook finished: *Success*.".into(),
        s if s.is_final() => format!("The runbook ended: *{}*.", escape(s.as_str())),
        s => format!("The runbook is now *{}*.", escape(s.as_str())),
    }
}

fn agrees(decision: Decision, step_status: &Status) -> bool {
    matches!(
        (decision, step_status),
        (Decision::Approve | Decision::Resume, Status::Success)
            | (Decision::Reject, Status::Failed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages::fixtures::{ID, all_text, execution, shown};
    use crate::domain::messages::prompt::{PARAMETER_VALUE_MAX, render_prompt};
    use std::collections::BTreeMap;

    #[test]
    fn outcome_has_no_buttons_and_says_what_happened() {
        for (step_status, words) in [
            (Status::TimedOut, "Timed out"),
            (Status::Cancelled, "Cancelled"),
            (Status::Success, "Approved"),
            (Status::Failed, "Rejected or failed"),
        ] {
            let (e, s) = execution(Status::Failed, step_status);
            let m = render_outcome(&e, &s, &[], &shown("us-east-1"));
            let text = all_text(&m.blocks);
            assert!(!text.contains("\"actions\""), "buttons left in {text}");
            assert!(text.contains(words), "{words} missing in {text}");
            assert!(text.contains("The runbook ended: *Failed*"));
        }
    }

    #[test]
    fn outcome_names_the_slack_decider_only_when_it_matches_the_step() {
        let (e, s) = execution(Status::Success, Status::Success);
        let record = DecisionRecord {
            step_key: s.key().into(),
            decision: Decision::Approve,
            user_id: "U0ALICE".into(),
            handle: "alice".into(),
            at_unix: 1_763_730_100,
            reason: None,
            principal: None,
        };
        let m = render_outcome(&e, &s, std::slice::from_ref(&record), &shown("us-east-1"));
        assert!(all_text(&m.blocks).contains("*Approved* by <@U0ALICE>"));
        assert_eq!(m.text, "Approved by alice: Deploy-Prod");
        let stale = DecisionRecord {
            step_key: "another-step".into(),
            ..record.clone()
        };
        assert!(
            !all_text(
                &render_outcome(&e, &s, std::slice::from_ref(&stale), &shown("us-east-1")).blocks
            )
            .contains("U0ALICE")
        );
        let (e, s) = execution(Status::TimedOut, Status::TimedOut);
        assert!(
            !all_text(
                &render_outcome(&e, &s, std::slice::from_ref(&record), &shown("us-east-1")).blocks
            )
            .contains("U0ALICE")
        );
    }

    #[test]
    fn decided_replaces_the_status_and_drops_the_buttons() {
        let (e, s) = execution(Status::Waiting, Status::Waiting);
        let prompt = render_prompt(
            &e,
            &s,
            StepKind::Approval,
            &shown("us-east-1"),
            PromptStyle::default(),
            "<@U0ALICE>",
        );
        let record = DecisionRecord {
            step_key: s.key().into(),
            decision: Decision::Reject,
            user_id: "U0BOB".into(),
            handle: "bob".into(),
            at_unix: 1_763_730_100,
            reason: None,
            principal: None,
        };
        // Slack's copy of the clicked message may have lost `verbatim`: it is set again.
        let mut echoed = prompt.blocks.clone();
        echoed[2]["text"]
            .as_object_mut()
            .unwrap()
            .remove("verbatim");
        let decided = render_decided(&echoed, std::slice::from_ref(&record), ID);
        assert_eq!(decided.blocks[2]["text"]["verbatim"], true);
        assert_eq!(decided.blocks.len(), prompt.blocks.len() - 1);
        let text = all_text(&decided.blocks);
        assert!(
            text.contains(":x: *Rejected* by <@U0BOB>") && !text.contains("Waiting for approval")
        );
        assert!(!text.contains("\"actions\""));
        let minimal = render_decided(&[], std::slice::from_ref(&record), ID);
        assert!(all_text(&minimal.blocks).contains(ID));
        let gone = render_gone(&prompt.blocks, ID);
        assert!(
            all_text(&gone.blocks).contains("no longer exists")
                && !all_text(&gone.blocks).contains("\"actions\"")
        );
    }

    /// Runbook text as a hostile starter would write it: Slack's special sequences,
    /// code-span breakers, line breaks, and anything else.
    fn hostile() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let fragment = prop_oneof![
            Just("<!channel>".to_owned()),
            Just("<!here>".to_owned()),
            Just("<!everyone>".to_owned()),
            Just("<!subteam^S0OPS>".to_owned()),
            Just("<@U0ALICE>".to_owned()),
            Just("<#C0APPROVALS>".to_owned()),
            Just("<https://evil.example|click me>".to_owned()),
            Just("<mailto:a@b.c|mail>".to_owned()),
            Just("https://evil.example".to_owned()),
            Just("`".to_owned()),
            Just("```".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just("&amp;&lt;&gt;&".to_owned()),
            Just("*bold* _it_ ~s~".to_owned()),
            "[ -~]{0,12}",
            ".{0,6}",
        ];
        proptest::collection::vec(fragment, 0..8).prop_map(|v| v.concat())
    }

    /// Every mrkdwn text object of a message, and its notification text.
    fn mrkdwn_texts(m: &SlackMessage) -> Vec<(String, bool)> {
        fn walk(v: &Value, out: &mut Vec<(String, bool)>) {
            match v {
                Value::Object(o) => {
                    if o.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                        out.push((
                            o["text"].as_str().unwrap_or_default().to_owned(),
                            o.get("verbatim") == Some(&Value::Bool(true)),
                        ));
                    }
                    o.values().for_each(|v| walk(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = vec![];
        m.blocks.iter().for_each(|b| walk(b, &mut out));
        out
    }

    /// The `<…>` sequences this renderer writes itself; anything else would be a
    /// mention or a link made out of runbook text.
    fn ours(token: &str) -> bool {
        token.starts_with("<!date^")
            || token.starts_with(
                "<https://us-east-1.console.aws.amazon.com/systems-manager/automation/execution/",
            )
            || token == "<@U0ALICE>"
    }

    fn assert_no_markup(text: &str) {
        for (i, _) in text.match_indices('<') {
            let token = &text[i..text[i..].find('>').map_or(text.len(), |e| i + e + 1)];
            assert!(
                ours(token),
                "runbook text became markup: {token:?} in {text:?}"
            );
        }
    }

    fn assert_text_is_data(m: &SlackMessage) {
        // The notification has no code spans; it must only hold no markup.
        assert_no_markup(&m.text);
        for (text, verbatim) in mrkdwn_texts(m) {
            assert!(verbatim, "a mrkdwn text without verbatim: {text}");
            assert_no_markup(&text);
            // Quoted lines are the runbook's own prose; every other line holds whole
            // code spans only.
            for line in text.lines().filter(|l| !l.starts_with('>')) {
                assert!(
                    line.matches('`').count() % 2 == 0,
                    "a value broke out of its code span: {line:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn runbook_text_never_becomes_slack_markup(
            document in hostile(),
            message in hostile(),
            step_name in hostile(),
            parameter in hostile(),
            value in hostile(),
            started_by in hostile(),
            failure in hostile(),
            handle in hostile(),
        ) {
            let (mut e, mut s) = execution(Status::Waiting, Status::Waiting);
            e.document_name = document.clone();
            e.executed_by = Some(started_by.clone());
            e.parameters = BTreeMap::from([(parameter.clone(), vec![value.clone()])]);
            s.name = step_name.clone();
            s.inputs.insert("Message".into(), serde_json::to_string(&message).unwrap());
            e.steps = vec![s.clone()];
            let prompt = render_prompt(&e, &s, StepKind::Approval, &shown("us-east-1"), PromptStyle::default(), "<@U0ALICE>");
            assert_text_is_data(&prompt);
            if let Some(confirm) = prompt.blocks.last().unwrap()["elements"][1]["confirm"]["text"]["text"].as_str() {
                assert!(confirm.chars().count() <= 300, "confirm text too long: {confirm}");
            }

            // Shown in full, escaped: the message line by line, each value in its span.
            let blocks = serde_json::to_string(&prompt.blocks).unwrap();
            let as_code = |raw: &str| serde_json::to_string(&code(raw)).unwrap();
            for line in escape(&message).lines().filter(|l| !l.trim().is_empty()) {
                let quoted = serde_json::to_string(&format!(">{line}")).unwrap();
                assert!(blocks.contains(quoted.trim_matches('"')), "message line {line:?} missing");
            }
            for raw in [&document, &step_name, &parameter, &value] {
                if !raw.is_empty() && raw.chars().count() < PARAMETER_VALUE_MAX {
                    assert!(blocks.contains(as_code(raw).trim_matches('"')), "{raw:?} not shown");
                }
            }

            s.status = Status::Failed;
            s.failure_message = Some(failure.clone());
            e.status = Status::Failed;
            assert_text_is_data(&render_outcome(&e, &s, &[], &shown("us-east-1")));
            let record = DecisionRecord {
                step_key: s.key().into(),
                decision: Decision::Reject,
                user_id: "U0ALICE".into(),
                handle,
                at_unix: 1_763_730_100,
                reason: None,
                principal: None,
            };
            assert_text_is_data(&render_outcome(&e, &s, std::slice::from_ref(&record), &shown("us-east-1")));
            assert_text_is_data(&render_decided(&prompt.blocks, std::slice::from_ref(&record), ID));
            let news = explain_no_longer_waiting(&e, &s, std::slice::from_ref(&record), StepNews::NothingDone);
            assert_no_markup(&news);
            for line in news.lines() {
                assert!(line.matches('`').count() % 2 == 0, "{line:?}");
            }
        }
    }
}
