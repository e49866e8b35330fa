//! The bad-input table: each row gets the right status (or is dropped with a log
//! line), makes no `SendAutomationSignal` call and does not panic. All log output
//! of the run is captured and searched for secrets.

mod support;

use support::logs::Captured;

use approvals::domain::inbound::APPROVE_ACTION_ID;
use approvals::handlers::events::EventOutcome;
use serde_json::{Value, json};
use stand_ins::slack::{VERIFICATION_TOKEN, edit_payload, resign_event};
use support::*;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn set_header(event: &mut Value, name: &str, value: Option<&str>) {
    let headers = event["headers"].as_object_mut().unwrap();
    match value {
        Some(v) => {
            headers.insert(name.into(), json!(v));
        }
        None => {
            headers.remove(name);
        }
    }
}

fn with_body(event: &Value, body: &str) -> Value {
    let mut e = event.clone();
    e["body"] = json!(body);
    e["isBase64Encoded"] = json!(false);
    resign_event(&mut e, SIGNING_SECRET, now()).unwrap();
    e
}

/// The click with its payload edited, a response_url of its own (Slack allows 5
/// uses of each), signed again.
fn with_payload(h: &Harness, event: &Value, edit: impl FnOnce(&mut Value)) -> Value {
    let mut e = event.clone();
    edit_payload(&mut e, |p| {
        let ts = p["container"]["message_ts"].as_str().unwrap().to_owned();
        let user = p["user"]["id"].as_str().unwrap_or("U0ALICE").to_owned();
        p["response_url"] = json!(h.slack.issue_response_url(CHANNEL, &ts, &user));
        edit(p)
    })
    .unwrap();
    resign_event(&mut e, SIGNING_SECRET, now()).unwrap();
    e
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_table() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let h = Harness::start().await;
    let id = h.start_runbook(1);
    h.deliver_events().await;
    let prompt = h.only_prompt();
    let good = h
        .slack
        .click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .unwrap()
        .to_apigw_v2_event(false);

    let stale_at = now() - 6 * 60;
    let mut stale = good.clone();
    resign_event(&mut stale, SIGNING_SECRET, stale_at).unwrap();
    let mut future = good.clone();
    resign_event(&mut future, SIGNING_SECRET, now() + 6 * 60).unwrap();
    let mut wrong_secret = good.clone();
    resign_event(&mut wrong_secret, "not-the-secret", now()).unwrap();
    let mut no_signature = good.clone();
    set_header(&mut no_signature, "x-slack-signature", None);
    let mut no_timestamp = good.clone();
    set_header(&mut no_timestamp, "x-slack-request-timestamp", None);
    let mut tampered = good.clone();
    let body = tampered["body"]
        .as_str()
        .unwrap()
        .replace("U0ALICE", "U0MALLORY");
    tampered["body"] = json!(body);
    let mut garbage_signature = good.clone();
    set_header(
        &mut garbage_signature,
        "x-slack-signature",
        Some("v1=deadbeef"),
    );
    let huge = with_body(&good, &format!("payload={}", "a".repeat(300 * 1024)));
    let mut text_content = good.clone();
    set_header(&mut text_content, "content-type", Some("text/plain"));
    // JSON is how the Events API delivers: a click's form body sent as JSON is neither.
    let mut json_content = good.clone();
    set_header(&mut json_content, "content-type", Some("application/json"));
    let no_payload = with_body(&good, "command=%2Fapprovals&text=");
    let not_json = with_body(&good, "payload=%7Bnot+json");
    let unknown_type = with_payload(&h, &good, |p| p["type"] = json!("message_action"));
    let viewless_submission = with_payload(&h, &good, |p| p["type"] = json!("view_submission"));
    let forged_view = with_payload(&h, &good, |p| {
        p["type"] = json!("view_submission");
        p["view"] = json!({"callback_id": "ssm_reason", "private_metadata": "{\"d\":\"Approve\"}"});
    });
    let unknown_action = with_payload(&h, &good, |p| {
        p["actions"][0]["action_id"] = json!("something_else")
    });
    let names_no_step = with_payload(&h, &good, |p| p["actions"][0]["value"] = json!(id.clone()));
    let short_id = with_payload(&h, &good, |p| {
        p["actions"][0]["value"] =
            json!(r#"{"execution_id":"5c3e9b1a-7d2f-4e8a-9b6c","step_name":"approveRollout"}"#)
    });
    let path_id = with_payload(&h, &good, |p| {
        p["actions"][0]["value"] = json!(
            r#"{"execution_id":"../../../../etc/passwd-aaaaaaaaaaaaaaaaa","step_name":"approveRollout"}"#
        )
    });
    let no_step_name = with_payload(&h, &good, |p| {
        p["actions"][0]["value"] = json!(format!(r#"{{"execution_id":"{id}"}}"#))
    });
    let other_step = with_payload(&h, &good, |p| {
        p["actions"][0]["value"] = json!(format!(
            r#"{{"execution_id":"{id}","step_name":"checkHealth"}}"#
        ))
    });
    let other_run = with_payload(&h, &good, |p| {
        p["actions"][0]["value"] = json!(format!(
            r#"{{"execution_id":"{id}","step_name":"approveRollout","step_execution_id":"00000000-0000-4000-8000-000000000000"}}"#
        ))
    });
    let other_workspace = with_payload(&h, &good, |p| {
        p["user"]["team_id"] = json!("T0ELSEWHERE");
        p["team"]["id"] = json!("T0ELSEWHERE");
    });
    let no_user = with_payload(&h, &good, |p| {
        p.as_object_mut().unwrap().remove("user");
    });
    let unauthorized = with_payload(&h, &good, |p| {
        p["user"] = json!({"id": "U0MALLORY", "username": "mallory"})
    });

    let rows: Vec<(&str, &Value, u16)> = vec![
        ("missing signature header", &no_signature, 401),
        ("missing timestamp header", &no_timestamp, 401),
        ("wrong signature (other secret)", &wrong_secret, 401),
        ("malformed signature", &garbage_signature, 401),
        ("tampered body", &tampered, 401),
        ("stale timestamp (6 min old)", &stale, 401),
        ("future timestamp (6 min ahead)", &future, 401),
        ("body over 256 KiB", &huge, 413),
        ("neither a form nor JSON", &text_content, 415),
        (
            "JSON that is not an Events API delivery",
            &json_content,
            400,
        ),
        ("no payload field", &no_payload, 400),
        ("payload is not JSON", &not_json, 400),
        ("block_actions without a user", &no_user, 400),
        ("unknown payload type", &unknown_type, 200),
        ("view_submission without a view", &viewless_submission, 400),
        (
            "reason form whose metadata names no step",
            &forged_view,
            200,
        ),
        ("unknown action_id", &unknown_action, 200),
        (
            "button names no step (bare execution ID)",
            &names_no_step,
            200,
        ),
        ("button's execution ID not 36 characters", &short_id, 200),
        ("button's execution ID not a UUID", &path_id, 200),
        ("button without a step name", &no_step_name, 200),
        (
            "button for a step that is not an approval",
            &other_step,
            200,
        ),
        ("button for another run of the step", &other_run, 200),
        ("unauthorized user", &unauthorized, 200),
        ("user of another workspace", &other_workspace, 200),
    ];
    let mut table = String::from("| input | status |\n|---|---|\n");
    for (name, event, expected) in rows {
        let (status, _) = h.invoke_interactions(event).await;
        table.push_str(&format!("| {name} | {status} |\n"));
        assert_eq!(status, expected, "{name}");
        assert_eq!(h.signals_sent(), 0, "{name}: a signal was sent");
    }
    println!("{table}");
    assert_eq!(h.ssm.execution_status(&id).as_deref(), Some("Waiting"));
    assert!(
        has_buttons(&h.slack.message(CHANNEL, &prompt.ts).unwrap().blocks),
        "the prompt is untouched"
    );
    let told: Vec<String> = h.slack.ephemeral().into_iter().map(|e| e.text).collect();
    for expected in [
        "does not say which approval step it decides",
        "does not name a valid automation step",
        "is an `aws:executeAwsApi` step, not an approval",
        "has no step `approveRollout` as this prompt shows it",
        "only <@U0ALICE> or members of <!subteam^S0OPS> can approve",
        "you belong to another one (T0ELSEWHERE)",
    ] {
        assert!(
            told.iter().any(|t| t.contains(expected)),
            "{expected}: {told:?}"
        );
    }

    // EventBridge events with missing or odd fields, and unknown detail-types.
    let waiting = event_file("automation-step-waiting.json");
    let mut odd_events: Vec<(&str, Value)> = vec![];
    let mut e = waiting.clone();
    e["detail-type"] = json!("EC2 Instance State-change Notification");
    odd_events.push(("unknown detail-type", e));
    let mut e = waiting.clone();
    e["source"] = json!("aws.ec2");
    odd_events.push(("other source", e));
    let mut e = waiting.clone();
    e.as_object_mut().unwrap().remove("detail");
    odd_events.push(("no detail", e));
    let mut e = waiting.clone();
    e["detail"]["ExecutionId"] = json!(42);
    odd_events.push(("numeric ExecutionId", e));
    let mut e = waiting.clone();
    e["detail"]["ExecutionId"] = json!("not-an-execution");
    odd_events.push(("malformed ExecutionId", e));
    let mut e = waiting.clone();
    e["detail"].as_object_mut().unwrap().remove("Status");
    odd_events.push(("no Status", e));
    let mut e = waiting.clone();
    e["detail"]["Action"] = json!("aws:runCommand");
    odd_events.push(("a step that is not aws:approve", e));
    odd_events.push(("an array", json!([1, 2])));
    odd_events.push(("null", Value::Null));
    odd_events.push(("execution unknown to SSM", waiting.clone()));
    let slack_calls = h.slack.calls().len();
    for (name, event) in &odd_events {
        let outcome = h
            .deliver(event)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            matches!(outcome, EventOutcome::Ignored { .. }),
            "{name}: {outcome:?}"
        );
    }
    assert_eq!(
        h.slack.calls().len(),
        slack_calls,
        "odd events reached Slack"
    );
    assert_eq!(h.signals_sent(), 0);

    // Nothing secret in any log line of the whole run.
    let output = logs.text();
    assert!(output.contains("request refused"), "logs were not captured");
    let response_url_token = response_url_token(good["body"].as_str().unwrap());
    for secret in [
        SIGNING_SECRET,
        BOT_TOKEN,
        VERIFICATION_TOKEN,
        response_url_token.as_str(),
        "local-secret-key",
    ] {
        assert!(
            !output.contains(secret),
            "a secret reached the log: {secret}"
        );
    }
}
