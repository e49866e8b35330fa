//! A click decides exactly the step its prompt shows, at most once: stale prompts,
//! second approvers and replayed requests never reach a later approval step.

mod support;

use approvals::domain::interaction::{APPROVE_ACTION_ID, REJECT_ACTION_ID};
use approvals::stand_ins::ssm::StepSpec;
use support::*;

fn two_approvals() -> approvals::stand_ins::ssm::RunbookSpec {
    let mut spec = runbook(1);
    spec.steps.push(StepSpec::approve(
        "approveCleanup",
        "Clean up the old fleet?",
        1,
        &[],
    ));
    spec
}

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
