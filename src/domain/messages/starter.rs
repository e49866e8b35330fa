//! The direct messages to the person who started a run: that it waits (and for
//! whom), then how it was decided, with the reason.

use super::blocks::{SlackMessage, console_url, context, section};
use super::decided::explain_outcome;
use super::text::{code, escape, one_line, truncate};
use crate::domain::execution::{Execution, Step};
use crate::domain::place::Shown;
use crate::domain::record::DecisionRecord;
use crate::domain::starter::SelfApproval;

use super::prompt::where_text;

/// "Your run waits": where its prompt is, and who may decide it.
pub fn render_run_waits(
    execution: &Execution,
    step: &Step,
    shown: &Shown<'_>,
    channel: &str,
    who_decides: &str,
    self_approval: SelfApproval,
) -> SlackMessage {
    let runbook = code(&execution.document_name);
    let mut text = format!(
        ":hourglass_flowing_sand: Your run of {runbook} waits for approval at step {} in {}. \
         Its prompt is in <#{channel}>; who may decide: {who_decides}.",
        code(&step.name),
        where_text(shown),
    );
    if self_approval == SelfApproval::Forbidden {
        text.push_str(
            " You started it, so someone else must approve it (you may still reject it).",
        );
    }
    SlackMessage {
        text: truncate(
            &format!(
                "Your run of {} waits for approval",
                one_line(&execution.document_name)
            ),
            300,
        ),
        blocks: vec![section(&text), footer(execution, shown)],
    }
}

/// "Your run was decided": who decided what (with their reason), or how it ended.
pub fn render_run_decided(
    execution: &Execution,
    step: &Step,
    decided: &[DecisionRecord],
    shown: &Shown<'_>,
) -> SlackMessage {
    let outcome = explain_outcome(execution, step, decided);
    let mut text = format!(
        "Your run of {} in {}: step {} {outcome}",
        code(&execution.document_name),
        where_text(shown),
        code(&step.name),
    );
    for reason in decided.iter().filter_map(|d| d.reason.as_deref()) {
        text.push_str(&format!(
            "\n>{}",
            escape(&one_line(&truncate(reason, 1000)))
        ));
    }
    SlackMessage {
        text: truncate(
            &format!(
                "Your run of {} was decided",
                one_line(&execution.document_name)
            ),
            300,
        ),
        blocks: vec![section(&text), footer(execution, shown)],
    }
}

/// The execution, linked to the console.
fn footer(execution: &Execution, shown: &Shown<'_>) -> serde_json::Value {
    context(&format!(
        "Execution <{}|{}>",
        console_url(&shown.place.region, execution.id.as_str()),
        execution.id
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::execution::Status;
    use crate::domain::inbound::Decision;
    use crate::domain::messages::fixtures::{execution, shown};

    #[test]
    fn the_starter_hears_where_their_run_waits_and_then_who_decided_with_the_reason() {
        let (mut execution, step) = execution(Status::Waiting, Status::Waiting);
        let shown = shown("eu-west-1");
        let waits = render_run_waits(
            &execution,
            &step,
            &shown,
            "C0PROD",
            "<@U0ALICE>",
            SelfApproval::Forbidden,
        );
        let body = waits.blocks[0]["text"]["text"].as_str().unwrap();
        assert!(
            body.contains("<#C0PROD>") && body.contains("<@U0ALICE>"),
            "{body}"
        );
        assert!(body.contains("someone else must approve"), "{body}");
        execution.steps[0].status = Status::Failed;
        let step = execution.steps[0].clone();
        let rejected = DecisionRecord {
            step_key: step.key().to_owned(),
            decision: Decision::Reject,
            user_id: "U0BOB".into(),
            handle: "bob".into(),
            at_unix: 1,
            reason: Some("the disk is <full>".into()),
            principal: None,
        };
        let decided = render_run_decided(&execution, &step, &[rejected], &shown);
        let body = decided.blocks[0]["text"]["text"].as_str().unwrap();
        assert!(body.contains("*Rejected* by <@U0BOB>"), "{body}");
        assert!(body.contains("the disk is &lt;full&gt;"), "{body}");
    }
}
