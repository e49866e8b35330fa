//! When Slack or SSM misbehave: rate limits, outages, unknown outcomes. Nothing is
//! dropped silently, no decision is reported that SSM did not accept, and a click
//! is still answered inside Slack's 3 seconds.

mod support;

use std::time::{Duration, Instant};

use approvals::domain::interaction::APPROVE_ACTION_ID;
use approvals::handlers::events::EventOutcome;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn post_message_rate_limit_is_waited_out_as_slack_asks() {
    let h = Harness::start().await;
    h.start_runbook(1);
    h.slack.rate_limit_next("chat.postMessage", 1);
    let started = Instant::now();
    h.deliver_events().await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(h.slack.count_calls("chat.postMessage"), 2);
    assert_eq!(h.slack.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_down_fails_the_delivery_and_a_retry_posts_once() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting = &h.take_waiting_step_event();
    for _ in 0..4 {
        h.slack.fail_next("chat.postMessage", 503);
    }
    let failed = h.deliver(waiting).await;
    assert!(
        failed.is_err(),
        "the invocation must fail so Lambda retries it: {failed:?}"
    );
    assert!(h.slack.messages().is_empty());
    assert!(!h.ssm.tags(&id).contains_key("slack-prompt"));
    // Lambda retries the event once Slack is back.
    let retried = h.deliver(waiting).await.unwrap();
    assert!(
        matches!(retried, EventOutcome::Posted { .. }),
        "{retried:?}"
    );
    assert_eq!(h.slack.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_tag_write_is_retried_without_a_second_prompt() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting = &h.take_waiting_step_event();
    for _ in 0..4 {
        h.ssm
            .fail_next("AddTagsToResource", 500, "InternalServerError");
    }
    assert!(
        h.deliver(waiting).await.is_err(),
        "posting without recording it must fail the delivery"
    );
    let retried = h.deliver(waiting).await.unwrap();
    assert!(
        matches!(retried, EventOutcome::AlreadyPosted { .. }),
        "{retried:?}"
    );
    assert_eq!(h.slack.count_calls("chat.postMessage"), 1);
    assert!(h.ssm.tags(&id).contains_key("slack-prompt"));
}

#[tokio::test(flavor = "multi_thread")]
async fn ssm_failing_the_signal_is_never_reported_as_a_decision() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    for _ in 0..2 {
        h.ssm
            .fail_next("SendAutomationSignal", 400, "ThrottlingException");
    }
    let started = Instant::now();
    let (status, _) = h
        .click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(status, 200);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
    let told = h.slack.ephemeral();
    assert_eq!(told.len(), 1);
    assert!(
        told[0].text.contains("could not be confirmed")
            && told[0].text.contains("ThrottlingException"),
        "{}",
        told[0].text
    );
    let now = h.slack.message(CHANNEL, &prompt.ts).unwrap();
    assert!(
        has_buttons(&now.blocks) && !text_of(&now.blocks).contains("Approved"),
        "no decision shown"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transient_ssm_error_is_retried_by_the_sdk() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    h.ssm
        .fail_next("SendAutomationSignal", 500, "InternalServerError");
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.ssm.count_calls("SendAutomationSignal"), 2);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
    assert!(
        text_of(&h.slack.message(CHANNEL, &prompt.ts).unwrap().blocks)
            .contains("*Approved* by <@U0ALICE>")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_retry_after_on_the_click_path_is_not_waited_for() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    h.slack.rate_limit_next("response_url", 30);
    let started = Instant::now();
    let (status, _) = h
        .click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(status, 200);
    // SSM accepted it, so the decision stands; the prompt catches up from the step's events.
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
    h.deliver_events().await;
    let now = h.slack.message(CHANNEL, &prompt.ts).unwrap();
    assert!(!has_buttons(&now.blocks));
    assert!(
        text_of(&now.blocks).contains("*Approved* by <@U0ALICE>"),
        "{}",
        text_of(&now.blocks)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn group_lookup_failure_refuses_safely_and_is_not_cached() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    for _ in 0..4 {
        h.slack.fail_next("usergroups.users.list", 500);
    }
    h.click(CHANNEL, &prompt.ts, &bob(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.signals_sent(), 0);
    assert!(h.slack.ephemeral()[0].text.contains("could not be checked"));
    h.click(CHANNEL, &prompt.ts, &bob(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
}

#[tokio::test(flavor = "multi_thread")]
async fn ssm_unavailable_for_events_fails_the_delivery() {
    let h = Harness::start().await;
    h.start_runbook(1);
    let waiting = &h.take_waiting_step_event();
    for _ in 0..8 {
        h.ssm
            .fail_next("GetAutomationExecution", 500, "InternalServerError");
    }
    assert!(h.deliver(waiting).await.is_err());
    assert!(h.slack.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn events_for_executions_ssm_does_not_know_are_dropped() {
    let h = Harness::start().await;
    let outcome = h
        .deliver(&event_file("automation-step-waiting.json"))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, EventOutcome::Ignored { reason } if reason.contains("does not exist")),
        "{outcome:?}"
    );
    assert!(h.slack.calls().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_deleted_in_slack_does_not_make_the_refresh_retry_forever() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    assert!(h.slack.delete_message(CHANNEL, &prompt.ts));
    h.ssm.time_out(&id);
    // Every refresh is answered `message_not_found`: dropped with a reason, not retried.
    let outcomes = h.deliver_events().await;
    assert!(
        outcomes.iter().any(|o| matches!(o, EventOutcome::Ignored { reason } if reason.contains("message_not_found"))),
        "{outcomes:?}"
    );
    assert!(h.slack.count_calls("chat.update") >= 1);
}
