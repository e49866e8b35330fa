//! The sample events in `events/` (the ones users pass to `sam local invoke` and
//! `cargo lambda invoke`) drive both handlers against the stand-ins.

mod support;

use approvals::handlers::events::EventOutcome;
use serde_json::{Value, json};
use stand_ins::slack::{edit_payload, resign_event};
use support::*;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A click file made current: its response_url is one the Slack stand-in issued for
/// the prompt that was posted, and it is signed again with a fresh timestamp.
fn fresh_click(h: &Harness, file: &str, prompt_ts: &str, user_id: &str) -> Value {
    let mut event = event_file(file);
    let url = h.slack.issue_response_url(CHANNEL, prompt_ts, user_id);
    edit_payload(&mut event, |p| p["response_url"] = json!(url)).unwrap();
    resign_event(&mut event, SIGNING_SECRET, now()).unwrap();
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn waiting_step_and_execution_events_post_one_prompt() {
    let h = Harness::start().await;
    h.start_sample_runbook();
    h.ssm.take_events();
    let first = h
        .deliver(&event_file("automation-step-waiting.json"))
        .await
        .unwrap();
    assert!(matches!(first, EventOutcome::Posted { .. }), "{first:?}");
    let second = h
        .deliver(&event_file("automation-execution-waiting.json"))
        .await
        .unwrap();
    assert!(
        matches!(second, EventOutcome::AlreadyPosted { .. }),
        "{second:?}"
    );
    assert_eq!(h.slack.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_sweep_input_heals_a_prompt_whose_event_was_lost() {
    let h = Harness::start().await;
    h.start_sample_runbook();
    h.deliver(&event_file("automation-step-waiting.json"))
        .await
        .unwrap();
    // Timed out, and its events never delivered.
    h.ssm.time_out(SAMPLE_EXECUTION_ID);
    h.ssm.take_events();
    let outcome = h
        .deliver(&event_file("scheduled-sweep.json"))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, EventOutcome::Swept(report) if report.healed == 1 && report.complete),
        "{outcome:?}"
    );
    let prompt = h.only_prompt();
    assert!(!has_buttons(&prompt.blocks));
    assert!(text_of(&prompt.blocks).contains("*Timed out*"));
}

#[tokio::test(flavor = "multi_thread")]
async fn timed_out_event_clears_the_buttons() {
    let h = Harness::start().await;
    h.start_sample_runbook();
    h.deliver(&event_file("automation-step-waiting.json"))
        .await
        .unwrap();
    h.ssm.time_out(SAMPLE_EXECUTION_ID);
    h.ssm.take_events();
    let outcome = h
        .deliver(&event_file("automation-step-timed-out.json"))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, EventOutcome::Updated { step_status, .. } if step_status == "TimedOut"),
        "{outcome:?}"
    );
    let prompt = h.only_prompt();
    assert!(!has_buttons(&prompt.blocks));
    assert!(text_of(&prompt.blocks).contains("*Timed out*"));
}

#[tokio::test(flavor = "multi_thread")]
async fn each_click_file_reaches_ssm() {
    for (file, user, signal) in [
        ("slack-approve-click.json", "U0ALICE", "Approve"),
        ("slack-reject-click.json", "U0BOB", "Reject"),
        ("slack-approve-click-base64.json", "U0ALICE", "Approve"),
        ("slack-approve-click-rest-api.json", "U0ALICE", "Approve"),
    ] {
        let h = Harness::start().await;
        h.start_sample_runbook();
        h.deliver_events().await;
        let prompt = h.only_prompt();
        let (status, body) = h
            .invoke_interactions(&fresh_click(&h, file, &prompt.ts, user))
            .await;
        assert_eq!((status, body.as_str()), (200, ""), "{file}");
        let signals = h.ssm.signals();
        assert_eq!(signals.len(), 1, "{file}");
        assert!(signals[0].accepted, "{file}");
        assert_eq!(signals[0].signal_type, signal, "{file}");
        assert_eq!(signals[0].execution_id, SAMPLE_EXECUTION_ID);
        let replaced = h.slack.message(CHANNEL, &prompt.ts).unwrap();
        assert!(!has_buttons(&replaced.blocks), "{file}: buttons left");
        assert!(
            text_of(&replaced.blocks).contains(&format!("by <@{user}>")),
            "{file}"
        );
    }
}

const CLICK_FILES: [&str; 4] = [
    "slack-approve-click.json",
    "slack-reject-click.json",
    "slack-approve-click-base64.json",
    "slack-approve-click-rest-api.json",
];

