//! The SSM and Slack stand-ins as a long-running local server, for trying the real
//! binaries with `cargo lambda watch` / `cargo lambda invoke` (see docs/local-testing.md):
//!
//!     cargo run --example stand-ins
//!
//! SSM on 127.0.0.1:9010 (`AWS_ENDPOINT_URL_SSM`), DynamoDB on 127.0.0.1:9030
//! (`AWS_ENDPOINT_URL_DYNAMODB`, table `approvals`), Slack on 127.0.0.1:9020
//! (`SLACK_API_URL=http://127.0.0.1:9020/api`), with the secrets of `env.json` and the
//! runbook execution the files in `events/` refer to, waiting for approval.
//!
//! It plays EventBridge too: every event the SSM stand-in emits is delivered to
//! `automation-events` through `cargo lambda watch`'s invoke endpoint (127.0.0.1:9000;
//! held and retried until watch is up; `--no-deliver` to invoke them by hand), and
//! written to `target/local-events/`. Every change to a Slack message is printed as a
//! person would read it. The sample clicks' `response_url`s are accepted for the first
//! prompt of the sample execution, as Slack would issue them with the click.
//!
//! `-- --extra-executions N` also starts N more executions waiting for approval, with
//! IDs `00000000-0000-4000-8000-000000000001` and up (for local load tests).
//!
//! `-- --host 0.0.0.0` listens on every interface instead of loopback only (the same
//! ports): for `sam local invoke`, whose container reaches the host through the Docker
//! bridge (`host.docker.internal`), not through the host's 127.0.0.1. `STAND_INS_HOST`
//! does the same.

#[path = "local/table.rs"]
mod table;

use std::collections::HashMap;
use std::time::Duration;

use stand_ins::block_kit_text;
use stand_ins::dynamodb::DynamoDbStandIn;
use stand_ins::slack::{Person, SlackStandIn};
use stand_ins::ssm::{RunbookSpec, SAMPLE_EXECUTION_ID, SsmStandIn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/env.json"
    ))?)?;
    let p = &env["Parameters"];
    let (token, secret) = (
        p["SLACK_BOT_TOKEN"].as_str().unwrap_or_default(),
        p["SLACK_SIGNING_SECRET"].as_str().unwrap_or_default(),
    );
    let options = Options::parse(std::env::args().skip(1))?;
    let at = |port: u16| std::net::SocketAddr::new(options.host, port);
    let ssm = SsmStandIn::start(at(9010), "us-east-1").await?;
    let slack = SlackStandIn::start(at(9020), token, secret).await?;
    let dynamodb = DynamoDbStandIn::start(at(9030)).await?;
    table::create_approvals_table(&dynamodb);
    ssm.put_parameter("/ssm-slack-approvals/slack-bot-token", token);
    ssm.put_parameter("/ssm-slack-approvals/slack-signing-secret", secret);
    for person in [Person::new("U0ALICE", "alice"), Person::new("U0BOB", "bob")] {
        slack.add_person(person);
    }
    slack.add_usergroup("S0OPS", &["U0BOB"]);
    ssm.start_automation_with_id(
        SAMPLE_EXECUTION_ID,
        RunbookSpec::sample("Roll payments 2026.11.21-1 out to production?", 1),
    );
    let Options { deliver, extra, .. } = options;
    for i in 1..=extra {
        let id = format!("00000000-0000-4000-8000-{i:012}");
        ssm.start_automation_with_id(
            &id,
            RunbookSpec::sample(&format!("Load test approval {i}"), 1),
        );
    }
    let out_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/local-events");
    std::fs::create_dir_all(out_dir)?;
    // Listening on every interface, they are reached on loopback too.
    let shown = |url: String| url.replace("//0.0.0.0:", "//127.0.0.1:");
    println!(
        "SSM stand-in:      AWS_ENDPOINT_URL_SSM={}",
        shown(ssm.url())
    );
    println!(
        "DynamoDB stand-in: AWS_ENDPOINT_URL_DYNAMODB={} (table approvals)",
        shown(dynamodb.url())
    );
    println!(
        "Slack stand-in:    SLACK_API_URL={}",
        shown(slack.api_url())
    );
    if !options.host.is_loopback() {
        println!(
            "Listening on {} (0.0.0.0: every interface), not only on loopback: from the container \
             of `sam local invoke`, Slack is http://host.docker.internal:9020/api (env.json).",
            options.host
        );
    }
    println!("Execution {SAMPLE_EXECUTION_ID} is waiting for approval. Ctrl-C to stop.\n");
    if deliver {
        println!(
            "Events go to automation-events through `cargo lambda watch` ({EVENTS_FUNCTION_URL}).\n"
        );
    }
    let http = reqwest::Client::new();
    let mut pending: Vec<(String, serde_json::Value)> = vec![];
    let mut told_to_start_watch = false;
    let mut sample_prompt: Option<String> = None;
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut written = 0;
    loop {
        for event in ssm.take_events() {
            written += 1;
            let status = event["detail"]["Status"].as_str().unwrap_or("unknown");
            let kind = if event["detail"]["StepName"].is_string() {
                "step"
            } else {
                "execution"
            };
            let file = format!("{out_dir}/{written:03}-{kind}-{status}.json");
            std::fs::write(&file, serde_json::to_string_pretty(&event)?)?;
            let article = if kind == "execution" { "an" } else { "a" };
            println!("SSM emitted {article} {kind} event ({status}): {file}");
            if deliver {
                pending.push((format!("{kind} event ({status})"), event));
            }
        }
        // EventBridge: deliver in order; what cannot be delivered yet waits.
        while let Some((what, event)) = pending.first() {
            let request = http
                .post(EVENTS_FUNCTION_URL)
                .header("content-type", "application/json")
                .body(event.to_string());
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let answer = response.text().await.unwrap_or_default();
                    println!(
                        "EventBridge delivered the {what} to automation-events: HTTP {status} {answer}\n"
                    );
                    pending.remove(0);
                }
                Err(_) => {
                    if !told_to_start_watch {
                        println!(
                            "(automation-events is not reachable yet: start `cargo lambda watch`; \
                             the events wait. Its first build takes a few minutes.)\n"
                        );
                        told_to_start_watch = true;
                    }
                    break;
                }
            }
        }
        // Slack issues a response_url with every click; the click files carry theirs.
        if sample_prompt.is_none()
            && let Some(prompt) = slack.messages().into_iter().find(|m| {
                serde_json::to_string(&m.blocks)
                    .unwrap_or_default()
                    .contains(SAMPLE_EXECUTION_ID)
            })
        {
            accept_sample_clicks(&slack, &prompt.channel, &prompt.ts);
            sample_prompt = Some(prompt.ts);
        }
        for message in slack.messages() {
            let key = format!("{}/{}", message.channel, message.ts);
            if seen.get(&key) != Some(&message.updates) {
                seen.insert(key, message.updates);
                println!(
                    "Slack message {} in {} (version {}):",
                    message.ts,
                    message.channel,
                    message.updates + 1
                );
                println!(
                    "{}\n",
                    block_kit_text::render(&message.blocks, &|id| slack.username(id))
                );
            }
        }
        for told in slack
            .ephemeral()
            .iter()
            .skip(seen.get("ephemeral").copied().unwrap_or(0) as usize)
        {
            let names = |id: &str| slack.username(id);
            println!(
                "Only @{} sees: {}\n",
                names(&told.user_id).unwrap_or_else(|| told.user_id.clone()),
                block_kit_text::mrkdwn(&told.text, &names)
            );
        }
        seen.insert("ephemeral".into(), slack.ephemeral().len() as u32);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The command line: `[--host ADDR] [--no-deliver] [--extra-executions N]`.
