//! State kept on the automation execution itself, as SSM tags (5 allowed per
//! execution; we use at most two). Tag values may hold letters, digits, spaces
//! and `_ . : / = + - @`, up to 256 characters.

use super::interaction::Decision;

/// Where the prompt for an approval step was posted.
pub const PROMPT_TAG: &str = "slack-prompt";
/// The last decision taken in Slack on that step.
pub const DECISION_TAG: &str = "slack-decision";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRef {
    /// `Step::key()` of the approval step the prompt is about.
    pub step_key: String,
    pub channel: String,
    pub ts: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    pub step_key: String,
    pub decision: Decision,
    pub user_id: String,
    pub handle: String,
    pub at_unix: i64,
}

impl PromptRef {
    pub fn to_tag_value(&self) -> String {
        format!(
            "{}/{}/{}",
            tag_safe(&self.step_key),
            tag_safe(&self.channel),
            tag_safe(&self.ts)
        )
    }

    pub fn from_tag_value(value: &str) -> Option<Self> {
        let mut parts = value.rsplitn(3, '/');
        let (ts, channel, step_key) = (parts.next()?, parts.next()?, parts.next()?);
        [step_key, channel, ts]
            .iter()
            .all(|p| !p.is_empty())
            .then(|| Self {
                step_key: step_key.to_owned(),
                channel: channel.to_owned(),
                ts: ts.to_owned(),
            })
    }
}

impl DecisionRecord {
    pub fn to_tag_value(&self) -> String {
        let handle: String = tag_safe(&self.handle).chars().take(80).collect();
        format!(
            "{}/{}/{}/{}/{}",
            tag_safe(&self.step_key),
            self.decision.signal_type(),
            tag_safe(&self.user_id),
            handle,
            self.at_unix
        )
    }

    pub fn from_tag_value(value: &str) -> Option<Self> {
        let mut parts = value.splitn(5, '/');
        let step_key = parts.next().filter(|s| !s.is_empty())?.to_owned();
        let decision = Decision::parse_signal_type(parts.next()?)?;
        let user_id = parts.next().filter(|s| !s.is_empty())?.to_owned();
        let handle = parts.next()?.to_owned();
        let at_unix = parts.next()?.parse().ok()?;
        Some(Self {
            step_key,
            decision,
            user_id,
            handle,
            at_unix,
        })
    }
}

/// Replaces characters a tag value may not hold (and our `/` separator) with `_`.
fn tag_safe(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '=' | '+' | '-' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_refs_round_trip() {
        let p = PromptRef {
            step_key: "0b2c8a5e-1111-4222-8333-444455556666".into(),
            channel: "C0APPROVALS".into(),
            ts: "1700000000.000100".into(),
        };
        let value = p.to_tag_value();
        assert!(value.len() <= 256);
        assert_eq!(PromptRef::from_tag_value(&value), Some(p));
        assert_eq!(PromptRef::from_tag_value("garbage"), None);
        assert_eq!(PromptRef::from_tag_value("a//b"), None);
    }

    #[test]
    fn decision_records_round_trip_with_unsafe_handles() {
        let d = DecisionRecord {
            step_key: "approve".into(),
            decision: Decision::Reject,
            user_id: "U0ALICE".into(),
            handle: "alice|<script>/x".repeat(20),
            at_unix: 1_700_000_000,
        };
        let value = d.to_tag_value();
        assert!(value.len() <= 256, "{}", value.len());
        assert!(
            value
                .chars()
                .all(|c| c.is_alphanumeric() || "_.:/=+-@".contains(c))
        );
        let back = DecisionRecord::from_tag_value(&value).unwrap();
        assert_eq!(back.decision, Decision::Reject);
        assert_eq!(back.user_id, "U0ALICE");
        assert_eq!(back.at_unix, 1_700_000_000);
        assert!(DecisionRecord::from_tag_value("approve/Maybe/U1/a/1").is_none());
    }
}
