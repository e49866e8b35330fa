//! The product in a few seconds, with no AWS account and no Slack workspace:
//! the real handlers of both functions against the local SSM and Slack stand-ins.
//!
//!     cargo run --example demo               # alice approves
//!     cargo run --example demo -- --reject   # bob (approver through a user group) rejects
//!     cargo run --example demo -- --stranger # someone who may not decide clicks
//!     cargo run --example demo -- --organization
//!         # one hub for an organization: the runbook waits in another account and
//!         # Region, alice approves it there through that account's spoke role
//!     cargo run --example demo -- --two-person
//!         # a two-person rule: the run's starter is refused, two others approve

#[path = "local/table.rs"]
mod table;
#[path = "local/two_person.rs"]
mod two_person;

use std::collections::HashMap;
use std::time::Instant;

use approvals::deadline::Deadline;
use approvals::domain::inbound::view_submission::{REASON_BLOCK_ID, REASON_INPUT_ID};
use approvals::domain::inbound::{APPROVE_ACTION_ID, REJECT_ACTION_ID};
use approvals::handlers::events::{EventOutcome, EventsApp, handle_automation_event};
use approvals::handlers::interactions::{InteractionsApp, handle_slack_request};
use approvals::ssm::{SdkRetries, config_loader};
use aws_sdk_ssm::config::{Credentials, Region};
use stand_ins::aws::AwsEndpoint;
use stand_ins::block_kit_text;
use stand_ins::dynamodb::DynamoDbStandIn;
use stand_ins::slack::{Person, SlackStandIn};
use stand_ins::ssm::{RunbookSpec, SsmStandIn};
use stand_ins::sts::StsStandIn;

const SIGNING_SECRET: &str = "demo-signing-secret";
const BOT_TOKEN: &str = "xoxb-demo";
const CHANNEL: &str = "C0APPROVALS";
/// Organization mode: the hub's account, a member account and its Region, the spoke
/// role, and a rules document that sends that account's runbooks to their own channel.
const HUB: &str = stand_ins::ssm::ACCOUNT;
const HUB_KEY: &str = "AKIDDEMO";
const MEMBER: &str = "111122223333";
const MEMBER_REGION: &str = "eu-west-1";
const SPOKE_ROLE: &str = "ssm-slack-approvals-hub";
const PAYMENTS_CHANNEL: &str = "C0PAYMENTS";
const RULES_PARAMETER: &str = "/ssm-slack-approvals/rules";
/// The functions' role in the hub (as the template creates it): Lambda signs with a
/// session of it, which the sample runbook's `Approvers` lists.
const FUNCTION_ROLE: &str = "arn:aws:iam::123456789012:role/approvals-SlackInteractionsRole";
const FUNCTION_SESSION: &str =
    "arn:aws:sts::123456789012:assumed-role/approvals-SlackInteractionsRole/slack-interactions";
