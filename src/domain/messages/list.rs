//! The `/approvals` list: what waits for this person, newest first, from the index of
//! what waits, a page at a time with a "More" button for the next.

use serde_json::{Value, json};

use super::blocks::{SlackMessage, console_url, context, notification, section};
use super::prompt::{PromptStyle, buttons, where_text};
use super::text::{age, code, escape, one_line, quote, slack_date, truncate};
use crate::domain::inbound::block_actions::LIST_MORE_ACTION_ID;
use crate::domain::place::Shown;
use crate::domain::record::WaitingStep;
use crate::domain::waiting::StepKind;

/// At most this many steps per page (two blocks each, well inside a message's 50).
pub const LISTED_MAX: usize = 10;
const LIST_MESSAGE_MAX: usize = 300;

/// One waiting step as the list shows it.
#[derive(Debug, Clone)]
pub enum Listed<'a> {
    /// With its own buttons, bound to the step run like a prompt's.
    Decidable {
        step: &'a WaitingStep,
        shown: Shown<'a>,
        style: PromptStyle,
    },
    /// Without buttons: anyone who can see the prompt may decide it, so it is decided
    /// on the prompt (the list reaches people the prompt does not): a link to it.
    /// Also a step nobody may decide from Slack (`none`), listed so that people see
    /// it waits: it is decided in the AWS console.
    Linked {
        step: &'a WaitingStep,
        shown: Shown<'a>,
        permalink: Option<String>,
        /// Nobody may decide it from Slack, not even on its prompt.
        nobody_from_slack: bool,
    },
}

/// Where a page sits in the whole list: how many the pages before it showed, and how
/// many wait in all for this person (`complete`: the whole index was read; if not,
/// at least that many).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counted {
    pub before: usize,
    pub total: usize,
    pub complete: bool,
}

impl Counted {
    /// "10 of 60" on the first page, "11–20 of 60" on the next ones.
    fn of(&self, shown: usize) -> String {
        let or_more = if self.complete { "" } else { " or more" };
        let total = self.total.max(self.before + shown);
        if self.before == 0 {
            format!("{shown} of {total}{or_more}")
        } else {
            format!(
                "{}–{} of {total}{or_more}",
                self.before + 1,
                self.before + shown
            )
        }
    }
}

