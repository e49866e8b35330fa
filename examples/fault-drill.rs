//! Fault drill: many runbooks through the events handler while about 5 % of every
//! dependency's calls fail (Slack, DynamoDB, SSM and the queue's SQS; STS is not used
//! in one account) (Slack's "maybe done" answers included), with Lambda's real
//! asynchronous retry spacing (a failed event is tried again after about 1 and then 2
//! more minutes, then goes to the failed-events queue), then the scheduled sweep (which
//! drains that queue and heals what ended). It counts, per runbook, what an operator
//! must never see: a prompt lost, a prompt doubled, a prompt not recorded (so not in
//! the index: no Home, no `/approvals`, no reminder, no healing) and, once every step
//! has ended, a prompt that still has live buttons.
//!
//!     cargo run --release --example fault-drill -- [runbooks] [percent of calls failing]
//!
//! Defaults: 200 runbooks, 5 %. `RUST_LOG=info` adds the handler's log (on stdout). It takes about 7 minutes of wall clock: the retry
//! spacing is real, since the posting claim's lease (120 s) is measured in real time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use approvals::deadline::{Deadline, random_u64};
use approvals::handlers::events::{EventOutcome, EventsApp, handle_automation_event};
use approvals::ssm::{SdkRetries, config_loader};
use aws_sdk_ssm::config::{Credentials, Region};
use serde_json::{Value, json};
use stand_ins::aws::AwsEndpoint;
use stand_ins::dynamodb::DynamoDbStandIn;
use stand_ins::slack::SlackStandIn;
use stand_ins::sqs::SqsStandIn;
use stand_ins::ssm::{RunbookSpec, SsmStandIn};
use stand_ins::sts::StsStandIn;

#[path = "local/table.rs"]
mod table;

type Error = Box<dyn std::error::Error + Send + Sync>;

const CHANNEL: &str = "C0APPROVALS";
const TOKEN: &str = "xoxb-fault-drill";
const KEY: &str = "AKIDFAULTDRILL";
/// Lambda's asynchronous retries: about 1 minute after the first try, 2 after the second.
const RETRY_AFTER: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(120)];

struct Drill {
    ssm: SsmStandIn,
    dynamodb: DynamoDbStandIn,
    slack: SlackStandIn,
    sqs: SqsStandIn,
    queue: String,
    events: EventsApp,
    percent: u64,
    /// Faults set so far, by operation and kind.
    set: std::sync::Mutex<BTreeMap<(String, &'static str), usize>>,
    _aws: AwsEndpoint,
}

impl Drill {
    async fn start(percent: u64) -> Result<Self, Error> {
        let any = "127.0.0.1:0".parse()?;
        let ssm = SsmStandIn::start(any, "us-east-1").await?;
        let sts = StsStandIn::start(any, ssm.principals()).await?;
        let dynamodb = DynamoDbStandIn::start(any).await?;
        table::create_approvals_table(&dynamodb);
        let sqs = SqsStandIn::start(any, "us-east-1").await?;
        let queue = sqs.create_queue("123456789012", "approvals-FailedEventsQueue");
        let aws = AwsEndpoint::start_with_sts_and_sqs(
            any,
            ssm.clone(),
            dynamodb.clone(),
            sts,
            sqs.clone(),
        )
        .await?;
        let slack = SlackStandIn::start(any, TOKEN, "fault-drill-signing-secret").await?;
        let env = BTreeMap::from([
            ("SLACK_CHANNEL", CHANNEL.to_owned()),
            ("APPROVALS_TABLE", table::TABLE.to_owned()),
            ("SLACK_API_URL", slack.api_url()),
            ("SLACK_BOT_TOKEN", TOKEN.to_owned()),
            ("SLACK_APPROVERS", "U0ALICE".to_owned()),
            ("FAILED_EVENTS_QUEUE_URL", queue.clone()),
        ]);
        let events = EventsApp::from_env(
            &move |name: &str| env.get(name).cloned(),
            config_loader(SdkRetries::BACKGROUND)
                .endpoint_url(aws.url())
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new(KEY, "local", None, None, "local")),
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(Self {
            ssm,
            dynamodb,
            slack,
            sqs,
            queue,
            events,
            percent,
            set: Default::default(),
            _aws: aws,
        })
    }

    /// How many calls of `operation` the stand-in of `service` answered so far.
    fn calls(&self, service: &str, operation: &str) -> usize {
        match service {
            "slack" => self.slack.count_calls(operation),
            "dynamodb" => self.dynamodb.count_calls(operation),
            "ssm" => self.ssm.count_calls(operation),
            _ => self
                .sqs
                .calls()
                .iter()
                .filter(|(op, _)| op == operation)
                .count(),
        }
    }

