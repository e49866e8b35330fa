//! Slack interactivity payloads: the form body's `payload` field, parsed tolerantly.
//!
//! Only what a decision needs is typed; the clicked message's blocks are kept as
//! raw JSON, so block types we do not know never fail a click.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::error::Category;

use super::place::{is_account_id, is_region_name};
use super::waiting::{StepKind, StepTarget};

pub const APPROVE_ACTION_ID: &str = "ssm_approve";
pub const REJECT_ACTION_ID: &str = "ssm_reject";
pub const RESUME_ACTION_ID: &str = "ssm_resume";
/// The `/approvals` list's button that shows the next page (its value: where the
/// list stopped).
pub const LIST_MORE_ACTION_ID: &str = "ssm_list_more";
/// The `callback_id` of the modal that asks for a reason.
pub const REASON_VIEW_ID: &str = "ssm_reason";
/// The input block (and its element) of the reason modal.
pub const REASON_BLOCK_ID: &str = "ssm_reason_block";
pub const REASON_INPUT_ID: &str = "ssm_reason_input";
/// The slash command that lists what waits.
pub const APPROVALS_COMMAND: &str = "/approvals";
/// The actions block's `block_id` is this prefix followed by the approval step's key
/// (informative only: what a click decides is named by the button's value).
pub const ACTIONS_BLOCK_PREFIX: &str = "ssm_decision/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
    /// Resume a paused runbook (`aws:pause`).
    Resume,
}

impl Decision {
    /// The `SignalType` sent to SSM.
    pub fn signal_type(self) -> &'static str {
        match self {
            Self::Approve => "Approve",
            Self::Reject => "Reject",
            Self::Resume => "Resume",
        }
    }

    pub fn past_tense(self) -> &'static str {
        match self {
            Self::Approve => "Approved",
            Self::Reject => "Rejected",
            Self::Resume => "Resumed",
        }
    }

    pub fn parse_signal_type(raw: &str) -> Option<Self> {
        match raw {
            "Approve" => Some(Self::Approve),
            "Reject" => Some(Self::Reject),
            "Resume" => Some(Self::Resume),
            _ => None,
        }
    }

    /// The kind of step this decision is for.
    pub fn step_kind(self) -> StepKind {
        match self {
            Self::Approve | Self::Reject => StepKind::Approval,
            Self::Resume => StepKind::Pause,
        }
    }

    fn from_action_id(action_id: &str) -> Option<Self> {
        match action_id {
            APPROVE_ACTION_ID => Some(Self::Approve),
            REJECT_ACTION_ID => Some(Self::Reject),
            RESUME_ACTION_ID => Some(Self::Resume),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SlackUser {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
}

impl SlackUser {
    /// The name to record in SSM: the Slack handle, or the ID when Slack sent none.
    pub fn handle(&self) -> &str {
        [&self.username, &self.name]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .find(|s| !s.trim().is_empty())
            .unwrap_or(&self.id)
    }
}

/// Who acts, and the workspace the request came through (`team.id`), when Slack sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: SlackUser,
    pub team_id: Option<String>,
}

impl Actor {
    /// The workspace the person belongs to: `user.team_id`, else the request's team.
    pub fn team(&self) -> Option<&str> {
        self.user
            .team_id
            .as_deref()
            .or(self.team_id.as_deref())
            .filter(|t| !t.is_empty())
    }
}

/// A click on one of our Approve / Reject / Resume buttons.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionClick {
    pub decision: Decision,
    /// The execution and the very step the clicked prompt showed (the button's value).
    pub target: StepTarget,
    pub actor: Actor,
    pub response_url: String,
    /// Opens a modal (a reason for the decision) within 3 seconds of the click.
    pub trigger_id: Option<String>,
    /// The blocks of the message that was clicked, when Slack sent them (it does not
    /// for ephemeral messages, such as the answer to `/approvals`).
    pub message_blocks: Vec<Value>,
    /// The click came from an ephemeral message (the `/approvals` list), not a prompt.
    pub from_ephemeral: bool,
    /// Where the clicked prompt is (`container.channel_id` / `message_ts`): updated
    /// with `chat.update` when its `response_url` no longer works.
    pub prompt: Option<MessageRef>,
    /// The click came from the app's Home tab (a view: no `response_url`; the tab is
    /// published again with the outcome).
    pub from_home: bool,
}

