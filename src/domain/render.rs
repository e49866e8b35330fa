//! Block Kit messages: the prompt, and what replaces it once the step moves on.
//!
//! Every message has the same shape, so one can replace another in place:
//! a header, a status block (`block_id` [`STATUS_BLOCK`]), the details a person
//! needs to decide, and, only while the step waits, the Approve / Reject buttons.

use serde_json::{Value, json};

use super::execution::{Execution, Status, Step};
use super::interaction::{
    ACTIONS_BLOCK_PREFIX, APPROVE_ACTION_ID, Decision, REJECT_ACTION_ID, RESUME_ACTION_ID,
    button_value,
};
use super::place::Shown;
use super::record::DecisionRecord;
use super::waiting::{StepKind, StepTarget};

pub const STATUS_BLOCK: &str = "ssm_status";
/// The section of fields (runbook, started by, and while the step waits: approvals
/// needed and time-out).
pub const FIELDS_BLOCK: &str = "ssm_fields";
/// Fields that only mean something while the step waits.
const WAITING_FIELDS: [&str; 3] = ["*Approvals needed*", "*Times out*", "*Who may decide*"];

// Block Kit limits (characters).
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;
const NOTIFICATION_MAX: usize = 300;
const BUTTON_VALUE_MAX: usize = 2000;
/// A confirm dialog's text holds at most 300 characters: two names of at most 40,
/// escaped (up to 5 characters each), fit with the sentence around them.
const CONFIRM_NAME_MAX: usize = 24;
const PARAMETERS_SHOWN: usize = 10;
const PARAMETER_VALUE_MAX: usize = 120;
/// Names and principals shown in code spans are cut to this many characters first.
const NAME_MAX: usize = 200;
/// A reason is shown in full up to this many characters (the modal takes at most
/// [`REASON_MAX`]).
const REASON_SHOWN_MAX: usize = 1000;
/// The longest reason the modal accepts.
pub const REASON_MAX: usize = 1000;

/// A message as `chat.postMessage`, `chat.update` and `response_url` take it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackMessage {
    /// Notification and accessibility text.
    pub text: String,
    pub blocks: Vec<Value>,
}

/// Where the execution can be opened in the AWS console.
pub fn console_url(region: &str, execution_id: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/systems-manager/automation/execution/{execution_id}?region={region}"
    )
}

/// The list of automation executions in the AWS console.
pub fn console_executions_url(region: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/systems-manager/automation/executions?region={region}"
    )
}

/// How prompts are drawn, from the deployment's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PromptStyle {
    /// Decisions are signalled under a session per person (`APPROVER_ROLE_ARN`), so
    /// a quorum can be met from Slack.
    pub per_person: bool,
    /// Reject opens a modal asking for a reason (which is its confirmation).
    pub reason_modal: bool,
}

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

/// The clicked prompt while a quorum is being gathered: the approvals so far in its
/// status, the buttons kept for the next approver.
pub fn render_progress(
    clicked_blocks: &[Value],
    approvals: &[DecisionRecord],
    needed: u32,
) -> Option<SlackMessage> {
    if !clicked_blocks
        .iter()
        .any(|b| block_id(b) == Some(STATUS_BLOCK))
    {
        return None;
    }
    let line = progress_line(approvals, needed);
    let blocks = clicked_blocks
        .iter()
        .map(|b| match block_id(b) {
            Some(STATUS_BLOCK) => status_block(line.clone()),
            _ => verbatim(b.clone()),
        })
        .collect();
    Some(SlackMessage {
        text: notification(&format!("{} of {needed} approvals so far", approvals.len())),
        blocks,
    })
}

/// The prompt's status while a quorum is gathered: "Waiting for approval: 1 of 2 …".
pub fn progress_line(approvals: &[DecisionRecord], needed: u32) -> String {
    format!(
        ":hourglass_flowing_sand: *Waiting for approval*: {}",
        progress(approvals, needed)
    )
}

/// "1 of 2 approvals: @alice".
pub fn progress(approvals: &[DecisionRecord], needed: u32) -> String {
    format!(
        "{} of {needed} approvals: {}",
        approvals.len(),
        mentions(approvals)
    )
}

