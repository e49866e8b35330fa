//! `view_submission` payloads: the submitted reason modal, with the context it carried.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Actor, Decision, Interaction, MessageRef, PayloadError, SlackUser, Team};
use crate::domain::waiting::StepTarget;

/// The `callback_id` of the modal that asks for a reason.
pub const REASON_VIEW_ID: &str = "ssm_reason";
/// The input block (and its element) of the reason modal.
pub const REASON_BLOCK_ID: &str = "ssm_reason_block";
pub const REASON_INPUT_ID: &str = "ssm_reason_input";

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
    /// The click came from a list (`/approvals`, Home), not a prompt: do not replace
    /// it with the outcome.
    #[serde(rename = "e", default)]
    pub from_list: bool,
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

pub(super) fn parse_view_submission(payload: &str) -> Result<Interaction, PayloadError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::inbound::fixtures::target;
    use crate::domain::inbound::parse_interaction;
    use serde_json::json;

    #[test]
    fn reads_a_reason_submission_with_its_context() {
        let context = ReasonContext {
            decision: Decision::Reject,
            target: target(),
            response_url: "https://hooks.slack.com/actions/T0TEAM/1/abc".into(),
            from_list: false,
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
}
