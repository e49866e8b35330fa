//! Slack interactivity payloads: the form body's `payload` field, parsed tolerantly.
//!
//! Only what a decision needs is typed; the clicked message's blocks are kept as
//! raw JSON, so block types we do not know never fail a click.

use serde::Deserialize;
use serde_json::Value;

use super::waiting::StepTarget;

pub const APPROVE_ACTION_ID: &str = "ssm_approve";
pub const REJECT_ACTION_ID: &str = "ssm_reject";
/// The actions block's `block_id` is this prefix followed by the approval step's key
/// (informative only: what a click decides is named by the button's value).
pub const ACTIONS_BLOCK_PREFIX: &str = "ssm_decision/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// The `SignalType` sent to SSM.
    pub fn signal_type(self) -> &'static str {
        match self {
            Self::Approve => "Approve",
            Self::Reject => "Reject",
        }
    }

    pub fn past_tense(self) -> &'static str {
        match self {
            Self::Approve => "Approved",
            Self::Reject => "Rejected",
        }
    }

    pub fn parse_signal_type(raw: &str) -> Option<Self> {
        match raw {
            "Approve" => Some(Self::Approve),
            "Reject" => Some(Self::Reject),
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

/// A click on one of our Approve / Reject buttons.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionClick {
    pub decision: Decision,
    /// The execution and the very step the clicked prompt showed (the button's value).
    pub target: StepTarget,
    pub user: SlackUser,
    /// The workspace the click came through (`team.id`), when Slack sent it.
    pub team_id: Option<String>,
    pub response_url: String,
    /// The blocks of the message that was clicked, when Slack sent them.
    pub message_blocks: Vec<Value>,
}

impl DecisionClick {
    /// The workspace the clicker belongs to: `user.team_id`, else the payload's team.
    pub fn clicker_team(&self) -> Option<&str> {
        self.user
            .team_id
            .as_deref()
            .or(self.team_id.as_deref())
            .filter(|t| !t.is_empty())
    }
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
    /// One of our buttons, but it does not name an execution and step: the clicker is told.
    BadButton {
        response_url: String,
        error: ButtonError,
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
    #[error("`payload` is not a block_actions payload we can read: {0}")]
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
    actions: Vec<Action>,
    #[serde(default)]
    message: Option<MessageSeen>,
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

/// Reads `payload` from an `application/x-www-form-urlencoded` body.
pub fn payload_from_form(body: &[u8]) -> Result<String, PayloadError> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == "payload")
        .map(|(_, value)| value.into_owned())
        .ok_or(PayloadError::NoPayload)
}

pub fn parse_interaction(payload: &str) -> Result<Interaction, PayloadError> {
    let value: Value = serde_json::from_str(payload).map_err(PayloadError::InvalidJson)?;
    let envelope = Envelope::deserialize(&value).map_err(PayloadError::Malformed)?;
    match envelope.kind.as_deref() {
        Some("block_actions") => {}
        Some(other) => {
            return Ok(Interaction::Ignored(format!(
                "interaction type {other:?} is not handled"
            )));
        }
        None => return Ok(Interaction::Ignored("the payload has no type".into())),
    }
    let payload = BlockActions::deserialize(value).map_err(PayloadError::Malformed)?;
    let Some((decision, raw_value)) = payload.actions.iter().find_map(|a| {
        let decision = match a.action_id.as_deref()? {
            APPROVE_ACTION_ID => Decision::Approve,
            REJECT_ACTION_ID => Decision::Reject,
            _ => return None,
        };
        Some((decision, a.value.clone().unwrap_or_default()))
    }) else {
        return Ok(Interaction::Ignored(
            "no Approve or Reject action in the payload".into(),
        ));
    };
    let Some(response_url) = payload.response_url.filter(|u| !u.is_empty()) else {
        return Ok(Interaction::Ignored(
            "the payload has no response_url to answer on".into(),
        ));
    };
    match parse_button_value(&raw_value) {
        Ok(target) => Ok(Interaction::Decision(DecisionClick {
            decision,
            target,
            user: payload.user,
            team_id: payload.team.and_then(|t| t.id),
            response_url,
            message_blocks: payload.message.map(|m| m.blocks).unwrap_or_default(),
        })),
        Err(error) => Ok(Interaction::BadButton {
            response_url,
            error,
        }),
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
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "333ba70b-2333-48db-b17e-a5e69c6f4d1c";
    const STEP_RUN: &str = "0b2c8a5e-1111-4222-8333-444455556666";

    fn target() -> StepTarget {
        StepTarget {
            execution_id: crate::domain::execution::ExecutionId::parse(ID).unwrap(),
            step_name: "approveRollout".into(),
            step_execution_id: Some(STEP_RUN.into()),
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
        assert_eq!(d.user.handle(), "alice");
        assert_eq!(d.clicker_team(), Some("T0TEAM"));
        assert_eq!(d.message_blocks.len(), 3);
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
        let mut modal = click(APPROVE_ACTION_ID, &value());
        modal["type"] = json!("view_submission");
        assert!(matches!(
            parse_interaction(&modal.to_string()).unwrap(),
            Interaction::Ignored(_)
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

    proptest::proptest! {
        /// Any form body and any payload: parsed or refused, never a panic.
        #[test]
        fn any_form_or_payload_is_parsed_or_refused(
            form in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            payload in ".{0,300}",
            value in ".{0,120}",
            action in proptest::sample::select(vec![APPROVE_ACTION_ID, REJECT_ACTION_ID, "x"]),
        ) {
            if let Ok(p) = payload_from_form(&form) {
                let _ = parse_interaction(&p);
            }
            let _ = parse_interaction(&payload);
            let mut c = click(action, &value);
            c["user"]["team_id"] = json!(value.clone());
            let _ = parse_interaction(&c.to_string());
            let _ = parse_button_value(&value);
        }
    }
}
