//! The SSM and Slack stand-ins as a long-running local server, for trying the real
//! binaries with `cargo lambda watch` / `cargo lambda invoke` (see the README):
//!
//!     cargo run --example stand-ins
//!
//! SSM on 127.0.0.1:9010 (`AWS_ENDPOINT_URL_SSM`), Slack on 127.0.0.1:9020
//! (`SLACK_API_URL=http://127.0.0.1:9020/api`), with the secrets of `env.json` and the
//! runbook execution the files in `events/` refer to, waiting for approval. Every
//! EventBridge event the SSM stand-in emits is written to `target/local-events/`, and
//! every change to a Slack message is printed as a person would read it.
//!
//! `-- --extra-executions N` also starts N more executions waiting for approval, with
//! IDs `00000000-0000-4000-8000-000000000001` and up (for local load tests).

use std::collections::HashMap;
use std::time::Duration;

use approvals::stand_ins::block_kit_text;
use approvals::stand_ins::slack::{Person, SlackStandIn};
use approvals::stand_ins::ssm::{RunbookSpec, SAMPLE_EXECUTION_ID, SsmStandIn};

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
    let ssm = SsmStandIn::start("127.0.0.1:9010".parse()?, "us-east-1").await?;
    let slack = SlackStandIn::start("127.0.0.1:9020".parse()?, token, secret).await?;
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let extra: u32 = match args.as_slice() {
        [] => 0,
        [flag, n] if flag == "--extra-executions" => {
            n.parse().map_err(|_| "--extra-executions takes a number")?
        }
        _ => return Err("usage: stand-ins [--extra-executions N]".into()),
    };
    for i in 1..=extra {
        let id = format!("00000000-0000-4000-8000-{i:012}");
        ssm.start_automation_with_id(
            &id,
            RunbookSpec::sample(&format!("Load test approval {i}"), 1),
        );
    }
    let out_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/local-events");
    std::fs::create_dir_all(out_dir)?;
    println!("SSM stand-in:   AWS_ENDPOINT_URL_SSM={}", ssm.url());
    println!("Slack stand-in: SLACK_API_URL={}", slack.api_url());
    println!("Execution {SAMPLE_EXECUTION_ID} is waiting for approval. Ctrl-C to stop.\n");
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
            println!("SSM emitted a {kind} event ({status}): {file}");
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
            println!("Only {} sees: {}\n", told.user_id, told.text);
        }
        seen.insert("ephemeral".into(), slack.ephemeral().len() as u32);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
