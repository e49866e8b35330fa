//! The failed-events queue drains itself: what Lambda gave up on (every try of an event
//! failed) is handled again by the scheduled sweep, deleted once handled, and kept with
//! its reason when it fails again; nothing in the queue is deleted unread.

mod support;

use approvals::domain::inbound::APPROVE_ACTION_ID;
use serde_json::json;
use support::*;

/// The prompt's first try and Lambda's two retries all fail: the bot is not in the
/// channel yet. Lambda puts the event in the failed-events queue.
async fn a_waiting_event_lambda_gave_up_on(h: &Harness) -> String {
    let id = h.start_runbook(1);
    let event = h.take_waiting_step_event();
    let mut last_error = None;
    for _ in 0..3 {
        h.slack
            .refuse_next("chat.postMessage", 200, "not_in_channel");
        last_error = Some(h.deliver(&event).await.expect_err("Slack refuses the post"));
    }
    h.lambda_gives_up(&event, last_error.unwrap());
    assert!(h.slack.messages().is_empty());
    assert_eq!(h.sqs.messages(&h.failed_events_queue).len(), 1);
    id
}

/// The prompts in the channel (not the replies in their threads).
fn prompts(h: &Harness) -> Vec<stand_ins::slack::StoredMessage> {
    h.slack
        .messages()
        .into_iter()
        .filter(|m| m.thread_ts.is_none())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_lost_to_slack_appears_at_the_next_sweep_and_leaves_the_queue() {
    let h = Harness::start().await;
    let id = a_waiting_event_lambda_gave_up_on(&h).await;
    // The bot is invited: the next sweep posts the prompt.
    let report = h.sweep().await;
    assert_eq!(report.failed_events.read, 1);
    assert_eq!(report.failed_events.redriven, 1);
    assert!(report.failed_events.emptied);
    let prompts_now = prompts(&h);
    assert_eq!(prompts_now.len(), 1);
    let prompt = prompts_now[0].clone();
    assert!(text_of(&prompt.blocks).contains(&id));
    assert!(h.sqs.messages(&h.failed_events_queue).is_empty());
    // It is recorded and indexed as any prompt: a click decides.
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
    // The sweep after that finds nothing to read, and posts nothing more.
    let again = h.sweep().await;
    assert_eq!(
        (again.failed_events.read, again.failed_events.emptied),
        (0, true)
    );
    assert_eq!(prompts(&h).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_that_fails_again_stays_in_the_queue_until_a_later_sweep_handles_it() {
    let h = Harness::start().await;
    a_waiting_event_lambda_gave_up_on(&h).await;
    h.slack
        .refuse_next("chat.postMessage", 200, "not_in_channel");
    let report = h.sweep().await;
    assert_eq!(report.failed_events.failed_again, 1);
    assert_eq!(report.failed_events.redriven, 0);
    let kept = h.sqs.messages(&h.failed_events_queue);
    assert_eq!((kept.len(), kept[0].receive_count), (1, 1));
    // Hidden until its visibility timeout: the sweep right after does not read it.
    assert_eq!(h.sweep().await.failed_events.read, 0);
    h.sqs.let_time_pass(121);
    let later = h.sweep().await;
    assert_eq!(later.failed_events.redriven, 1);
    assert_eq!(prompts(&h).len(), 1);
    assert!(h.sqs.messages(&h.failed_events_queue).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_that_is_not_an_event_of_ours_is_left_in_the_queue_unread_by_the_product() {
    let h = Harness::start().await;
    let queue = &h.failed_events_queue;
    h.sqs.send(queue, "hello");
    h.sqs.send(
        queue,
        &json!({"requestContext": {"condition": "RetriesExhausted"},
                "requestPayload": {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}})
        .to_string(),
    );
    let report = h.sweep().await;
    assert_eq!(
        (report.failed_events.read, report.failed_events.not_ours),
        (2, 2)
    );
    assert_eq!(h.sqs.messages(queue).len(), 2);
    assert!(h.sqs.calls().iter().all(|(op, _)| op != "DeleteMessage"));
    assert!(prompts(&h).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_sweep_in_the_queue_is_superseded_by_the_sweep_that_reads_it() {
    let h = Harness::start().await;
    h.sqs.send(
        &h.failed_events_queue,
        &json!({"version": "1.0", "requestContext": {"condition": "RetriesExhausted"},
                "requestPayload": {"sweep": "waiting-steps"}})
        .to_string(),
    );
    let report = h.sweep().await;
    assert_eq!(report.failed_events.superseded, 1);
    assert!(h.sqs.messages(&h.failed_events_queue).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_that_cannot_be_read_is_reported_and_the_sweep_still_runs() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    h.ssm.cancel(&id);
    h.sqs.fail_next("ReceiveMessage", 403, "AccessDenied");
    let report = h.sweep().await;
    let stopped = report.failed_events.stopped.expect("the queue read failed");
    assert!(stopped.contains("ReceiveMessage"), "{stopped}");
    assert_eq!(report.healed, 1, "the steps are swept all the same");
}
