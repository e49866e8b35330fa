//! The SSM, DynamoDB and Slack stand-ins as one server for the benchmark
//! (`bench/run.py`), with a small HTTP control API the runner drives them through.
//!
//!     cargo build --release -p approvals-stand-ins --example bench-server
//!     target/release/examples/bench-server
//!
//! Everything binds 127.0.0.1 on free ports. The first line on stdout is one JSON
//! object: the endpoints (`ssm`, `dynamodb`, `slack_api`, `control`) and the Slack
//! secrets (`bot_token`, `signing_secret`). DynamoDB has the table `approvals`
//! (`execution_id` / `step_key`), Slack knows alice (`U0ALICE`), bob (`U0BOB`) and the
//! user group `S0OPS` (bob). The server stops when its stdin closes.
//!
//! Control API (JSON in, JSON out; a refusal is a 400 with `{"error": …}`):
//!
//! - `POST /control/start {"count": N}`: starts N executions of
//!   `RunbookSpec::sample`, each waiting at its approval; answers
//!   `{"executions": [{"execution_id", "event"}]}`, `event` being the execution's
//!   Waiting step event as EventBridge delivers it.
//! - `POST /control/prompts {"execution_ids": [...]}`: the Slack messages naming
//!   each execution (anywhere in their blocks), `{"prompts": {id: [{"channel", "ts",
//!   "text", "updates"}]}}`.
//! - `POST /control/click {"channel", "ts", "user", "action_id"}`: the person `user`
//!   (a Slack user ID) clicks the button `action_id` of that message; answers
//!   `{"event": …}`, the signed click as an API Gateway HTTP API (2.0) event, signed now.
//! - `POST /control/status {"execution_ids": [...]}`: per execution, its status, the
//!   approval step's status and how many Approve/Reject signals SSM accepted and refused.
//! - `GET /control/messages`: every channel message (`channel`, `ts`, `text`,
//!   `blocks`, `updates`).
//! - `GET /control/calls`: how many calls each stand-in has served so far, by
//!   operation or method.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use serde_json::{Value, json};
use stand_ins::dynamodb::DynamoDbStandIn;
use stand_ins::slack::{Person, SlackStandIn};
use stand_ins::ssm::{RunbookSpec, STEP_DETAIL_TYPE, SsmStandIn};
use stand_ins::{HttpServer, Incoming, Outgoing};

const BOT_TOKEN: &str = "xoxb-bench-bot-token";
const SIGNING_SECRET: &str = "bench-signing-secret-0123456789abcdef";
const TABLE: &str = "approvals";
const APPROVAL_STEP: &str = "approveRollout";

#[derive(Clone)]
struct StandIns {
    ssm: SsmStandIn,
    dynamodb: DynamoDbStandIn,
    slack: SlackStandIn,
    people: HashMap<String, Person>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let any = "127.0.0.1:0".parse()?;
    let ssm = SsmStandIn::start(any, "us-east-1").await?;
    let dynamodb = DynamoDbStandIn::start(any).await?;
    dynamodb.create_table(TABLE, "execution_id", Some("step_key"));
    // The index of what waits, as template.yaml's ApprovalsTable defines it.
    dynamodb.add_global_secondary_index(
        TABLE,
        "WaitingSteps",
        ("waits", "S"),
        Some(("waiting_since", "N")),
    );
    let slack = SlackStandIn::start(any, BOT_TOKEN, SIGNING_SECRET).await?;
    let people: HashMap<String, Person> =
        [Person::new("U0ALICE", "alice"), Person::new("U0BOB", "bob")]
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
    for person in people.values() {
        slack.add_person(person.clone());
    }
    slack.add_usergroup("S0OPS", &["U0BOB"]);
    let stand_ins = StandIns {
        ssm: ssm.clone(),
        dynamodb: dynamodb.clone(),
        slack: slack.clone(),
        people,
    };
    let control = HttpServer::start(any, move |req| match serve(&stand_ins, &req) {
        Ok(body) => Outgoing::json(200, &body, "application/json"),
        Err(message) => Outgoing::json(400, &json!({"error": message}), "application/json"),
    })
    .await?;
    println!(
        "{}",
        json!({
            "ssm": ssm.url(), "dynamodb": dynamodb.url(), "slack_api": slack.api_url(),
            "control": control.url(), "table": TABLE,
            "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET,
        })
    );
    // Stop when the runner closes our stdin (or dies).
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        let _ = tx.send(());
    });
    let _ = rx.await;
    Ok(())
}

