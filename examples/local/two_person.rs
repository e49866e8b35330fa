//! `cargo run --example demo -- --two-person`: separation of duties. Carol starts a
//! production runbook through IAM Identity Center; the rule wants two different people,
//! and she may not be one of them.

use std::time::Instant;

use approvals::domain::inbound::APPROVE_ACTION_ID;
use approvals::handlers::events::EventsApp;
use approvals::handlers::interactions::{InteractionsApp, handle_slack_request};
use stand_ins::block_kit_text;
use stand_ins::slack::{Person, SlackStandIn};
use stand_ins::ssm::{RunbookSpec, SsmStandIn};

use super::{CHANNEL, deliver, print_message};

/// Production needs two different people; nobody approves a run they started.
pub const RULES: &str = r#"{"rules": [{"name": "payments production", "runbooks": ["Deploy-Payments"], "channel": "C0APPROVALS", "approvers": ["U0ALICE", "U0CAROL", "S0OPS"], "approvals": 2}]}"#;
/// Carol's IAM Identity Center session: named after her e-mail address.
const CAROL_SSO: &str =
    "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Operators_0123abcd/carol@example.com";

pub async fn run(
    ssm: &SsmStandIn,
    slack: &SlackStandIn,
    events: &EventsApp,
    interactions: &InteractionsApp,
) -> Result<(), Box<dyn std::error::Error>> {
    let names = |id: &str| slack.username(id);
    println!(
        "The rules document:\n  {RULES}\nSLACK_SELF_APPROVAL is unset: forbidden, the default.\n"
    );
    let mut sample = RunbookSpec::sample("Roll payments 2026.11.21-1 out to production?", 1);
    sample.executed_by = CAROL_SSO.into();
    let id = ssm.start_automation(sample);
    println!(
        "1. carol starts Deploy-Payments from the AWS console, signed in through IAM Identity Center\n   as {CAROL_SSO}\n   (execution {id}). automation-events matches her address to @carol (users.lookupByEmail):"
    );
    deliver(events, &ssm.take_events()).await?;
    let prompt = slack
        .messages()
        .into_iter()
        .find(|m| m.channel == CHANNEL)
        .ok_or("no prompt was posted")?;
    println!("\n2. The prompt in {CHANNEL}:\n");
    print_message(&block_kit_text::render(&prompt.blocks, &names));
    show_direct_messages(slack, "U0CAROL", 0);

    for (n, person) in [
        Person::new("U0CAROL", "carol"),
        Person::new("U0ALICE", "alice"),
        Person::new("U0BOB", "bob"),
    ]
    .into_iter()
    .enumerate()
    {
        let click = slack.click(CHANNEL, &prompt.ts, &person, APPROVE_ACTION_ID)?;
        let request = lambda_http::request::from_str(&click.to_apigw_v2_event(false).to_string())?;
        let started = Instant::now();
        handle_slack_request(interactions, request).await;
        let took = started.elapsed().as_millis();
        let signals = ssm.signals().len();
        println!(
            "\n3.{} @{} clicks Approve: answered in {took} ms; SSM signals so far: {signals}.",
            n + 1,
            person.username
        );
        if let Some(told) = slack
            .ephemeral()
            .into_iter()
            .rfind(|e| e.user_id == person.id)
        {
            println!(
                "   Only @{} sees: {}",
                person.username,
                block_kit_text::mrkdwn(&told.text, &names)
            );
        }
        let now = slack
            .message(CHANNEL, &prompt.ts)
            .ok_or("the prompt is gone")?;
        let status = block_kit_text::render(&now.blocks[..2.min(now.blocks.len())], &names);
        println!(
            "   The prompt's status: {}",
            status.lines().last().unwrap_or("")
        );
    }
    println!(
        "\n4. The execution is now {}. SSM's events bring the prompt up to date, and carol hears:",
        ssm.execution_status(&id).unwrap_or_default()
    );
    deliver(events, &ssm.take_events()).await?;
    show_direct_messages(slack, "U0CAROL", 1);
    Ok(())
}

fn show_direct_messages(slack: &SlackStandIn, user_id: &str, from: usize) {
    let names = |id: &str| slack.username(id);
    for message in slack.direct_messages(user_id).iter().skip(from) {
        println!(
            "\n   Direct message to @{} (the app's Messages tab):",
            names(user_id).unwrap_or_default()
        );
        print_message(&block_kit_text::render(&message.blocks, &names));
    }
}
