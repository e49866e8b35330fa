//! Nothing waits unseen: the Home tab ("Waiting on you", through Slack's Events API),
//! reminders and the last call in the prompt's thread, and prompts the sweep heals
//! when their step's event was lost. The real handlers, the stand-ins behind them.

mod support;

use approvals::domain::inbound::view_submission::{REASON_BLOCK_ID, REASON_INPUT_ID};
use serde_json::Value;
use support::*;

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// The sample runbook, its approval allowed to wait `timeout` seconds.
fn runbook_timing_out_after(timeout: i64) -> stand_ins::ssm::RunbookSpec {
    let mut spec = runbook(1);
    for step in &mut spec.steps {
        if step.action == "aws:approve" {
            step.timeout_seconds = Some(timeout);
        }
    }
    spec
}

async fn waiting_prompt(h: &Harness, timeout: i64) -> (String, String) {
    let id = h.ssm.start_automation(runbook_timing_out_after(timeout));
    h.deliver_events().await;
    let ts = h.prompt_ts(&id);
    (id, ts)
}

fn home_text(h: &Harness, user: &str) -> String {
    let view = h.slack.home_view(user).expect("a Home tab was published");
    assert_eq!(view["type"], "home");
    serde_json::to_string(&view["blocks"]).unwrap()
}

