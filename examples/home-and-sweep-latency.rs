//! The Home tab and the sweep at scale, with the real handlers in-process against the
//! stand-ins, every AWS call answered after `aws_ms`:
//!
//! - Home: `app_home_opened` for an approver with `home_steps` waiting steps in the
//!   index of what waits, until `views.publish` (Slack gives the app 3 seconds);
//! - the sweep: one scheduled run over `sweep_steps` open steps spread over
//!   `accounts` member accounts and two Regions (SSM reads in each account through its
//!   spoke role), with `SWEEP_MAX_SSM_READS` at `sweep_steps`: how long, how many SSM
//!   reads, and a tenth of the steps ended without an event, healed on the way. Every
//!   AWS call of the sweep (SSM, STS, DynamoDB) is answered after `aws_ms`. Each account
//!   and Region is recorded as events would have it, so the sweep also lists what waits
//!   in all 100 places (finding every step already prompted).
//!
//!     cargo run --release --example home-and-sweep-latency -- [home_steps] [sweep_steps] [accounts] [aws_ms]
//!
//! Defaults: 500, 2,000, 50 accounts, 50 ms.

#[path = "local/table.rs"]
mod table;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use approvals::deadline::Deadline;
use approvals::handlers::events::{EventOutcome, EventsApp, handle_automation_event};
use approvals::handlers::interactions::{InteractionsApp, handle_slack_request};
use approvals::ssm::{SdkRetries, config_loader};
use aws_sdk_ssm::config::{Credentials, Region};
use serde_json::json;
use stand_ins::aws::AwsEndpoint;
use stand_ins::dynamodb::DynamoDbStandIn;
use stand_ins::slack::{Person, SlackStandIn};
use stand_ins::ssm::{RunbookSpec, SsmStandIn};
use stand_ins::sts::StsStandIn;

type Error = Box<dyn std::error::Error>;

