//! The worst-case click in an organization: a runbook waiting in a member account and
//! Region, decided per person, by a click that reaches a fresh execution environment
//! (neither the account's spoke role session nor the person's session is kept yet).
//! The click then assumes both roles, claims the step run, checks the step with SSM,
//! signals and replies. Every AWS call (STS, DynamoDB, SSM) answers after `aws_ms`,
//! every Slack call (the reply through `response_url`) after `slack_ms`.
//!
//!     cargo run --release --example spoke-click-latency -- [slack_ms] [aws_ms]
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
use stand_ins::ssm::{RunbookSpec, SsmStandIn, StepSpec};
use stand_ins::sts::StsStandIn;

type Error = Box<dyn std::error::Error>;

const CLICKS: usize = 21;
const SECRET: &str = "local-measuring-signing-secret";
const TOKEN: &str = "xoxb-local-measuring";
const KEY: &str = "AKIDHUBFUNCTIONS";
const MEMBER: &str = "111122223333";
const MEMBER_REGION: &str = "eu-west-1";
const SPOKE_ROLE: &str = "ssm-slack-approvals-hub";
const APPROVER_ROLE: &str = "ssm-slack-approvals-approver";
const RULES: &str = "/ssm-slack-approvals/rules";

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
    let sts = StsStandIn::start(any, ssm.principals()).await?;
    sts.add_role(
        &format!("arn:aws:iam::{MEMBER}:role/{SPOKE_ROLE}"),
        &[KEY],
        false,
    );
    sts.add_role(
        &format!("arn:aws:iam::{MEMBER}:role/{APPROVER_ROLE}"),
        &[KEY],
        true,
    );
    let dynamodb = DynamoDbStandIn::start(any).await?;
    table::create_approvals_table(&dynamodb);
    let aws = AwsEndpoint::start_with_sts(any, ssm.clone(), dynamodb.clone(), sts.clone()).await?;
    let slack = SlackStandIn::start(any, TOKEN, SECRET).await?;
    let alice = Person::new("U0ALICE", "alice");
    slack.add_person(alice.clone());
    ssm.put_string_parameter(
        RULES,
        &format!(
            r#"{{"rules": [{{"name": "payments", "accounts": ["{MEMBER}"], "channel": "C0PAYMENTS", "approvers": ["U0ALICE"]}}]}}"#
        ),
    );
    let env: HashMap<&str, String> = HashMap::from([
        ("APPROVALS_TABLE", "approvals".to_owned()),
        ("SLACK_CHANNEL", "C0APPROVALS".to_owned()),
        ("SLACK_API_URL", slack.api_url()),
        ("SLACK_BOT_TOKEN", TOKEN.to_owned()),
        ("SLACK_SIGNING_SECRET", SECRET.to_owned()),
        ("SLACK_TEAM_ID", stand_ins::slack::TEAM_ID.to_owned()),
        ("REJECT_REASON", "off".to_owned()),
        ("HUB_ACCOUNT_ID", stand_ins::ssm::ACCOUNT.to_owned()),
        ("SPOKE_ROLE_NAME", SPOKE_ROLE.to_owned()),
        ("SPOKE_APPROVER_ROLE_NAME", APPROVER_ROLE.to_owned()),
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
    let session = format!("arn:aws:sts::{MEMBER}:assumed-role/{APPROVER_ROLE}/U0ALICE");
    let mut times = vec![];
    for n in 0..CLICKS {
        let mut spec = RunbookSpec::sample("Latency check", 1);
        spec.steps[1] = StepSpec::approve("approveRollout", "Latency check", 1, &[&session]);
        ssm.start_automation_in(MEMBER, MEMBER_REGION, spec);
        let mut ts = None;
        for event in ssm.take_events() {
            if let EventOutcome::Posted { ts: posted, .. } =
                handle_automation_event(&events, &event, &Deadline::for_event(None)).await?
            {
                ts = Some(posted);
            }
        }
        let ts = ts.ok_or("no prompt posted")?;
        // A fresh execution environment: no session kept for the account or the person.
        let app = InteractionsApp::from_env(&lookup, loader(SdkRetries::INTERACTIVE)).await?;
        let click = slack.click("C0PAYMENTS", &ts, &alice, APPROVE_ACTION_ID)?;
        for _ in 0..2 {
            sts.answer_late(aws_latency);
            dynamodb.answer_late("UpdateItem", aws_latency);
        }
        for operation in ["GetAutomationExecution", "SendAutomationSignal"] {
            ssm.answer_late(operation, aws_latency);
        }
        slack.answer_late(RESPONSE_URL, slack_latency);
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
    let signals = ssm.signals();
    assert!(
        signals.len() == CLICKS
            && signals
                .iter()
                .all(|s| s.accepted && s.account == MEMBER && s.region == MEMBER_REGION),
        "every click decides in the member account: {signals:#?}"
    );
    times.sort_by(f64::total_cmp);
    println!(
        "worst-case spoke click (two AssumeRole misses, claim, step check, signal, reply), \
         Slack {} ms, AWS {} ms per call: {} clicks, median {:.1} ms, min {:.1} ms, max {:.1} ms",
        slack_latency.as_millis(),
        aws_latency.as_millis(),
        times.len(),
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    Ok(())
}
