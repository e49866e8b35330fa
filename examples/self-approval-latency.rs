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

#[path = "local/table.rs"]
mod table;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use approvals::deadline::Deadline;
use approvals::domain::inbound::APPROVE_ACTION_ID;
use approvals::handlers::events::{EventOutcome, EventsApp, handle_automation_event};
use approvals::handlers::interactions::{InteractionsApp, handle_slack_request};
use approvals::ssm::{SdkRetries, config_loader};
use aws_sdk_ssm::config::{Credentials, Region};
use stand_ins::aws::AwsEndpoint;
use stand_ins::dynamodb::DynamoDbStandIn;
use stand_ins::slack::{Person, RESPONSE_URL, SlackStandIn};
use stand_ins::ssm::{RunbookSpec, SsmStandIn};

type Error = Box<dyn std::error::Error>;

const RUNS: usize = 21;
const SECRET: &str = "local-measuring-signing-secret";
const TOKEN: &str = "xoxb-local-measuring";
const KEY: &str = "AKIDHUBFUNCTIONS";
const RULES: &str = "/ssm-slack-approvals/rules";
const FUNCTION_ROLE: &str = "arn:aws:iam::123456789012:role/approvals-SlackInteractionsRole";
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
    let any = "127.0.0.1:0".parse()?;
    let ssm = SsmStandIn::start(any, "us-east-1").await?;
    ssm.principals().register(
        KEY,
        "arn:aws:sts::123456789012:assumed-role/approvals-SlackInteractionsRole/slack-interactions",
        None,
    );
    let dynamodb = DynamoDbStandIn::start(any).await?;
    table::create_approvals_table(&dynamodb);
    let aws = AwsEndpoint::start(any, ssm.clone(), dynamodb.clone()).await?;
    let slack = SlackStandIn::start(any, TOKEN, SECRET).await?;
    let carol = Person::new("U0CAROL", "carol").with_email("carol@example.com");
    let (alice, bob) = (Person::new("U0ALICE", "alice"), Person::new("U0BOB", "bob"));
    for person in [&alice, &bob, &carol] {
        slack.add_person(person.clone());
    }
    ssm.put_string_parameter(
        RULES,
        r#"{"rules": [{"name": "production", "channel": "C0APPROVALS", "approvers": ["U0ALICE", "U0BOB", "U0CAROL"], "approvals": 2}]}"#,
    );
    let env: HashMap<&str, String> = HashMap::from([
        ("APPROVALS_TABLE", "approvals".to_owned()),
        ("SLACK_CHANNEL", "C0APPROVALS".to_owned()),
        ("SLACK_API_URL", slack.api_url()),
        ("SLACK_BOT_TOKEN", TOKEN.to_owned()),
        ("SLACK_SIGNING_SECRET", SECRET.to_owned()),
        ("SLACK_TEAM_ID", stand_ins::slack::TEAM_ID.to_owned()),
        ("REJECT_REASON", "off".to_owned()),
        ("INTERACTIONS_ROLE_ARN", FUNCTION_ROLE.to_owned()),
        ("SLACK_RULES_PARAMETER", RULES.to_owned()),
    ]);
    let lookup = |name: &str| env.get(name).cloned();
    let loader = |retries| {
        config_loader(retries)
            .endpoint_url(aws.url())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(KEY, "local", None, None, "local"))
    };
    let events = EventsApp::from_env(&lookup, loader(SdkRetries::BACKGROUND)).await?;
    let app = InteractionsApp::from_env(&lookup, loader(SdkRetries::INTERACTIVE)).await?;
    let (mut refused, mut first, mut second) = (vec![], vec![], vec![]);
    for n in 0..RUNS {
        let mut spec = RunbookSpec::sample("Latency check", 1);
        spec.executed_by = CAROL_SSO.into();
        let id = ssm.start_automation(spec);
        let mut ts = None;
        for event in ssm.take_events() {
            if let EventOutcome::Posted { ts: posted, .. } =
                handle_automation_event(&events, &event, &Deadline::for_event(None)).await?
            {
                ts = Some(posted);
            }
        }
        let ts = ts.ok_or("no prompt posted")?;
        let click = |person: &Person| -> Result<_, Error> {
            let click = slack.click("C0APPROVALS", &ts, person, APPROVE_ACTION_ID)?;
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
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));
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