/// "@alice, @bob": who made these decisions, as mentions.
fn mentions<'a>(decided: impl IntoIterator<Item = &'a DecisionRecord>) -> String {
    decided
        .into_iter()
        .map(|d| mention(&d.user_id, &d.handle))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "alice, bob": who made these decisions, as plain text (for notifications).
fn handles<'a>(decided: impl IntoIterator<Item = &'a DecisionRecord>) -> String {
    decided
        .into_iter()
        .map(|d| escape(&d.handle))
        .collect::<Vec<_>>()
        .join(", ")
}

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
    let kind = if pause { "pause" } else { "approval" };
    let lead = match news {
        StepNews::NothingDone => format!("Nothing was done: the {kind} step"),
        StepNews::Unconfirmed => format!(
            "AWS did not confirm your decision in time, so it was not sent again. The {kind} step"
        ),
    };
    format!(
        "{lead} {} is no longer waiting. It {became}. {}",
        code(&step.name),
        execution_line(&execution.status)
    )
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

/// Blocks echoed back from a click are sent as text again: `verbatim` on every mrkdwn
/// object, whatever Slack's copy kept of it.
fn verbatim(mut block: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(o) => {
                if o.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                    o.insert("verbatim".into(), Value::Bool(true));
                }
                o.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut block);
    block
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

