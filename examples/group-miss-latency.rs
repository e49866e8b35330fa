//! What a click costs when its approver is a user-group member whose membership is
//! not cached (a group-cache miss), with the AWS and Slack calls slowed to the
//! latencies given: the handler of `slack-interactions` in-process (built as the
//! binary builds it) against the stand-ins.
//!
//!     cargo run --release --example group-miss-latency -- [slack_ms] [aws_ms]
//!
//! Defaults: 300 ms for `usergroups.users.list`, 150 ms for each SSM call
//! (`GetAutomationExecution`, `SendAutomationSignal`). DynamoDB and the
//! `response_url` answer at loopback speed. Each click is a fresh execution waiting
//! for approval, and `SLACK_GROUP_CACHE_SECONDS=0` makes every click a miss.

mod local;

use std::time::{Duration, Instant};

use approvals::domain::inbound::APPROVE_ACTION_ID;
use approvals::handlers::interactions::{InteractionsApp, handle_slack_request};
use approvals::ssm::{SdkRetries, config_loader};
use aws_sdk_ssm::config::{Credentials, Region};
use local::{CHANNEL, Local, SECRET, TOKEN};
use stand_ins::aws::AwsEndpoint;
use stand_ins::slack::Person;
use stand_ins::ssm::RunbookSpec;

const CLICKS: usize = 21;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), local::Error> {
    let arg = |n: usize, default: u64| {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .map_or(Duration::from_millis(default), Duration::from_millis)
    };
    let (slack_latency, aws_latency) = (arg(1, 300), arg(2, 150));
    let local = Local::start().await?;
    let bob = Person::new("U0BOB", "bob");
    local.slack.add_person(bob.clone());
    local.slack.add_usergroup("S0OPS", &["U0BOB"]);
    let aws = AwsEndpoint::start_with_sts(
        "127.0.0.1:0".parse()?,
        local.ssm.clone(),
        local.dynamodb.clone(),
        local.sts.clone(),
    )
    .await?;
    let slack_url = local.slack.api_url();
    let app = InteractionsApp::from_env(
        &|name: &str| match name {
            "APPROVALS_TABLE" => Some("approvals".to_owned()),
            "SLACK_API_URL" => Some(slack_url.clone()),
            "SLACK_BOT_TOKEN" => Some(TOKEN.to_owned()),
            "SLACK_SIGNING_SECRET" => Some(SECRET.to_owned()),
            "SLACK_APPROVERS" => Some("S0OPS".to_owned()),
            "SLACK_TEAM_ID" => Some(stand_ins::slack::TEAM_ID.to_owned()),
            "SLACK_GROUP_CACHE_SECONDS" => Some("0".to_owned()),
            "REJECT_REASON" => Some("off".to_owned()),
            _ => None,
        },
        config_loader(SdkRetries::INTERACTIVE)
            .endpoint_url(aws.url())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDLOCAL", "local", None, None, "local")),
    )
    .await?;
    let mut times = vec![];
    for n in 0..CLICKS {
        let ts = local
            .prompt(RunbookSpec::sample("Latency check", 1))
            .await?;
        let click = local.slack.click(CHANNEL, &ts, &bob, APPROVE_ACTION_ID)?;
        local
            .slack
            .answer_late("usergroups.users.list", slack_latency);
        for operation in ["GetAutomationExecution", "SendAutomationSignal"] {
            local.ssm.answer_late(operation, aws_latency);
        }
        let request = lambda_http::request::from_str(&click.to_apigw_v2_event(false).to_string())?;
        let started = Instant::now();
        let status = handle_slack_request(&app, request).await.status();
        let took = started.elapsed();
        assert_eq!(status, 200);
        // The first click opens the connections; it is left out.
        if n > 0 {
            times.push(took.as_secs_f64() * 1000.0);
        }
    }
    let signals = local.ssm.signals();
    assert!(
        signals.len() == CLICKS && signals.iter().all(|s| s.accepted),
        "every click decides: {signals:#?}"
    );
    times.sort_by(f64::total_cmp);
    println!(
        "group-cache miss, Slack {} ms, AWS {} ms per call: {} clicks, median {:.1} ms, min {:.1} ms, max {:.1} ms",
        slack_latency.as_millis(),
        aws_latency.as_millis(),
        times.len(),
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    Ok(())
}