const RULES: &str = r#"{"rules": [{"name": "payments production", "accounts": ["111122223333"], "channel": "C0PAYMENTS", "approvers": ["U0ALICE", "S0OPS"]}]}"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let organization = args.first().map(String::as_str) == Some("--organization");
    let two_person = args.first().map(String::as_str) == Some("--two-person");
    let (person, action, verb) = match args.first().map(String::as_str) {
        None | Some("--organization") | Some("--two-person") => (
            Person::new("U0ALICE", "alice"),
            APPROVE_ACTION_ID,
            "Approve",
        ),
        Some("--reject") => (Person::new("U0BOB", "bob"), REJECT_ACTION_ID, "Reject"),
        Some("--stranger") => (
            Person::new("U0MALLORY", "mallory"),
            APPROVE_ACTION_ID,
            "Approve",
        ),
        Some(other) => {
            return Err(format!(
                "unknown option {other}; try --reject, --stranger, --organization or --two-person"
            )
            .into());
        }
    };

    let any = "127.0.0.1:0".parse()?;
    let ssm = SsmStandIn::start(any, "us-east-1").await?;
    let dynamodb = DynamoDbStandIn::start(any).await?;
    table::create_approvals_table(&dynamodb);
    ssm.principals().register(HUB_KEY, FUNCTION_SESSION, None);
    let sts = StsStandIn::start(any, ssm.principals()).await?;
    // The spoke role spoke.yaml creates in the member account, trusting the hub's functions.
    sts.add_role(
        &format!("arn:aws:iam::{MEMBER}:role/{SPOKE_ROLE}"),
        &[HUB_KEY],
        false,
    );
    ssm.put_string_parameter(
        RULES_PARAMETER,
        if two_person { two_person::RULES } else { RULES },
    );
    let aws = AwsEndpoint::start_with_sts(any, ssm.clone(), dynamodb.clone(), sts.clone()).await?;
    let slack = SlackStandIn::start(any, BOT_TOKEN, SIGNING_SECRET).await?;
    for p in [
        Person::new("U0ALICE", "alice"),
        Person::new("U0BOB", "bob"),
        Person::new("U0MALLORY", "mallory"),
        Person::new("U0CAROL", "carol").with_email("carol@example.com"),
    ] {
        slack.add_person(p);
    }
    slack.add_usergroup("S0OPS", &["U0BOB"]);
    let mut env: HashMap<&str, String> = HashMap::from([
        ("APPROVALS_TABLE", "approvals".to_string()),
        ("SLACK_CHANNEL", CHANNEL.to_string()),
        ("SLACK_API_URL", slack.api_url()),
        ("SLACK_BOT_TOKEN", BOT_TOKEN.into()),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.into()),
        ("SLACK_APPROVERS", "U0ALICE,S0OPS".into()),
        ("INTERACTIONS_ROLE_ARN", FUNCTION_ROLE.into()),
    ]);
    if two_person {
        env.insert("SLACK_RULES_PARAMETER", RULES_PARAMETER.to_string());
    }
    if organization {
        env.extend([
            ("HUB_ACCOUNT_ID", HUB.to_string()),
            ("SPOKE_ROLE_NAME", SPOKE_ROLE.to_string()),
            ("SLACK_RULES_PARAMETER", RULES_PARAMETER.to_string()),
            ("ACCOUNT_NAMES", format!("{MEMBER}=payments-prod")),
        ]);
    }
    let lookup = |name: &str| env.get(name).cloned();
    let loader = |budget| {
        config_loader(budget)
            .endpoint_url(aws.url())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(HUB_KEY, "demo", None, None, "demo"))
    };
    let events = EventsApp::from_env(&lookup, loader(SdkRetries::BACKGROUND)).await?;
    let interactions = InteractionsApp::from_env(&lookup, loader(SdkRetries::INTERACTIVE)).await?;
    let names = |id: &str| slack.username(id);
    if two_person {
        return two_person::run(&ssm, &slack, &events, &interactions).await;
    }

    println!(
        "Local demo: SSM stand-in at {}, Slack stand-in at {}",
        ssm.url(),
        slack.api_url()
    );
    println!("SLACK_APPROVERS=U0ALICE,S0OPS (alice directly, bob through the user group S0OPS)");
    let mut sample = RunbookSpec::sample(
        "Roll payments 2026.11.21-1 out to production?\nCanary error rate is 0.02% over the last hour.",
        1,
    );
    // Its approval may wait three days (TimeoutSeconds), so the sweep's reminder below
    // comes long before the last call.
    for step in &mut sample.steps {
        if step.action == "aws:approve" {
            step.timeout_seconds = Some(3 * 86_400);
        }
    }
    let (id, channel) = if organization {
        println!(
            "Organization mode: this hub runs in account {HUB} (us-east-1); SPOKE_ROLE_NAME={SPOKE_ROLE};\n\
             ACCOUNT_NAMES={MEMBER}=payments-prod (the template's AccountNames: the name the prompt shows);\n\
             the rules document in Parameter Store ({RULES_PARAMETER}):\n  {RULES}\n"
        );
        // Its author lists the member account's spoke role as the approver.
        let mut sample = sample.in_account(MEMBER);
        let spoke = format!("arn:aws:iam::{MEMBER}:role/{SPOKE_ROLE}");
        sample.steps[1].inputs.insert(
            "Approvers".into(),
            serde_json::to_string(&[spoke]).expect("JSON"),
        );
        let id = ssm.start_automation_in(MEMBER, MEMBER_REGION, sample);
        println!(
            "1. carol starts runbook Deploy-Payments in member account {MEMBER}, {MEMBER_REGION}\n   \
             (execution {id}). The spoke's rule forwards its events to the hub's bus, with their\n   \
             own account and Region."
        );
        (id, PAYMENTS_CHANNEL)
    } else {
        println!();
        let id = ssm.start_automation(sample);
        // The demo has no clock to move: for "four hours pass" below, the run started
        // four hours (and a minute) before now, so what it shows then reads as now.
        ssm.age(&id, (4 * 3600 + 60) as f64);
        println!(
            "1. carol starts runbook Deploy-Payments (execution {id}), dated four hours back:\n   \
             the demo has no clock to move, so its times read as they will once four hours pass."
        );
        (id, CHANNEL)
    };
    let emitted = ssm.take_events();
    println!(
        "   It reaches its aws:approve step and waits. SSM emits {} EventBridge events;",
        emitted.len()
    );
    println!("   automation-events handles each of them:");
    deliver(&events, &emitted).await?;
    let prompt = slack
        .messages()
        .into_iter()
        .next()
        .ok_or("no prompt was posted")?;
    println!("\n2. The prompt in {channel} (posted once, with chat.postMessage):\n");
    print_message(&block_kit_text::render(&prompt.blocks, &names));

    if !organization {
        remind_and_show_home(&events, &interactions, &slack, &prompt, &person).await?;
    }

    let click = slack.click(channel, &prompt.ts, &person, action)?;
    println!(
        "\n3. @{} clicks {verb}. Slack sends the click to slack-interactions, signed:",
        person.username
    );
    println!("   X-Slack-Request-Timestamp: {}", click.timestamp);
    println!("   X-Slack-Signature: {}…", &click.signature[..19]);
    let request = lambda_http::request::from_str(&click.to_apigw_v2_event(false).to_string())?;
    let started = Instant::now();
    let response = handle_slack_request(&interactions, request).await;
    println!(
        "   slack-interactions verified it and answered HTTP {} in {} ms.",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    // A Reject opens the form that asks why (REJECT_REASON defaults to optional): the
    // person fills it in and submits it, as Slack sends it, signed like the click.
    if let Some(form) = slack
        .open_views()
        .into_iter()
        .find(|v| v.user_id == person.id)
    {
        const REASON: &str = "The canary error rate doubled after ten minutes.";
        println!(
            "   Slack opened the form that asks why (views.open); @{} types {REASON:?} and\n   \
             submits it. The submission is signed and checked like the click:",
            person.username
        );
        let submitted = slack.submit_view(
            &form.id,
            &person,
            &[(REASON_BLOCK_ID, REASON_INPUT_ID, REASON)],
        )?;
        let request =
            lambda_http::request::from_str(&submitted.to_apigw_v2_event(false).to_string())?;
        let started = Instant::now();
        let response = handle_slack_request(&interactions, request).await;
        let status = response.status().as_u16();
        let body = match response.body() {
            lambda_http::Body::Text(t) => t.clone(),
            lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        println!(
            "   slack-interactions answered HTTP {status} in {} ms; the form: {:?}.",
            started.elapsed().as_millis(),
            slack.view_answer(&form.id, status, &body)?
        );
    }
    match ssm.signals().last() {
        Some(signal) if signal.accepted => {
            println!(
                "   It confirmed with SSM (GetAutomationExecution) that step approveRollout, the one the\n   \
                 prompt shows, is the approval waiting now; then SSM accepted SendAutomationSignal {}\n   \
                 with Comment {:?}.",
                signal.signal_type,
                signal.payload["Comment"][0].as_str().unwrap_or("")
            );
            if organization {
                println!(
                    "   Both calls went to account {}, {}, signed as {}\n   \
                     (STS AssumeRole: {} calls in all, one per function and account, kept for the next ones).",
                    signal.account,
                    signal.region,
                    signal.principal,
                    sts.assume_role_calls().len()
                );
            }
        }
        _ => println!("   No signal was sent to SSM."),
    }
    for told in slack.ephemeral() {
        println!(
            "   Only @{} sees: {}",
            names(&told.user_id).unwrap_or(told.user_id),
            block_kit_text::mrkdwn(&told.text, &names)
        );
    }
    println!(
        "   The execution is now {}.",
        ssm.execution_status(&id).unwrap_or_default()
    );

    let emitted = ssm.take_events();
    if !emitted.is_empty() {
        println!(
            "\n4. SSM emits {} more events; automation-events brings the message up to date:",
            emitted.len()
        );
        deliver(&events, &emitted).await?;
    }
    let last = slack
        .message(channel, &prompt.ts)
        .ok_or("the prompt is gone")?;
    println!(
        "\n{} The message in {channel} now reads:\n",
        if emitted.is_empty() { "4." } else { "5." }
    );
    print_message(&block_kit_text::render(&last.blocks, &names));
    println!(
        "\nOutbound calls: SSM {:?}; STS {}; DynamoDB {:?}; Slack {:?}",
        ssm.calls(),
        sts.assume_role_calls().len(),
        dynamodb.calls(),
        slack
            .calls()
            .iter()
            .map(|(m, _)| m.as_str())
            .collect::<Vec<_>>()
    );
    Ok(())
}

/// Nobody decides for four hours: the scheduled sweep reminds who may decide in the
/// prompt's thread; then the person opens the app's Home tab ("Waiting on you").
async fn remind_and_show_home(
    events: &EventsApp,
    interactions: &InteractionsApp,
    slack: &SlackStandIn,
    prompt: &stand_ins::slack::StoredMessage,
    person: &Person,
) -> Result<(), Box<dyn std::error::Error>> {
    let names = |id: &str| slack.username(id);
    // The run was started four hours ago (see `ssm.age` above): now is four hours on.
    println!(
        "\n   Four hours pass and nobody decides. The sweep (EventBridge Scheduler, every 15 min)\n   \
         reads the index of what waits, asks SSM whether each step still waits, and replies:"
    );
    let sweep = serde_json::json!({"sweep": "waiting-steps"});
    let outcome = handle_automation_event(events, &sweep, &Deadline::for_event(None)).await?;
    println!("   automation-events {}.", describe(&outcome));
    for reply in slack.replies(&prompt.channel, &prompt.ts) {
        print_message(&block_kit_text::mrkdwn(&reply.text, &names));
    }
    let opened = slack.app_home_opened(person);
    let request = lambda_http::request::from_str(&opened.to_apigw_v2_event(false).to_string())?;
    handle_slack_request(interactions, request).await;
    if let Some(home) = slack.home_view(&person.id) {
        let blocks = home["blocks"].as_array().cloned().unwrap_or_default();
        println!(
            "\n   @{} opens the app's Home tab (Events API: app_home_opened → views.publish):\n",
            person.username
        );
        print_message(&block_kit_text::render(&blocks, &names));
    }
    Ok(())
}

/// Hands events to the events function as EventBridge would, saying what each did.
async fn deliver(
    events: &EventsApp,
    emitted: &[serde_json::Value],
) -> Result<(), Box<dyn std::error::Error>> {
    for event in emitted {
        let outcome = handle_automation_event(events, event, &Deadline::for_event(None)).await?;
        let status = event["detail"]["Status"].as_str().unwrap_or("?");
        println!("   - {} {status:<10} → {}", kind(event), describe(&outcome));
    }
    Ok(())
}

fn kind(event: &serde_json::Value) -> &'static str {
    if event["detail"]["StepName"].is_string() {
        "step event     "
    } else {
        "execution event"
    }
}

fn describe(outcome: &EventOutcome) -> String {
    match outcome {
        EventOutcome::Posted { ts, .. } => format!("posted the prompt (ts {ts})"),
        EventOutcome::AlreadyPosted { .. } => "prompt already posted: nothing to do".into(),
        EventOutcome::Updated { step_status, .. } => {
            format!("updated the prompt (approval step {step_status})")
        }
        EventOutcome::Ignored { reason } => format!("ignored: {reason}"),
        EventOutcome::Swept(report) => format!(
            "swept what waits: {} step(s), {} SSM read(s), {} reminder(s), {} last call(s), {} healed",
            report.steps, report.ssm_reads, report.reminders, report.last_calls, report.healed
        ),
    }
}

fn print_message(text: &str) {
    println!("   ┌────────────────────────────────────────────────────────────────────");
    for line in text.lines() {
        println!("   │ {line}");
    }
    println!("   └────────────────────────────────────────────────────────────────────");
}