const SECRET: &str = "local-measuring-signing-secret";
const TOKEN: &str = "xoxb-local-measuring";
const KEY: &str = "AKIDLOCAL";
const SPOKE_ROLE: &str = "ssm-slack-approvals-hub";
const RUNS: usize = 11;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let arg = |n: usize, default: u64| {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (home_steps, sweep_steps, accounts, aws_ms) =
        (arg(1, 500), arg(2, 2000), arg(3, 50), arg(4, 50));
    let account = |n: u64| format!("{:012}", 100_000_000_000 + n);
    let any = "127.0.0.1:0".parse()?;
    let ssm = SsmStandIn::start(any, "us-east-1").await?;
    let dynamodb = DynamoDbStandIn::start(any).await?;
    table::create_approvals_table(&dynamodb);
    let sts = StsStandIn::start(any, ssm.principals()).await?;
    for n in 0..accounts {
        sts.add_role(
            &format!("arn:aws:iam::{}:role/{SPOKE_ROLE}", account(n)),
            &[KEY],
            false,
        );
    }
    let aws = AwsEndpoint::start_with_sts(any, ssm.clone(), dynamodb.clone(), sts.clone()).await?;
    let slack = SlackStandIn::start(any, TOKEN, SECRET).await?;
    let alice = Person::new("U0ALICE", "alice");
    slack.add_person(alice.clone());
    let env: HashMap<&str, String> = HashMap::from([
        ("APPROVALS_TABLE", "approvals".to_owned()),
        ("SLACK_API_URL", slack.api_url()),
        ("SLACK_BOT_TOKEN", TOKEN.to_owned()),
        ("SLACK_SIGNING_SECRET", SECRET.to_owned()),
        ("SLACK_TEAM_ID", stand_ins::slack::TEAM_ID.to_owned()),
        ("SLACK_CHANNEL", "C0APPROVALS".to_owned()),
        ("SLACK_APPROVERS", "U0ALICE".to_owned()),
        ("HUB_ACCOUNT_ID", stand_ins::ssm::ACCOUNT.to_owned()),
        ("SPOKE_ROLE_NAME", SPOKE_ROLE.to_owned()),
        ("SWEEP_MAX_SSM_READS", sweep_steps.to_string()),
    ]);
    let lookup = |name: &str| env.get(name).cloned();
    let loader = |retries| {
        config_loader(retries)
            .endpoint_url(aws.url())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(KEY, "local", None, None, "local"))
    };
    let interactions = InteractionsApp::from_env(&lookup, loader(SdkRetries::INTERACTIVE)).await?;
    let events = EventsApp::from_env(&lookup, loader(SdkRetries::BACKGROUND)).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();

    // The Home tab: `home_steps` waiting, as the events function records them.
    for n in 0..home_steps {
        put_waiting(
            &dynamodb,
            &format!("{:08x}-0000-4000-8000-{:012x}", n, n),
            &format!("{:08x}-1111-4222-8333-{:012x}", n, n),
            &account(n % accounts),
            n % 2 == 0,
            now - home_steps + n,
            &format!("{now}.{n:06}"),
            now,
        );
    }
    let mut times = vec![];
    for run in 0..RUNS {
        for _ in 0..4 {
            dynamodb.answer_late("Query", Duration::from_millis(aws_ms));
            dynamodb.answer_late("PutItem", Duration::from_millis(aws_ms));
        }
        let opened = slack.app_home_opened(&alice);
        let request = lambda_http::request::from_str(&opened.to_apigw_v2_event(false).to_string())?;
        let started = Instant::now();
        let response = handle_slack_request(&interactions, request).await;
        let took = started.elapsed();
        dynamodb.clear_late();
        assert_eq!(response.status().as_u16(), 200);
        let home = slack.home_view("U0ALICE").ok_or("no Home tab published")?;
        assert!(
            home.to_string()
                .contains(&format!("{home_steps} runbook steps waiting")),
            "{home}"
        );
        if run > 0 {
            times.push(took.as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "Home tab, {home_steps} waiting steps in the index, DynamoDB {aws_ms} ms per call: \
         median {:.1} ms, min {:.1} ms, max {:.1} ms (Slack allows 3,000 ms)",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );

    // The sweep: `sweep_steps` open steps of real executions in the SSM stand-in.
    for item in dynamodb.items(table::TABLE) {
        if item.get("waits").is_some() {
            let mut gone = item.clone();
            gone.as_object_mut().unwrap().remove("waits");
            dynamodb.put_raw(table::TABLE, gone);
        }
    }
    let mut ended = 0;
    let http = reqwest::Client::new();
    for n in 0..sweep_steps {
        let (acct, west) = (account(n % accounts), n % 2 == 1);
        let region = if west { "eu-west-1" } else { "us-east-1" };
        let spec = RunbookSpec::sample("Roll the release out?", 1).in_account(&acct);
        let id = ssm.start_automation_in(&acct, region, spec);
        let step = ssm
            .step_execution_ids(&id, "approveRollout")
            .pop()
            .ok_or("no step")?;
        // One in ten ended while its event was lost: the sweep heals its prompt.
        if n % 10 == 0 && ssm.cancel(&id) {
            ended += 1;
        }
        // Its prompt, posted in the channel as the events function posts it.
        let answer = http
            .post(format!("{}/chat.postMessage", slack.api_url()))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json; charset=utf-8")
            .body(json!({"channel": "C0APPROVALS", "text": "Approve the release?"}).to_string())
            .send()
            .await?
            .bytes()
            .await?;
        let posted: serde_json::Value = serde_json::from_slice(&answer)?;
        let ts = posted["ts"].as_str().ok_or("no ts")?;
        put_waiting(
            &dynamodb,
            &id,
            &step,
            &acct,
            west,
            now - 600 + n % 600,
            ts,
            now,
        );
    }
    ssm.take_events();
    // Each account and Region as the events function records it on its first event from
    // there: the sweep lists what waits in each (all of it prompted already).
    for n in 0..accounts {
        for region in ["us-east-1", "eu-west-1"] {
            dynamodb.put_raw(
                table::TABLE,
                json!({"execution_id": {"S": "places"},
                    "step_key": {"S": format!("{}#{region}", account(n))},
                    "first_seen": {"N": now.to_string()}}),
            );
        }
    }
    // Every AWS call of the sweep answered after `aws_ms`: SSM, STS and DynamoDB alike.
    let late = Duration::from_millis(aws_ms);
    for _ in 0..(sweep_steps * 4) {
        for operation in [
            "GetAutomationExecution",
            "DescribeAutomationExecutions",
            "DescribeAutomationStepExecutions",
        ] {
            ssm.answer_late(operation, late);
        }
        for operation in ["Query", "GetItem", "PutItem", "UpdateItem"] {
            dynamodb.answer_late(operation, late);
        }
    }
    for _ in 0..(accounts * 4) {
        sts.answer_late(late);
    }
    let reads_before = ssm.count_calls("GetAutomationExecution");
    let started = Instant::now();
    let outcome = handle_automation_event(
        &events,
        &json!({"sweep": "waiting-steps"}),
        &Deadline::after(Duration::from_secs(60)),
    )
    .await?;
    let took = started.elapsed();
    let EventOutcome::Swept(report) = outcome else {
        return Err(format!("not a sweep: {outcome:?}").into());
    };
    println!(
        "Sweep over {sweep_steps} open steps in {accounts} accounts and 2 Regions, SSM {aws_ms} ms per \
         call: {:.1} s, {} SSM reads ({} counted by the stand-in), {} healed of {ended} ended, \
         {} STS AssumeRole, complete: {}",
        took.as_secs_f64(),
        report.ssm_reads,
        ssm.count_calls("GetAutomationExecution") - reads_before,
        report.healed,
        sts.assume_role_calls().len(),
        report.complete
    );
    println!("The sweep's report: {report:?}");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn put_waiting(
    dynamodb: &DynamoDbStandIn,
    id: &str,
    step: &str,
    account: &str,
    west: bool,
    since: u64,
    ts: &str,
    now: u64,
) {
    dynamodb.put_raw(
        table::TABLE,
        json!({
            "execution_id": {"S": id}, "step_key": {"S": step}, "step_name": {"S": "approveRollout"},
            "step_execution_id": {"S": step}, "claim_token": {"S": "0123456789abcdef0123456789abcdef"},
            "claimed_at": {"N": now.to_string()}, "channel": {"S": "C0APPROVALS"},
            "ts": {"S": ts}, "posted_at": {"N": now.to_string()},
            "expires_at": {"N": (now + 31_536_000).to_string()},
            "waits": {"S": "waiting"}, "waiting_since": {"N": since.to_string()},
            "runbook": {"S": "Deploy-Payments"}, "step_kind": {"S": "aws:approve"},
            "account": {"S": account}, "region": {"S": if west { "eu-west-1" } else { "us-east-1" }},
            "message": {"S": "Roll the new release out to production? The canary looks healthy."},
            "times_out_at": {"N": (now + 7 * 86_400).to_string()}
        }),
    );
}
