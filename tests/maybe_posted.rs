//! A prompt Slack may have posted (it answered `internal_error`, a 5xx, or nothing) is
//! found in the channel's history by its message metadata and adopted: recorded and
//! indexed like any prompt, kept up to date, never posted a second time, whether the
//! retry comes inside the posting claim's lease or after it.

mod support;

use support::logs::Captured;

use approvals::deadline::Deadline;
use approvals::domain::adoption::PROMPT_EVENT_TYPE;
use approvals::handlers::events::{EventError, EventOutcome, handle_automation_event};
use serde_json::Value;
use support::*;

/// Slack posts the prompt, then answers `internal_error`: the delivery fails, with
/// the prompt in the channel but not recorded.
async fn posted_but_answered_internal_error(h: &Harness) -> (String, Value) {
    let id = h.start_runbook(1);
    let waiting = h.take_waiting_step_event();
    h.slack
        .fail_next_after_doing("chat.postMessage", 200, "internal_error");
    let failed = h.deliver(&waiting).await;
    assert!(matches!(failed, Err(EventError::Slack(_))), "{failed:?}");
    assert_eq!(h.slack.messages().len(), 1, "Slack made the post");
    assert!(h.step_items(&id)[0].get("ts").is_none(), "not recorded");
    (id, waiting)
}

