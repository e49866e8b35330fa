//! What a reminder says in the prompt's thread (when one is due: `domain::reminders`).

use super::text::{age, code, escape, one_line, slack_date, truncate};
use crate::domain::approvers::ApproverPolicy;
use crate::domain::record::WaitingStep;
use crate::domain::reminders::Due;
use crate::domain::waiting::StepKind;

/// Who to mention: the users and user groups who may decide, in the prompt's own
/// words ("@alice or members of @ops"), so that the two read alike. Under `*` (anyone
/// in the channel) nobody in particular is mentioned, and the channel is not pinged.
pub fn mentions(approvers: &ApproverPolicy) -> Option<String> {
    match approvers {
        ApproverPolicy::Listed { users, groups } if !(users.is_empty() && groups.is_empty()) => {
            Some(approvers.describe())
        }
        ApproverPolicy::Listed { .. }
        | ApproverPolicy::Anyone
        | ApproverPolicy::Nobody
        | ApproverPolicy::NobodyFromSlack => None,
    }
}

/// The reply in the prompt's thread.
pub fn reminder_text(
    step: &WaitingStep,
    due: Due,
    approvers: &ApproverPolicy,
    now_unix: i64,
) -> String {
    let runbook = escape(&one_line(&truncate(&step.runbook, 80)));
    let step_name = code(&step.target.step_name);
    let mut text = match (due, step.kind) {
        (Due::LastCall, _) => format!(
            ":alarm_clock: *Last call:* step {step_name} of *{runbook}* times out {}; \
             if nobody decides, the runbook fails.",
            step.times_out_at_unix
                .map_or_else(|| "soon".into(), slack_date)
        ),
        (_, StepKind::Approval) => format!(
            ":hourglass_flowing_sand: *Reminder:* step {step_name} of *{runbook}* has waited \
             for a decision for {}.",
            age(now_unix - step.since_unix)
        ),
        (_, StepKind::Pause) => format!(
            ":hourglass_flowing_sand: *Reminder:* step {step_name} of *{runbook}* has been \
             paused for {}.",
            age(now_unix - step.since_unix)
        ),
    };
    if due == Due::Reminder
        && let Some(at) = step.times_out_at_unix
    {
        text.push_str(&format!(" It times out {}.", slack_date(at)));
    }
    match mentions(approvers) {
        Some(who) => text.push_str(&format!("\nWho may decide: {who}")),
        None if *approvers == ApproverPolicy::Anyone => {
            text.push_str("\nAnyone in this channel may decide.")
        }
        None if *approvers == ApproverPolicy::NobodyFromSlack => {
            text.push_str("\nNobody may decide it from Slack: decide it in the AWS console.")
        }
        None => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::Reminded;
    use crate::domain::reminders::tests::{HOUR, step};

    #[test]
    fn a_reminder_names_who_may_decide_in_the_prompts_words() {
        let s = step(0, Some(10 * HOUR), Reminded::default());
        let listed = ApproverPolicy::parse(Some("U0ALICE,U0CAROL,S0OPS")).unwrap();
        let text = reminder_text(&s, Due::Reminder, &listed, 5 * HOUR);
        assert!(
            text.ends_with(&format!("\nWho may decide: {}", listed.describe())),
            "{text}"
        );
    }

    #[test]
    fn a_reminder_mentions_who_may_decide() {
        let s = step(0, Some(10 * HOUR), Reminded::default());
        let listed = ApproverPolicy::parse(Some("U0ALICE,S0OPS")).unwrap();
        let text = reminder_text(&s, Due::Reminder, &listed, 5 * HOUR);
        assert!(text.contains("has waited for a decision for 5 h"), "{text}");
        assert!(
            text.contains("<@U0ALICE> or members of <!subteam^S0OPS>"),
            "{text}"
        );
        assert!(text.contains("times out <!date^36000"), "{text}");
        let last = reminder_text(&s, Due::LastCall, &ApproverPolicy::Anyone, 9 * HOUR);
        assert!(last.starts_with(":alarm_clock: *Last call:*"), "{last}");
        assert!(
            last.contains("Anyone in this channel may decide."),
            "{last}"
        );
        assert!(!last.contains("<!here>") && !last.contains("<!channel>"));
        let console = reminder_text(&s, Due::Reminder, &ApproverPolicy::NobodyFromSlack, HOUR);
        assert!(
            console.ends_with("\nNobody may decide it from Slack: decide it in the AWS console."),
            "{console}"
        );
    }
}
