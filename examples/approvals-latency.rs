//! How long `/approvals` takes with many steps waiting across an organization: the
//! handler of `slack-interactions` in-process (built as the binary builds it) against
//! the stand-ins, with `steps` waiting steps spread over `accounts` member accounts and
//! two Regions in the index of what waits, and each DynamoDB call answered after
//! `aws_ms`.
//!
//!     cargo run --release --example approvals-latency -- [steps] [accounts] [aws_ms]
//!
//! Defaults: 2,000 steps, 50 accounts, 150 ms. Two people list: alice, who may decide
//! everything but ten (the fallback approvers), bob, whom a rule lets decide one
//! account only, so his are spread through the index, and carol, whom a rule lets
//! decide only the ten oldest, so the whole index is read for her.

#[path = "local/table.rs"]
mod table;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use approvals::handlers::interactions::{InteractionsApp, handle_slack_request};
use approvals::ssm::{SdkRetries, config_loader};
use aws_sdk_ssm::config::{Credentials, Region};
use serde_json::{Value, json};
use stand_ins::aws::AwsEndpoint;
use stand_ins::dynamodb::DynamoDbStandIn;
use stand_ins::slack::{Person, SlackStandIn};
use stand_ins::ssm::SsmStandIn;

type Error = Box<dyn std::error::Error>;

const RUNS: usize = 11;
const SECRET: &str = "local-measuring-signing-secret";
const TOKEN: &str = "xoxb-local-measuring";
const RULES: &str = "/ssm-slack-approvals/rules";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let arg = |n: usize, default: u64| {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (steps, accounts, aws_ms) = (arg(1, 2000), arg(2, 50), arg(3, 150));
    let account = |n: u64| format!("{:012}", 100_000_000_000 + n);
    let any = "127.0.0.1:0".parse()?;
    let ssm = SsmStandIn::start(any, "us-east-1").await?;
    let dynamodb = DynamoDbStandIn::start(any).await?;
    table::create_approvals_table(&dynamodb);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    // Items as the events function writes them once a prompt is recorded.
    for n in 0..steps {
        let id = format!("{:08x}-0000-4000-8000-{:012x}", n, n);
        let step = format!("{:08x}-1111-4222-8333-{:012x}", n, n);
        dynamodb.put_raw(
            "approvals",
            json!({
                "execution_id": {"S": id}, "step_key": {"S": step}, "step_name": {"S": "approveRollout"},
                "step_execution_id": {"S": step}, "claim_token": {"S": "0123456789abcdef0123456789abcdef"},
                "claimed_at": {"N": now.to_string()}, "channel": {"S": "C0APPROVALS"},
                "ts": {"S": format!("{now}.{n:06}")}, "posted_at": {"N": now.to_string()},
                "expires_at": {"N": (now + 31_536_000).to_string()},
                "waits": {"S": "waiting"}, "waiting_since": {"N": (now - steps + n).to_string()},
                "runbook": {"S": if n < 10 { format!("Rare-{n}") } else { format!("Deploy-Service-{}", n % 37) }}, "step_kind": {"S": "aws:approve"},
                "account": {"S": account(n % accounts)},
                "region": {"S": if n % 2 == 0 { "us-east-1" } else { "eu-west-1" }},
                "message": {"S": "Roll the new release out to production? The canary looks healthy."},
                "times_out_at": {"N": (now + 86_400).to_string()}
            }),
        );
    }
    ssm.put_string_parameter(
        RULES,
        &json!({"rules": [
            {"name": "rare", "runbooks": ["Rare-"], "channel": "C0RARE", "approvers": ["U0CAROL"]},
            {"name": "one account", "accounts": [account(accounts - 1)], "channel": "C0ONE", "approvers": ["U0BOB"]}]})
        .to_string(),
    );
    let aws = AwsEndpoint::start(any, ssm.clone(), dynamodb.clone()).await?;
    let slack = SlackStandIn::start(any, TOKEN, SECRET).await?;
    let (alice, bob) = (Person::new("U0ALICE", "alice"), Person::new("U0BOB", "bob"));
    let carol = Person::new("U0CAROL", "carol");
    for p in [&alice, &bob, &carol] {
        slack.add_person(p.clone());
    }
    let env: HashMap<&str, String> = HashMap::from([
        ("APPROVALS_TABLE", "approvals".to_owned()),
        ("SLACK_API_URL", slack.api_url()),
        ("SLACK_BOT_TOKEN", TOKEN.to_owned()),
        ("SLACK_SIGNING_SECRET", SECRET.to_owned()),
        ("SLACK_TEAM_ID", stand_ins::slack::TEAM_ID.to_owned()),
        ("SLACK_APPROVERS", "U0ALICE".to_owned()),
        ("HUB_ACCOUNT_ID", stand_ins::ssm::ACCOUNT.to_owned()),
        ("SPOKE_ROLE_NAME", "ssm-slack-approvals-hub".to_owned()),
        ("SLACK_RULES_PARAMETER", RULES.to_owned()),
    ]);
    let app = InteractionsApp::from_env(
        &|name: &str| env.get(name).cloned(),
        config_loader(SdkRetries::INTERACTIVE)
            .endpoint_url(aws.url())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDLOCAL", "local", None, None, "local")),
    )
    .await?;
    for person in [&alice, &bob, &carol] {
        let mut times = vec![];
        let mut pages = 0;
        for run in 0..RUNS {
            let before = dynamodb.count_calls("Query");
            for _ in 0..10 {
                dynamodb.answer_late("Query", Duration::from_millis(aws_ms));
            }
            let command = slack.slash_command(person, "C0OPS", "/approvals", "");
            let request =
                lambda_http::request::from_str(&command.to_apigw_v2_event(false).to_string())?;
            let started = Instant::now();
            let response = handle_slack_request(&app, request).await;
            let took = started.elapsed();
            dynamodb.clear_late();
            let body = match response.body() {
                lambda_http::Body::Text(t) => t.clone(),
                _ => String::new(),
            };
            let answer: Value = serde_json::from_str(&body)?;
            let listed = answer["blocks"].as_array().map_or(0, |b| {
                b.iter()
                    .filter(|b| {
                        b["block_id"]
                            .as_str()
                            .is_some_and(|id| id.starts_with("ssm_list/"))
                    })
                    .count()
            });
            assert_eq!(listed, 10, "ten listed for {}: {body}", person.username);
            pages = dynamodb.count_calls("Query") - before;
            // The first run opens the connections; it is left out.
            if run > 0 {
                times.push(took.as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "/approvals for {} ({}), {steps} waiting steps in {accounts} accounts, DynamoDB {aws_ms} ms \
             per call: {} index page(s), median {:.1} ms, min {:.1} ms, max {:.1} ms",
            person.username,
            match person.id.as_str() {
                "U0ALICE" => "decides all but the rare ones",
                "U0BOB" => "decides one account",
                _ => "decides only the ten oldest",
            },
            pages,
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
    Ok(())
}