    /// Whether to fail the next call of `operation` (of `service`, as `kind` of
    /// failure): with the drill's chance, and only while fewer faults of it were set
    /// than that share of the calls made. A fault waits for the next call, so without
    /// the bound faults for calls seldom made would pile up and fail far more of them.
    fn chance(&self, service: &str, operation: &str, kind: &'static str) -> bool {
        if random_u64() % 100 >= self.percent {
            return false;
        }
        let allowed = (self.calls(service, operation) as u64 * self.percent).div_ceil(100) + 1;
        let mut set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        let count = set.entry((operation.to_owned(), kind)).or_default();
        if (*count as u64) < allowed {
            *count += 1;
            true
        } else {
            false
        }
    }

    /// Before a try: each dependency may fail its next call, as a real one sometimes
    /// does. Slack's failures include the documented "maybe done" answers.
    fn some_faults(&self) {
        if self.chance("slack", "chat.postMessage", "internal_error") {
            // Posted, then answered as Slack answers an internal error.
            self.slack
                .fail_next_after_doing("chat.postMessage", 200, "internal_error");
        }
        if self.chance("slack", "chat.postMessage", "503") {
            self.slack.fail_next("chat.postMessage", 503);
        }
        if self.chance("slack", "chat.update", "internal_error") {
            self.slack
                .fail_next_after_doing("chat.update", 500, "internal_error");
        }
        for operation in ["UpdateItem", "Query", "GetItem"] {
            if self.chance("dynamodb", operation, "500") {
                self.dynamodb
                    .fail_next(operation, 500, "InternalServerError");
            }
        }
        if self.chance("ssm", "GetAutomationExecution", "throttled") {
            self.ssm
                .fail_next("GetAutomationExecution", 400, "ThrottlingException");
        }
        if self.chance("ssm", "GetAutomationExecution", "500") {
            self.ssm
                .fail_next("GetAutomationExecution", 500, "InternalServerError");
        }
        for operation in ["ReceiveMessage", "DeleteMessage"] {
            if self.chance("sqs", operation, "500") {
                self.sqs.fail_next(operation, 500, "InternalError");
            }
        }
    }

    /// One event as Lambda delivers it asynchronously: the first try, two retries
    /// about 1 and 2 minutes apart, then its invocation record to the queue.
    async fn deliver(self: Arc<Self>, event: Value) -> Outcome {
        let mut last_error = None;
        for attempt in 0..=RETRY_AFTER.len() {
            if attempt > 0 {
                tokio::time::sleep(RETRY_AFTER[attempt - 1]).await;
            }
            self.some_faults();
            match handle_automation_event(&self.events, &event, &Deadline::for_event(None)).await {
                Ok(_) => {
                    return if attempt == 0 {
                        Outcome::First
                    } else {
                        Outcome::Retried
                    };
                }
                Err(e) => last_error = Some(e),
            }
        }
        let diagnostic = lambda_runtime::Diagnostic::from(last_error.expect("three tries failed"));
        let record = json!({
            "version": "1.0",
            "timestamp": "2026-12-07T00:00:00.000Z",
            "requestContext": {"requestId": format!("{:016x}", random_u64()),
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:approvals-events:$LATEST",
                "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": diagnostic.error_type, "errorMessage": diagnostic.error_message},
        });
        self.sqs.send(&self.queue, &record.to_string());
        Outcome::Queued
    }

    /// Delivers every event SSM emitted so far, all at once.
    async fn deliver_all(self: &Arc<Self>) -> Tally {
        // All at once, on this task (the handler's futures are not all `Send`).
        let deliveries = self
            .ssm
            .take_events()
            .into_iter()
            .map(|event| self.clone().deliver(event));
        let mut tally = Tally::default();
        for outcome in futures_util::future::join_all(deliveries).await {
            match outcome {
                Outcome::First => tally.first += 1,
                Outcome::Retried => tally.retried += 1,
                Outcome::Queued => tally.queued += 1,
            }
        }
        tally
    }