/// The click files carry the buttons of the prompt the sample runbook really gets
/// (the stand-in derives its step execution IDs from the execution ID, so they are
/// the same every run). `UPDATE_EVENT_FILES=1 cargo test --test event_files` writes
/// them again from the current prompt, signed at their own timestamps.
#[tokio::test(flavor = "multi_thread")]
async fn click_files_carry_the_sample_prompts_buttons() {
    let h = Harness::start().await;
    h.start_sample_runbook();
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let actions = prompt
        .blocks
        .iter()
        .find(|b| b["type"] == "actions")
        .expect("the prompt has buttons")
        .clone();
    let update = std::env::var_os("UPDATE_EVENT_FILES").is_some();
    for file in CLICK_FILES {
        let mut event = event_file(file);
        let body = stand_ins::slack::event_body(&event).unwrap();
        let payload: Value = serde_json::from_str(
            &approvals::domain::inbound::form::payload_from_form(&body).unwrap(),
        )
        .unwrap();
        let clicked = &payload["actions"][0];
        let button = actions["elements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["action_id"] == clicked["action_id"])
            .unwrap();
        let current =
            clicked["value"] == button["value"] && clicked["block_id"] == actions["block_id"];
        if update && !current {
            edit_payload(&mut event, |p| {
                p["actions"][0]["value"] = button["value"].clone();
                p["actions"][0]["block_id"] = actions["block_id"].clone();
                p["message"]["blocks"] = json!(prompt.blocks);
            })
            .unwrap();
            let signed_at: i64 = event["headers"]["x-slack-request-timestamp"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let length = event["body"].as_str().unwrap().len().to_string();
            for map in ["headers", "multiValueHeaders"] {
                if let Some(headers) = event.get_mut(map).and_then(Value::as_object_mut)
                    && headers.contains_key("content-length")
                {
                    headers["content-length"] = if map == "headers" {
                        json!(length)
                    } else {
                        json!([length])
                    };
                }
            }
            resign_event(&mut event, SIGNING_SECRET, signed_at).unwrap();
            let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
            std::fs::write(&path, serde_json::to_string_pretty(&event).unwrap() + "\n").unwrap();
            continue;
        }
        assert!(
            current,
            "{file} does not carry the sample prompt's buttons; run UPDATE_EVENT_FILES=1 cargo test --test event_files"
        );
    }
}

#[test]
fn click_files_are_signed_with_the_local_env_files_secret() {
    // `events/` and `env.json` agree, so re-signing with a fresh timestamp is all a
    // local run needs; the stand-ins use the same secret.
    let env: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/env.json", env!("CARGO_MANIFEST_DIR"))).unwrap(),
    )
    .unwrap();
    let secret = env["Parameters"]["SLACK_SIGNING_SECRET"].as_str().unwrap();
    assert_eq!(secret, SIGNING_SECRET);
    for file in CLICK_FILES {
        let event = event_file(file);
        let body = stand_ins::slack::event_body(&event).unwrap();
        let ts = event["headers"]["x-slack-request-timestamp"]
            .as_str()
            .unwrap();
        let signed_at: i64 = ts.parse().unwrap();
        let verdict = approvals::domain::signature::verify_slack_signature(
            secret.as_bytes(),
            Some(ts),
            event["headers"]["x-slack-signature"].as_str(),
            &body,
            signed_at,
        );
        assert_eq!(verdict, Ok(()), "{file}");
        // ...and stale ten minutes later: the verifier is never switched off.
        let later = approvals::domain::signature::verify_slack_signature(
            secret.as_bytes(),
            Some(ts),
            event["headers"]["x-slack-signature"].as_str(),
            &body,
            signed_at + 600,
        );
        assert!(later.is_err(), "{file}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_click_on_an_execution_that_no_longer_exists() {
    let h = Harness::start().await;
    h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    // The sample file's execution was never started on this stand-in.
    let (status, _) = h
        .invoke_interactions(&fresh_click(
            &h,
            "slack-approve-click.json",
            &prompt.ts,
            "U0ALICE",
        ))
        .await;
    assert_eq!(status, 200);
    assert!(h.slack.ephemeral()[0].text.contains("no longer exists"));
    let shown = h.slack.message(CHANNEL, &prompt.ts).unwrap();
    assert!(!has_buttons(&shown.blocks) && text_of(&shown.blocks).contains("no longer exists"));
}