/// The one prompt is recorded for the step, listed as waiting (`/approvals`, Home),
/// and brought up to date when the step ends.
async fn one_prompt_recorded_indexed_and_kept_up_to_date(h: &Harness, id: &str) {
    let prompt = h.only_prompt();
    assert_eq!(h.prompt_ts(id), prompt.ts);
    let item = &h.step_items(id)[0];
    assert_eq!(
        item["waits"]["S"], "waiting",
        "in the index of what waits: {item:#}"
    );
    for gone in ["post_unknown", "maybe_posted_since", "maybe_posted_in"] {
        assert!(item.get(gone).is_none(), "{gone} left on {item:#}");
    }
    let (answer, _) = h.approvals_list(&alice(), CHANNEL).await;
    assert!(
        answer.to_string().contains("Roll payments 2026.11.21-1"),
        "/approvals lists it: {answer}"
    );
    assert_eq!(h.open_home(&alice()).await.0, 200);
    let home = h
        .slack
        .home_view("U0ALICE")
        .expect("a Home tab")
        .to_string();
    assert!(home.contains("Roll payments 2026.11.21-1"), "{home}");
    // The step times out: that one prompt shows it, without buttons.
    h.ssm.time_out(id);
    h.deliver_events().await;
    let shown = h.only_prompt();
    assert_eq!(shown.ts, prompt.ts);
    assert!(!has_buttons(&shown.blocks), "{:#?}", shown.blocks);
    assert!(shown.updates >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_slack_may_have_posted_is_adopted_by_a_retry_inside_the_lease() {
    let h = Harness::start().await;
    let (id, waiting) = posted_but_answered_internal_error(&h).await;
    // The message carries the metadata that names its step run.
    let metadata = h
        .only_prompt()
        .metadata
        .expect("the prompt carries metadata");
    assert_eq!(metadata["event_type"], PROMPT_EVENT_TYPE);
    assert_eq!(metadata["event_payload"]["execution_id"], id.as_str());
    let step_run = h.ssm.step_execution_ids(&id, "approveRollout").remove(0);
    assert_eq!(metadata["event_payload"]["step_key"], step_run.as_str());
    // Lambda's retry, a minute later: the lease still runs, and the prompt is found.
    let retried = h.deliver(&waiting).await.unwrap();
    assert!(
        matches!(retried, EventOutcome::Posted { .. }),
        "{retried:?}"
    );
    assert_eq!(h.slack.count_calls("chat.postMessage"), 1);
    assert_eq!(h.slack.count_calls("conversations.history"), 1);
    one_prompt_recorded_indexed_and_kept_up_to_date(&h, &id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_slack_may_have_posted_is_adopted_by_a_retry_after_the_lease() {
    let h = Harness::start().await;
    let (id, waiting) = posted_but_answered_internal_error(&h).await;
    // The second retry comes after the claim's lease.
    h.expire_claim(&id);
    let retried = h.deliver(&waiting).await.unwrap();
    assert!(
        matches!(retried, EventOutcome::Posted { .. }),
        "{retried:?}"
    );
    assert_eq!(h.slack.count_calls("chat.postMessage"), 1);
    one_prompt_recorded_indexed_and_kept_up_to_date(&h, &id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poster_that_died_after_posting_leaves_a_prompt_the_take_over_adopts() {
    let h = Harness::start().await;
    let (id, waiting) = posted_but_answered_internal_error(&h).await;
    // As if the poster had been killed before it could say its post was in doubt.
    let mut item = h.step_items(&id).remove(0);
    for attribute in ["post_unknown", "maybe_posted_since", "maybe_posted_in"] {
        item.as_object_mut().unwrap().remove(attribute);
    }
    h.put_table_item(item);
    // Inside the lease the claim is still its poster's.
    assert!(matches!(
        h.deliver(&waiting).await,
        Err(EventError::BeingPosted { .. })
    ));
    h.expire_claim(&id);
    h.deliver(&waiting).await.unwrap();
    assert_eq!(h.slack.count_calls("chat.postMessage"), 1);
    one_prompt_recorded_indexed_and_kept_up_to_date(&h, &id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_that_did_not_happen_is_posted_once_when_the_history_shows_it_missing() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting = h.take_waiting_step_event();
    // A bare 503: Slack may or may not have posted; here it did not.
    h.slack.fail_next("chat.postMessage", 503);
    assert!(h.deliver(&waiting).await.is_err());
    assert!(h.slack.messages().is_empty());
    // Several environments retry at once: one takes the claim over, looks, and posts.
    let mut environments = vec![];
    for _ in 0..3 {
        environments.push(h.another_events_environment().await);
    }
    let race = h.force_race("UpdateItem", environments.len());
    let deadline = Deadline::for_event(None);
    let outcomes = futures_util::future::join_all(
        environments
            .iter()
            .map(|app| handle_automation_event(app, &waiting, &deadline)),
    )
    .await;
    assert!(race.overlapped(), "the retries raced for the claim");
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:#?}"
    );
    assert_eq!(h.slack.count_calls("chat.postMessage"), 2, "{outcomes:#?}");
    assert_eq!(h.slack.count_calls("conversations.history"), 1);
    one_prompt_recorded_indexed_and_kept_up_to_date(&h, &id).await;
}

/// Everything this test binary logs, through the global subscriber (a scoped one
/// misses callsites other tests' threads saw first).
fn logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .init();
        logs
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_history_scope_the_prompt_is_posted_as_before_and_the_log_names_the_scope() {
    let logs = logs();
    let h = Harness::start().await;
    h.slack.drop_scope("channels:history");
    let (id, waiting) = posted_but_answered_internal_error(&h).await;
    let retried = h.deliver(&waiting).await.unwrap();
    assert!(
        matches!(retried, EventOutcome::Posted { .. }),
        "{retried:?}"
    );
    // Never silently skipped: posted again, and that prompt is the step's.
    assert_eq!(h.slack.count_calls("chat.postMessage"), 2);
    let recorded = h.prompt_ts(&id);
    assert!(h.slack.message(CHANNEL, &recorded).is_some());
    let output = logs.text();
    let line = output
        .lines()
        .find(|l| l.contains("missing_scope") && l.contains(&id))
        .unwrap_or_else(|| panic!("no log line names the refusal: {output}"));
    assert!(line.contains("channels:history"), "{line}");
    assert!(line.contains("WARN"), "{line}");
    assert!(!output.contains(BOT_TOKEN), "the token never reaches a log");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_removed_from_the_channel_posts_as_before() {
    let h = Harness::start().await;
    let id = h.start_runbook(1);
    let waiting = h.take_waiting_step_event();
    h.slack.fail_next("chat.postMessage", 503);
    assert!(h.deliver(&waiting).await.is_err());
    // History refused with not_in_channel: the post is tried, and Slack refuses it too
    // (the claim is given up, so the next retry posts at once).
    h.slack.leave_channel(CHANNEL);
    assert!(h.deliver(&waiting).await.is_err());
    assert_eq!(h.slack.count_calls("conversations.history"), 1);
    assert_eq!(h.slack.count_calls("chat.postMessage"), 2);
    assert!(h.step_items(&id)[0].get("claim_token").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_slack_may_have_posted_shows_the_outcome_when_its_step_ends_before_any_retry() {
    let h = Harness::start().await;
    let (id, waiting) = posted_but_answered_internal_error(&h).await;
    // The step times out before Lambda retries the Waiting event.
    h.ssm.time_out(&id);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    assert_eq!(h.prompt_ts(&id), prompt.ts, "adopted");
    assert!(!has_buttons(&prompt.blocks), "{:#?}", prompt.blocks);
    let item = &h.step_items(&id)[0];
    assert!(
        item.get("waits").is_none(),
        "not listed as waiting: {item:#}"
    );
    // The retry of the Waiting event finds nothing to post.
    h.deliver(&waiting).await.unwrap();
    assert_eq!(h.slack.count_calls("chat.postMessage"), 1);
    assert_eq!(h.only_prompt().ts, prompt.ts);
}
