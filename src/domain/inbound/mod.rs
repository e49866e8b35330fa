//! What Slack sends us, split by surface: here, the classified payload and the shared types.
//!
//! Interactivity payloads (block actions, view submissions) come in the form body's
//! `payload` field; the slash command and the Events API have their own shapes.
//! Only what a decision needs is typed; the clicked message's blocks are kept as
//! raw JSON, so block types we do not know never fail a click.

pub mod block_actions;
pub mod button;
pub mod events_api;
pub mod form;
pub mod slash_command;
pub mod view_submission;

use serde::{Deserialize, Serialize};
use serde_json::error::Category;

use super::waiting::StepKind;
use block_actions::{DecisionClick, parse_block_actions};
use button::ButtonError;
use view_submission::{ReasonSubmission, parse_view_submission};

pub const APPROVE_ACTION_ID: &str = "ssm_approve";
pub const REJECT_ACTION_ID: &str = "ssm_reject";
pub const RESUME_ACTION_ID: &str = "ssm_resume";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
    /// Resume a paused runbook (`aws:pause`).
    Resume,
}

impl Decision {
    /// What a decision accepted by SSM is counted as (the `Decisions` metric).
    pub fn outcome_name(self) -> &'static str {
        match self {
            Self::Approve => "approved",
            Self::Reject => "rejected",
            Self::Resume => "resumed",
        }
    }

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

/// A message in a channel: `(channel, ts)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    #[serde(rename = "c")]
    pub channel: String,
    #[serde(rename = "m")]
    pub ts: String,
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

#[cfg(test)]
mod fixtures;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::inbound::button::parse_button_value;
    use crate::domain::inbound::fixtures::{click, value};
    use crate::domain::inbound::form::payload_from_form;
    use crate::domain::inbound::slash_command::command_from_form;
    use crate::domain::inbound::view_submission::{
        REASON_BLOCK_ID, REASON_INPUT_ID, REASON_VIEW_ID,
    };
    use serde_json::json;

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
    fn handle_falls_back_to_the_user_id() {
        let user: SlackUser = serde_json::from_value(json!({"id": "U1", "username": " "})).unwrap();
        assert_eq!(user.handle(), "U1");
    }

    proptest::proptest! {
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
