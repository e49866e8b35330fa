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

mod local;

use std::process::Stdio;
use std::time::Duration;

use approvals::domain::inbound::APPROVE_ACTION_ID;
use local::{CHANNEL, Local};
use stand_ins::runtime_api::{Invocation, RuntimeApi};
use stand_ins::ssm::RunbookSpec;

const SAMPLE_EVERY: usize = 1000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), local::Error> {
    let binary = std::env::args()
        .nth(1)
        .ok_or("usage: soak <path to slack-interactions> [clicks]")?;
    let clicks: usize = std::env::args()
        .nth(2)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(10_000);
    let local = Local::start().await?;
    let api = RuntimeApi::start("127.0.0.1:0".parse()?).await?;
    let mut child = local
        .interactions(&binary, &api.address())
        .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();

    println!("| clicks | RSS (KiB) | open fds |");
    println!("|---:|---:|---:|");
    let mut samples = vec![];
    for n in 1..=clicks {
        let ts = local.prompt(RunbookSpec::sample("Soak", 1)).await?;
        let click = local
            .slack
            .click(CHANNEL, &ts, &local.alice, APPROVE_ACTION_ID)?;
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
    let accepted = local.ssm.signals().iter().filter(|s| s.accepted).count();
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

fn rss_kib(pid: u32) -> Result<u64, local::Error> {
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

fn open_fds(pid: u32) -> Result<usize, local::Error> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}