/// A message in a channel: `(channel, ts)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    #[serde(rename = "c")]
    pub channel: String,
    #[serde(rename = "m")]
    pub ts: String,
}

/// Where a reason modal came from, kept in its `private_metadata` (Slack hands it
/// back untouched with the submission, which is signed like every request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonContext {
    #[serde(rename = "d", with = "signal_type_text")]
    pub decision: Decision,
    #[serde(rename = "t")]
    pub target: StepTarget,
    /// The clicked prompt's `response_url`, to replace it once decided.
    #[serde(rename = "r")]
    pub response_url: String,
    /// The click came from an ephemeral message: do not replace it with the outcome.
    #[serde(rename = "e", default)]
    pub from_ephemeral: bool,
    /// Where the prompt is, for `chat.update` once the `response_url` has expired.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<MessageRef>,
    /// The form was opened from the Home tab: it is published again once decided.
    #[serde(rename = "h", default, skip_serializing_if = "std::ops::Not::not")]
    pub from_home: bool,
}

/// A submitted reason modal.
#[derive(Debug, Clone, PartialEq)]
pub struct ReasonSubmission {
    pub context: ReasonContext,
    pub actor: Actor,
    /// What the person typed, trimmed; `None` when they left it empty.
    pub reason: Option<String>,
}

/// The `/approvals` slash command.
#[derive(Debug, Clone, PartialEq)]
pub struct SlashCommand {
    pub command: String,
    pub text: String,
    pub actor: Actor,
    pub channel_id: Option<String>,
}

/// Why one of our buttons could not be acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ButtonError {
    #[error("the button names no step (an older prompt, or not one of ours): {0:?}")]
    NamesNoStep(String),
    #[error("the button's value is not a step of an automation execution: {0}")]
    Malformed(String),
}

/// A well-formed interaction, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Interaction {
    Decision(DecisionClick),
    Reason(ReasonSubmission),
    /// A reason modal whose metadata is not ours: nothing to act on.
    BadView(String),
    /// One of our buttons, but it does not name an execution and step: the clicker is told.
    BadButton {
        response_url: String,
        error: ButtonError,
    },
    /// The list's "More" button: the next page of what waits, from `after`.
    ListMore {
        actor: Actor,
        response_url: String,
        after: String,
    },
    /// Not for us (another type, another action); acknowledged and logged.
    Ignored(String),
}

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("the form body has no `payload` field")]
    NoPayload,
    #[error("`payload` is not valid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    #[error("`payload` is not an interaction payload we can read: {0}")]
    Malformed(#[source] serde_json::Error),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct Team {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct BlockActions {
    user: SlackUser,
    #[serde(default)]
    team: Option<Team>,
    #[serde(default)]
    response_url: Option<String>,
    #[serde(default)]
    trigger_id: Option<String>,
    #[serde(default)]
    actions: Vec<Action>,
    #[serde(default)]
    message: Option<MessageSeen>,
    #[serde(default)]
    container: Option<Container>,
}

#[derive(Deserialize)]
struct Container {
    /// `message`, or `view` for a click in a view (the Home tab, a modal).
    #[serde(rename = "type", default)]
    kind: Option<String>,
    /// The view's ID, for a click in a view.
    #[serde(default)]
    view_id: Option<String>,
    #[serde(default)]
    is_ephemeral: bool,
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    message_ts: Option<String>,
}

