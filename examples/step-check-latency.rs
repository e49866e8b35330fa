//! How long the step check (`GetAutomationExecution` before every signal) adds to a
//! click, cold and warm, measured on a built `slack-interactions` binary run as Lambda
//! runs it (Runtime API emulator) against the SSM and Slack stand-ins:
//!
//!     cargo build --release --bin slack-interactions
//!     cargo run --release --example step-check-latency -- target/release/slack-interactions
//!
//! Each click is a fresh execution waiting for approval. The check runs concurrently
//! with the authorization; its time is the `check_ms` the function logs per click.
//! "Cold" is the first click of a new process (the SDK's first connection and
//! request), "warm" every later click of one process.
//!
//! With `--sessions` (after the binary's path), decisions are signalled under a
//! per-person STS session (`APPROVER_ROLE_ARN`, the STS stand-in): the authorization
//! then includes the `AssumeRole` call on a person's first click (`sts_ms` in the log),
//! and the session is kept for the later ones. Run both ways to compare.

mod local;

use std::process::Stdio;
use std::time::{Duration, Instant};

use approvals::domain::inbound::APPROVE_ACTION_ID;
use local::{CHANNEL, Local, ROLE};
use stand_ins::runtime_api::{Invocation, RuntimeApi};
use stand_ins::ssm::{ACCOUNT, RunbookSpec, StepSpec};

const COLD_RUNS: usize = 7;
const WARM_CLICKS: usize = 200;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), local::Error> {
    let binary = std::env::args()
        .nth(1)
        .ok_or("usage: step-check-latency <path to slack-interactions> [--sessions]")?;
    let sessions = std::env::args().nth(2).as_deref() == Some("--sessions");
    let any = "127.0.0.1:0".parse()?;
    let local = Local::start().await?;
    let (ssm, sts, slack, alice) = (&local.ssm, &local.sts, &local.slack, &local.alice);
    // One waiting execution and its prompt per click; its approver is Alice's session.
    let prompt = async || -> Result<String, local::Error> {
        let mut spec = RunbookSpec::sample("Latency check", 1);
        spec.steps[1] = StepSpec::approve(
            "approveRollout",
            "Latency check",
            1,
            &[&format!(
                "arn:aws:sts::{ACCOUNT}:assumed-role/SlackApprover/U0ALICE"
            )],
        );
        local.prompt(spec).await
    };

    let mut cold = vec![];
    let mut warm = vec![];
    let mut warm_click_ms = vec![];
    let (mut sts_new, mut sts_kept) = (vec![], vec![]);
    for run in 0..COLD_RUNS {
        let api = RuntimeApi::start(any).await?;
        let log_path = std::env::temp_dir().join(format!("step-check-latency-{run}.log"));
        let mut command = local.interactions(&binary, &api.address());
        if sessions {
            command
                .env("APPROVER_ROLE_ARN", ROLE)
                .env("AWS_ENDPOINT_URL_STS", sts.url());
        }
        let mut child = command
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .stdout(Stdio::from(std::fs::File::create(&log_path)?))
            .stderr(Stdio::inherit())
            .spawn()?;
        let clicks = if run == 0 { 1 + WARM_CLICKS } else { 1 };
        for n in 0..clicks {
            let ts = prompt().await?;
            let click = slack.click(CHANNEL, &ts, alice, APPROVE_ACTION_ID)?;
            let started = Instant::now();
            let Invocation::Response(_) = api
                .invoke(click.to_apigw_v2_event(false), Duration::from_secs(10))
                .await
                .ok_or("no answer")?
            else {
                return Err("the click failed".into());
            };
            if n > 0 {
                warm_click_ms.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        child.kill()?;
        child.wait()?;
        let log: Vec<serde_json::Value> = std::fs::read_to_string(&log_path)?
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let checks: Vec<f64> = log
            .iter()
            .filter_map(|v| v["fields"]["check_ms"].as_f64())
            .collect();
        for entry in &log {
            if let Some(ms) = entry["fields"]["sts_ms"].as_f64() {
                match entry["fields"]["new"].as_bool() {
                    Some(true) => sts_new.push(ms),
                    _ => sts_kept.push(ms),
                }
            }
        }
        let (first, rest) = checks.split_first().ok_or("no check_ms in the log")?;
        cold.push(*first);
        warm.extend_from_slice(rest);
    }
    let accepted = ssm.signals().iter().filter(|s| s.accepted).count();
    println!(
        "clicks signalled: {accepted} of {}",
        COLD_RUNS + WARM_CLICKS
    );
    println!(
        "step check, cold (first click of a process, {COLD_RUNS} processes): {}",
        summary(&mut cold)
    );
    println!(
        "step check, warm ({} clicks): {}",
        warm.len(),
        summary(&mut warm)
    );
    println!(
        "whole warm click, as the emulator saw it: {}",
        summary(&mut warm_click_ms)
    );
    if sessions {
        println!(
            "STS AssumeRole calls: {} (one per process: the session is kept)",
            sts.assume_role_calls().len()
        );
        println!("new session (AssumeRole): {}", summary(&mut sts_new));
        println!("kept session: {}", summary(&mut sts_kept));
    }
    Ok(())
}

fn summary(values: &mut [f64]) -> String {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    format!(
        "median {:.2} ms, p99 {:.2} ms, min {:.2} ms, max {:.2} ms",
        at(0.5),
        at(0.99),
        values[0],
        values[values.len() - 1]
    )
}
