//! Soak: one `slack-interactions` process (a built binary, run as Lambda runs it under
//! the Runtime API emulator) takes 10,000 warm clicks against the stand-ins; its
//! resident memory and open file descriptors are sampled as it goes. They must stay
//! flat: a leak per click would show as a steady climb.
//!
//!     cargo build --release --bin slack-interactions
//!     cargo run --release --example soak -- target/release/slack-interactions [clicks]
//!
//! Each click decides its own waiting execution (posted by the events handler,
//! in-process), so every one goes the whole approve path: authorization, step check,
//! signal, prompt replacement and audit record.

use std::process::{Command, Stdio};
use std::time::Duration;

use approvals::domain::interaction::APPROVE_ACTION_ID;
use approvals::handlers::events::{EventOutcome, EventsApp, handle_automation_event};
use approvals::ssm::{SdkRetries, config_loader};
use aws_sdk_ssm::config::{Credentials, Region};
use stand_ins::aws::AwsEndpoint;
use stand_ins::dynamodb::DynamoDbStandIn;
use stand_ins::runtime_api::{Invocation, RuntimeApi};
use stand_ins::slack::{Person, SlackStandIn};
use stand_ins::ssm::{RunbookSpec, SsmStandIn};

const SECRET: &str = "soak-signing-secret";
const TOKEN: &str = "xoxb-soak";
const CHANNEL: &str = "C0APPROVALS";
const SAMPLE_EVERY: usize = 1000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let binary = std::env::args()
        .nth(1)
        .ok_or("usage: soak <path to slack-interactions> [clicks]")?;
    let clicks: usize = std::env::args()
        .nth(2)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(10_000);
    let any = "127.0.0.1:0".parse()?;
    let ssm = SsmStandIn::start(any, "us-east-1").await?;
    let dynamodb = DynamoDbStandIn::start(any).await?;
    dynamodb.create_table("approvals", "execution_id", Some("step_key"));
    let aws = AwsEndpoint::start(any, ssm.clone(), dynamodb.clone()).await?;
    let slack = SlackStandIn::start(any, TOKEN, SECRET).await?;
    let alice = Person::new("U0ALICE", "alice");
    slack.add_person(alice.clone());
    let events = EventsApp::from_env(
        &|name: &str| match name {
            "SLACK_CHANNEL" => Some(CHANNEL.to_owned()),
            "APPROVALS_TABLE" => Some("approvals".to_owned()),
            "SLACK_API_URL" => Some(slack.api_url()),
            "SLACK_BOT_TOKEN" => Some(TOKEN.to_owned()),
            _ => None,
        },
        config_loader(SdkRetries::BACKGROUND)
            .endpoint_url(aws.url())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDLOCAL", "local", None, None, "local")),
    )
    .await?;

    let api = RuntimeApi::start(any).await?;
    let mut child = Command::new(&binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "slack-interactions")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_SSM", ssm.url())
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url())
        .env("APPROVALS_TABLE", "approvals")
        .env("SLACK_API_URL", slack.api_url())
        .env("SLACK_BOT_TOKEN", TOKEN)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_APPROVERS", "U0ALICE")
        .env("SLACK_TEAM_ID", stand_ins::slack::TEAM_ID)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();

    println!("| clicks | RSS (KiB) | open fds |");
    println!("|---:|---:|---:|");
    let mut samples = vec![];
    for n in 1..=clicks {
        ssm.start_automation(RunbookSpec::sample("Soak", 1));
        let mut posted = None;
        for event in ssm.take_events() {
            if let EventOutcome::Posted { ts, .. } = handle_automation_event(
                &events,
                &event,
                &approvals::deadline::Deadline::for_event(None),
            )
            .await?
            {
                posted = Some(ts);
            }
        }
        let ts = posted.ok_or("no prompt posted")?;
        let click = slack.click(CHANNEL, &ts, &alice, APPROVE_ACTION_ID)?;
        match api
            .invoke(click.to_apigw_v2_event(false), Duration::from_secs(10))
            .await
        {
            Some(Invocation::Response(r)) if r["statusCode"] == 200 => {}
            other => return Err(format!("click {n} failed: {other:?}").into()),
        }
        if n == 1 || n % SAMPLE_EVERY == 0 {
            let sample = (n, rss_kib(pid)?, open_fds(pid)?);
            println!("| {} | {} | {} |", sample.0, sample.1, sample.2);
            samples.push(sample);
        }
    }
    child.kill()?;
    child.wait()?;
    let accepted = ssm.signals().iter().filter(|s| s.accepted).count();
    println!("\nsignals accepted: {accepted} of {clicks}");
    if let (Some(first), Some(last)) = (samples.get(1).or(samples.first()), samples.last()) {
        println!(
            "from click {} to {}: RSS {:+} KiB, open fds {:+}",
            first.0,
            last.0,
            last.1 as i64 - first.1 as i64,
            last.2 as i64 - first.2 as i64
        );
    }
    if accepted != clicks {
        return Err("not every click was signalled".into());
    }
    Ok(())
}

fn rss_kib(pid: u32) -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("no VmRSS value")?
        .parse()?)
}

fn open_fds(pid: u32) -> Result<usize, Box<dyn std::error::Error>> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}