    /// Sweeps (with faults) until the queue is empty and nothing more heals, at most 10.
    async fn sweep_until_settled(&self) -> Vec<Value> {
        let mut reports = vec![];
        for _ in 0..10 {
            self.some_faults();
            let input = json!({"sweep": "waiting-steps"});
            match handle_automation_event(&self.events, &input, &Deadline::for_event(None)).await {
                Ok(EventOutcome::Swept(report)) => {
                    let settled =
                        report.healed == 0 && report.failed_events.read == 0 && report.complete;
                    reports.push(serde_json::to_value(&report).unwrap_or_default());
                    if settled && self.sqs.messages(&self.queue).is_empty() {
                        break;
                    }
                }
                Ok(other) => return vec![json!(format!("not a sweep: {other:?}"))],
                Err(e) => reports.push(json!(format!("sweep failed: {e}"))),
            }
            // Messages that failed again come back after their visibility timeout.
            self.sqs.let_time_pass(121);
        }
        reports
    }
}

enum Outcome {
    First,
    Retried,
    Queued,
}

#[derive(Default, Debug)]
struct Tally {
    first: usize,
    retried: usize,
    queued: usize,
}

/// What became of each runbook's prompt, counted.
#[derive(Default, Debug)]
struct Findings {
    lost: Vec<String>,
    doubled: Vec<String>,
    unrecorded: Vec<String>,
    live_after_end: Vec<String>,
}

fn has_buttons(blocks: &[Value]) -> bool {
    blocks.iter().any(|b| b["type"] == "actions")
}

fn findings(drill: &Drill, ids: &[String], ended: bool) -> Findings {
    let prompts: Vec<_> = drill
        .slack
        .messages()
        .into_iter()
        .filter(|m| m.channel == CHANNEL && m.thread_ts.is_none())
        .collect();
    let items = drill.dynamodb.items(table::TABLE);
    let mut found = Findings::default();
    for id in ids {
        let mine: Vec<_> = prompts
            .iter()
            .filter(|m| serde_json::to_string(&m.blocks).is_ok_and(|b| b.contains(id.as_str())))
            .collect();
        match mine.len() {
            0 => found.lost.push(id.clone()),
            1 => {}
            _ => found.doubled.push(id.clone()),
        }
        for prompt in &mine {
            let recorded = items.iter().any(|item| {
                item["execution_id"]["S"] == id.as_str() && item["ts"]["S"] == prompt.ts.as_str()
            });
            if !recorded {
                found.unrecorded.push(id.clone());
            }
            if ended && has_buttons(&prompt.blocks) {
                found.live_after_end.push(id.clone());
            }
        }
    }
    found
}

fn report(stage: &str, found: &Findings) {
    println!(
        "| {stage} | {} | {} | {} | {} |",
        found.lost.len(),
        found.doubled.len(),
        found.unrecorded.len(),
        found.live_after_end.len()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    // The handler's log, as the function writes it, when RUST_LOG asks for it.
    if std::env::var_os("RUST_LOG").is_some() {
        approvals::logging::init();
    }
    let runbooks: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(200);
    let percent: u64 = std::env::args()
        .nth(2)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(5);
    let drill = Arc::new(Drill::start(percent).await?);
    let ids: Vec<String> = (0..runbooks)
        .map(|_| {
            drill
                .ssm
                .start_automation(RunbookSpec::sample("Fault drill", 1))
        })
        .collect();
    eprintln!(
        "{runbooks} runbooks wait; their events are delivered with {percent} % of calls failing"
    );
    let waiting = drill.deliver_all().await;
    eprintln!("waiting events: {waiting:?}");
    let sweeps_waiting = drill.sweep_until_settled().await;
    let after_waiting = findings(&drill, &ids, false);
    // Every step ends (half time out, half are cancelled), and those events come, with
    // faults, too.
    for (n, id) in ids.iter().enumerate() {
        if n % 2 == 0 {
            drill.ssm.time_out(id);
        } else {
            drill.ssm.cancel(id);
        }
    }
    let ending = drill.deliver_all().await;
    eprintln!("ending events: {ending:?}");
    let sweeps_ended = drill.sweep_until_settled().await;
    let after_end = findings(&drill, &ids, true);

    println!("Fault drill: {runbooks} runbooks, {percent} % of each dependency's calls failing");
    println!(
        "(Slack chat.postMessage and chat.update with internal_error after doing it, and 503;"
    );
    println!("DynamoDB UpdateItem, Query and GetItem with 500; SSM throttled and 500; SQS");
    println!("ReceiveMessage and DeleteMessage with 500), Lambda's retries after 60 and 120 s,");
    println!("then the failed-events queue and the sweep.\n");
    println!(
        "Deliveries: waiting events {} first try, {} on a retry, {} queued; ending events {} first try, {} on a retry, {} queued.\n",
        waiting.first, waiting.retried, waiting.queued, ending.first, ending.retried, ending.queued
    );
    println!("| after | lost | doubled | unrecorded | live buttons on an ended step |");
    println!("|---|---:|---:|---:|---:|");
    report(
        "the waiting events, their retries and the sweeps",
        &after_waiting,
    );
    report("the steps' end, its events and the sweeps", &after_end);
    println!(
        "\nSweeps: {} after the waiting events, {} after the end; left in the queue: {}.",
        sweeps_waiting.len(),
        sweeps_ended.len(),
        drill.sqs.messages(&drill.queue).len()
    );
    for (what, found) in [("waiting", &after_waiting), ("ended", &after_end)] {
        if !(found.lost.is_empty()
            && found.doubled.is_empty()
            && found.unrecorded.is_empty()
            && found.live_after_end.is_empty())
        {
            println!("{what}: {found:?}");
        }
    }
    for report in sweeps_waiting.iter().chain(&sweeps_ended) {
        eprintln!("sweep: {report}");
    }
    Ok(())
}