fn home_has_buttons(h: &Harness, user: &str) -> bool {
    let view = h.slack.home_view(user).expect("a Home tab was published");
    view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["type"] == "actions")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_home_tab_lists_what_waits_for_an_approver_and_nothing_for_anyone_else() {
    let h = Harness::start().await;
    let (_id, _) = waiting_prompt(&h, 7 * DAY).await;
    let ssm_reads = h.ssm.count_calls("GetAutomationExecution");

    assert_eq!(h.open_home(&alice()).await.0, 200);
    let text = home_text(&h, "U0ALICE");
    assert!(text.contains("Waiting on you"), "{text}");
    assert!(
        text.contains("Roll payments 2026.11.21-1 out to production?"),
        "{text}"
    );
    assert!(text.contains("times out"), "{text}");
    assert!(home_has_buttons(&h, "U0ALICE"), "{text}");

    // Bob is in S0OPS, one of the approvers; Mallory is not.
    h.open_home(&bob()).await;
    assert!(home_has_buttons(&h, "U0BOB"));
    h.open_home(&mallory()).await;
    let text = home_text(&h, "U0MALLORY");
    assert!(
        text.contains("Nothing waits for your decision right now"),
        "{text}"
    );
    assert!(!home_has_buttons(&h, "U0MALLORY"));
    // The tab is drawn from the index of what waits: SSM is not asked.
    assert_eq!(h.ssm.count_calls("GetAutomationExecution"), ssm_reads);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decision_from_the_home_tab_signals_once_and_the_tab_shows_it() {
    let h = Harness::start().await;
    let (id, ts) = waiting_prompt(&h, 7 * DAY).await;
    h.open_home(&alice()).await;

    assert_eq!(h.click_home(&alice(), "ssm_approve", 0).await.0, 200);
    assert_eq!(h.signals_sent(), 1);
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Success")
    );
    let text = home_text(&h, "U0ALICE");
    assert!(text.contains("Approved by you"), "{text}");
    assert!(text.contains("Your last decisions"), "{text}");
    assert!(text.contains(":white_check_mark: Approved"), "{text}");
    assert!(
        !home_has_buttons(&h, "U0ALICE"),
        "the decided step left the tab: {text}"
    );
    // The prompt in the channel catches up with SSM's event, as for the list.
    h.deliver_events().await;
    let prompt = h.slack.message(CHANNEL, &ts).unwrap();
    assert!(!has_buttons(&prompt.blocks), "{}", text_of(&prompt.blocks));

    // Opening the tab again still lists the decision (from the table, not memory).
    let fresh = h.another_interactions_environment().await;
    let delivery = h.slack.app_home_opened(&alice());
    Harness::invoke_on(&fresh, &delivery.to_apigw_v2_event(false)).await;
    assert!(home_text(&h, "U0ALICE").contains(":white_check_mark: Approved"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reject_from_the_home_tab_asks_why_and_the_tab_shows_the_outcome() {
    let h = Harness::with(Options {
        reject_reason: None,
        ..Options::default()
    })
    .await;
    let (id, _) = waiting_prompt(&h, 7 * DAY).await;
    h.open_home(&alice()).await;
    h.click_home(&alice(), "ssm_reject", 0).await;
    assert_eq!(h.signals_sent(), 0, "the form asks first");
    let form = h.slack.open_views().pop().expect("the reason form opened");
    let submitted = h
        .slack
        .submit_view(
            &form.id,
            &alice(),
            &[(REASON_BLOCK_ID, REASON_INPUT_ID, "not during the freeze")],
        )
        .unwrap();
    let (status, body) = h
        .invoke_interactions(&submitted.to_apigw_v2_event(false))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        h.ssm.step_status(&id, "approveRollout").as_deref(),
        Some("Failed")
    );
    assert!(home_text(&h, "U0ALICE").contains(":x: Rejected"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_home_event_is_answered_without_publishing_again() {
    let h = Harness::start().await;
    waiting_prompt(&h, 7 * DAY).await;
    let delivery = h.slack.app_home_opened(&alice());
    let (status, _) = h
        .invoke_interactions(&delivery.to_apigw_v2_event(false))
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.slack.count_calls("views.publish"), 1);
    for attempt in 1..=3 {
        let again = delivery.redelivered(attempt, "http_timeout");
        let (status, _) = h.invoke_interactions(&again.to_apigw_v2_event(false)).await;
        assert_eq!(status, 200, "a redelivery is acknowledged");
    }
    // The same delivery reaching a second environment is not handled twice either.
    let other = h.another_interactions_environment().await;
    Harness::invoke_on(&other, &delivery.to_apigw_v2_event(false)).await;
    assert_eq!(h.slack.count_calls("views.publish"), 1);
    // A new opening is a new delivery.
    h.open_home(&alice()).await;
    assert_eq!(h.slack.count_calls("views.publish"), 2);
}

/// A delivery counts as handled only once its tab was published: when `views.publish`
/// fails, Slack is answered with an error, and its redelivery publishes the tab.
#[tokio::test(flavor = "multi_thread")]
async fn a_home_event_whose_publish_failed_is_published_when_slack_delivers_it_again() {
    let h = Harness::start().await;
    waiting_prompt(&h, 7 * DAY).await;
    h.slack.refuse_next("views.publish", 200, "internal_error");
    let delivery = h.slack.app_home_opened(&alice());
    let (status, _) = h
        .invoke_interactions(&delivery.to_apigw_v2_event(false))
        .await;
    assert!(h.slack.home_view("U0ALICE").is_none(), "Slack refused it");
    assert!(
        status >= 500,
        "Slack is told it failed, so that it delivers it again: {status}"
    );
    let again = delivery.redelivered(1, "http_error");
    let (status, _) = h.invoke_interactions(&again.to_apigw_v2_event(false)).await;
    assert_eq!(status, 200);
    assert!(
        home_has_buttons(&h, "U0ALICE"),
        "{}",
        home_text(&h, "U0ALICE")
    );
    // Published once now: a later redelivery publishes nothing again.
    let published = h.slack.count_calls("views.publish");
    let third = delivery.redelivered(2, "http_timeout");
    let (status, _) = h.invoke_interactions(&third.to_apigw_v2_event(false)).await;
    assert_eq!(status, 200);
    assert_eq!(h.slack.count_calls("views.publish"), published);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_events_api_request_url_is_verified_only_with_a_valid_signature() {
    let h = Harness::start().await;
    let (request, challenge) = h.slack.url_verification();
    let (status, body) = h
        .invoke_interactions(&request.to_apigw_v2_event(false))
        .await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["challenge"], challenge.as_str());

    let mut forged = request.clone();
    forged.signature = "v0=0000".into();
    let (status, body) = h
        .invoke_interactions(&forged.to_apigw_v2_event(false))
        .await;
    assert_eq!(status, 401);
    assert!(!body.contains(&challenge));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reminder_comes_after_the_interval_once_and_never_after_the_decision() {
    let h = Harness::start().await;
    let (id, ts) = waiting_prompt(&h, 7 * DAY).await;

    let report = h.sweep().await;
    assert_eq!((report.reminders, report.last_calls), (0, 0), "{report:?}");
    assert!(h.slack.replies(CHANNEL, &ts).is_empty());

    // Four hours later (the default interval): one reminder, in the prompt's thread.
    h.age_waiting_step(&id, 4 * HOUR + 60);
    let report = h.sweep().await;
    assert_eq!(report.reminders, 1, "{report:?}");
    let replies = h.slack.replies(CHANNEL, &ts);
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].text.contains("*Reminder:*"),
        "{}",
        replies[0].text
    );
    assert!(
        replies[0].text.contains("<@U0ALICE>"),
        "{}",
        replies[0].text
    );
    assert!(
        replies[0].text.contains("<!subteam^S0OPS>"),
        "{}",
        replies[0].text
    );
    // Not again within the interval, however often the sweep runs.
    h.sweep().await;
    h.sweep().await;
    assert_eq!(h.slack.replies(CHANNEL, &ts).len(), 1);

    // Decided: no reminder ever again, even after another interval.
    assert_eq!(h.click(CHANNEL, &ts, &alice(), "ssm_approve").await.0, 200);
    h.age_waiting_step(&id, 5 * HOUR);
    let report = h.sweep().await;
    assert_eq!(report.reminders, 0, "{report:?}");
    assert_eq!(h.slack.replies(CHANNEL, &ts).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_call_comes_once_shortly_before_the_step_times_out() {
    let h = Harness::start().await;
    // The step times out in 50 minutes: inside the default last call of 60.
    let (id, ts) = waiting_prompt(&h, 50 * 60).await;
    let prompt = h.slack.message(CHANNEL, &ts).unwrap();
    assert!(
        text_of(&prompt.blocks).contains("Times out"),
        "the prompt says when"
    );

    // Its whole wait is shorter than the lead: no last call at its first sweep, but
    // once it is close (it has waited long enough that half of its wait or less is left).
    let report = h.sweep().await;
    assert_eq!(report.last_calls, 0, "{report:?}");
    assert!(h.slack.replies(CHANNEL, &ts).is_empty());
    h.age_waiting_step(&id, 50 * 60);
    let report = h.sweep().await;
    assert_eq!(report.last_calls, 1, "{report:?}");
    let replies = h.slack.replies(CHANNEL, &ts);
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].text.contains("*Last call:*"),
        "{}",
        replies[0].text
    );
    assert!(replies[0].text.contains("<!date^"), "{}", replies[0].text);
    h.sweep().await;
    assert_eq!(h.slack.replies(CHANNEL, &ts).len(), 1, "once");
}

#[tokio::test(flavor = "multi_thread")]
async fn reminders_can_be_turned_off() {
    let h = Harness::with(Options {
        env: vec![
            ("SLACK_REMIND_AFTER_MINUTES", "0"),
            ("SLACK_LAST_CALL_MINUTES", "0"),
        ],
        ..Options::default()
    })
    .await;
    let (id, ts) = waiting_prompt(&h, 50 * 60).await;
    h.age_waiting_step(&id, 10 * HOUR);
    let report = h.sweep().await;
    assert_eq!((report.reminders, report.last_calls), (0, 0), "{report:?}");
    assert!(h.slack.replies(CHANNEL, &ts).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_success_event_is_healed_by_the_next_sweep() {
    let h = Harness::start().await;
    let (id, ts) = waiting_prompt(&h, 7 * DAY).await;
    // Approved in the console, and every event of it lost on the way.
    h.ssm_as("AKIDCONSOLE")
        .send_automation_signal()
        .automation_execution_id(&id)
        .signal_type(aws_sdk_ssm::types::SignalType::Approve)
        .payload("StepName", vec!["approveRollout".to_owned()])
        .send()
        .await
        .expect("the console's approval");
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
    let lost = h.ssm.take_events();
    assert!(!lost.is_empty());
    let prompt = h.slack.message(CHANNEL, &ts).unwrap();
    assert!(has_buttons(&prompt.blocks), "stale until the sweep");

    let report = h.sweep().await;
    assert_eq!(report.healed, 1, "{report:?}");
    assert_eq!(report.ssm_reads, 1, "{report:?}");
    let prompt = h.slack.message(CHANNEL, &ts).unwrap();
    assert!(!has_buttons(&prompt.blocks), "{}", text_of(&prompt.blocks));
    assert!(
        text_of(&prompt.blocks).contains("Approved"),
        "{}",
        text_of(&prompt.blocks)
    );
    // Out of the index: the next sweep has nothing to read.
    let report = h.sweep().await;
    assert_eq!((report.steps, report.ssm_reads), (0, 0), "{report:?}");
    assert!(report.complete);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_reads_no_more_than_its_bound_and_the_next_goes_on_where_it_stopped() {
    let h = Harness::with(Options {
        env: vec![("SWEEP_MAX_SSM_READS", "2")],
        ..Options::default()
    })
    .await;
    let mut ids = vec![];
    for _ in 0..5 {
        ids.push(h.ssm.start_automation(runbook_timing_out_after(7 * DAY)));
    }
    h.deliver_events().await;
    for id in &ids {
        assert!(h.ssm.cancel(id));
    }
    h.ssm.take_events();
    let reads = h.ssm.count_calls("GetAutomationExecution");
    let first = h.sweep().await;
    assert_eq!(
        (first.ssm_reads, first.healed, first.complete),
        (2, 2, false),
        "{first:?}"
    );
    assert_eq!(h.ssm.count_calls("GetAutomationExecution") - reads, 2);
    let second = h.sweep().await;
    assert_eq!((second.ssm_reads, second.healed), (2, 2), "{second:?}");
    let third = h.sweep().await;
    assert_eq!((third.healed, third.complete), (1, true), "{third:?}");
    for message in h.slack.messages() {
        assert!(
            !has_buttons(&message.blocks),
            "{}",
            text_of(&message.blocks)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_ssm_stops_the_sweep_and_loses_nothing() {
    let h = Harness::start().await;
    let (id, ts) = waiting_prompt(&h, 7 * DAY).await;
    assert!(h.ssm.cancel(&id));
    h.ssm.take_events();
    // More throttling than the SDK's retries absorb.
    for _ in 0..4 {
        h.ssm
            .fail_next("GetAutomationExecution", 400, "ThrottlingException");
    }
    let report = h.sweep().await;
    assert_eq!(report.healed, 0, "{report:?}");
    assert!(
        report
            .stopped
            .as_deref()
            .is_some_and(|s| s.contains("ThrottlingException")),
        "{report:?}"
    );
    let report = h.sweep().await;
    assert_eq!(report.healed, 1, "{report:?}");
    assert!(!has_buttons(&h.slack.message(CHANNEL, &ts).unwrap().blocks));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_asks_ten_executions_status_a_call_and_reads_in_full_only_those_that_ended() {
    let h = Harness::start().await;
    let ids: Vec<String> = (0..12)
        .map(|_| h.ssm.start_automation(runbook_timing_out_after(7 * DAY)))
        .collect();
    h.deliver_events().await;
    // Two end with every event lost.
    for id in [&ids[4], &ids[11]] {
        assert!(h.ssm.cancel(id));
    }
    h.ssm.take_events();
    let (batches, reads) = (
        h.ssm.count_calls("DescribeAutomationExecutions"),
        h.ssm.count_calls("GetAutomationExecution"),
    );
    let report = h.sweep().await;
    assert_eq!(report.steps, 12, "{report:?}");
    assert_eq!(
        report.status_batches, 2,
        "twelve executions: 10 + 2 {report:?}"
    );
    assert_eq!((report.ssm_reads, report.healed), (2, 2), "{report:?}");
    assert!(report.complete, "{report:?}");
    assert_eq!(h.ssm.count_calls("GetAutomationExecution") - reads, 2);
    assert!(h.ssm.count_calls("DescribeAutomationExecutions") - batches >= 2);
    for id in [&ids[4], &ids[11]] {
        let ts = h.prompt_ts(id);
        assert!(!has_buttons(&h.slack.message(CHANNEL, &ts).unwrap().blocks));
    }
    let ts = h.prompt_ts(&ids[0]);
    assert!(has_buttons(&h.slack.message(CHANNEL, &ts).unwrap().blocks));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_waiting_step_whose_events_are_all_lost_gets_exactly_one_prompt_from_the_sweep() {
    let h = Harness::start().await;
    let id = h.ssm.start_automation(runbook_timing_out_after(7 * DAY));
    // EventBridge delivers best effort: none of its events reaches the function (yet).
    let lost = h.ssm.take_events();
    assert!(!lost.is_empty());
    assert!(h.slack.messages().is_empty());

    let report = h.sweep().await;
    assert_eq!(
        (report.found_unprompted, report.found_prompted),
        (1, 1),
        "{report:?}"
    );
    assert!(report.places_listed >= 1, "{report:?}");
    assert_eq!(h.slack.messages().len(), 1);
    let ts = h.prompt_ts(&id);
    assert!(has_buttons(&h.slack.message(CHANNEL, &ts).unwrap().blocks));

    // Its events arrive after all: the same posting claim, so no second prompt.
    for event in &lost {
        h.deliver(event).await.expect("a late event is handled");
    }
    assert_eq!(h.slack.messages().len(), 1);
    assert_eq!(h.prompt_ts(&id), ts);
    // And the next sweep finds it prompted.
    let report = h.sweep().await;
    assert_eq!(
        (report.found_unprompted, report.found_prompted),
        (0, 0),
        "{report:?}"
    );
    assert_eq!(h.slack.messages().len(), 1);
    // Decided from that one prompt, as any other.
    assert_eq!(h.click(CHANNEL, &ts, &alice(), "ssm_approve").await.0, 200);
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Success"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_place_an_event_came_from_is_listed_by_every_later_sweep() {
    let h = Harness::start().await;
    let first = h.ssm.start_automation(runbook_timing_out_after(7 * DAY));
    h.deliver_events().await;
    assert_eq!(h.slack.messages().len(), 1, "{first}");
    let places = h
        .table_items()
        .into_iter()
        .filter(|item| item["execution_id"]["S"] == "places")
        .count();
    assert_eq!(places, 1, "recorded once");
    // Another runbook there, every event lost: found by the sweep.
    let second = h.ssm.start_automation(runbook_timing_out_after(7 * DAY));
    h.ssm.take_events();
    let report = h.sweep().await;
    assert_eq!(report.found_prompted, 1, "{report:?}");
    assert_eq!(h.slack.messages().len(), 2);
    h.prompt_ts(&second);
}
