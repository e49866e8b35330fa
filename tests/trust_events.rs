//! Trust, round two, on the events side: Slack's answers read for what they mean,
//! prompts never left with live buttons by the function's own mistake, and an audit
//! trail that holds every decision SSM accepted.

mod support;

use std::time::Duration;

use approvals::domain::inbound::APPROVE_ACTION_ID;
use approvals::handlers::events::EventOutcome;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_post_slack_may_have_made_is_never_made_again_at_once() {
    // internal_error with 200, fatal_error with a 500 and a JSON body, a bare 503:
    // Slack documents each as possibly following a post that was made.
    for (status, error) in [
        (200, "internal_error"),
        (500, "fatal_error"),
        (200, "service_unavailable"),
        (200, "request_timeout"),
        (503, "internal_error"),
    ] {
        let h = Harness::start().await;
        let id = h.start_runbook(1);
        let waiting = &h.take_waiting_step_event();
        h.slack
            .fail_next_after_doing("chat.postMessage", status, error);
        assert!(h.deliver(waiting).await.is_err(), "{error}");
        assert_eq!(h.slack.messages().len(), 1, "{error}: it was posted");
        // The claim is kept: the retry does not post a second prompt, it finds the
        // one Slack made (tests/maybe_posted.rs).
        assert!(
            h.step_items(&id)[0].get("claim_token").is_some(),
            "{error}: claim given up"
        );
        assert!(
            matches!(h.deliver(waiting).await, Ok(EventOutcome::Posted { .. })),
            "{error}"
        );
        assert_eq!(h.slack.count_calls("chat.postMessage"), 1, "{error}");
        assert_eq!(h.prompt_ts(&id), h.only_prompt().ts, "{error}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_slack_refused_is_made_again_at_once() {
    for error in [
        "not_in_channel",
        "channel_not_found",
        "invalid_auth",
        "ratelimited",
    ] {
        let h = Harness::start().await;
        let id = h.start_runbook(1);
        let waiting = &h.take_waiting_step_event();
        h.slack.refuse_next("chat.postMessage", 200, error);
        assert!(h.deliver(waiting).await.is_err(), "{error}");
        assert!(h.slack.messages().is_empty());
        assert!(
            h.step_items(&id)[0].get("claim_token").is_none(),
            "{error}: the claim is given up"
        );
        let retried = h.deliver(waiting).await.unwrap();
        assert!(
            matches!(retried, EventOutcome::Posted { .. }),
            "{error}: {retried:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_read_after_posting_fails_the_delivery_so_lambda_retries_it() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting = &h.take_waiting_step_event();
    // The first read finds the step waiting; the read after the post is throttled
    // past the SDK's retries.
    h.ssm.answer_next_normally("GetAutomationExecution");
    for _ in 0..4 {
        h.ssm
            .fail_next("GetAutomationExecution", 400, "ThrottlingException");
    }
    let failed = h.deliver(waiting).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(h.slack.messages().len(), 1);
    // Meanwhile the step timed out; the retry brings the prompt up to date and
    // posts nothing new.
    h.ssm.time_out(&id);
    let retried = h.deliver(waiting).await.unwrap();
    assert!(
        matches!(retried, EventOutcome::Updated { updated: 1, .. }),
        "{retried:?}"
    );
    assert!(!has_buttons(&h.only_prompt().blocks));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_is_never_taken_down_unless_a_read_shows_it_unrecorded() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting = &h.take_waiting_step_event();
    // The table accepts the claim, then fails every write and every read.
    h.dynamodb.answer_next_normally("PutItem");
    for _ in 0..1000 {
        h.dynamodb
            .fail_next("UpdateItem", 500, "InternalServerError");
        h.dynamodb.fail_next("GetItem", 500, "InternalServerError");
    }
    let deadline = approvals::deadline::Deadline::after(Duration::from_secs(5));
    let failed =
        approvals::handlers::events::handle_automation_event(&h.events, waiting, &deadline).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(h.slack.count_calls("chat.delete"), 0);
    assert_eq!(
        h.slack.messages().len(),
        1,
        "the prompt stays: it may be recorded"
    );
    h.dynamodb.clear_faults();
    assert_eq!(h.step_items(&id).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_progress_update_never_brings_buttons_back_on_an_ended_step() {
    let h = Harness::with(Options {
        approvers: Some("U0ALICE,U0BOB"),
        env: vec![("APPROVER_ROLE_ARN", APPROVER_ROLE)],
        ..Options::default()
    })
    .await;
    let id = h
        .ssm
        .start_automation(quorum_runbook(2, &["U0ALICE", "U0BOB"]));
    h.deliver_events().await;
    let prompt = h.only_prompt();
    // Alice's approval is taken; the read after it is answered late, and meanwhile
    // the step times out and its events bring the prompt to its end.
    h.ssm.answer_next_normally("GetAutomationExecution");
    h.ssm
        .answer_late("GetAutomationExecution", Duration::from_millis(600));
    let click = h
        .slack
        .click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .unwrap();
    let event = click.to_apigw_v2_event(false);
    let checks = h.ssm.count_calls("GetAutomationExecution");
    let clicking = h.invoke_interactions(&event);
    let ending = async {
        // Once the click's step check has reached SSM (whose answer is on its way, late).
        until("the click's step check to reach SSM", || {
            h.ssm.count_calls("GetAutomationExecution") > checks
        })
        .await;
        h.ssm.time_out(&id);
        h.deliver_events().await;
        assert!(!has_buttons(&h.only_prompt().blocks), "ended by its event");
    };
    let ((status, _), ()) = tokio::join!(clicking, ending);
    assert_eq!(status, 200);
    assert_eq!(h.signals_sent(), 1);
    let now = h.only_prompt();
    assert!(
        !has_buttons(&now.blocks),
        "buttons came back: {}",
        text_of(&now.blocks)
    );
    assert!(
        text_of(&now.blocks).contains("Timed"),
        "{}",
        text_of(&now.blocks)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decision_whose_outcome_was_unknown_is_filled_into_the_trail_from_ssm() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    // SSM applies Alice's approval but answers after the click gave up.
    h.ssm
        .answer_late("SendAutomationSignal", Duration::from_secs(4));
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
    assert!(h.step_items(&id)[0].get("decisions").is_none());
    // The step's events read SSM's own record of who approved.
    h.deliver_events().await;
    let item = &h.step_items(&id)[0];
    let decision = &item["decisions"]["L"][0]["M"];
    assert_eq!(decision["user_id"]["S"], "U0ALICE", "{item:#}");
    assert_eq!(decision["decision"]["S"], "Approve");
    assert!(
        text_of(&h.only_prompt().blocks).contains("*Approved* by <@U0ALICE>"),
        "{}",
        text_of(&h.only_prompt().blocks)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decision_whose_record_failed_is_filled_into_the_trail_once() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    // The decision is taken, and every write of its record fails.
    h.dynamodb.answer_next_normally("UpdateItem");
    for _ in 0..9 {
        h.dynamodb
            .fail_next("UpdateItem", 500, "InternalServerError");
    }
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    h.dynamodb.clear_faults();
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
    h.deliver_events().await;
    h.deliver_events().await;
    let item = &h.step_items(&id)[0];
    let decisions = item["decisions"]["L"].as_array().expect("filled in");
    assert_eq!(decisions.len(), 1, "{item:#}");
    assert_eq!(decisions[0]["M"]["user_id"]["S"], "U0ALICE");
}