#[derive(Deserialize)]
struct Action {
    #[serde(default)]
    action_id: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct MessageSeen {
    #[serde(default)]
    blocks: Vec<Value>,
}

#[derive(Deserialize)]
struct ViewSubmission {
    user: SlackUser,
    #[serde(default)]
    team: Option<Team>,
    view: View,
}

#[derive(Deserialize)]
struct View {
    #[serde(default)]
    callback_id: Option<String>,
    #[serde(default)]
    private_metadata: Option<String>,
    #[serde(default)]
    state: Option<Value>,
}

/// Reads `payload` from an `application/x-www-form-urlencoded` body: the first
/// `payload` field, decoded as the WHATWG URL standard decodes forms (as
/// `form_urlencoded` does; tested against it), in one pass over the value.
pub fn payload_from_form(body: &[u8]) -> Result<String, PayloadError> {
    let raw = body
        .split(|&b| b == b'&')
        .find_map(|pair| {
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            (form_decode(key) == b"payload").then_some(value)
        })
        .ok_or(PayloadError::NoPayload)?;
    Ok(match String::from_utf8(form_decode(raw)) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// `+` is a space; `%` and two hex digits is that byte; anything else, itself.
fn form_decode(raw: &[u8]) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16)).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.iter().position(|&b| b == b'+' || b == b'%') {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at..];
        match (rest[0], hex(rest.get(1)), hex(rest.get(2))) {
            (b'%', Some(high), Some(low)) => {
                out.push(high << 4 | low);
                rest = &rest[3..];
                continue;
            }
            (b'+', ..) => out.push(b' '),
            (other, ..) => out.push(other),
        }
        rest = &rest[1..];
    }
    out.extend_from_slice(rest);
    out
}

/// Slack's certificate check of a slash-command URL: a form with `ssl_check=1` (and a
/// `token`), no `payload` and no `command`. It is answered 200 before anything else.
pub fn is_ssl_check(body: &[u8]) -> bool {
    let mut check = false;
    for (key, value) in form_urlencoded::parse(body) {
        match &*key {
            "ssl_check" => check = value == "1",
            "payload" | "command" => return false,
            _ => {}
        }
    }
    check
}

/// A slash command's form body (`command`, `text`, `user_id`, …), if it is one.
pub fn command_from_form(body: &[u8]) -> Option<SlashCommand> {
    let mut command = None;
    let (mut text, mut user_id, mut user_name, mut team_id, mut channel_id) =
        (String::new(), None, None, None, None);
    for (key, value) in form_urlencoded::parse(body) {
        let value = value.into_owned();
        match &*key {
            "command" => command = Some(value),
            "text" => text = value,
            "user_id" => user_id = Some(value),
            "user_name" => user_name = Some(value),
            "team_id" => team_id = Some(value),
            "channel_id" => channel_id = Some(value),
            _ => {}
        }
    }
    let user_id = user_id.filter(|u| !u.trim().is_empty())?;
    Some(SlashCommand {
        command: command?,
        text,
        actor: Actor {
            user: SlackUser {
                id: user_id,
                username: user_name.clone(),
                name: user_name,
                // A command says only the workspace it came through.
                team_id: None,
            },
            team_id,
        },
        channel_id,
    })
}

pub fn parse_interaction(payload: &str) -> Result<Interaction, PayloadError> {
    // Read straight from the text, twice (the type, then the fields of that type),
    // rather than through a tree of the whole payload: a click's payload is mostly
    // parts not needed here, which are only skipped over.
    let envelope: Envelope = serde_json::from_str(payload).map_err(|e| match e.classify() {
        Category::Data => PayloadError::Malformed(e),
        Category::Syntax | Category::Eof | Category::Io => PayloadError::InvalidJson(e),
    })?;
    match envelope.kind.as_deref() {
        Some("block_actions") => parse_block_actions(payload),
        Some("view_submission") => parse_view_submission(payload),
        Some(other) => Ok(Interaction::Ignored(format!(
            "interaction type {other:?} is not handled"
        ))),
        None => Ok(Interaction::Ignored("the payload has no type".into())),
    }
}

