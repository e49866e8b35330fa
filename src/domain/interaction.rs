//! Slack interactivity payloads: the form body's `payload` field, parsed tolerantly.
//!
//! Only what a decision needs is typed; the clicked message's blocks are kept as
//! raw JSON, so block types we do not know never fail a click.

use serde::Deserialize;
use serde_json::Value;

use super::execution::{ExecutionId, InvalidExecutionId};

pub const APPROVE_ACTION_ID: &str = "ssm_approve";
pub const REJECT_ACTION_ID: &str = "ssm_reject";
/// The actions block's `block_id` is this prefix followed by the approval step's key.
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
    pub execution_id: ExecutionId,
    pub user: SlackUser,
    pub response_url: String,
    /// The approval step the prompt was posted for (from the actions block's
    /// `block_id`), when the click says so.
    pub step_key: Option<String>,
    /// The blocks of the message that was clicked, when Slack sent them.
    pub message_blocks: Vec<Value>,
}

/// A well-formed interaction, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Interaction {
    Decision(DecisionClick),
    /// One of our buttons, but its value is not an execution ID: the clicker is told.
    BadButton {
        response_url: String,
        error: InvalidExecutionId,
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
struct BlockActions {
    user: SlackUser,
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
    block_id: Option<String>,
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
    let Some((decision, raw_value, step_key)) = payload.actions.iter().find_map(|a| {
        let decision = match a.action_id.as_deref()? {
            APPROVE_ACTION_ID => Decision::Approve,
            REJECT_ACTION_ID => Decision::Reject,
            _ => return None,
        };
        let step_key = a
            .block_id
            .as_deref()
            .and_then(|b| b.strip_prefix(ACTIONS_BLOCK_PREFIX))
            .filter(|k| !k.is_empty())
            .map(str::to_owned);
        Some((decision, a.value.clone().unwrap_or_default(), step_key))
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
    match ExecutionId::parse(raw_value.trim()) {
        Ok(execution_id) => Ok(Interaction::Decision(DecisionClick {
            decision,
            execution_id,
            user: payload.user,
            response_url,
            step_key,
            message_blocks: payload.message.map(|m| m.blocks).unwrap_or_default(),
        })),
        Err(error) => Ok(Interaction::BadButton {
            response_url,
            error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "333ba70b-2333-48db-b17e-a5e69c6f4d1c";

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
            parse_interaction(&click(APPROVE_ACTION_ID, ID).to_string()).unwrap()
        else {
            panic!("not a decision");
        };
        assert_eq!(d.decision, Decision::Approve);
        assert_eq!(d.execution_id.as_str(), ID);
        assert_eq!(d.user.handle(), "alice");
        assert_eq!(d.step_key.as_deref(), Some("step-1"));
        assert_eq!(d.message_blocks.len(), 3);
        let reject = parse_interaction(&click(REJECT_ACTION_ID, ID).to_string()).unwrap();
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
            parse_interaction(&click("something_else", ID).to_string()).unwrap(),
            Interaction::Ignored(_)
        ));
        assert!(matches!(
            parse_interaction(&click(APPROVE_ACTION_ID, "333ba70b").to_string()).unwrap(),
            Interaction::BadButton { .. }
        ));
        let mut modal = click(APPROVE_ACTION_ID, ID);
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
}
