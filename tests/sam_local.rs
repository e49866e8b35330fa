//! `sam local invoke`, proven with AWS's own Lambda Runtime Interface Emulator (the
//! program `sam local invoke` runs inside its containers): every file in `events/` is
//! invoked through it against each function's binary, with the environment
//! `sam local invoke --env-vars env.json` would give it, and the stand-ins in place of
//! AWS and Slack.
//!
//! The environment, as SAM builds it: the template's variables for that function
//! (`Globals` overlaid with the function's own; `!Ref` of a parameter is its default,
//! of a resource its logical ID, any other intrinsic an empty string), overlaid with
//! `env.json`'s values for the variables the template declares, plus what SAM sets
//! (`AWS_SAM_LOCAL=true`, `AWS_REGION`, `AWS_DEFAULT_REGION`, credentials, the timeout
//! and memory size). The test adds only the stand-ins' endpoints
//! (`AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_DYNAMODB`) and points `SLACK_API_URL`,
//! which `env.json` aims at the host's port 9020, at the Slack stand-in.
//!
//! The emulator is `AWS_LAMBDA_RIE`, else `../shared/tools/aws-lambda-rie`; without
//! either the test says so (`SKIPPED …`, shown even by a plain `cargo test`) and passes,
//! except in CI (`CI` set), where it fails unless `CI_SKIP_SAM_LOCAL` gives the reason to
//! skip it. The binaries are `SAM_LOCAL_BINARIES/<name>`
//! (CI points it at the release builds), else the ones `cargo test` builds.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stand_ins::dynamodb::DynamoDbStandIn;
use stand_ins::slack::{Person, SlackStandIn, edit_payload, resign_event};
use stand_ins::ssm::SsmStandIn;
use support::yaml::{self, Yaml};
use support::{SAMPLE_EXECUTION_ID, event_file, runbook};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

