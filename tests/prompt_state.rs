//! One prompt per approval step, at any scale: the approvals table decides who posts,
//! however deliveries arrive (duplicated, concurrent in several environments, out of
//! order), and each prompt ends up showing its own step's outcome.

mod support;

use approvals::deadline::Deadline;
use approvals::domain::inbound::APPROVE_ACTION_ID;
use approvals::handlers::events::{EventError, EventOutcome, handle_automation_event};
use serde_json::Value;
use support::*;

/// Delivers `events` to `environments`, all at once, each environment every event.
async fn deliver_concurrently(
    environments: &[approvals::handlers::events::EventsApp],
    events: &[Value],
) -> Vec<Result<EventOutcome, EventError>> {
    let mut tasks = vec![];
    for app in environments {
        for event in events {
            tasks.push(async move {
                handle_automation_event(app, event, &Deadline::for_event(None)).await
            });
        }
    }
    join_all(tasks.into_iter().map(Box::pin).collect()).await
}

/// Polls all the futures together on this task, as concurrent deliveries would run.
async fn join_all<F: std::future::Future + Unpin>(mut tasks: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut done: Vec<Option<F::Output>> = tasks.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (task, slot) in tasks.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match std::pin::Pin::new(task).poll(cx) {
                    Poll::Ready(out) => *slot = Some(out),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    done.into_iter().map(|o| o.expect("finished")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_deliveries_in_several_environments_post_one_prompt() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting: Vec<Value> = h
        .ssm
        .take_events()
        .into_iter()
        .filter(|e| e["detail"]["Status"] == "Waiting")
        .collect();
    assert_eq!(waiting.len(), 2, "a step event and an execution event");
    let mut environments = vec![];
    for _ in 0..6 {
        environments.push(h.another_events_environment().await);
    }
    // Each environment gets both events, twice (EventBridge delivers at least once).
    let doubled: Vec<Value> = waiting.iter().chain(waiting.iter()).cloned().collect();
    // Every delivery's claim is in flight before any is answered.
    let race = h.force_race("PutItem", environments.len() * doubled.len());
    let outcomes = deliver_concurrently(&environments, &doubled).await;
    assert!(
        race.overlapped(),
        "the deliveries raced: all claims were in flight at once"
    );
    assert_eq!(h.slack.count_calls("chat.postMessage"), 1, "{outcomes:#?}");
    let posted = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(EventOutcome::Posted { .. })))
        .count();
    assert_eq!(posted, 1, "{outcomes:#?}");
    // The others found it posted, or (while it was being posted) failed to be retried.
    for o in &outcomes {
        assert!(
            matches!(
                o,
                Ok(EventOutcome::Posted { .. } | EventOutcome::AlreadyPosted { .. })
                    | Err(EventError::BeingPosted { .. })
            ),
            "{o:?}"
        );
    }
    // Lambda's retries of those find the prompt.
    for event in &waiting {
        let retried = h.deliver(event).await.unwrap();
        assert!(
            matches!(retried, EventOutcome::AlreadyPosted { .. }),
            "{retried:?}"
        );
    }
    assert_eq!(h.slack.messages().len(), 1);
    assert_eq!(h.prompt_ts(&id), h.only_prompt().ts);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_prompt_shows_its_own_step_whatever_order_the_events_come_in() {
    let h = Harness::start().await;
    let id = h.ssm.start_automation(two_approvals());
    h.deliver_events().await;
    let first = h.only_prompt();
    h.click(CHANNEL, &first.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    // The second approval's Waiting arrives before the first step's Success.
    let mut events = h.ssm.take_events();
    events.reverse();
    for event in &events {
        h.deliver(event).await.unwrap();
    }
    let messages = h.slack.messages();
    assert_eq!(messages.len(), 2);
    let second = messages.iter().find(|m| m.ts != first.ts).unwrap().clone();
    assert!(has_buttons(&second.blocks));
    let first_now = text_of(&h.slack.message(CHANNEL, &first.ts).unwrap().blocks);
    assert!(!has_buttons(
        &h.slack.message(CHANNEL, &first.ts).unwrap().blocks
    ));
    assert!(
        first_now.contains("*Approved* by <@U0ALICE>"),
        "{first_now}"
    );
    assert!(first_now.contains("approveRollout"));

    // Bob rejects the second; its events arrive shuffled, some twice.
    h.click(CHANNEL, &second.ts, &bob(), stand_ins_reject())
        .await;
    let events = h.ssm.take_events();
    for event in events.iter().rev().chain(events.iter()) {
        h.deliver(event).await.unwrap();
    }
    let first_end = text_of(&h.slack.message(CHANNEL, &first.ts).unwrap().blocks);
    let second_end = text_of(&h.slack.message(CHANNEL, &second.ts).unwrap().blocks);
    assert!(
        first_end.contains("*Approved* by <@U0ALICE>")
            && first_end.contains("The runbook ended: *Failed*"),
        "{first_end}"
    );
    assert!(
        second_end.contains(":x: *Rejected* by <@U0BOB>")
            && second_end.contains("Clean up the old fleet?"),
        "{second_end}"
    );
    assert_eq!(h.step_items(&id).len(), 2, "one item per approval step");
}

fn stand_ins_reject() -> &'static str {
    approvals::domain::inbound::REJECT_ACTION_ID
}

#[tokio::test(flavor = "multi_thread")]
async fn an_execution_with_five_tags_of_its_own_still_gets_its_prompt() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    for n in 0..5 {
        h.ssm.tag_execution(&id, &format!("team-tag-{n}"), "theirs");
    }
    h.deliver_events().await;
    let prompt = h.only_prompt();
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    h.deliver_events().await;
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
    assert_eq!(h.ssm.tags(&id).len(), 5, "the starter's tags are untouched");
    assert!(
        text_of(&h.slack.message(CHANNEL, &prompt.ts).unwrap().blocks)
            .contains("*Approved* by <@U0ALICE>")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_claim_is_taken_over_by_one_delivery_only() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting = h.take_waiting_step_event();
    // A poster claimed the step, then died before posting.
    let step_run = h.ssm.step_execution_ids(&id, "approveRollout").remove(0);
    let claimed_at = approvals::deadline::unix_now_ms() / 1000;
    let claim = |at: u64| {
        serde_json::json!({"execution_id": {"S": id}, "step_key": {"S": step_run},
            "step_name": {"S": "approveRollout"}, "claim_token": {"S": "dead-poster"},
            "claimed_at": {"N": at.to_string()}})
    };
    h.put_table_item(claim(claimed_at));
    // Within the lease: maybe still posting, so nobody else posts (the delivery fails,
    // for Lambda to retry later).
    assert!(matches!(
        h.deliver(&waiting).await,
        Err(EventError::BeingPosted { .. })
    ));
    assert!(h.slack.messages().is_empty());
    // After the lease, several deliveries at once: one takes it over and posts.
    let lease = approvals::domain::record::CLAIM_LEASE_SECS as u64;
    h.put_table_item(claim(claimed_at - lease));
    let mut environments = vec![];
    for _ in 0..4 {
        environments.push(h.another_events_environment().await);
    }
    // Every delivery's take-over is in flight before any is answered.
    let race = h.force_race("UpdateItem", environments.len());
    let outcomes = deliver_concurrently(&environments, std::slice::from_ref(&waiting)).await;
    assert!(
        race.overlapped(),
        "the deliveries raced to take the claim over"
    );
    assert_eq!(h.slack.count_calls("chat.postMessage"), 1, "{outcomes:#?}");
    assert_eq!(h.prompt_ts(&id), h.only_prompt().ts);
}

#[tokio::test(flavor = "multi_thread")]
async fn eventually_consistent_reads_change_nothing() {
    let h = Harness::start().await;
    // Every read that decides something is a consistent read.
    h.dynamodb.serve_stale_reads(true);
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    h.deliver_events().await;
    let shown = text_of(&h.slack.message(CHANNEL, &prompt.ts).unwrap().blocks);
    assert!(shown.contains("*Approved* by <@U0ALICE>"), "{shown}");
    for input in h
        .dynamodb
        .inputs("GetItem")
        .iter()
        .chain(h.dynamodb.inputs("Query").iter())
    {
        assert_eq!(input["ConsistentRead"], true, "{input}");
    }
    assert_eq!(h.step_items(&id).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_item_expires_after_the_retention_period() {
    let h = Harness::with(Options {
        env: vec![("APPROVAL_RETENTION_DAYS", "45")],
        ..Options::default()
    })
    .await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    h.click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .await;
    let now = approvals::deadline::unix_now_ms() / 1000;
    let expires: u64 = h.step_items(&id)[0]["expires_at"]["N"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let forty_five_days = 45 * 86_400;
    assert!(
        (now + forty_five_days - 5..=now + forty_five_days + 5).contains(&expires),
        "{expires}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_posted_as_its_step_ends_elsewhere_is_brought_up_to_date() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting = h.take_waiting_step_event();
    // Slack posts the prompt but answers slowly; meanwhile the step is cancelled in
    // the console, and that event's delivery finds no prompt recorded yet.
    h.slack
        .answer_late("chat.postMessage", std::time::Duration::from_millis(600));
    let posting = async { h.deliver(&waiting).await };
    let cancelling = async {
        // Once the post has reached Slack (whose answer is on its way, late).
        until("the post to reach Slack", || {
            h.slack.count_calls("chat.postMessage") == 1
        })
        .await;
        assert!(h.ssm.cancel(&id));
        let mut outcomes = vec![];
        for event in h.ssm.take_events() {
            outcomes.push(h.deliver(&event).await);
        }
        outcomes
    };
    let (posted, cancelled) = tokio::join!(posting, cancelling);
    assert!(
        matches!(posted, Ok(EventOutcome::Posted { .. })),
        "{posted:?}"
    );
    assert!(cancelled.iter().all(Result::is_ok), "{cancelled:?}");
    // The poster looked again after recording its prompt: no live buttons are left.
    let prompt = h.only_prompt();
    assert!(!has_buttons(&prompt.blocks), "{}", text_of(&prompt.blocks));
    assert!(text_of(&prompt.blocks).contains("*Cancelled*"));
}
