//! The approval loop end to end: SSM stand-in → events function → Slack stand-in →
//! a click signed as Slack signs it → interactions function → SSM → prompt updated.

mod support;

use approvals::domain::inbound::{APPROVE_ACTION_ID, REJECT_ACTION_ID};
use approvals::handlers::events::EventOutcome;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn full_loop_approve_in_slack() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);

    // The runbook reaches its approval step: SSM emits the step and execution events.
    let outcomes = h.deliver_events().await;
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, EventOutcome::Posted { .. })),
        "{outcomes:?}"
    );
    assert_eq!(
        h.slack.count_calls("chat.postMessage"),
        1,
        "step + execution event must give one prompt"
    );
    let prompt = h.only_prompt();
    assert_eq!(prompt.channel, CHANNEL);
    assert!(has_buttons(&prompt.blocks));
    let shown = text_of(&prompt.blocks);
    for expected in [
        "Deploy-Payments",
        "(v4)",
        "Roll payments 2026.11.21-1 out to production?",
        "assumed-role/Deployer/carol",
        "`Environment`: `production`",
        "Approvals needed",
        "Times out",
        &id,
    ] {
        assert!(shown.contains(expected), "prompt lacks {expected}: {shown}");
    }
    // Where the prompt is, is recorded on the step's item in the approvals table.
    let items = h.step_items(&id);
    assert_eq!(items.len(), 1);
    assert_eq!(
        (
            &items[0]["channel"]["S"],
            &items[0]["ts"]["S"],
            &items[0]["step_name"]["S"]
        ),
        (
            &serde_json::json!(CHANNEL),
            &serde_json::json!(prompt.ts),
            &serde_json::json!("approveRollout")
        )
    );
    assert!(
        h.ssm.tags(&id).is_empty(),
        "nothing is kept on the execution"
    );

    // Alice clicks Approve.
    let (ssm_before, slack_before) = (h.ssm.calls().len(), h.slack.calls().len());
    let table_before = h.dynamodb.calls().len();
    let (status, _) = h
        .click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(status, 200);
    // Outbound calls of the click: the claim on the step run (a conditional write), the
    // step check, the signal, then the prompt replaced and the decision recorded in the
    // table, giving the claim up (concurrently), with a copy kept for Alice's Home tab.
    // Alice is listed by ID, so no user-group lookup; the app's own workspace is read
    // once per environment.
    assert_eq!(
        h.ssm.calls()[ssm_before..],
        ["GetAutomationExecution", "SendAutomationSignal"]
    );
    assert_eq!(
        h.dynamodb.calls()[table_before..],
        ["UpdateItem", "UpdateItem", "PutItem"]
    );
    let slack_calls: Vec<String> = h.slack.calls()[slack_before..]
        .iter()
        .map(|(m, _)| m.clone())
        .collect();
    assert_eq!(slack_calls, ["auth.test", "response_url"]);
    let signals = h.ssm.signals();
    assert_eq!(signals.len(), 1);
    assert!(signals[0].accepted);
    assert_eq!(signals[0].signal_type, "Approve");
    assert_eq!(
        signals[0].payload["Comment"][0],
        "Approved in Slack by alice (U0ALICE)"
    );

    // The prompt now says who decided, and has no buttons.
    let decided = h.slack.message(CHANNEL, &prompt.ts).unwrap();
    assert!(!has_buttons(&decided.blocks));
    assert!(
        text_of(&decided.blocks).contains("*Approved* by <@U0ALICE>"),
        "{}",
        text_of(&decided.blocks)
    );
    assert!(
        text_of(&decided.blocks).contains("Roll payments"),
        "details kept"
    );
    // The audit trail: who decided what, and when, on the step's item.
    let decisions = &h.step_items(&id)[0]["decisions"]["L"];
    assert_eq!(decisions.as_array().unwrap().len(), 1);
    assert_eq!(decisions[0]["M"]["decision"]["S"], "Approve");
    assert_eq!(decisions[0]["M"]["user_id"]["S"], "U0ALICE");
    assert_eq!(decisions[0]["M"]["handle"]["S"], "alice");
    assert!(decisions[0]["M"]["at"]["N"].is_string());

    // The execution moved on; its events refresh the prompt with the final state.
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
    let outcomes = h.deliver_events().await;
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, EventOutcome::Updated { .. })),
        "{outcomes:?}"
    );
    let last = h.slack.message(CHANNEL, &prompt.ts).unwrap();
    assert!(!has_buttons(&last.blocks), "stale buttons left");
    let shown = text_of(&last.blocks);
    assert!(
        shown.contains("*Approved* by <@U0ALICE>")
            && shown.contains("The runbook finished: *Success*"),
        "{shown}"
    );
    assert!(
        h.slack.ephemeral().is_empty(),
        "no error shown to the approver"
    );
    assert_eq!(h.slack.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn reject_stops_the_runbook_and_says_who() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    // Bob is an approver through the S0OPS user group.
    let (status, _) = h.click(CHANNEL, &prompt.ts, &bob(), REJECT_ACTION_ID).await;
    assert_eq!(status, 200);
    assert_eq!(h.ssm.signals()[0].signal_type, "Reject");
    assert_eq!(
        h.ssm.signals()[0].payload["Comment"][0],
        "Rejected in Slack by bob (U0BOB)"
    );
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Failed"));
    h.deliver_events().await;
    let last = h.slack.message(CHANNEL, &prompt.ts).unwrap();
    let shown = text_of(&last.blocks);
    assert!(!has_buttons(&last.blocks));
    assert!(
        shown.contains(":x: *Rejected* by <@U0BOB>")
            && shown.contains("The runbook ended: *Failed*"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_waiting_step_delivered_again_posts_one_prompt() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let events = h.ssm.take_events();
    let waiting: Vec<_> = events
        .iter()
        .filter(|e| e["detail"]["Status"] == "Waiting")
        .cloned()
        .collect();
    assert_eq!(waiting.len(), 2, "a step event and an execution event");
    for event in waiting.iter().chain(waiting.iter()) {
        h.deliver(event).await.unwrap();
    }
    assert_eq!(h.slack.count_calls("chat.postMessage"), 1);
    // Another execution environment (a cold start, nothing in memory) finds the step
    // claimed and posted in the table, and does not post again.
    let cold = h.another_events_environment().await;
    let outcome = approvals::handlers::events::handle_automation_event(
        &cold,
        &waiting[0],
        &approvals::deadline::Deadline::for_event(None),
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, EventOutcome::AlreadyPosted { .. }),
        "{outcome:?}"
    );
    assert_eq!(h.slack.count_calls("chat.postMessage"), 1);
    assert_eq!(h.step_items(&id).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runbook_with_two_approval_steps_gets_two_prompts() {
    let h = Harness::start().await;
    let mut spec = runbook(1);
    spec.steps.push(stand_ins::ssm::StepSpec::approve(
        "approveCleanup",
        "Clean up the old fleet?",
        1,
        &[FUNCTION_ROLE, FUNCTION_SESSION],
    ));
    let id = h.ssm.start_automation(spec);
    h.deliver_events().await;
    let first = h.only_prompt();
    h.click(CHANNEL, &first.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    h.deliver_events().await;
    assert_eq!(
        h.ssm.step_status(&id, "approveCleanup").as_deref(),
        Some("Waiting")
    );
    let messages = h.slack.messages();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    let second = messages.iter().find(|m| m.ts != first.ts).unwrap();
    assert!(
        has_buttons(&second.blocks) && text_of(&second.blocks).contains("Clean up the old fleet?")
    );
    let first_now = h.slack.message(CHANNEL, &first.ts).unwrap();
    assert!(!has_buttons(&first_now.blocks));
}

#[tokio::test(flavor = "multi_thread")]
async fn timed_out_and_cancelled_prompts_lose_their_buttons() {
    for (end, words) in [("timeout", "*Timed out*"), ("cancel", "*Cancelled*")] {
        let h = Harness::start().await;
        let id = h.start_runbook(1);
        h.deliver_events().await;
        let prompt = h.only_prompt();
        assert!(if end == "timeout" {
            h.ssm.time_out(&id)
        } else {
            h.ssm.cancel(&id)
        });
        let outcomes = h.deliver_events().await;
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o, EventOutcome::Updated { .. })),
            "{outcomes:?}"
        );
        let last = h.slack.message(CHANNEL, &prompt.ts).unwrap();
        assert!(!has_buttons(&last.blocks), "{end}: buttons left");
        assert!(
            text_of(&last.blocks).contains(words),
            "{end}: {}",
            text_of(&last.blocks)
        );
        // A click on a copy of the old prompt (another client, not yet refreshed) is refused by SSM
        // and answered plainly; no decision is reported.
        assert_eq!(h.signals_sent(), 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_click_after_the_decision_is_told_and_changes_nothing() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    // Both see the prompt with buttons; Alice clicks first, Bob (by group) a moment later
    // on the copy he still has.
    let bobs_click = h
        .slack
        .click(CHANNEL, &prompt.ts, &bob(), REJECT_ACTION_ID)
        .unwrap();
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    let (status, _) = h
        .invoke_interactions(&bobs_click.to_apigw_v2_event(false))
        .await;
    assert_eq!(status, 200);
    let signals = h.ssm.signals();
    assert_eq!(
        signals.len(),
        1,
        "the step no longer waits: nothing is signalled"
    );
    assert!(signals[0].accepted && signals[0].signal_type == "Approve");
    assert_eq!(
        h.ssm.execution_status(&id).as_deref(),
        Some("Success"),
        "the rejection had no effect"
    );
    let told = h.slack.ephemeral();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].user_id, "U0BOB");
    assert!(
        told[0].text.contains("no longer waiting")
            && told[0].text.contains("*Approved* by <@U0ALICE>")
            && told[0].text.contains("Success"),
        "{}",
        told[0].text
    );
    // The prompt shows the real state, never a rejection.
    let shown = text_of(&h.slack.message(CHANNEL, &prompt.ts).unwrap().blocks);
    assert!(
        !shown.contains("Rejected") && shown.contains("Approved"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn someone_not_allowed_is_told_why_and_the_prompt_stays() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let (status, _) = h
        .click(CHANNEL, &prompt.ts, &mallory(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.signals_sent(), 0);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
    let told = h.slack.ephemeral();
    assert_eq!(told.len(), 1);
    assert!(
        told[0]
            .text
            .contains("only <@U0ALICE> or members of <!subteam^S0OPS> can approve"),
        "{}",
        told[0].text
    );
    assert!(
        has_buttons(&h.slack.message(CHANNEL, &prompt.ts).unwrap().blocks),
        "the prompt stays"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn user_groups_are_looked_up_once_per_environment() {
    let h = Harness::start().await;
    for _ in 0..2 {
        h.start_runbook(1);
    }
    h.deliver_events().await;
    let prompts = h.slack.messages();
    assert_eq!(prompts.len(), 2);
    for p in &prompts {
        h.click(CHANNEL, &p.ts, &bob(), APPROVE_ACTION_ID).await;
    }
    assert_eq!(h.ssm.signals().iter().filter(|s| s.accepted).count(), 2);
    assert_eq!(h.slack.count_calls("usergroups.users.list"), 1);
    // Alice is listed by ID: no group lookup at all.
    let calls_before = h.slack.count_calls("usergroups.users.list");
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let ts = h.prompt_ts(&id);
    h.click(CHANNEL, &ts, &alice(), APPROVE_ACTION_ID).await;
    assert_eq!(h.slack.count_calls("usergroups.users.list"), calls_before);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_approvers_configured_means_nobody_decides() {
    let h = Harness::with(Options {
        approvers: None,
        ..Options::default()
    })
    .await;
    h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let (status, _) = h
        .click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.signals_sent(), 0);
    assert!(
        h.slack.ephemeral()[0]
            .text
            .contains("no approvers are configured")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_slack_stand_in_answers_auth_test_like_slack() {
    // Slack's own SDKs call auth.test at start-up; the stand-in serves them too.
    let h = Harness::start().await;
    let http = reqwest::Client::new();
    let call = |token: &'static str| {
        http.post(format!("{}/auth.test", h.slack.api_url()))
            .bearer_auth(token)
            .send()
    };
    let read = |text: String| serde_json::from_str::<serde_json::Value>(&text).unwrap();
    let ok = read(call(BOT_TOKEN).await.unwrap().text().await.unwrap());
    assert_eq!(
        (ok["ok"].as_bool(), ok["team_id"].as_str()),
        (Some(true), Some("T0LOCAL"))
    );
    let refused = read(call("xoxb-wrong").await.unwrap().text().await.unwrap());
    assert_eq!(refused["error"], "invalid_auth");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_can_come_from_parameter_store() {
    let h = Harness::with(Options {
        secrets_in_parameters: true,
        ..Options::default()
    })
    .await;
    // events: the bot token; interactions: the bot token and the signing secret.
    assert_eq!(
        h.ssm.count_calls("GetParameter"),
        3,
        "each function reads its secrets once, at start-up"
    );
    h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.ssm.signals().iter().filter(|s| s.accepted).count(), 1);
    assert_eq!(
        h.ssm.count_calls("GetParameter"),
        3,
        "not read again per request"
    );
}
