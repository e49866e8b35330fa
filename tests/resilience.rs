//! When Slack or SSM misbehave: rate limits, outages, unknown outcomes. Nothing is
//! dropped silently, no decision is reported that SSM did not accept, and a click
//! is still answered inside Slack's 3 seconds.

mod support;

use std::time::{Duration, Instant};

use approvals::deadline::CLICK_BUDGET;
use approvals::domain::inbound::APPROVE_ACTION_ID;
use approvals::handlers::events::EventOutcome;
use support::*;

/// What the machine running the tests may add to a click's own budget: the harness's
/// signing and parsing, and a loaded machine's scheduling (two test runs at once).
const MACHINE_MARGIN: Duration = Duration::from_millis(900);

/// Alice clicks Approve on the prompt at `ts`; the answer comes within the product's
/// own budget for a click ([`CLICK_BUDGET`], 2.6 s of Slack's 3), plus what the machine
/// adds. The product's promise is its deadline; the margin is the test machine's.
async fn alice_approves_in_time(h: &Harness, ts: &str) -> u16 {
    let started = Instant::now();
    let (status, _) = h.click(CHANNEL, ts, &alice(), APPROVE_ACTION_ID).await;
    assert!(
        started.elapsed() < CLICK_BUDGET + MACHINE_MARGIN,
        "took {:?}, past the click's budget of {CLICK_BUDGET:?}",
        started.elapsed()
    );
    status
}

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
async fn slack_refusing_the_post_fails_the_delivery_and_the_retry_posts_at_once() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting = &h.take_waiting_step_event();
    // Rate limited for longer than the invocation can wait: certainly not posted.
    h.slack.rate_limit_next("chat.postMessage", 120);
    let failed = h.deliver(waiting).await;
    assert!(
        failed.is_err(),
        "the invocation must fail so Lambda retries it: {failed:?}"
    );
    assert!(h.slack.messages().is_empty());
    // Nothing was posted, so the claim is given up: the retry need not wait for its lease.
    assert!(h.step_items(&id)[0].get("claim_token").is_none());
    let retried = h.deliver(waiting).await.unwrap();
    assert!(
        matches!(retried, EventOutcome::Posted { .. }),
        "{retried:?}"
    );
    assert_eq!(h.slack.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_answered_with_a_5xx_is_not_sent_again_and_the_retry_looks_before_posting() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting = &h.take_waiting_step_event();
    h.slack.fail_next("chat.postMessage", 503);
    assert!(h.deliver(waiting).await.is_err());
    // A 5xx may follow a post that was made: never posted again by this delivery,
    // and the claim is kept, saying its post is in doubt.
    assert_eq!(h.slack.count_calls("chat.postMessage"), 1);
    assert!(h.step_items(&id)[0].get("post_unknown").is_some());
    // The retry, inside the lease, looks in the channel: not there, so it posts, once.
    let retried = h.deliver(waiting).await.unwrap();
    assert!(
        matches!(retried, EventOutcome::Posted { .. }),
        "{retried:?}"
    );
    assert_eq!(h.slack.count_calls("conversations.history"), 1);
    assert_eq!(h.slack.messages().len(), 1);
    assert_eq!(h.slack.count_calls("chat.postMessage"), 2);
    assert_eq!(h.prompt_ts(&id), h.only_prompt().ts);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_table_write_after_the_post_is_retried_without_a_second_prompt() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting = &h.take_waiting_step_event();
    // More failures than the SDK's own retries absorb: the function tries again.
    for _ in 0..6 {
        h.dynamodb
            .fail_next("UpdateItem", 500, "InternalServerError");
    }
    let outcome = h.deliver(waiting).await.unwrap();
    assert!(
        matches!(outcome, EventOutcome::Posted { .. }),
        "{outcome:?}"
    );
    assert_eq!(h.slack.count_calls("chat.postMessage"), 1);
    assert!(h.dynamodb.count_calls("UpdateItem") >= 7);
    assert_eq!(h.prompt_ts(&id), h.only_prompt().ts);
    // Delivered again: already posted.
    let again = h.deliver(waiting).await.unwrap();
    assert!(
        matches!(again, EventOutcome::AlreadyPosted { .. }),
        "{again:?}"
    );
    assert_eq!(h.slack.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_that_cannot_be_recorded_is_taken_down_and_the_retry_posts_one() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting = &h.take_waiting_step_event();
    for _ in 0..1000 {
        h.dynamodb
            .fail_next("UpdateItem", 500, "InternalServerError");
    }
    // A short invocation: the table keeps failing until its deadline.
    let deadline = approvals::deadline::Deadline::after(Duration::from_secs(5));
    let failed =
        approvals::handlers::events::handle_automation_event(&h.events, waiting, &deadline).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(h.slack.count_calls("chat.postMessage"), 1);
    assert_eq!(h.slack.count_calls("chat.delete"), 1);
    assert!(
        h.slack.messages().is_empty(),
        "the unrecorded prompt was taken down"
    );
    // The table recovers. The claim could not be given up while the table failed, so
    // a retry within its lease is told it is being posted (and fails, to come back)...
    h.dynamodb.clear_faults();
    assert!(matches!(
        h.deliver(waiting).await,
        Err(approvals::handlers::events::EventError::BeingPosted { .. })
    ));
    assert!(h.slack.messages().is_empty());
    // ...and once the lease is over, one delivery takes the claim over and posts.
    h.expire_claim(&id);
    let retried = h.deliver(waiting).await.unwrap();
    assert!(
        matches!(retried, EventOutcome::Posted { .. }),
        "{retried:?}"
    );
    assert_eq!(h.slack.messages().len(), 1);
    assert_eq!(h.prompt_ts(&id), h.only_prompt().ts);
}

#[tokio::test(flavor = "multi_thread")]
async fn three_throttles_in_a_row_are_survived_inside_slacks_3_seconds() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    for _ in 0..3 {
        h.ssm
            .fail_next("SendAutomationSignal", 400, "ThrottlingException");
    }
    let status = alice_approves_in_time(&h, &prompt.ts).await;
    assert_eq!(status, 200);
    assert_eq!(h.ssm.count_calls("SendAutomationSignal"), 4);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
    assert!(
        text_of(&h.slack.message(CHANNEL, &prompt.ts).unwrap().blocks)
            .contains("*Approved* by <@U0ALICE>")
    );
    assert!(h.slack.ephemeral().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_until_the_deadline_nothing_is_decided_and_the_clicker_is_told_in_time() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    for _ in 0..50 {
        h.ssm
            .fail_next("SendAutomationSignal", 400, "ThrottlingException");
    }
    let status = alice_approves_in_time(&h, &prompt.ts).await;
    assert_eq!(status, 200);
    assert!(h.ssm.count_calls("SendAutomationSignal") >= 4);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
    let told = h.slack.ephemeral();
    assert_eq!(told.len(), 1);
    assert!(
        told[0]
            .text
            .contains("AWS did not take the decision (ThrottlingException)")
            && told[0].text.contains("nothing was done"),
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
async fn a_signal_answered_with_a_5xx_is_never_sent_again() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    h.ssm
        .fail_next("SendAutomationSignal", 500, "InternalServerError");
    let (status, _) = h
        .click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(status, 200);
    // The SDK would retry a 500; a signal that may have been applied is not.
    assert_eq!(h.ssm.count_calls("SendAutomationSignal"), 1);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
    let told = h.slack.ephemeral();
    assert_eq!(told.len(), 1);
    assert!(
        told[0].text.contains("not known yet") && told[0].text.contains("InternalServerError"),
        "{}",
        told[0].text
    );
    assert!(has_buttons(
        &h.slack.message(CHANNEL, &prompt.ts).unwrap().blocks
    ));

    // The signal may still be on its way: a click at once is not signalled (the claim
    // is kept for its lease), and is told so.
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.ssm.count_calls("SendAutomationSignal"), 1);
    let told = h.slack.ephemeral();
    assert!(
        told[1].text.contains("being sent to AWS"),
        "{}",
        told[1].text
    );

    // After the lease: refused outright (the role may not signal), and said so.
    h.expire_decision_claim(&id);
    h.ssm
        .fail_next("SendAutomationSignal", 400, "AccessDeniedException");
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.ssm.count_calls("SendAutomationSignal"), 2);
    let told = h.slack.ephemeral();
    assert!(
        told[2]
            .text
            .contains("AWS did not take the decision (AccessDeniedException)"),
        "{}",
        told[2].text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signal_that_timed_out_is_never_sent_again_and_the_prompt_shows_ssms_state() {
    let h = Harness::start().await;
    let mut spec = runbook(1);
    // A second approval right after: a repeated Approve would decide it.
    spec.steps.push(stand_ins::ssm::StepSpec::approve(
        "approveCleanup",
        "Clean up?",
        1,
        &[FUNCTION_ROLE, FUNCTION_SESSION],
    ));
    let id = h.ssm.start_automation(spec);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    // SSM applies the signal but its answer comes after the function gave up.
    h.ssm
        .answer_late("SendAutomationSignal", Duration::from_secs(4));
    let status = alice_approves_in_time(&h, &prompt.ts).await;
    assert_eq!(status, 200);
    assert_eq!(
        h.ssm.count_calls("SendAutomationSignal"),
        1,
        "never sent again"
    );
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
    assert_eq!(
        h.ssm.step_status(&id, "approveCleanup").as_deref(),
        Some("Waiting"),
        "the next approval was not decided by a retry"
    );
    let told = h.slack.ephemeral();
    assert_eq!(told.len(), 1);
    assert!(
        told[0]
            .text
            .contains("did not confirm your decision in time")
            && told[0].text.contains("was *Approved*"),
        "{}",
        told[0].text
    );
    // The prompt was corrected from SSM's state: approved, no buttons.
    let now = h.slack.message(CHANNEL, &prompt.ts).unwrap();
    assert!(!has_buttons(&now.blocks));
    assert!(text_of(&now.blocks).contains(":white_check_mark: *Approved*"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_retry_after_on_the_click_path_is_not_waited_for() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    h.slack.rate_limit_next("response_url", 30);
    let status = alice_approves_in_time(&h, &prompt.ts).await;
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
    // The update is answered `message_not_found`: no error (a retry cannot help), and
    // it is not tried again for the same state.
    let events = h.ssm.take_events();
    for event in events.iter().chain(events.iter()) {
        h.deliver(event).await.unwrap();
    }
    assert_eq!(h.slack.count_calls("chat.update"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_click_that_found_the_step_being_decided_says_so_even_if_the_table_then_answers_late() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    // The first click's signal gets no clear answer: its claim is kept for its lease.
    h.ssm
        .fail_next("SendAutomationSignal", 500, "InternalServerError");
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    // A second click finds the claim held; while it waits for it, the table answers
    // every further claim too late for Slack's 3 seconds.
    h.dynamodb.answer_late("UpdateItem", Duration::ZERO);
    for _ in 0..8 {
        h.dynamodb.answer_late("UpdateItem", Duration::from_secs(3));
    }
    h.click(CHANNEL, &prompt.ts, &bob(), APPROVE_ACTION_ID)
        .await;
    h.dynamodb.clear_late();
    assert_eq!(h.ssm.count_calls("SendAutomationSignal"), 1);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
    let told = last_ephemeral(&h, "U0BOB");
    assert!(
        told.contains("being sent to AWS"),
        "what it saw, not a table failure: {told}"
    );
}