fn parse_block_actions(payload: &str) -> Result<Interaction, PayloadError> {
    let payload: BlockActions = serde_json::from_str(payload).map_err(PayloadError::Malformed)?;
    if let Some(more) = payload
        .actions
        .iter()
        .find(|a| a.action_id.as_deref() == Some(LIST_MORE_ACTION_ID))
    {
        let after = more.value.clone().unwrap_or_default();
        return Ok(match payload.response_url.filter(|u| !u.is_empty()) {
            Some(response_url) => Interaction::ListMore {
                actor: Actor {
                    user: payload.user,
                    team_id: payload.team.and_then(|t| t.id),
                },
                response_url,
                after,
            },
            None => Interaction::Ignored("the payload has no response_url to answer on".into()),
        });
    }
    let Some((decision, raw_value)) = payload.actions.iter().find_map(|a| {
        let decision = Decision::from_action_id(a.action_id.as_deref()?)?;
        Some((decision, a.value.clone().unwrap_or_default()))
    }) else {
        return Ok(Interaction::Ignored(
            "no Approve, Reject or Resume action in the payload".into(),
        ));
    };
    // A click in the Home tab comes from a view: it has no response_url, and is
    // answered by publishing the tab again.
    let from_home = payload
        .container
        .as_ref()
        .is_some_and(|c| c.kind.as_deref() == Some("view") && c.view_id.is_some());
    let response_url = match payload.response_url.filter(|u| !u.is_empty()) {
        Some(url) => url,
        None if from_home => String::new(),
        None => {
            return Ok(Interaction::Ignored(
                "the payload has no response_url to answer on".into(),
            ));
        }
    };
    match parse_button_value(&raw_value) {
        Ok(target) => Ok(Interaction::Decision(DecisionClick {
            decision,
            target,
            actor: Actor {
                user: payload.user,
                team_id: payload.team.and_then(|t| t.id),
            },
            response_url,
            trigger_id: payload.trigger_id.filter(|t| !t.is_empty()),
            message_blocks: payload.message.map(|m| m.blocks).unwrap_or_default(),
            prompt: payload.container.as_ref().and_then(|c| {
                let (channel, ts) = (c.channel_id.clone()?, c.message_ts.clone()?);
                (!c.is_ephemeral && !channel.is_empty() && !ts.is_empty())
                    .then_some(MessageRef { channel, ts })
            }),
            from_ephemeral: from_home || payload.container.is_some_and(|c| c.is_ephemeral),
            from_home,
        })),
        Err(error) => Ok(Interaction::BadButton {
            response_url,
            error,
        }),
    }
}

fn parse_view_submission(payload: &str) -> Result<Interaction, PayloadError> {
    let payload: ViewSubmission = serde_json::from_str(payload).map_err(PayloadError::Malformed)?;
    if payload.view.callback_id.as_deref() != Some(REASON_VIEW_ID) {
        return Ok(Interaction::Ignored("a view that is not ours".into()));
    }
    let context = match payload
        .view
        .private_metadata
        .as_deref()
        .map(serde_json::from_str::<ReasonContext>)
    {
        Some(Ok(context)) => context,
        Some(Err(e)) => return Ok(Interaction::BadView(format!("unreadable metadata: {e}"))),
        None => return Ok(Interaction::BadView("no metadata".into())),
    };
    let reason = payload
        .view
        .state
        .as_ref()
        .and_then(|s| {
            s.pointer(&format!(
                "/values/{REASON_BLOCK_ID}/{REASON_INPUT_ID}/value"
            ))
        })
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    Ok(Interaction::Reason(ReasonSubmission {
        context,
        actor: Actor {
            user: payload.user,
            team_id: payload.team.and_then(|t| t.id),
        },
        reason,
    }))
}

mod signal_type_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Decision;

    pub fn serialize<S: Serializer>(d: &Decision, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(d.signal_type())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decision, D::Error> {
        let raw = String::deserialize(d)?;
        Decision::parse_signal_type(&raw)
            .ok_or_else(|| serde::de::Error::custom("not a signal type"))
    }
}

/// The value of an Approve / Reject button: the execution and step it decides, as JSON.
pub fn button_value(target: &StepTarget) -> String {
    serde_json::to_string(target).expect("a step target is always JSON")
}