/// One page of the list. `more`: where the next page starts, if there is one;
/// `first`: this is the answer to the command itself, not a "More" click; `counted`:
/// where the page sits in all that waits for this person.
pub fn waiting_list(
    listed: &[Listed<'_>],
    more: Option<&str>,
    first: bool,
    counted: Counted,
    now_unix: i64,
) -> SlackMessage {
    if listed.is_empty() && more.is_none() {
        let text = if first {
            ":white_check_mark: Nothing waits for your decision right now."
        } else {
            ":white_check_mark: That was all: nothing more waits for your decision."
        };
        return SlackMessage {
            text: "Nothing waits for your decision.".into(),
            blocks: vec![section(text)],
        };
    }
    let shown = listed.len().min(LISTED_MAX);
    let heading = format!(
        "{}, newest first: {}",
        if first {
            "*Waiting for your decision*"
        } else {
            "*More waiting for your decision*"
        },
        counted.of(shown)
    );
    let mut blocks = vec![section(&heading)];
    for item in listed.iter().take(LISTED_MAX) {
        blocks.extend(entry_blocks(item, "ssm_list", now_unix));
    }
    if let Some(cursor) = more {
        blocks.push(more_button(cursor));
    } else if !first {
        blocks.push(context("That is all that waits for you."));
    }
    let count = counted.total.max(counted.before + shown);
    let or_more = !counted.complete;
    SlackMessage {
        text: notification(&format!(
            "{count}{} {} waiting for your decision",
            if or_more { " or more" } else { "" },
            if count == 1 && !or_more {
                "runbook"
            } else {
                "runbooks"
            }
        )),
        blocks,
    }
}

/// One entry's blocks: its line, and its buttons (block ID `<prefix>/<execution>/<step>`)
/// or the link to its prompt.
pub(crate) fn entry_blocks(item: &Listed<'_>, prefix: &str, now_unix: i64) -> Vec<Value> {
    let mut blocks = vec![];
    match item {
        Listed::Decidable { step, shown, style } => {
            blocks.push(section(&line(step, shown, now_unix)));
            if let Some(mut actions) = buttons(&step.target, &step.step_key, step.kind, *style) {
                actions["block_id"] = json!(truncate(
                    &format!("{prefix}/{}/{}", step.target.execution_id, step.step_key),
                    255
                ));
                blocks.push(actions);
            }
        }
        // Anyone in the workspace can open a list, also people who cannot read the
        // prompt's channel: nothing about the step but how long it has waited and the
        // link, which Slack opens only for members of that channel.
        Listed::Linked {
            step,
            permalink,
            nobody_from_slack,
            ..
        } => {
            let waited = age(now_unix - step.since_unix);
            let (what, link_text) = if *nobody_from_slack {
                (
                    "A step nobody may decide from Slack (decide it in the AWS console)",
                    "See its prompt",
                )
            } else {
                (
                    "A step anyone who can see its prompt may decide",
                    "Decide on its prompt",
                )
            };
            blocks.push(section(&match permalink {
                Some(link) => format!("{what}, waiting {waited}: <{link}|{link_text}>"),
                None => format!(
                    "{what}, waiting {waited}: the link to its prompt could not be read \
                     right now. Please try again."
                ),
            }));
        }
    }
    blocks
}

fn more_button(cursor: &str) -> Value {
    json!({"type": "actions", "block_id": "ssm_list_more", "elements": [
        {"type": "button", "action_id": LIST_MORE_ACTION_ID,
         "text": {"type": "plain_text", "text": "More"}, "value": cursor}
    ]})
}

fn line(step: &WaitingStep, shown: &Shown<'_>, now_unix: i64) -> String {
    let what = match step.kind {
        StepKind::Approval => "approval",
        StepKind::Pause => "pause",
    };
    let mut text = format!(
        "*<{}|{}>* · {what} step {} · waiting {} · {}",
        console_url(&step.place.region, step.target.execution_id.as_str()),
        escape(&one_line(&truncate(&step.runbook, 80))),
        code(&step.target.step_name),
        age(now_unix - step.since_unix),
        where_text(shown)
    );
    if let Some(at) = step.times_out_at_unix {
        text.push_str(&format!(" · times out {}", slack_date(at)));
    }
    if step.kind == StepKind::Approval
        && let Some(message) = &step.message
    {
        text.push_str(&format!(
            "\n{}",
            quote(&one_line(&truncate(message, LIST_MESSAGE_MAX)))
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::execution::ExecutionId;
    use crate::domain::place::{AccountNames, Place};
    use crate::domain::waiting::StepTarget;

    fn waiting(n: usize, kind: StepKind, place: &Place) -> WaitingStep {
        let execution_id = ExecutionId::parse(&format!("00000000-0000-4000-8000-{n:012}")).unwrap();
        WaitingStep {
            target: StepTarget {
                execution_id,
                step_name: "approve".into(),
                step_execution_id: Some(format!("s-{n}")),
                runbook: Some(format!("Deploy<{n}>")),
                account: place.account.clone(),
                region: Some(place.region.clone()),
            },
            step_key: format!("s-{n}"),
            kind,
            place: place.clone(),
            runbook: format!("Deploy<{n}>"),
            message: Some("ship <!here>".into()),
            since_unix: 1_000,
            times_out_at_unix: Some(90_000),
            prompt: None,
            reminded: Default::default(),
            starter: None,
        }
    }

    #[test]
    fn a_page_stays_within_block_kit_limits_and_offers_the_next() {
        let place = Place::new(Some("111122223333"), "eu-west-1");
        let names = AccountNames::parse("111122223333=payments-prod").unwrap();
        let steps: Vec<WaitingStep> = (0..30)
            .map(|n| waiting(n, StepKind::Approval, &place))
            .collect();
        let listed: Vec<Listed> = steps
            .iter()
            .map(|step| Listed::Decidable {
                step,
                shown: Shown::new(&step.place, &names),
                style: PromptStyle::default(),
            })
            .collect();
        let m = waiting_list(
            &listed,
            Some("{\"cursor\":1}"),
            true,
            Counted {
                before: 0,
                total: 30,
                complete: true,
            },
            1_000 + 3 * 3600,
        );
        assert!(m.blocks.len() <= 50, "{}", m.blocks.len());
        let actions: Vec<&Value> = m.blocks.iter().filter(|b| b["type"] == "actions").collect();
        assert_eq!(
            actions.len(),
            LISTED_MAX + 1,
            "ten steps and the More button"
        );
        let more = actions.last().unwrap();
        assert_eq!(more["elements"][0]["action_id"], LIST_MORE_ACTION_ID);
        assert_eq!(more["elements"][0]["value"], "{\"cursor\":1}");
        let text = m
            .blocks
            .iter()
            .filter(|b| b["type"] == "section")
            .map(|b| b.to_string())
            .collect::<String>();
        assert!(text.contains("newest first: 10 of 30"), "{text}");
        assert_eq!(m.text, "30 runbooks waiting for your decision");
        assert!(text.contains("waiting 3 h"), "{text}");
        assert!(text.contains("payments-prod (`111122223333`)"), "{text}");
        assert!(text.contains("eu-west-1.console.aws.amazon.com"), "{text}");
        // Runbook text stays data.
        assert!(
            !text.contains("<!here>") && !text.contains("Deploy<"),
            "{text}"
        );
        // Each button names the step run and where it waits.
        let value = actions[0]["elements"][0]["value"].as_str().unwrap();
        let target = crate::domain::inbound::button::parse_button_value(value).unwrap();
        assert_eq!(target.account.as_deref(), Some("111122223333"));
        assert_eq!(target.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn a_page_says_where_it_sits_in_all_that_waits() {
        let all = |before, total| Counted {
            before,
            total,
            complete: true,
        };
        assert_eq!(all(0, 60).of(10), "10 of 60");
        assert_eq!(all(10, 60).of(10), "11–20 of 60");
        assert_eq!(all(50, 60).of(10), "51–60 of 60");
        let unfinished = Counted {
            before: 0,
            total: 12,
            complete: false,
        };
        assert_eq!(unfinished.of(10), "10 of 12 or more");
    }

    #[test]
    fn a_linked_entry_has_no_buttons_and_an_empty_list_says_so() {
        let place = Place::new(None, "us-east-1");
        let step = waiting(1, StepKind::Pause, &place);
        let listed = [
            Listed::Linked {
                step: &step,
                shown: Shown::region_only(&place),
                permalink: Some("https://x.slack.com/archives/C1/p1".into()),
                nobody_from_slack: false,
            },
            Listed::Linked {
                step: &step,
                shown: Shown::region_only(&place),
                permalink: None,
                nobody_from_slack: false,
            },
        ];
        let m = waiting_list(&listed, None, true, Counted::default(), 2_000);
        assert!(m.blocks.iter().all(|b| b["type"] != "actions"));
        let text = serde_json::to_string(&m.blocks).unwrap();
        assert!(text.contains("<https://x.slack.com/archives/C1/p1|Decide on its prompt>"));
        assert!(text.contains("the link to its prompt could not be read"));
        assert!(
            waiting_list(&[], None, true, Counted::default(), 0)
                .text
                .contains("Nothing waits")
        );
        let last = waiting_list(&[], None, false, Counted::default(), 0);
        assert!(
            serde_json::to_string(&last.blocks)
                .unwrap()
                .contains("That was all")
        );
    }

    #[test]
    fn an_entry_anyone_may_decide_shows_only_the_link_to_its_prompt() {
        // Under `*`, anyone in the workspace can open the list, including people who
        // cannot read the prompt's (private) channel: nothing about the step but the
        // link, which Slack opens only for members of that channel.
        let place = Place::new(Some("111122223333"), "eu-west-1");
        let names = AccountNames::parse("111122223333=payments-prod").unwrap();
        let step = waiting(7, StepKind::Approval, &place);
        for (permalink, nobody_from_slack) in [
            (Some("https://x.slack.com/archives/C1/p1".to_owned()), false),
            (None, false),
            (Some("https://x.slack.com/archives/C1/p1".to_owned()), true),
            (None, true),
        ] {
            let listed = [Listed::Linked {
                step: &step,
                shown: Shown::new(&place, &names),
                permalink,
                nobody_from_slack,
            }];
            let m = waiting_list(&listed, None, true, Counted::default(), 2_000);
            assert!(m.blocks.iter().all(|b| b["type"] != "actions"));
            let text = serde_json::to_string(&m.blocks).unwrap();
            assert_eq!(
                text.contains("A step nobody may decide from Slack (decide it in the AWS console)"),
                nobody_from_slack,
                "{text}"
            );
            for detail in [
                "Deploy",
                "111122223333",
                "payments-prod",
                "eu-west-1",
                "ship",
                "approve",
                "00000000-0000-4000-8000-000000000007",
            ] {
                assert!(!text.contains(detail), "{detail} shown: {text}");
            }
        }
    }
}