fn serve(s: &StandIns, req: &Incoming) -> Result<Value, String> {
    let input: Value = if req.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&req.body).map_err(|e| format!("the body is not JSON: {e}"))?
    };
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/control/start") => start(s, &input),
        ("POST", "/control/prompts") => prompts(s, &ids(&input)?),
        ("POST", "/control/click") => click(s, &input),
        ("POST", "/control/status") => status(s, &ids(&input)?),
        ("GET", "/control/messages") => Ok(Value::Array(
            s.slack
                .messages()
                .into_iter()
                .map(|m| {
                    json!({"channel": m.channel, "ts": m.ts, "text": m.text,
                           "blocks": m.blocks, "updates": m.updates})
                })
                .collect(),
        )),
        ("GET", "/control/calls") => Ok(calls(s)),
        (method, path) => Err(format!("no such control call: {method} {path}")),
    }
}

fn ids(input: &Value) -> Result<Vec<String>, String> {
    input["execution_ids"]
        .as_array()
        .ok_or("execution_ids: a list of execution IDs")?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or("execution_ids: strings".to_owned())
        })
        .collect()
}

fn start(s: &StandIns, input: &Value) -> Result<Value, String> {
    let count = input["count"].as_u64().ok_or("count: a number")? as usize;
    // Events emitted earlier (by decisions) are nobody's business here.
    s.ssm.take_events();
    let started: Vec<String> = (0..count)
        .map(|n| {
            let spec = RunbookSpec::sample(&format!("Benchmark approval {n}"), 1);
            s.ssm.start_automation(spec)
        })
        .collect();
    let mut waiting: HashMap<String, Value> = HashMap::new();
    for event in s.ssm.take_events() {
        let detail = &event["detail"];
        if event["detail-type"] == STEP_DETAIL_TYPE
            && detail["Status"] == "Waiting"
            && detail["Action"] == "aws:approve"
            && let Some(id) = detail["ExecutionId"].as_str()
        {
            waiting.insert(id.to_owned(), event.clone());
        }
    }
    let executions = started
        .into_iter()
        .map(|id| {
            let event = waiting
                .remove(&id)
                .ok_or_else(|| format!("execution {id} emitted no Waiting step event"))?;
            Ok(json!({"execution_id": id, "event": event}))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(json!({ "executions": executions }))
}

fn prompts(s: &StandIns, ids: &[String]) -> Result<Value, String> {
    let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut found: BTreeMap<String, Vec<Value>> =
        ids.iter().map(|id| (id.clone(), vec![])).collect();
    for message in s.slack.messages() {
        let text = serde_json::to_string(&message.blocks).unwrap_or_default();
        for id in &wanted {
            if text.contains(id) {
                found.get_mut(*id).expect("wanted").push(json!({
                    "channel": message.channel, "ts": message.ts,
                    "text": message.text, "updates": message.updates,
                }));
            }
        }
    }
    Ok(json!({ "prompts": found }))
}

fn click(s: &StandIns, input: &Value) -> Result<Value, String> {
    let field = |name: &str| {
        input[name]
            .as_str()
            .ok_or_else(|| format!("{name}: a string"))
    };
    let user = field("user")?;
    let person = s
        .people
        .get(user)
        .ok_or_else(|| format!("no such person: {user}"))?;
    let signed = s
        .slack
        .click(field("channel")?, field("ts")?, person, field("action_id")?)?;
    Ok(json!({ "event": signed.to_apigw_v2_event(false) }))
}

fn status(s: &StandIns, ids: &[String]) -> Result<Value, String> {
    let mut signals: HashMap<&str, (u32, u32)> = HashMap::new();
    let records = s.ssm.signals();
    for record in &records {
        if matches!(record.signal_type.as_str(), "Approve" | "Reject") {
            let entry = signals.entry(record.execution_id.as_str()).or_default();
            if record.accepted {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
    }
    let out: serde_json::Map<String, Value> = ids
        .iter()
        .map(|id| {
            let (accepted, refused) = signals.get(id.as_str()).copied().unwrap_or_default();
            (
                id.clone(),
                json!({
                    "status": s.ssm.execution_status(id),
                    "approval_step": s.ssm.step_status(id, APPROVAL_STEP),
                    "signals_accepted": accepted, "signals_refused": refused,
                }),
            )
        })
        .collect();
    Ok(Value::Object(out))
}

fn calls(s: &StandIns) -> Value {
    let count = |names: Vec<String>| {
        let mut by: BTreeMap<String, u64> = BTreeMap::new();
        for name in names {
            *by.entry(name).or_default() += 1;
        }
        json!(by)
    };
    json!({
        "ssm": count(s.ssm.calls()),
        "dynamodb": count(s.dynamodb.calls()),
        "slack": count(s.slack.calls().into_iter().map(|(method, _)| method).collect()),
    })
}
