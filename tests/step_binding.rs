//! A click decides exactly the step its prompt shows, at most once: stale prompts,
//! second approvers and replayed requests never reach a later approval step.

mod support;

use approvals::domain::inbound::{APPROVE_ACTION_ID, REJECT_ACTION_ID};
use stand_ins::ssm::StepSpec;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_click_on_the_first_prompt_never_decides_the_second_step() {
    let h = Harness::start().await;
    let id = h.ssm.start_automation(two_approvals());
    h.deliver_events().await;
    let first = h.only_prompt();
    // Bob still has the first prompt with its buttons; Alice approves it.
    let bobs_stale_reject = h
        .slack
        .click(CHANNEL, &first.ts, &bob(), REJECT_ACTION_ID)
        .unwrap();
    let alices_click = h
        .slack
        .click(CHANNEL, &first.ts, &alice(), APPROVE_ACTION_ID)
        .unwrap();
    h.invoke_interactions(&alices_click.to_apigw_v2_event(false))
        .await;
    h.deliver_events().await;
    assert_eq!(
        h.ssm.step_status(&id, "approveCleanup").as_deref(),
        Some("Waiting")
    );
    let signals_before = h.signals_sent();

    // Bob's click, and Alice's request replayed inside the 5-minute window.
    for click in [&bobs_stale_reject, &alices_click] {
        let (status, _) = h.invoke_interactions(&click.to_apigw_v2_event(false)).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        h.signals_sent(),
        signals_before,
        "no signal may be sent for a step that is not waiting"
    );
    assert_eq!(
        h.ssm.step_status(&id, "approveCleanup").as_deref(),
        Some("Waiting"),
        "the second approval is untouched"
    );
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
    let told = h.slack.ephemeral();
    assert_eq!(told.len(), 2, "{told:#?}");
    for t in &told {
        assert!(
            t.text.contains("approveRollout") && t.text.contains("Approved"),
            "the clicker is told what became of that step: {}",
            t.text
        );
    }
    // The first prompt shows its own step's outcome; the second keeps its buttons.
    let first_now = text_of(&h.slack.message(CHANNEL, &first.ts).unwrap().blocks);
    assert!(
        first_now.contains("*Approved* by <@U0ALICE>"),
        "{first_now}"
    );
    let second = h
        .slack
        .messages()
        .into_iter()
        .find(|m| m.ts != first.ts)
        .unwrap();
    assert!(has_buttons(&second.blocks));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_click_on_an_earlier_run_of_a_step_never_decides_its_next_run() {
    let h = Harness::start().await;
    let mut spec = runbook(1);
    // After the change, the runbook goes back to the approval once more.
    spec.steps
        .push(StepSpec::loop_back("againFromApproval", "approveRollout"));
    let id = h.ssm.start_automation(spec);
    h.deliver_events().await;
    let first = h.only_prompt();
    let bobs_stale_click = h
        .slack
        .click(CHANNEL, &first.ts, &bob(), APPROVE_ACTION_ID)
        .unwrap();
    h.click(CHANNEL, &first.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    h.deliver_events().await;
    let runs = h.ssm.step_execution_ids(&id, "approveRollout");
    assert_eq!(runs.len(), 2, "the approval step runs a second time");
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
    let messages = h.slack.messages();
    assert_eq!(messages.len(), 2, "the second run gets a prompt of its own");

    let signals_before = h.signals_sent();
    h.invoke_interactions(&bobs_stale_click.to_apigw_v2_event(false))
        .await;
    assert_eq!(
        h.signals_sent(),
        signals_before,
        "same step name, other run"
    );
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
    let told = h.slack.ephemeral();
    assert!(
        told.last().unwrap().text.contains("no longer waiting"),
        "{told:#?}"
    );

    // The second run's own prompt decides the second run.
    let second = messages.iter().find(|m| m.ts != first.ts).unwrap();
    h.click(CHANNEL, &second.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
}

#[tokio::test(flavor = "multi_thread")]
async fn runbook_text_reaches_slack_as_text_never_as_mentions_or_links() {
    let h = Harness::start().await;
    let mut spec = runbook(1);
    spec.steps[1] = StepSpec::approve(
        "approveRollout",
        "<!channel> please read <https://evil.example/login|the runbook> & approve `now",
        1,
        &[FUNCTION_ROLE, FUNCTION_SESSION],
    );
    spec.parameters.insert(
        "Note".into(),
        vec!["`<!here>` *urgent*\nsecond line".into()],
    );
    spec.executed_by = "<@U0MALLORY>".into();
    h.ssm.start_automation(spec);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let everything = format!("{} {}", prompt.text, text_of(&prompt.blocks));
    for markup in ["<!channel>", "<!here>", "<https://evil", "<@U0MALLORY>"] {
        assert!(
            !everything.contains(markup),
            "{markup} reached Slack as markup: {everything}"
        );
    }
    assert!(
        prompt
            .text
            .contains("&lt;!channel&gt; please read &lt;https://evil.example/login|the runbook&gt; &amp; approve"),
        "{}",
        prompt.text
    );
    // The value stays inside its code span: its backticks and line break are shown
    // as look-alikes, not taken as the end of the span.
    assert!(
        everything.contains("`\u{02CB}&lt;!here&gt;\u{02CB} *urgent*\u{21B5}second line`"),
        "{everything}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn people_of_other_workspaces_decide_only_when_allowed() {
    use stand_ins::slack::Person;
    let partner = Person::of_team("U0ALICE", "alice-at-partner", "T0PARTNER");
    for (allowed, expected) in [(None, "Waiting"), (Some("T0PARTNER"), "Success")] {
        let h = Harness::with(Options {
            approvers: Some("*"),
            env: allowed
                .map(|t| ("SLACK_ALLOWED_TEAMS", t))
                .into_iter()
                .collect(),
            ..Options::default()
        })
        .await;
        let id = h.start_runbook(1);
        h.deliver_events().await;
        let prompt = h.only_prompt();
        h.click(CHANNEL, &prompt.ts, &partner, APPROVE_ACTION_ID)
            .await;
        assert_eq!(
            h.ssm.execution_status(&id).as_deref(),
            Some(expected),
            "allowed teams: {allowed:?}"
        );
        if allowed.is_none() {
            assert_eq!(h.signals_sent(), 0);
            assert!(
                h.slack.ephemeral()[0]
                    .text
                    .contains("another one (T0PARTNER)")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn group_membership_is_read_again_once_the_cache_period_is_over() {
    let h = Harness::with(Options {
        env: vec![("SLACK_GROUP_CACHE_SECONDS", "1")],
        ..Options::default()
    })
    .await;
    let first = h.start_runbook(1);
    let second = h.start_runbook(1);
    h.deliver_events().await;
    let prompts = h.slack.messages();
    let prompt_of = |id: &str| {
        prompts
            .iter()
            .find(|m| text_of(&m.blocks).contains(id))
            .unwrap()
            .ts
            .clone()
    };
    // Bob approves through S0OPS; then he leaves the group.
    h.click(CHANNEL, &prompt_of(&first), &bob(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.ssm.execution_status(&first).as_deref(), Some("Success"));
    h.slack.add_usergroup("S0OPS", &["U0CAROL"]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    h.click(CHANNEL, &prompt_of(&second), &bob(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.ssm.execution_status(&second).as_deref(), Some("Waiting"));
    assert_eq!(h.slack.count_calls("usergroups.users.list"), 2);
    assert!(h.slack.ephemeral()[0].text.contains("only <@U0ALICE>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_runbook_whose_step_list_is_truncated_is_still_checked_step_by_step() {
    let h = Harness::start().await;
    // SSM lists only the first step executions of a long runbook; the approval that
    // waits comes after them.
    h.ssm.truncate_step_lists_at(3);
    let mut spec = runbook(1);
    for n in 0..6 {
        spec.steps.insert(
            1,
            StepSpec::run(&format!("prepare{n}"), "aws:executeScript"),
        );
    }
    let id = h.ssm.start_automation(spec);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    assert!(has_buttons(&prompt.blocks));
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
    assert!(h.ssm.count_calls("DescribeAutomationStepExecutions") >= 2);
    h.deliver_events().await;
    let shown = text_of(&h.slack.message(CHANNEL, &prompt.ts).unwrap().blocks);
    assert!(shown.contains("*Approved* by <@U0ALICE>"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_that_leaves_a_quorum_step_waiting_is_not_shown_as_approved() {
    let h = Harness::start().await;
    // Two approvals needed; every decision from Slack is signalled by the one role.
    let id = h.start_runbook(2);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.ssm.signals().iter().filter(|s| s.accepted).count(), 1);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
    let now = h.slack.message(CHANNEL, &prompt.ts).unwrap();
    assert!(
        has_buttons(&now.blocks),
        "the step still waits: buttons stay"
    );
    assert!(!text_of(&now.blocks).contains("*Approved* by"));
    let told = h.slack.ephemeral();
    assert_eq!(told.len(), 1);
    assert!(
        told[0].text.contains("needs 2 approvals") && told[0].text.contains("still waits"),
        "{}",
        told[0].text
    );
    // SSM's approval is on the record all the same.
    assert_eq!(
        h.step_items(&id)[0]["decisions"]["L"][0]["M"]["user_id"]["S"],
        "U0ALICE"
    );
}
