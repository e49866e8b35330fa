//! Clicks under separation of duties, in the hub account: an Approve by the run's own
//! starter (matched to Slack when the prompt was posted; refused after the claim and
//! the step check, nothing signalled), and a two-person approval (the first approval
//! recorded by the app, the second signalled to SSM). Every AWS call (DynamoDB, SSM)
//! answers after `aws_ms`, every Slack reply after `slack_ms`.
//!
//!     cargo run --release --example self-approval-latency -- [slack_ms] [aws_ms]
//!
//! Defaults: 300 ms and 150 ms. The handler of `slack-interactions` runs in-process,
//! built as the binary builds it, against the stand-ins.

mod local;

use std::time::{Duration, Instant};

use approvals::domain::inbound::APPROVE_ACTION_ID;
use approvals::handlers::interactions::{InteractionsApp, handle_slack_request};
use approvals::ssm::{SdkRetries, config_loader};
use aws_sdk_ssm::config::{Credentials, Region};
use local::{CHANNEL, Error, Local, SECRET, TOKEN};
use stand_ins::aws::AwsEndpoint;
use stand_ins::slack::{Person, RESPONSE_URL};
use stand_ins::ssm::RunbookSpec;

const RUNS: usize = 21;
const RULES: &str = "/ssm-slack-approvals/rules";
const CAROL_SSO: &str =
    "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Operators_0123abcd/carol@example.com";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let arg = |n: usize, default: u64| {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .map_or(Duration::from_millis(default), Duration::from_millis)
    };
    let (slack_latency, aws_latency) = (arg(1, 300), arg(2, 150));
    // The stand-ins and the events handler that posts the prompts (it matches carol,
    // the starter, to Slack by her address).
    let local = Local::start().await?;
    let (ssm, dynamodb, slack) = (&local.ssm, &local.dynamodb, &local.slack);
    let carol = Person::new("U0CAROL", "carol").with_email("carol@example.com");
    let (alice, bob) = (local.alice.clone(), Person::new("U0BOB", "bob"));
    for person in [&bob, &carol] {
        slack.add_person(person.clone());
    }
    ssm.put_string_parameter(
        RULES,
        &format!(
            r#"{{"rules": [{{"name": "production", "channel": "{CHANNEL}", "approvers": ["U0ALICE", "U0BOB", "U0CAROL"], "approvals": 2}}]}}"#
        ),
    );
    let aws = AwsEndpoint::start_with_sts(
        "127.0.0.1:0".parse()?,
        ssm.clone(),
        dynamodb.clone(),
        local.sts.clone(),
    )
    .await?;
    let slack_url = slack.api_url();
    let app = InteractionsApp::from_env(
        &|name: &str| match name {
            "APPROVALS_TABLE" => Some("approvals".to_owned()),
            "SLACK_API_URL" => Some(slack_url.clone()),
            "SLACK_BOT_TOKEN" => Some(TOKEN.to_owned()),
            "SLACK_SIGNING_SECRET" => Some(SECRET.to_owned()),
            "SLACK_TEAM_ID" => Some(stand_ins::slack::TEAM_ID.to_owned()),
            "REJECT_REASON" => Some("off".to_owned()),
            "SLACK_RULES_PARAMETER" => Some(RULES.to_owned()),
            _ => None,
        },
        config_loader(SdkRetries::INTERACTIVE)
            .endpoint_url(aws.url())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDLOCAL", "local", None, None, "local")),
    )
    .await?;
    let (mut refused, mut first, mut second) = (vec![], vec![], vec![]);
    for n in 0..RUNS {
        let mut spec = RunbookSpec::sample("Latency check", 1);
        spec.executed_by = CAROL_SSO.into();
        let ts = local.prompt(spec).await?;
        let click = |person: &Person| -> Result<_, Error> {
            let click = slack.click(CHANNEL, &ts, person, APPROVE_ACTION_ID)?;
            dynamodb.clear_late();
            for operation in ["UpdateItem", "PutItem", "GetItem"] {
                for _ in 0..3 {
                    dynamodb.answer_late(operation, aws_latency);
                }
            }
            for operation in ["GetAutomationExecution", "SendAutomationSignal"] {
                ssm.answer_late(operation, aws_latency);
            }
            slack.answer_late(RESPONSE_URL, slack_latency);
            Ok(lambda_http::request::from_str(
                &click.to_apigw_v2_event(false).to_string(),
            )?)
        };
        // The first run opens the connections; it is left out.
        let keep = |into: &mut Vec<f64>, took: f64| {
            if n > 0 {
                into.push(took);
            }
        };
        keep(&mut refused, timed(&app, click(&carol)?).await);
        assert_eq!(
            ssm.signals().len(),
            n,
            "the starter's Approve signals nothing"
        );
        keep(&mut first, timed(&app, click(&alice)?).await);
        assert_eq!(
            ssm.signals().len(),
            n,
            "the first of two is the app's to count"
        );
        keep(&mut second, timed(&app, click(&bob)?).await);
        let signals = ssm.signals();
        assert!(
            signals.len() == n + 1 && signals[n].accepted,
            "the second of two approves: {signals:#?}"
        );
        dynamodb.clear_late();
        ssm.take_events();
    }
    for (what, times) in [
        ("Approve by the matched starter (refused)", &mut refused),
        ("two-person rule, first approval (recorded)", &mut first),
        ("two-person rule, second approval (signalled)", &mut second),
    ] {
        times.sort_by(f64::total_cmp);
        println!(
            "{what}, Slack {} ms, AWS {} ms per call: {} clicks, median {:.1} ms, min {:.1} ms, max {:.1} ms",
            slack_latency.as_millis(),
            aws_latency.as_millis(),
            times.len(),
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
    Ok(())
}

/// How long the handler takes over one request, in milliseconds.
async fn timed(app: &InteractionsApp, request: lambda_http::Request) -> f64 {
    let started = Instant::now();
    let status = handle_slack_request(app, request).await.status();
    assert_eq!(status, 200);
    started.elapsed().as_secs_f64() * 1000.0
}
