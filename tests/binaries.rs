//! The built binaries, run as Lambda runs them (Runtime API emulator), configured
//! only through their environment: `AWS_ENDPOINT_URL_SSM`, `SLACK_API_URL`, secrets
//! from Parameter Store. Covers what in-process tests cannot: start-up and its errors.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use approvals::domain::inbound::APPROVE_ACTION_ID;
use serde_json::Value;
use stand_ins::dynamodb::DynamoDbStandIn;
use stand_ins::runtime_api::{Invocation, RuntimeApi};
use stand_ins::slack::SlackStandIn;
use stand_ins::ssm::SsmStandIn;
use stand_ins::sts::StsStandIn;
use support::*;

/// Environment variables for a function process.
type FunctionEnv = Vec<(&'static str, String)>;

struct Function {
    api: RuntimeApi,
    child: Child,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base_env(ssm: &SsmStandIn, dynamodb: &DynamoDbStandIn, slack: &SlackStandIn) -> FunctionEnv {
    vec![
        // Each service's endpoint on its own, as the SDK's standard variables allow.
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url()),
        ("APPROVALS_TABLE", TABLE.into()),
        ("AWS_REGION", REGION.into()),
        ("AWS_ACCESS_KEY_ID", "AKIDLAMBDAROLE".into()),
        ("AWS_SECRET_ACCESS_KEY", "local-secret-key".into()),
        ("AWS_SESSION_TOKEN", "local-session".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_ENDPOINT_URL_SSM", ssm.url()),
        ("SLACK_API_URL", slack.api_url()),
        (
            "SLACK_BOT_TOKEN_PARAMETER",
            "/approvals/slack-bot-token".into(),
        ),
        (
            "SLACK_SIGNING_SECRET_PARAMETER",
            "/approvals/slack-signing-secret".into(),
        ),
        ("SLACK_CHANNEL", CHANNEL.into()),
        ("SLACK_APPROVERS", "U0ALICE".into()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
    ]
}

/// SSM (holding the two secrets in Parameter Store), the approvals table and Slack.
async fn stand_ins() -> (SsmStandIn, DynamoDbStandIn, SlackStandIn) {
    let any = "127.0.0.1:0".parse().unwrap();
    let ssm = SsmStandIn::start(any, REGION).await.unwrap();
    let dynamodb = DynamoDbStandIn::start(any).await.unwrap();
    create_approvals_table(&dynamodb);
    let slack = SlackStandIn::start(any, BOT_TOKEN, SIGNING_SECRET)
        .await
        .unwrap();
    ssm.put_parameter("/approvals/slack-bot-token", BOT_TOKEN);
    ssm.put_parameter("/approvals/slack-signing-secret", SIGNING_SECRET);
    (ssm, dynamodb, slack)
}

async fn spawn(binary: &str, env: &[(&'static str, String)]) -> Function {
    spawn_with(&[binary.to_owned()], env).await
}

/// Spawns `command` (a program, then its arguments) as the function process.
async fn spawn_with(command: &[String], env: &[(&'static str, String)]) -> Function {
    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let child = Command::new(&command[0])
        .args(&command[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "local")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Function { api, child }
}

async fn invoke(f: &Function, event: Value) -> Invocation {
    f.api
        .invoke(event, Duration::from_secs(20))
        .await
        .expect("the function answered")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binaries_run_the_loop_against_the_stand_ins() {
    let (ssm, dynamodb, slack) = stand_ins().await;
    let mut env = base_env(&ssm, &dynamodb, &slack);
    // The most verbose level there is: still nothing secret may reach the log.
    env.push(("AWS_LAMBDA_LOG_LEVEL", "TRACE".into()));
    // Decisions under the person's own STS session, reached through AWS_ENDPOINT_URL_STS:
    // the session's secret key and token must stay out of the log too.
    let sts = StsStandIn::start("127.0.0.1:0".parse().unwrap(), ssm.principals())
        .await
        .unwrap();
    sts.add_role(APPROVER_ROLE, &[FUNCTION_KEY], true);
    env.push(("AWS_ENDPOINT_URL_STS", sts.url()));
    env.push(("APPROVER_ROLE_ARN", APPROVER_ROLE.into()));
    let events = spawn(env!("CARGO_BIN_EXE_automation-events"), &env).await;
    let interactions = spawn(env!("CARGO_BIN_EXE_slack-interactions"), &env).await;

    let mut spec = runbook(1);
    spec.steps[1] = stand_ins::ssm::StepSpec::approve(
        "approveRollout",
        "Roll out?",
        1,
        &[&session_arn("U0ALICE")],
    );
    let id = ssm.start_automation(spec);
    for event in ssm.take_events() {
        let Invocation::Response(_) = invoke(&events, event).await else {
            panic!("events function failed")
        };
    }
    let prompts = slack.messages();
    assert_eq!(prompts.len(), 1);
    let prompt = &prompts[0];
    // Recorded through AWS_ENDPOINT_URL_DYNAMODB, the table's own endpoint (beside it,
    // the place the event came from, for the sweep to list).
    let items: Vec<_> = dynamodb
        .items(TABLE)
        .into_iter()
        .filter(|item| item["execution_id"]["S"] == id.as_str())
        .collect();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["ts"]["S"], prompt.ts.as_str());

    let click = slack
        .click(CHANNEL, &prompt.ts, &alice(), APPROVE_ACTION_ID)
        .unwrap();
    let Invocation::Response(response) = invoke(&interactions, click.to_apigw_v2_event(true)).await
    else {
        panic!("interactions function failed")
    };
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));
    assert_eq!(ssm.signals()[0].principal, session_arn("U0ALICE"));
    assert!(!has_buttons(
        &slack.message(CHANNEL, &prompt.ts).unwrap().blocks
    ));

    // An unsigned request gets a bare 401 from the real binary too.
    let mut forged = click.to_apigw_v2_event(false);
    forged["headers"]["x-slack-signature"] = Value::from(format!("v0={}", "0".repeat(64)));
    let Invocation::Response(response) = invoke(&interactions, forged).await else {
        panic!()
    };
    assert_eq!(response["statusCode"], 401);

    // A body flagged base64 that is not base64. API Gateway and Function URLs encode
    // bodies themselves, so only a direct invoke can send one; lambda_http's decoder
    // panics on it, and with panic = "unwind" that is one failed invocation: no
    // signal, and the same process serves the next request.
    let mut garbled = click.to_apigw_v2_event(true);
    garbled["body"] = Value::from("%%% not base64 %%%");
    assert!(matches!(
        invoke(&interactions, garbled).await,
        Invocation::Error(_)
    ));
    let Invocation::Response(response) =
        invoke(&interactions, click.to_apigw_v2_event(false)).await
    else {
        panic!("the function stopped serving")
    };
    assert_eq!(
        response["statusCode"], 200,
        "a replayed click is answered, and nothing is signalled"
    );
    assert_eq!(ssm.signals().len(), 1, "the replay was never signalled");
    assert_eq!(ssm.count_calls("GetParameter"), 3);

    // At TRACE, the runtime would write each raw event (with its response_url and
    // signature): none of it, nor any other secret, is in either function's output.
    let response_url_token = response_url_token(&click.body);
    let sessions = sts.issued_secrets();
    assert_eq!(sessions.len(), 1);
    let mut output = String::new();
    for mut f in [events, interactions] {
        let _ = f.child.kill();
        output.push_str(&f.child.wait_with_output_timeout().1);
    }
    assert!(
        output.contains("check_ms"),
        "the log was not captured: {output}"
    );
    assert!(
        !output.contains("\"_aws\""),
        "metrics are off without METRICS_NAMESPACE"
    );
    for secret in [
        SIGNING_SECRET,
        BOT_TOKEN,
        "local-secret-key",
        "local-session",
        stand_ins::slack::VERIFICATION_TOKEN,
        response_url_token.as_str(),
        click.signature.trim_start_matches("v0="),
        sessions[0].0.as_str(),
        sessions[0].1.as_str(),
    ] {
        assert!(
            !output.contains(secret),
            "a secret reached the log: {secret}"
        );
    }
}

/// The EMF lines in a function's output: (metric name, its dimensions and value).
fn metrics_in(output: &str, namespace: &str) -> Vec<Value> {
    output
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .inspect(|line| {
            let directive = &line["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(directive["Namespace"], namespace, "{line}");
            let name = directive["Metrics"][0]["Name"].as_str().unwrap();
            assert!(line[name].is_number(), "{line}");
            for dimension in directive["Dimensions"][0].as_array().unwrap() {
                assert!(line[dimension.as_str().unwrap()].is_string(), "{line}");
            }
        })
        .collect()
}

fn metric_named<'a>(metrics: &'a [Value], name: &str) -> Vec<&'a Value> {
    metrics
        .iter()
        .filter(|m| m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] == name)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binaries_write_their_metrics_as_embedded_metric_format_lines() {
    const NAMESPACE: &str = "SsmSlackApprovals/test-stack";
    let (ssm, dynamodb, slack) = stand_ins().await;
    let mut env = base_env(&ssm, &dynamodb, &slack);
    env.push(("METRICS_NAMESPACE", NAMESPACE.into()));
    let events = spawn(env!("CARGO_BIN_EXE_automation-events"), &env).await;
    let interactions = spawn(env!("CARGO_BIN_EXE_slack-interactions"), &env).await;
    let mut spec = runbook(1);
    spec.steps[1] =
        stand_ins::ssm::StepSpec::approve("approveRollout", "Roll out?", 1, &[FUNCTION_SESSION]);
    let id = ssm.start_automation(spec.clone());
    for event in ssm.take_events() {
        assert!(matches!(
            invoke(&events, event).await,
            Invocation::Response(_)
        ));
    }
    // A second runbook whose first delivery Slack refuses (the bot is not in the
    // channel yet); its second (the execution's event) posts.
    let second = ssm.start_automation(spec);
    slack.refuse_next("chat.postMessage", 200, "not_in_channel");
    for event in ssm.take_events() {
        invoke(&events, event).await;
    }
    let prompt = slack.messages()[0].clone();
    // Mallory may not decide; Alice approves.
    slack.add_person(mallory());
    for person in [mallory(), alice()] {
        let click = slack
            .click(CHANNEL, &prompt.ts, &person, APPROVE_ACTION_ID)
            .unwrap();
        let Invocation::Response(response) =
            invoke(&interactions, click.to_apigw_v2_event(true)).await
        else {
            panic!("interactions function failed")
        };
        assert_eq!(response["statusCode"], 200);
    }
    assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));
    // The second run is cancelled, its event never delivered: the sweep heals its prompt.
    assert!(ssm.cancel(&second));
    ssm.take_events();
    let sweep = serde_json::json!({"sweep": "waiting-steps"});
    assert!(matches!(
        invoke(&events, sweep).await,
        Invocation::Response(_)
    ));
    let mut output = String::new();
    for mut f in [events, interactions] {
        let _ = f.child.kill();
        output.push_str(&f.child.wait_with_output_timeout().1);
    }
    let metrics = metrics_in(&output, NAMESPACE);
    let incomplete = metric_named(&metrics, "SweepIncomplete");
    assert_eq!(incomplete.len(), 1);
    assert_eq!(incomplete[0]["SweepIncomplete"], 0.0);
    assert_eq!(metric_named(&metrics, "SweepHealed")[0]["SweepHealed"], 1.0);
    assert_eq!(metric_named(&metrics, "PromptsPosted").len(), 2, "{output}");
    let errors = metric_named(&metrics, "SlackErrors");
    assert!(
        errors.iter().any(|m| m["Code"] == "not_in_channel"),
        "{errors:?}"
    );
    let decisions = metric_named(&metrics, "Decisions");
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0]["Outcome"], "approved");
    let refusals = metric_named(&metrics, "Refusals");
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0]["Reason"], "not_allowed");
    let latency = metric_named(&metrics, "ClickLatency");
    assert_eq!(latency.len(), 2);
    assert_eq!(
        latency[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
        "Milliseconds"
    );
    assert!(
        latency
            .iter()
            .all(|m| m["ClickLatency"].as_f64().unwrap() > 0.0)
    );
}