struct Options {
    host: std::net::IpAddr,
    deliver: bool,
    extra: u32,
}

const USAGE: &str = "usage: stand-ins [--host ADDR] [--no-deliver] [--extra-executions N]";

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> Result<Self, Box<dyn std::error::Error>> {
        let host = std::env::var("STAND_INS_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty());
        let mut options = Options {
            host: parse_host(host.as_deref().unwrap_or("127.0.0.1"))?,
            deliver: true,
            extra: 0,
        };
        let mut args = args;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--no-deliver" => options.deliver = false,
                "--host" => options.host = parse_host(&args.next().ok_or(USAGE)?)?,
                "--extra-executions" => {
                    let n = args.next().ok_or(USAGE)?;
                    options.extra = n.parse().map_err(|_| "--extra-executions takes a number")?;
                }
                _ => return Err(USAGE.into()),
            }
        }
        Ok(options)
    }
}

fn parse_host(raw: &str) -> Result<std::net::IpAddr, Box<dyn std::error::Error>> {
    raw.trim().parse().map_err(|_| {
        format!("--host takes an IP address to listen on (127.0.0.1, 0.0.0.0, ...), not {raw:?}")
            .into()
    })
}

/// `cargo lambda watch`'s Lambda Invoke API for the events function.
const EVENTS_FUNCTION_URL: &str =
    "http://127.0.0.1:9000/2015-03-31/functions/automation-events/invocations";

/// The `response_url` of each click file in `events/`, for the sample prompt.
fn accept_sample_clicks(slack: &SlackStandIn, channel: &str, ts: &str) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        let Ok(event) = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|e| e.to_string()))
        else {
            continue;
        };
        let Ok(body) = stand_ins::slack::event_body(&event) else {
            continue;
        };
        let Some(payload) = stand_ins::slack::payload_from_form(&body)
            .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
        else {
            continue;
        };
        if let (Some(url), Some(user)) = (
            payload["response_url"].as_str(),
            payload["user"]["id"].as_str(),
        ) {
            slack.accept_response_url(url, channel, ts, user);
        }
    }
}
