//! The app's Home tab, "Waiting on you": the steps this person may decide now, oldest
//! first, each with its own buttons bound to the step run (as on the prompt), then the
//! last decisions they made. Published with `views.publish` when they open it, and
//! again after they decide from it.

use serde_json::{Value, json};

use super::blocks::{console_url, context, section};
use super::list::{Listed, entry_blocks};
use super::prompt::where_text;
use super::text::{code, escape, one_line, slack_date, truncate};
use crate::domain::inbound::Decision;
use crate::domain::place::Shown;
use crate::domain::record::RecentDecision;

/// At most this many steps on the tab (two blocks each, inside a view's 100 blocks).
pub const HOME_LISTED_MAX: usize = 40;
/// The decisions listed under "Your last decisions".
pub const HOME_RECENT_MAX: usize = 10;

/// The Home view. `more`: how many more waiting steps this person may decide than
/// are shown; `notice`: what became of what they just did on the tab.
pub fn home_view(
    listed: &[Listed<'_>],
    more: usize,
    recent: &[(RecentDecision, Shown<'_>)],
    notice: Option<&str>,
    now_unix: i64,
) -> Value {
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": "Waiting on you"}})];
    if let Some(notice) = notice {
        blocks.push(section(&truncate(notice, 2900)));
    }
    if listed.is_empty() {
        blocks.push(section(
            ":white_check_mark: Nothing waits for your decision right now.",
        ));
    } else {
        blocks.push(context(&format!(
            "{} waiting for your decision, oldest first.",
            match listed.len() + more {
                1 => "One runbook step".to_owned(),
                n => format!("{n} runbook steps"),
            }
        )));
        for item in listed.iter().take(HOME_LISTED_MAX) {
            blocks.extend(entry_blocks(item, "ssm_home", now_unix));
        }
        if more > 0 {
            blocks.push(context(&format!(
                "…and {more} more, newer than these: decide these first, or run `/approvals`."
            )));
        }
    }
    blocks.push(json!({"type": "divider"}));
    blocks.push(section("*Your last decisions*"));
    if recent.is_empty() {
        blocks.push(context("None yet."));
    } else {
        let lines: Vec<String> = recent
            .iter()
            .take(HOME_RECENT_MAX)
            .map(|(d, shown)| {
                let verb = match d.decision {
                    Decision::Approve => ":white_check_mark: Approved",
                    Decision::Reject => ":x: Rejected",
                    Decision::Resume => ":arrow_forward: Resumed",
                };
                format!(
                    "{verb} *<{}|{}>* step {} · {} · {}",
                    console_url(&d.place.region, &d.execution_id),
                    escape(&one_line(&truncate(&d.runbook, 80))),
                    code(&d.step_name),
                    where_text(shown),
                    slack_date(d.at_unix)
                )
            })
            .collect();
        blocks.push(section(&truncate(&lines.join("\n"), 2900)));
    }
    blocks.push(context(&format!("Updated {}", slack_date(now_unix))));
    json!({"type": "home", "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::execution::ExecutionId;
    use crate::domain::messages::prompt::PromptStyle;
    use crate::domain::place::{AccountNames, Place};
    use crate::domain::record::WaitingStep;
    use crate::domain::waiting::{StepKind, StepTarget};

    fn waiting(n: usize, place: &Place) -> WaitingStep {
        WaitingStep {
            target: StepTarget {
                execution_id: ExecutionId::parse(&format!("00000000-0000-4000-8000-{n:012}"))
                    .unwrap(),
                step_name: "approve".into(),
                step_execution_id: Some(format!("s-{n}")),
                runbook: Some("Deploy".into()),
                account: place.account.clone(),
                region: Some(place.region.clone()),
            },
            step_key: format!("s-{n}"),
            kind: StepKind::Approval,
            place: place.clone(),
            runbook: "Deploy".into(),
            message: Some("Ship it?".into()),
            since_unix: 1_000 + n as i64,
            times_out_at_unix: Some(90_000),
            prompt: None,
            reminded: Default::default(),
            starter: None,
        }
    }

    #[test]
    fn a_full_tab_stays_inside_a_views_100_blocks_and_says_how_many_more() {
        let place = Place::new(Some("111122223333"), "eu-west-1");
        let names = AccountNames::default();
        let steps: Vec<WaitingStep> = (0..HOME_LISTED_MAX).map(|n| waiting(n, &place)).collect();
        let style = PromptStyle {
            per_person: false,
            reason_modal: true,
            rule_approvals: 0,
            nobody_from_slack: false,
        };
        let listed: Vec<Listed> = steps
            .iter()
            .map(|step| Listed::Decidable {
                step,
                shown: Shown::new(&step.place, &names),
                style,
            })
            .collect();
        let recent: Vec<(RecentDecision, Shown)> = (0..HOME_RECENT_MAX)
            .map(|n| {
                (
                    RecentDecision {
                        decision: Decision::Approve,
                        runbook: "Deploy".into(),
                        step_name: "approve".into(),
                        execution_id: format!("00000000-0000-4000-8000-{n:012}"),
                        place: place.clone(),
                        at_unix: 2_000,
                    },
                    Shown::new(&place, &names),
                )
            })
            .collect();
        let view = home_view(&listed, 460, &recent, Some("Approved."), 5_000);
        let blocks = view["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 100, "{} blocks", blocks.len());
        assert_eq!(view["type"], "home");
        let text = view.to_string();
        assert!(
            text.contains("500 runbook steps waiting for your decision"),
            "{text}"
        );
        assert!(text.contains("and 460 more"), "{text}");
        let buttons = blocks.iter().filter(|b| b["type"] == "actions").count();
        assert_eq!(buttons, HOME_LISTED_MAX);
        assert!(
            blocks
                .iter()
                .all(|b| b["block_id"].as_str().is_none_or(|id| id.len() <= 255))
        );
    }

    #[test]
    fn an_empty_tab_says_nothing_waits() {
        let view = home_view(&[], 0, &[], None, 5_000);
        let text = view.to_string();
        assert!(
            text.contains("Nothing waits for your decision right now"),
            "{text}"
        );
        assert!(text.contains("None yet."), "{text}");
    }
}