/// The artifacts that ship: `sam build`'s arm64 `bootstrap`s (`SAM_BUILD_DIR`, such as
/// `.aws-sam/build`), run through `ARTIFACT_RUNNER` (qemu-user:
/// `qemu-aarch64 -L /usr/aarch64-linux-gnu`), post a prompt for a waiting step and
/// approve it on a signed click, so a cross-compilation or glibc mismatch cannot ship
/// unnoticed. CI runs this after `sam build`; without `SAM_BUILD_DIR` it is skipped
/// (in CI only when `CI_SKIP_SHIPPED_ARTIFACTS` says why).
#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_artifacts_post_a_prompt_and_approve_it() {
    let Some(dir) = std::env::var_os("SAM_BUILD_DIR") else {
        support::skips::cannot_run(
            "the_shipped_artifacts_post_a_prompt_and_approve_it",
            "SAM_BUILD_DIR is not set to sam build's output (and ARTIFACT_RUNNER to run \
             another architecture's binaries)",
            "CI_SKIP_SHIPPED_ARTIFACTS",
        );
        return;
    };
    let command = |function: &str| {
        let mut command: Vec<String> = std::env::var("ARTIFACT_RUNNER")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let bootstrap = std::path::Path::new(&dir).join(function).join("bootstrap");
        assert!(bootstrap.is_file(), "{} is missing", bootstrap.display());
        command.push(bootstrap.to_string_lossy().into_owned());
        command
    };
    let (ssm, dynamodb, slack) = stand_ins().await;
    let env = base_env(&ssm, &dynamodb, &slack);
    let events = spawn_with(&command("AutomationEventsFunction"), &env).await;
    let interactions = spawn_with(&command("SlackInteractionsFunction"), &env).await;
    let id = ssm.start_automation(runbook(1));
    for event in ssm.take_events() {
        let Invocation::Response(_) = invoke(&events, event).await else {
            panic!("the shipped events function failed")
        };
    }
    let prompts = slack.messages();
    assert_eq!(prompts.len(), 1, "one prompt posted");
    let click = slack
        .click(CHANNEL, &prompts[0].ts, &alice(), APPROVE_ACTION_ID)
        .unwrap();
    let Invocation::Response(response) = invoke(&interactions, click.to_apigw_v2_event(true)).await
    else {
        panic!("the shipped interactions function failed")
    };
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));
    assert!(!has_buttons(
        &slack.message(CHANNEL, &prompts[0].ts).unwrap().blocks
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_configuration_stops_the_function_at_start_up_naming_the_variable() {
    let (ssm, dynamodb, slack) = stand_ins().await;
    let with = |changes: &[(&'static str, Option<&str>)]| {
        let mut env = base_env(&ssm, &dynamodb, &slack);
        for (name, value) in changes {
            env.retain(|(k, _)| k != name);
            if let Some(v) = value {
                env.push((name, v.to_string()));
            }
        }
        env
    };
    let cases: Vec<(&str, FunctionEnv, &str)> = vec![
        (
            env!("CARGO_BIN_EXE_automation-events"),
            with(&[("SLACK_CHANNEL", None)]),
            "SLACK_CHANNEL is not set",
        ),
        (
            env!("CARGO_BIN_EXE_automation-events"),
            with(&[("SLACK_BOT_TOKEN", Some("xoxb-1"))]),
            "both SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_PARAMETER",
        ),
        (
            env!("CARGO_BIN_EXE_slack-interactions"),
            with(&[("SLACK_APPROVERS", Some("alice"))]),
            "SLACK_APPROVERS",
        ),
        (
            env!("CARGO_BIN_EXE_automation-events"),
            with(&[("APPROVALS_TABLE", None)]),
            "APPROVALS_TABLE is not set",
        ),
        (
            env!("CARGO_BIN_EXE_slack-interactions"),
            with(&[("SLACK_API_URL", Some("http://slack.example/api"))]),
            "SLACK_API_URL",
        ),
        (
            env!("CARGO_BIN_EXE_slack-interactions"),
            with(&[("SLACK_SIGNING_SECRET_PARAMETER", Some("/missing"))]),
            "SLACK_SIGNING_SECRET_PARAMETER: could not read SSM parameter \\\"/missing\\\"",
        ),
        (
            env!("CARGO_BIN_EXE_slack-interactions"),
            with(&[("SLACK_API_URL", Some("slack.com"))]),
            "SLACK_API_URL",
        ),
    ];
    for (binary, env, expected) in cases {
        let mut f = spawn(binary, &env).await;
        let output = f.child.wait_with_output_timeout();
        assert!(!output.0.success(), "{expected}: the function started");
        assert!(
            output.1.contains(expected),
            "{expected} not in: {}",
            output.1
        );
        assert!(
            !output.1.contains(BOT_TOKEN) && !output.1.contains(SIGNING_SECRET),
            "a secret was printed"
        );
    }
    // Unset approvers is a valid, safe state: the function starts.
    let f = spawn(
        env!("CARGO_BIN_EXE_slack-interactions"),
        &with(&[("SLACK_APPROVERS", None)]),
    )
    .await;
    // Started: it asks the runtime for its first invocation, and is still running.
    assert!(
        f.api.ready(Duration::from_secs(20)).await,
        "never asked for an invocation although SLACK_APPROVERS may be unset"
    );
    let mut f = f;
    assert!(
        f.child.try_wait().unwrap().is_none(),
        "exited although SLACK_APPROVERS may be unset"
    );
}

trait WaitOutput {
    fn wait_with_output_timeout(&mut self) -> (std::process::ExitStatus, String);
}

impl WaitOutput for Child {
    /// Waits up to 5 s for the process to exit (killing it after), then reads its output.
    fn wait_with_output_timeout(&mut self) -> (std::process::ExitStatus, String) {
        use std::io::Read;
        for _ in 0..100 {
            if self.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.kill();
        let status = self.wait().unwrap();
        let mut text = String::new();
        self.stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        self.stderr
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        (status, text)
    }
}
