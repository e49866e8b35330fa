//! `block_actions` payloads: a click on one of our buttons (prompt, `/approvals` list, Home tab).

use serde::Deserialize;
use serde_json::Value;

use super::button::parse_button_value;
use super::{Actor, Decision, Interaction, MessageRef, PayloadError, SlackUser, Team};
use crate::domain::waiting::StepTarget;

/// The `/approvals` list's button that shows the next page (its value: where the
/// list stopped).
pub const LIST_MORE_ACTION_ID: &str = "ssm_list_more";
/// The actions block's `block_id` is this prefix followed by the approval step's key
/// (informative only: what a click decides is named by the button's value).
pub const ACTIONS_BLOCK_PREFIX: &str = "ssm_decision/";

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
    /// The click came from a list (the ephemeral `/approvals` answer, or the Home tab),
    /// not from a prompt.
    pub from_list: bool,
    /// Where the clicked prompt is (`container.channel_id` / `message_ts`): updated
    /// with `chat.update` when its `response_url` no longer works.
    pub prompt: Option<MessageRef>,
    /// The click came from the app's Home tab (a view: no `response_url`; the tab is
    /// published again with the outcome).
    pub from_home: bool,
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

pub(super) fn parse_block_actions(payload: &str) -> Result<Interaction, PayloadError> {
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
            from_list: from_home || payload.container.is_some_and(|c| c.is_ephemeral),
            from_home,
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
    use crate::domain::inbound::button::ButtonError;
    use crate::domain::inbound::fixtures::{ID, click, target, value};
    use crate::domain::inbound::{
        APPROVE_ACTION_ID, REJECT_ACTION_ID, RESUME_ACTION_ID, parse_interaction,
    };
    use crate::domain::waiting::StepKind;
    use serde_json::json;

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
        assert!(!d.from_list);
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
        assert!(d.from_list);
        assert!(d.message_blocks.is_empty());
        assert_eq!(d.prompt, None, "an ephemeral message is not ours to update");
    }
}