/// Reads a button value written by [`button_value`]. A value that names no step
/// (a bare execution ID from an older prompt) is refused: the click cannot be bound
/// to the step its prompt showed.
pub fn parse_button_value(raw: &str) -> Result<StepTarget, ButtonError> {
    let shown: String = raw.chars().take(80).collect();
    if !raw.trim_start().starts_with('{') {
        return Err(ButtonError::NamesNoStep(shown));
    }
    let target: StepTarget =
        serde_json::from_str(raw).map_err(|e| ButtonError::Malformed(e.to_string()))?;
    let usable = |s: &str| !s.trim().is_empty() && s.len() <= 256;
    if !usable(&target.step_name)
        || target
            .step_execution_id
            .as_deref()
            .is_some_and(|id| !usable(id))
    {
        return Err(ButtonError::Malformed(
            "empty or oversized step name or step execution ID".into(),
        ));
    }
    if target.account.as_deref().is_some_and(|a| !is_account_id(a))
        || target.region.as_deref().is_some_and(|r| !is_region_name(r))
        || target.runbook.as_deref().is_some_and(|r| !usable(r))
    {
        return Err(ButtonError::Malformed(
            "not an account ID, a Region name or a runbook name".into(),
        ));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {

    #[test]
    fn slacks_certificate_check_is_recognised_and_nothing_else() {
        assert!(is_ssl_check(b"ssl_check=1&token=abc"));
        assert!(is_ssl_check(b"token=abc&ssl_check=1"));
        assert!(!is_ssl_check(b"ssl_check=0&token=abc"));
        assert!(!is_ssl_check(b"ssl_check=1&payload=%7B%7D"));
        assert!(!is_ssl_check(b"ssl_check=1&command=%2Fapprovals"));
        assert!(!is_ssl_check(b"payload=%7B%7D"));
        assert!(!is_ssl_check(b""));
    }

    use super::*;
    use serde_json::json;

    const ID: &str = "333ba70b-2333-48db-b17e-a5e69c6f4d1c";
    const STEP_RUN: &str = "0b2c8a5e-1111-4222-8333-444455556666";

    fn target() -> StepTarget {
        StepTarget {
            execution_id: crate::domain::execution::ExecutionId::parse(ID).unwrap(),
            step_name: "approveRollout".into(),
            step_execution_id: Some(STEP_RUN.into()),
            runbook: None,
            account: None,
            region: None,
        }
    }

    fn value() -> String {
        button_value(&target())
    }

    fn click(action_id: &str, value: &str) -> Value {
        json!({
            "type": "block_actions", "token": "deprecated-verification-token", "trigger_id": "1.2.3",
            "user": {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": "T0TEAM"},
            "team": {"id": "T0TEAM", "domain": "acme"}, "api_app_id": "A0APP",
            "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0APPROVALS"},
            "channel": {"id": "C0APPROVALS", "name": "approvals"},
            "message": {"type": "message", "ts": "1700000000.000100", "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Approval needed"}},
                {"type": "rich_text", "elements": [{"type": "future_thing", "x": 1}]},
                {"type": "actions", "elements": []}]},
            "response_url": "https://hooks.slack.com/actions/T0TEAM/1/abc",
            "actions": [{"type": "button", "action_id": action_id, "block_id": "ssm_decision/step-1", "value": value,
                "action_ts": "1700000001.000200", "text": {"type": "plain_text", "text": "Approve"}}],
            "state": {"values": {}}, "is_enterprise_install": false, "enterprise": null
        })
    }

    #[test]
    fn reads_a_decision_and_tolerates_unknown_blocks() {
        let Interaction::Decision(d) =
            parse_interaction(&click(APPROVE_ACTION_ID, &value()).to_string()).unwrap()
        else {
            panic!("not a decision");
        };
        assert_eq!(d.decision, Decision::Approve);
        assert_eq!(d.target, target());
        assert_eq!(d.actor.user.handle(), "alice");
        assert_eq!(d.actor.team(), Some("T0TEAM"));
        assert_eq!(d.message_blocks.len(), 3);
        assert_eq!(d.trigger_id.as_deref(), Some("1.2.3"));
        assert!(!d.from_ephemeral);
        assert_eq!(
            d.prompt,
            Some(MessageRef {
                channel: "C0APPROVALS".into(),
                ts: "1700000000.000100".into()
            })
        );
        let reject = parse_interaction(&click(REJECT_ACTION_ID, &value()).to_string()).unwrap();
        assert!(matches!(
            reject,
            Interaction::Decision(DecisionClick {
                decision: Decision::Reject,
                ..
            })
        ));
    }

    #[test]
    fn classifies_what_it_will_not_act_on() {
        assert!(matches!(
            parse_interaction(&click("something_else", &value()).to_string()).unwrap(),
            Interaction::Ignored(_)
        ));
        let other_view = json!({"type": "view_submission", "user": {"id": "U0ALICE"},
            "view": {"callback_id": "someone_elses", "private_metadata": "{}"}});
        assert!(matches!(
            parse_interaction(&other_view.to_string()).unwrap(),
            Interaction::Ignored(_)
        ));
        let forged_metadata = json!({"type": "view_submission", "user": {"id": "U0ALICE"},
            "view": {"callback_id": REASON_VIEW_ID, "private_metadata": "{\"t\":1}"}});
        assert!(matches!(
            parse_interaction(&forged_metadata.to_string()).unwrap(),
            Interaction::BadView(_)
        ));
        assert!(matches!(
            parse_interaction("{}").unwrap(),
            Interaction::Ignored(_)
        ));
        assert!(matches!(
            parse_interaction("{not json"),
            Err(PayloadError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_interaction(r#"{"type":"block_actions"}"#),
            Err(PayloadError::Malformed(_))
        ));
        assert!(matches!(
            parse_interaction(r#"{"type":7}"#),
            Err(PayloadError::Malformed(_))
        ));
    }

    #[test]
    fn a_button_that_names_no_step_is_malformed() {
        let bad =
            |v: &str| match parse_interaction(&click(APPROVE_ACTION_ID, v).to_string()).unwrap() {
                Interaction::BadButton { error, .. } => error,
                other => panic!("{v}: {other:?}"),
            };
        // A bare execution ID (the value of prompts from before step binding).
        assert!(matches!(bad(ID), ButtonError::NamesNoStep(_)));
        assert!(matches!(bad("333ba70b"), ButtonError::NamesNoStep(_)));
        assert!(matches!(bad(""), ButtonError::NamesNoStep(_)));
        for malformed in [
            format!(r#"{{"execution_id":"{ID}"}}"#),
            format!(r#"{{"execution_id":"{ID}","step_name":""}}"#),
            format!(
                r#"{{"execution_id":"{ID}","step_name":"{}"}}"#,
                "x".repeat(300)
            ),
            r#"{"execution_id":"not-an-id","step_name":"a"}"#.to_owned(),
            r#"{"step_name":"a"}"#.to_owned(),
            "{".to_owned(),
        ] {
            assert!(
                matches!(bad(&malformed), ButtonError::Malformed(_)),
                "{malformed}"
            );
        }
        // A step named without its run is still bound to the step.
        let named = format!(r#"{{"execution_id":"{ID}","step_name":"approveRollout"}}"#);
        assert!(matches!(
            parse_interaction(&click(APPROVE_ACTION_ID, &named).to_string()).unwrap(),
            Interaction::Decision(DecisionClick {
                target: StepTarget {
                    step_execution_id: None,
                    ..
                },
                ..
            })
        ));
    }

    #[test]
    fn reads_a_resume_click_from_an_ephemeral_list() {
        let mut c = click(RESUME_ACTION_ID, &value());
        c["container"]["is_ephemeral"] = json!(true);
        c.as_object_mut().unwrap().remove("message");
        let Interaction::Decision(d) = parse_interaction(&c.to_string()).unwrap() else {
            panic!("not a decision");
        };
        assert_eq!(d.decision, Decision::Resume);
        assert_eq!(d.decision.step_kind(), StepKind::Pause);
        assert!(d.from_ephemeral);
        assert!(d.message_blocks.is_empty());
        assert_eq!(d.prompt, None, "an ephemeral message is not ours to update");
    }

    #[test]
    fn reads_a_reason_submission_with_its_context() {
        let context = ReasonContext {
            decision: Decision::Reject,
            target: target(),
            response_url: "https://hooks.slack.com/actions/T0TEAM/1/abc".into(),
            from_ephemeral: false,
            prompt: Some(MessageRef {
                channel: "C0APPROVALS".into(),
                ts: "1700000000.000100".into(),
            }),
            from_home: false,
        };
        let metadata = serde_json::to_string(&context).unwrap();
        let submission = |reason: Value| {
            json!({"type": "view_submission", "team": {"id": "T0TEAM"},
                "user": {"id": "U0BOB", "username": "bob", "team_id": "T0TEAM"},
                "view": {"id": "V1", "callback_id": REASON_VIEW_ID, "private_metadata": metadata,
                    "state": {"values": {REASON_BLOCK_ID: {REASON_INPUT_ID:
                        {"type": "plain_text_input", "value": reason}}}}}})
        };
        let Interaction::Reason(r) =
            parse_interaction(&submission(json!("  disk is full \n")).to_string()).unwrap()
        else {
            panic!("not a reason");
        };
        assert_eq!(r.context, context);
        assert_eq!(r.reason.as_deref(), Some("disk is full"));
        assert_eq!(r.actor.user.id, "U0BOB");
        for empty in [json!(null), json!("   ")] {
            let Interaction::Reason(r) = parse_interaction(&submission(empty).to_string()).unwrap()
            else {
                panic!("not a reason");
            };
            assert_eq!(r.reason, None);
        }
        // The context stays well within Slack's 3000 characters of private_metadata.
        assert!(metadata.len() < 400, "{metadata}");
    }

    #[test]
    fn reads_a_slash_command() {
        let body = "token=t&team_id=T0TEAM&team_domain=acme&channel_id=C0OPS&channel_name=ops\
            &user_id=U0ALICE&user_name=alice&command=%2Fapprovals&text=&api_app_id=A0APP\
            &response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1&trigger_id=1.2.3";
        let command = command_from_form(body.as_bytes()).unwrap();
        assert_eq!(command.command, APPROVALS_COMMAND);
        assert_eq!(command.actor.user.id, "U0ALICE");
        assert_eq!(command.actor.team(), Some("T0TEAM"));
        assert_eq!(command.channel_id.as_deref(), Some("C0OPS"));
        assert_eq!(command_from_form(b"command=%2Fapprovals"), None);
        assert_eq!(command_from_form(b"payload=%7B%7D"), None);
    }

    #[test]
    fn handle_falls_back_to_the_user_id() {
        let user: SlackUser = serde_json::from_value(json!({"id": "U1", "username": " "})).unwrap();
        assert_eq!(user.handle(), "U1");
    }

    #[test]
    fn payload_is_read_from_the_form() {
        let body = format!(
            "payload={}",
            form_urlencoded::byte_serialize(br#"{"type":"block_actions"}"#).collect::<String>()
        );
        assert_eq!(
            payload_from_form(body.as_bytes()).unwrap(),
            r#"{"type":"block_actions"}"#
        );
        assert!(matches!(
            payload_from_form(b"command=%2Fapprovals"),
            Err(PayloadError::NoPayload)
        ));
        assert!(matches!(
            payload_from_form(b""),
            Err(PayloadError::NoPayload)
        ));
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// The form reader agrees with `form_urlencoded` (the WHATWG decoder) on any
        /// body: bytes, escapes (valid or not), `+`, `&` and `=` where they fall.
        #[test]
        fn the_payload_field_reads_as_the_url_standard_reads_it(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec!["payload", "payload=", "pay%6Coad=", "=", "&", "+", "%", "%2", "%41", "%e2%9c%85", "%zz", "%FF"])
                        .prop_map(|s: &str| s.as_bytes().to_vec()),
                    proptest::collection::vec(proptest::num::u8::ANY, 0..8),
                ],
                0..24,
            ),
        ) {
            let body = parts.concat();
            let reference = form_urlencoded::parse(&body)
                .find(|(key, _)| key == "payload")
                .map(|(_, value)| value.into_owned());
            proptest::prop_assert_eq!(payload_from_form(&body).ok(), reference);
        }

        /// Any form body and any payload: parsed or refused, never a panic.
        #[test]
        fn any_form_or_payload_is_parsed_or_refused(
            form in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            payload in ".{0,300}",
            value in ".{0,120}",
            action in proptest::sample::select(vec![APPROVE_ACTION_ID, REJECT_ACTION_ID, RESUME_ACTION_ID, "x"]),
        ) {
            if let Ok(p) = payload_from_form(&form) {
                let _ = parse_interaction(&p);
            }
            let _ = parse_interaction(&payload);
            let mut c = click(action, &value);
            c["user"]["team_id"] = json!(value.clone());
            let _ = parse_interaction(&c.to_string());
            let _ = parse_button_value(&value);
            let _ = command_from_form(&form);
            let view = json!({"type": "view_submission", "user": {"id": value.clone()},
                "view": {"callback_id": REASON_VIEW_ID, "private_metadata": payload.clone(),
                    "state": {"values": {REASON_BLOCK_ID: {REASON_INPUT_ID: {"value": value.clone()}}}}}});
            let _ = parse_interaction(&view.to_string());
        }
    }
}
