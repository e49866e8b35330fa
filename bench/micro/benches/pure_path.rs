//! The pure part of a click, as `slack-interactions` does it for every Approve: verify
//! the Slack signature over the body, read the form's `payload` and parse the
//! interaction (button value included), then render the decided prompt from the
//! clicked message and serialize the `response_url` body. No I/O: the recorded click
//! in `events/slack-approve-click.json`, checked at the timestamp it was signed.
//!
//!     cargo bench -p micro-bench

use std::hint::black_box;

use approvals::domain::inbound::form::payload_from_form;
use approvals::domain::inbound::{Interaction, parse_interaction};
use approvals::domain::messages::decided::render_decided;
use approvals::domain::record::DecisionRecord;
use approvals::domain::signature::verify_slack_signature;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

/// `env.json`'s local signing secret, which signed the recorded click.
const SIGNING_SECRET: &[u8] = b"local-signing-secret-0123456789abcdef";

struct Click {
    body: Vec<u8>,
    timestamp: String,
    signature: String,
}

fn recorded_click() -> Click {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/slack-approve-click.json"
    );
    let event: Value = serde_json::from_slice(&std::fs::read(path).expect("the recorded click"))
        .expect("an API Gateway event");
    let header = |name: &str| event["headers"][name].as_str().expect(name).to_owned();
    Click {
        body: event["body"]
            .as_str()
            .expect("a text body")
            .as_bytes()
            .to_vec(),
        timestamp: header("x-slack-request-timestamp"),
        signature: header("x-slack-signature"),
    }
}

/// Everything a warm Approve click computes between receiving the request and
/// sending the prompt's replacement, except the AWS and Slack calls.
fn pure_path(click: &Click, now: i64) -> Vec<u8> {
    verify_slack_signature(
        SIGNING_SECRET,
        Some(&click.timestamp),
        Some(&click.signature),
        &click.body,
        now,
    )
    .expect("the recorded click verifies");
    let payload = payload_from_form(&click.body).expect("a payload");
    let Ok(Interaction::Decision(decision)) = parse_interaction(&payload) else {
        panic!("the recorded click is a decision");
    };
    let record = DecisionRecord {
        step_key: decision.target.step_name.clone(),
        decision: decision.decision,
        user_id: decision.actor.user.id.clone(),
        handle: decision.actor.user.handle().to_owned(),
        at_unix: now,
        reason: None,
        principal: None,
    };
    let decided = render_decided(
        &decision.message_blocks,
        &[record],
        decision.target.execution_id.as_str(),
    );
    serde_json::to_vec(&json!({
        "replace_original": true, "text": decided.text, "blocks": decided.blocks,
    }))
    .expect("JSON")
}

fn bench(c: &mut Criterion) {
    let click = recorded_click();
    let now: i64 = click.timestamp.parse().expect("a Unix time");
    let mut group = c.benchmark_group("click");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify + parse + render decided", |b| {
        b.iter(|| pure_path(black_box(&click), now))
    });
    group.bench_function("read form + parse payload only", |b| {
        b.iter(|| {
            let payload = payload_from_form(black_box(&click.body)).expect("a payload");
            parse_interaction(&payload).is_ok()
        })
    });
    group.bench_function("read form only", |b| {
        b.iter(|| payload_from_form(black_box(&click.body)).expect("a payload"))
    });
    group.bench_function("verify signature only", |b| {
        b.iter(|| {
            verify_slack_signature(
                SIGNING_SECRET,
                Some(&click.timestamp),
                Some(&click.signature),
                black_box(&click.body),
                now,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