fn emulator() -> Option<PathBuf> {
    let path = std::env::var_os("AWS_LAMBDA_RIE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(MANIFEST).join("../shared/tools/aws-lambda-rie"));
    path.is_file().then_some(path)
}

fn binary(name: &str, built: &str) -> PathBuf {
    match std::env::var_os("SAM_LOCAL_BINARIES") {
        Some(dir) => Path::new(&dir).join(name),
        None => PathBuf::from(built),
    }
}

/// A template value as `sam local invoke` resolves it for an environment variable.
fn resolve(value: &Yaml, template: &Yaml) -> String {
    match value {
        Yaml::Str(s) => s.clone(),
        Yaml::Tag(tag, inner) if tag == "Ref" => {
            let name = inner.str();
            match template.at(&["Parameters"]).get(name) {
                Some(parameter) => parameter
                    .get("Default")
                    .map(|d| d.str().to_owned())
                    .unwrap_or_default(),
                None => name.to_owned(),
            }
        }
        _ => String::new(),
    }
}

/// The environment `sam local invoke <function> --env-vars env.json` gives the function.
fn sam_environment(function: &str) -> BTreeMap<String, String> {
    let template =
        yaml::parse(&std::fs::read_to_string(format!("{MANIFEST}/template.yaml")).unwrap());
    let resource = template.at(&["Resources", function, "Properties"]);
    let mut env = BTreeMap::new();
    let own = resource.get("Environment").and_then(|e| e.get("Variables"));
    for variables in [
        Some(template.at(&["Globals", "Function", "Environment", "Variables"])),
        own,
    ]
    .into_iter()
    .flatten()
    {
        for (name, value) in variables.map() {
            env.insert(name.clone(), resolve(value, &template));
        }
    }
    let overrides: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{MANIFEST}/env.json")).unwrap())
            .unwrap();
    for scope in ["Parameters", function] {
        for (name, value) in overrides[scope].as_object().into_iter().flatten() {
            // SAM overrides only what the template declares.
            if let (Some(slot), Some(value)) = (env.get_mut(name), value.as_str()) {
                *slot = value.to_owned();
            }
        }
    }
    let timeout = resource
        .get("Timeout")
        .map_or_else(|| "3".to_owned(), |t| t.str().to_owned());
    let memory = resource
        .get("MemorySize")
        .map_or_else(|| "128".to_owned(), |m| m.str().to_owned());
    for (name, value) in [
        ("AWS_SAM_LOCAL", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDSAMLOCAL"),
        ("AWS_SECRET_ACCESS_KEY", "sam-local-secret"),
        ("AWS_SESSION_TOKEN", "sam-local-session"),
        ("AWS_LAMBDA_FUNCTION_TIMEOUT", timeout.as_str()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory.as_str()),
    ] {
        env.insert(name.into(), value.into());
    }
    env
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One function under the emulator, as `sam local invoke` runs it.
struct Emulated {
    child: Child,
    port: u16,
}

impl Emulated {
    fn start(rie: &Path, binary: &Path, env: &BTreeMap<String, String>) -> Self {
        let port = free_port();
        let child = Command::new(rie)
            .arg("--runtime-interface-emulator-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--runtime-api-address")
            .arg(format!("127.0.0.1:{}", free_port()))
            .arg(binary)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", rie.display()));
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the emulator did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    /// Invokes the function as `sam local invoke -e <event>` does; its answer.
    fn invoke(&self, event: &Value) -> Value {
        let body = event.to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }
}

impl Drop for Emulated {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A click file made current for the prompt the stand-in holds: its `response_url`
/// is one the stand-in issued, and it is signed again now with `env.json`'s secret.
fn current_click(slack: &SlackStandIn, file: &str, ts: &str, secret: &str) -> Value {
    let mut event = event_file(file);
    edit_payload(&mut event, |p| {
        let user = p["user"]["id"].as_str().unwrap_or_default().to_owned();
        p["response_url"] = json!(slack.issue_response_url(support::CHANNEL, ts, &user));
        p["container"]["message_ts"] = json!(ts);
    })
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    resign_event(&mut event, secret, now).unwrap();
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_file_answers_under_aws_lambda_rie_as_the_readme_says() {
    let Some(rie) = emulator() else {
        support::skips::cannot_run(
            "every_event_file_answers_under_aws_lambda_rie_as_the_readme_says",
            "AWS's Lambda Runtime Interface Emulator was not found (set AWS_LAMBDA_RIE to its \
             path; the default is ../shared/tools/aws-lambda-rie)",
            "CI_SKIP_SAM_LOCAL",
        );
        return;
    };
    let mut events_env = sam_environment("AutomationEventsFunction");
    let mut clicks_env = sam_environment("SlackInteractionsFunction");
    let any = "127.0.0.1:0".parse().unwrap();
    let ssm = SsmStandIn::start(any, "us-east-1").await.unwrap();
    let dynamodb = DynamoDbStandIn::start(any).await.unwrap();
    // The table env.json names, keyed and indexed as template.yaml creates it.
    support::create_table_as_template_defines(&dynamodb, &events_env["APPROVALS_TABLE"]);
    let slack = SlackStandIn::start(
        any,
        &events_env["SLACK_BOT_TOKEN"],
        &clicks_env["SLACK_SIGNING_SECRET"],
    )
    .await
    .unwrap();
    // env.json's SLACK_APPROVERS: alice, and bob through the user group S0OPS.
    slack.add_person(Person::new("U0ALICE", "alice"));
    slack.add_person(Person::new("U0BOB", "bob"));
    slack.add_usergroup("S0OPS", &["U0BOB"]);
    ssm.start_automation_with_id(SAMPLE_EXECUTION_ID, runbook(1));
    ssm.take_events();
    for env in [&mut events_env, &mut clicks_env] {
        env.insert("AWS_ENDPOINT_URL_SSM".into(), ssm.url());
        env.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), dynamodb.url());
        env.insert("SLACK_API_URL".into(), slack.api_url());
    }
    let events = Emulated::start(
        &rie,
        &binary("automation-events", env!("CARGO_BIN_EXE_automation-events")),
        &events_env,
    );
    let clicks = Emulated::start(
        &rie,
        &binary(
            "slack-interactions",
            env!("CARGO_BIN_EXE_slack-interactions"),
        ),
        &clicks_env,
    );
    let outcome = |answer: &Value| answer["outcome"].as_str().unwrap_or_default().to_owned();

    // The waiting step posts the prompt; the execution's Waiting event finds it posted.
    let posted = events.invoke(&event_file("automation-step-waiting.json"));
    assert_eq!(outcome(&posted), "posted", "{posted}");
    let again = events.invoke(&event_file("automation-execution-waiting.json"));
    assert_eq!(outcome(&again), "already_posted", "{again}");
    let ts = posted["ts"].as_str().unwrap().to_owned();
    assert_eq!(slack.messages().len(), 1);
    let waiting_prompt = slack.messages()[0].blocks.clone();

    // alice's recorded click approves it (a 200, the signal accepted, the prompt replaced).
    let secret = clicks_env["SLACK_SIGNING_SECRET"].clone();
    let approve = current_click(&slack, "slack-approve-click.json", &ts, &secret);
    let answer = clicks.invoke(&approve);
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let signals = ssm.signals();
    assert!(
        signals.len() == 1 && signals[0].accepted && signals[0].signal_type == "Approve",
        "{signals:#?}"
    );
    assert_eq!(
        ssm.execution_status(SAMPLE_EXECUTION_ID).as_deref(),
        Some("Success")
    );
    assert!(!support::has_buttons(&slack.messages()[0].blocks));

    // The other click files (base64 body, REST API v1, the reject of env.json's
    // REJECT_REASON=off) are answered 200 and told the step no longer waits.
    for file in [
        "slack-approve-click-base64.json",
        "slack-approve-click-rest-api.json",
        "slack-reject-click.json",
    ] {
        let click = current_click(&slack, file, &ts, &secret);
        let answer = clicks.invoke(&click);
        assert_eq!(answer["statusCode"], 200, "{file}: {answer}");
        let told = slack.ephemeral();
        assert!(
            told.last()
                .is_some_and(|t| t.text.contains("no longer waiting")),
            "{file}: {told:#?}"
        );
    }
    assert_eq!(ssm.signals().len(), 1, "nothing more was signalled");

    // The prompt goes stale: it shows the waiting step with its buttons again, and the
    // table no longer records what it shows (as if the update after the click was lost).
    assert!(slack.show_stale(posted["channel"].as_str().unwrap(), &ts, waiting_prompt));
    assert!(support::has_buttons(&slack.messages()[0].blocks));
    for mut item in dynamodb.items(&events_env["APPROVALS_TABLE"]) {
        if item.get("shown").is_some() {
            item.as_object_mut().unwrap().remove("shown");
            dynamodb.put_raw(&events_env["APPROVALS_TABLE"], item);
        }
    }
    // The timed-out event (here, of a step that in fact succeeded) brings the stale
    // prompt to the step's real outcome.
    let late = events.invoke(&event_file("automation-step-timed-out.json"));
    assert_eq!(outcome(&late), "updated", "{late}");
    let shown = support::text_of(&slack.messages()[0].blocks);
    assert!(shown.contains("*Approved* by <@U0ALICE>"), "{shown}");
    assert!(
        !support::has_buttons(&slack.messages()[0].blocks),
        "{shown}"
    );

    // The sweep's scheduled input: nothing waits any more, so nothing is read or sent.
    let swept = events.invoke(&event_file("scheduled-sweep.json"));
    assert_eq!(outcome(&swept), "swept", "{swept}");
    assert_eq!(
        (swept["ssm_reads"].as_u64(), swept["complete"].as_bool()),
        (Some(0), Some(true)),
        "{swept}"
    );
}

/// Without the emulator, a plain `cargo test` (output captured) still shows that the
/// test above did not run: the line is printed past the harness's capture.
#[test]
fn a_skip_for_want_of_the_emulator_shows_in_a_plain_cargo_test() {
    let run = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "every_event_file_answers_under_aws_lambda_rie_as_the_readme_says",
        ])
        .env("AWS_LAMBDA_RIE", "/nonexistent/aws-lambda-rie")
        .env_remove("CI")
        .env_remove("CI_SKIP_SAM_LOCAL")
        .env_remove("CI_SKIPPED")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "{} every_event_file_answers_under_aws_lambda_rie_as_the_readme_says: AWS's Lambda \
             Runtime Interface Emulator was not found",
            support::skips::SKIPPED
        )),
        "the skip is not visible in a captured run:\n{said}"
    );
}
