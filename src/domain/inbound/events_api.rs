//! Slack's Events API: what arrives as JSON on the Request URL (signed like clicks).
//! The first request of a subscription is `url_verification`, answered with its
//! challenge; then `event_callback` envelopes, each with its `event_id`, redelivered
//! with `X-Slack-Retry-Num` when not answered 2xx within 3 seconds.

use serde::Deserialize;

/// A delivery of the Events API, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackEvent {
    /// Answer with `challenge` (Slack checks the Request URL with it).
    UrlVerification { challenge: String },
    /// A person opened the app's Home tab.
    HomeOpened {
        event_id: String,
        user_id: String,
        team_id: Option<String>,
    },
    /// An event this app does not act on (another type, or the Messages tab).
    Other { event_id: String, kind: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventBodyError {
    #[error("the body is not an Events API delivery: {0}")]
    Unreadable(String),
    #[error("an event_callback without an event_id")]
    NoEventId,
    #[error("an app_home_opened event without a user")]
    NoUser,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    challenge: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    event: Option<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    user: Option<String>,
    /// `home` or `messages`: only the Home tab is ours to draw.
    #[serde(default)]
    tab: Option<String>,
}

/// Reads an Events API body (after its signature was checked).
pub fn parse_slack_event(body: &[u8]) -> Result<SlackEvent, EventBodyError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| EventBodyError::Unreadable(e.to_string()))?;
    match envelope.kind.as_str() {
        "url_verification" => Ok(SlackEvent::UrlVerification {
            challenge: envelope.challenge.unwrap_or_default(),
        }),
        "event_callback" => {
            let event_id = envelope
                .event_id
                .filter(|id| !id.is_empty() && id.len() <= 128)
                .ok_or(EventBodyError::NoEventId)?;
            let inner = envelope
                .event
                .ok_or_else(|| EventBodyError::Unreadable("no event".into()))?;
            let home =
                inner.kind == "app_home_opened" && inner.tab.as_deref().is_none_or(|t| t == "home");
            if !home {
                let kind = match inner.tab {
                    Some(tab) if inner.kind == "app_home_opened" => {
                        format!("{} ({tab})", inner.kind)
                    }
                    _ => inner.kind,
                };
                return Ok(SlackEvent::Other { event_id, kind });
            }
            let user_id = inner
                .user
                .filter(|u| !u.trim().is_empty())
                .ok_or(EventBodyError::NoUser)?;
            Ok(SlackEvent::HomeOpened {
                event_id,
                user_id,
                team_id: envelope.team_id.filter(|t| !t.is_empty()),
            })
        }
        other => Err(EventBodyError::Unreadable(format!(
            "type {other:?} is not an Events API delivery"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_request_of_a_subscription_is_answered_with_its_challenge() {
        let body = br#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        assert_eq!(
            parse_slack_event(body),
            Ok(SlackEvent::UrlVerification {
                challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into()
            })
        );
    }

    #[test]
    fn opening_the_home_tab_names_the_person_and_the_delivery() {
        let body = br#"{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"app_home_opened","user":"U1","channel":"D1","tab":"home"}}"#;
        assert_eq!(
            parse_slack_event(body),
            Ok(SlackEvent::HomeOpened {
                event_id: "Ev1".into(),
                user_id: "U1".into(),
                team_id: Some("T1".into())
            })
        );
        let messages = br#"{"type":"event_callback","event_id":"Ev2","event":{"type":"app_home_opened","user":"U1","tab":"messages"}}"#;
        assert!(matches!(
            parse_slack_event(messages),
            Ok(SlackEvent::Other { .. })
        ));
        let other = br#"{"type":"event_callback","event_id":"Ev3","event":{"type":"app_mention","user":"U1"}}"#;
        assert_eq!(
            parse_slack_event(other),
            Ok(SlackEvent::Other {
                event_id: "Ev3".into(),
                kind: "app_mention".into()
            })
        );
    }

    #[test]
    fn what_is_not_a_delivery_is_refused_with_why() {
        for (body, want) in [
            (&b"not json"[..], "not an Events API delivery"),
            (br#"{"type":"block_actions"}"#, "not an Events API delivery"),
            (
                br#"{"type":"event_callback","event":{"type":"app_home_opened","user":"U1"}}"#,
                "without an event_id",
            ),
            (
                br#"{"type":"event_callback","event_id":"Ev1","event":{"type":"app_home_opened"}}"#,
                "without a user",
            ),
        ] {
            let err = parse_slack_event(body).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }
}