fn details(
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
            execution
                .executed_by
                .as_deref()
                .map(principal)
                .unwrap_or("unknown".into())
        ),
        format!("*Where*\n{}", where_text(shown)),
    ];
    if step.status == Status::Waiting && !pause {
        fields.push(format!(
            "{}\n{}",
            WAITING_FIELDS[0],
            approvals_needed(approval.min_required_approvals, style.per_person)
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

/// `payments-prod (111122223333) · eu-west-1`: the account (with its friendly name)
/// and the Region, as a prompt shows them.
pub fn where_text(shown: &Shown<'_>) -> String {
    let region = code(&shown.place.region);
    match (&shown.place.account, shown.account_name) {
        (Some(account), Some(name)) => format!(
            "{} ({}) · {region}",
            escape(&one_line(&truncate(name, 64))),
            code(account)
        ),
        (Some(account), None) => format!("account {} · {region}", code(account)),
        (None, _) => region,
    }
}

fn approvals_needed(n: u32, per_person: bool) -> String {
    if n > 1 && !per_person {
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
    if let Some(reason) = last.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        line.push_str(&format!("\n{}", quote(&truncate(reason, REASON_SHOWN_MAX))));
    }
    line
}

/// `<@U…>` for a well-formed Slack user ID; anything else is shown as text.
pub fn mention(user_id: &str, handle: &str) -> String {
    if is_slack_id(user_id) {
        format!("<@{user_id}>")
    } else {
        escape(&one_line(&truncate(handle, NAME_MAX)))
    }
}

/// Slack IDs (users, groups, teams, channels): an upper-case letter, then upper-case
/// letters and digits.
pub fn is_slack_id(raw: &str) -> bool {
    raw.len() >= 2
        && raw.len() <= 32
        && raw.as_bytes()[0].is_ascii_uppercase()
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
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

/// A mrkdwn text object. `verbatim` stops Slack from turning bare URLs, channel
/// names and `@names` into links and mentions; what we escaped stays text.
pub(crate) fn mrkdwn(text: &str) -> Value {
    json!({"type": "mrkdwn", "text": truncate(text, SECTION_MAX), "verbatim": true})
}

fn status_block(text: String) -> Value {
    json!({"type": "section", "block_id": STATUS_BLOCK, "text": mrkdwn(&text)})
}

pub(crate) fn section(text: &str) -> Value {
    json!({"type": "section", "text": mrkdwn(text)})
}

pub(crate) fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [mrkdwn(text)]})
}

/// A message's top-level `text` (the notification): already escaped by the caller.
pub(crate) fn notification(escaped: &str) -> String {
    truncate(escaped, NOTIFICATION_MAX)
}

fn block_id(block: &Value) -> Option<&str> {
    block.get("block_id").and_then(Value::as_str)
}

pub(crate) fn quote(message: &str) -> String {
    escape(message)
        .lines()
        .map(|l| format!(">{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `arn:aws:sts::123456789012:assumed-role/Ops/alice` → `assumed-role/Ops/alice` (account shown after).
fn principal(arn: &str) -> String {
    let arn = truncate(arn, NAME_MAX);
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, _, _, account, resource] if !resource.is_empty() => {
            format!("{} ({})", code(resource), escape(&one_line(account)))
        }
        _ => code(&arn),
    }
}

/// Slack mrkdwn control characters (`&`, `<`, `>`) must be escaped in text we did not write.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Text that is not ours, shown as an inline code span it cannot leave: escaped, with
/// backticks (which would end the span) shown as `ˋ` (U+02CB) and line breaks (which
/// Slack does not keep inside a span) as `↵`. Empty text is shown as `(empty)`.
pub fn code(text: &str) -> String {
    let text = truncate(text, NAME_MAX);
    if text.is_empty() {
        return "_(empty)_".into();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('`');
    for c in escape(&one_line(&text)).chars() {
        out.push(if c == '`' { '\u{02CB}' } else { c });
    }
    out.push('`');
    out
}

/// Line breaks shown as `↵`, so text stays on one line.
pub(crate) fn one_line(text: &str) -> String {
    text.replace("\r\n", "\u{21B5}")
        .replace(['\n', '\r', '\u{2028}', '\u{2029}'], "\u{21B5}")
}

/// Cuts to at most `max` characters, marking the cut with an ellipsis.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    // never leave half an escape sequence (`&am…`) behind
    if let Some(amp) = cut.rfind('&')
        && !cut[amp..].contains(';')
    {
        cut.truncate(amp);
    }
    cut.push('…');
    cut
}

/// A date Slack shows in each reader's own time zone, with a UTC fallback.
pub fn slack_date(unix: i64) -> String {
    format!(
        "<!date^{unix}^{{date_short_pretty}} at {{time}}|{}>",
        utc_text(unix)
    )
}

/// `2026-11-21 13:05 UTC`
pub fn utc_text(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::execution::{APPROVE_ACTION, ExecutionId};
    use std::collections::BTreeMap;

    const ID: &str = "333ba70b-2333-48db-b17e-a5e69c6f4d1c";

    fn execution(status: Status, step_status: Status) -> (Execution, Step) {
        let step = Step {
            name: "approveProd".into(),
            action: APPROVE_ACTION.into(),
            status: step_status,
            step_execution_id: Some("0b2c8a5e-1111-4222-8333-444455556666".into()),
            inputs: BTreeMap::from([
                ("Message".into(), "\"Roll <prod> out & restart\"".into()),
                ("MinRequiredApprovals".into(), "1".into()),
            ]),
            started_at_unix: Some(1_763_730_000),
            timeout_seconds: Some(3600),
            failure_message: None,
            outputs: Default::default(),
        };
        let execution = Execution {
            id: ExecutionId::parse(ID).unwrap(),
            document_name: "Deploy-Prod".into(),
            document_version: Some("3".into()),
            status,
            executed_by: Some("arn:aws:sts::123456789012:assumed-role/Ops/alice".into()),
            parameters: BTreeMap::from([
                ("Version".into(), vec!["1.2.3".into()]),
                ("Huge".into(), vec!["x".repeat(500)]),
            ]),
            steps: vec![step.clone()],
        };
        (execution, step)
    }

    /// A place with no account, in `region` (as a deployment that was not told its own).
    fn shown(region: &str) -> Shown<'static> {
        Shown::region_only(Box::leak(Box::new(crate::domain::place::Place::new(
            None, region,
        ))))
    }

    fn all_text(blocks: &[Value]) -> String {
        serde_json::to_string(blocks).unwrap()
    }

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
                crate::domain::interaction::parse_button_value(b["value"].as_str().unwrap())
                    .unwrap();
            let place = crate::domain::place::Place::new(None, "eu-west-1");
            assert_eq!(target, StepTarget::on_button(&e, &s, &place));
            assert_eq!(target.step_name, "approveProd");
            assert_eq!(target.runbook.as_deref(), Some("Deploy-Prod"));
        }
        assert!(m.text.starts_with("Approval needed: Deploy-Prod"));
    }

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
    fn utc_text_is_a_calendar_date() {
        assert_eq!(utc_text(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_text(1_763_733_600), "2025-11-21 14:00 UTC");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00 UTC");
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
