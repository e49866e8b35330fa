//! Shared set-up for the end-to-end tests: the SSM and Slack stand-ins on loopback,
//! and both functions' handlers built exactly as the binaries build them (same
//! `from_env`, same SDK configuration), but pointed at the stand-ins.
#![allow(dead_code)]

pub mod emulator;
pub mod logs;
pub mod skips;
pub mod yaml;

use std::collections::HashMap;

use approvals::deadline::Deadline;
use approvals::handlers::events::{EventOutcome, EventsApp, handle_automation_event};
use approvals::handlers::interactions::{InteractionsApp, handle_slack_request};
use approvals::ssm::{SdkRetries, config_loader};
use aws_sdk_ssm::config::{Credentials, Region};
use lambda_http::Body;
use serde_json::Value;
use stand_ins::aws::AwsEndpoint;
use stand_ins::dynamodb::DynamoDbStandIn;
use stand_ins::slack::{Person, SignedClick, SlackStandIn};
use stand_ins::sqs::SqsStandIn;
use stand_ins::ssm::{RunbookSpec, SsmStandIn};
use stand_ins::sts::StsStandIn;

pub const SIGNING_SECRET: &str = "local-signing-secret-0123456789abcdef";
pub const BOT_TOKEN: &str = "xoxb-local-bot-token";
pub const CHANNEL: &str = "C0APPROVALS";
pub const REGION: &str = "us-east-1";
pub const TABLE: &str = "approvals";
/// The approver role of per-person sessions (`APPROVER_ROLE_ARN`), as the template creates it.
pub const APPROVER_ROLE: &str = "arn:aws:iam::123456789012:role/approvals-SlackApproverRole";
/// The access key of the functions' own role (their Lambda role's credentials).
pub const FUNCTION_KEY: &str = "AKIDLAMBDAROLE";
/// The interactions function's role (`INTERACTIONS_ROLE_ARN`), as the sample runbook's
/// `Approvers` lists it.
/// The account the functions run in.
pub const FUNCTION_ACCOUNT: &str = "123456789012";
pub const FUNCTION_ROLE: &str = "arn:aws:iam::123456789012:role/approvals-SlackInteractionsRole";
/// What SSM sees signing with [`FUNCTION_KEY`]: Lambda names the role's session after
/// the function.
pub const FUNCTION_SESSION: &str =
    "arn:aws:sts::123456789012:assumed-role/approvals-SlackInteractionsRole/slack-interactions";

/// The session ARN SSM sees for a person deciding under the approver role.
pub fn session_arn(user_id: &str) -> String {
    format!("arn:aws:sts::123456789012:assumed-role/approvals-SlackApproverRole/{user_id}")
}

/// The approvals table, as template.yaml defines it (keys and indexes).
pub fn create_approvals_table(dynamodb: &DynamoDbStandIn) {
    create_table_as_template_defines(dynamodb, TABLE);
}

/// template.yaml's `ApprovalsTable` definition (its `Properties`), as JSON.
pub(crate) fn table_definition() -> Value {
    let template = yaml::parse(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap(),
    );
    template
        .at(&["Resources", "ApprovalsTable", "Properties"])
        .to_json()
}

/// A table named `name`, keyed and indexed as template.yaml's `ApprovalsTable`.
pub fn create_table_as_template_defines(dynamodb: &DynamoDbStandIn, name: &str) {
    let properties = table_definition();
    dynamodb
        .create_table_from_definition(name, &properties)
        .unwrap_or_else(|e| panic!("template.yaml's ApprovalsTable: {e}"));
}
pub use stand_ins::ssm::SAMPLE_EXECUTION_ID;

pub fn alice() -> Person {
    Person::new("U0ALICE", "alice")
}
pub fn bob() -> Person {
    Person::new("U0BOB", "bob")
}
pub fn mallory() -> Person {
    Person::new("U0MALLORY", "mallory")
}

pub struct Harness {
    pub ssm: SsmStandIn,
    pub sts: StsStandIn,
    pub dynamodb: DynamoDbStandIn,
    /// The failed-events queue's SQS (Lambda's on-failure destination).
    pub sqs: SqsStandIn,
    /// The failed-events queue's URL (`FAILED_EVENTS_QUEUE_URL`).
    pub failed_events_queue: String,
    /// One endpoint for both AWS stand-ins (the in-process functions' SDK config).
    aws: AwsEndpoint,
    pub slack: SlackStandIn,
    pub events: EventsApp,
    pub interactions: InteractionsApp,
    env: HashMap<String, String>,
    /// DynamoDB calls go here instead of the stand-in (see [`dynamodb_emulator`]).
    dynamodb_url: Option<String>,
    /// The approvals table's name (one of its own per harness in an emulator).
    table: String,
}

pub struct Options {
    pub approvers: Option<&'static str>,
    /// Secrets through Parameter Store (`*_PARAMETER`) instead of the variables.
    pub secrets_in_parameters: bool,
    /// More variables for both functions.
    pub env: Vec<(&'static str, &'static str)>,
    /// `REJECT_REASON`; `None` leaves it unset (the product's default, a form that asks).
    /// Most tests reject at once (`off`), as they test what follows a rejection.
    pub reject_reason: Option<&'static str>,
    /// Parameter Store parameters of the home account and Region, there before the
    /// functions start (the rules document, for one).
    pub parameters: Vec<(&'static str, String)>,
    /// How the SSM stand-in answers what SSM does not document.
    pub ssm_answers: stand_ins::ssm::Undocumented,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            approvers: Some("U0ALICE,S0OPS"),
            secrets_in_parameters: false,
            env: vec![],
            reject_reason: Some("off"),
            parameters: vec![],
            ssm_answers: Default::default(),
        }
    }
}

pub fn env_from(map: HashMap<String, String>) -> impl Fn(&str) -> Option<String> {
    move |name: &str| map.get(name).cloned()
}

pub fn loader(aws_url: &str, budget: SdkRetries) -> aws_config::ConfigLoader {
    loader_with(aws_url, None, budget)
}

/// Where the end-to-end tests' DynamoDB calls go instead of the stand-in: moto's server
/// (`APPROVALS_TEST_DYNAMODB=http://127.0.0.1:5000`), the emulator the AWS Python world
/// tests with, so that neither the product nor the stand-in drifts from DynamoDB unseen.
pub fn dynamodb_emulator() -> Option<String> {
    std::env::var("APPROVALS_TEST_DYNAMODB")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// The functions' SDK configuration: every service at the stand-ins, or, with
/// `dynamodb`, DynamoDB there (through `AWS_ENDPOINT_URL_DYNAMODB`, as a deployment
/// would set it) and the others at the stand-ins (`AWS_ENDPOINT_URL_SSM`, `_STS`).
pub fn loader_with(
    aws_url: &str,
    dynamodb: Option<&str>,
    budget: SdkRetries,
) -> aws_config::ConfigLoader {
    let loader = match dynamodb {
        None => config_loader(budget).endpoint_url(aws_url),
        Some(dynamodb) => {
            config_loader(budget).env(aws_types::os_shim_internal::Env::from_slice(&[
                ("AWS_ENDPOINT_URL_SSM", aws_url),
                ("AWS_ENDPOINT_URL_STS", aws_url),
                ("AWS_ENDPOINT_URL_SQS", aws_url),
                ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb),
            ]))
        }
    };
    loader
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            FUNCTION_KEY,
            "local-secret-key",
            None,
            None,
            "stand-in",
        ))
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Self {
        Self::try_with(options)
            .await
            .unwrap_or_else(|e| panic!("a function did not start: {e}"))
    }

    /// As [`Harness::with`], or why a function would not start.
    pub async fn try_with(options: Options) -> Result<Self, String> {
        let any = "127.0.0.1:0".parse().unwrap();
        let ssm = SsmStandIn::start(any, REGION).await.unwrap();
        ssm.answer_undocumented(options.ssm_answers);
        let dynamodb = DynamoDbStandIn::start(any).await.unwrap();
        create_approvals_table(&dynamodb);
        let dynamodb_url = dynamodb_emulator();
        let table_name = match &dynamodb_url {
            None => TABLE.to_owned(),
            Some(url) => emulator::create_table(url).await,
        };
        // The functions sign as Lambda signs them: a session of their role, named after
        // the function. SSM checks it against a step's Approvers like any principal.
        ssm.principals()
            .register(FUNCTION_KEY, FUNCTION_SESSION, None);
        let sts = StsStandIn::start(any, ssm.principals()).await.unwrap();
        sts.add_role(APPROVER_ROLE, &[FUNCTION_KEY], true);
        let sqs = SqsStandIn::start(any, REGION).await.unwrap();
        let failed_events_queue = sqs.create_queue(FUNCTION_ACCOUNT, "approvals-FailedEventsQueue");
        let aws = AwsEndpoint::start_with_sts_and_sqs(
            any,
            ssm.clone(),
            dynamodb.clone(),
            sts.clone(),
            sqs.clone(),
        )
        .await
        .unwrap();
        let slack = SlackStandIn::start(any, BOT_TOKEN, SIGNING_SECRET)
            .await
            .unwrap();
        for p in [alice(), bob(), mallory()] {
            slack.add_person(p);
        }
        slack.add_usergroup("S0OPS", &["U0BOB", "U0CAROL"]);
        let mut env = HashMap::from([
            (
                "INTERACTIONS_ROLE_ARN".to_string(),
                FUNCTION_ROLE.to_string(),
            ),
            ("APPROVALS_TABLE".to_string(), table_name.clone()),
            ("SLACK_CHANNEL".to_string(), CHANNEL.to_string()),
            ("SLACK_API_URL".to_string(), slack.api_url()),
            (
                "FAILED_EVENTS_QUEUE_URL".to_string(),
                failed_events_queue.clone(),
            ),
        ]);
        for (name, value) in &options.env {
            env.insert((*name).into(), (*value).into());
        }
        if let Some(reason) = options.reject_reason {
            env.insert("REJECT_REASON".into(), reason.into());
        }
        if let Some(approvers) = options.approvers {
            env.insert("SLACK_APPROVERS".into(), approvers.into());
        }
        for (name, value) in &options.parameters {
            ssm.put_string_parameter(name, value);
        }
        if options.secrets_in_parameters {
            ssm.put_parameter("/approvals/slack-bot-token", BOT_TOKEN);
            ssm.put_parameter("/approvals/slack-signing-secret", SIGNING_SECRET);
            env.insert(
                "SLACK_BOT_TOKEN_PARAMETER".into(),
                "/approvals/slack-bot-token".into(),
            );
            env.insert(
                "SLACK_SIGNING_SECRET_PARAMETER".into(),
                "/approvals/slack-signing-secret".into(),
            );
        } else {
            env.insert("SLACK_BOT_TOKEN".into(), BOT_TOKEN.into());
            env.insert("SLACK_SIGNING_SECRET".into(), SIGNING_SECRET.into());
        }
        let at = dynamodb_url.as_deref();
        let events = EventsApp::from_env(
            &env_from(env.clone()),
            loader_with(&aws.url(), at, SdkRetries::BACKGROUND),
        )
        .await
        .map_err(|e| e.to_string())?;
        let interactions = InteractionsApp::from_env(
            &env_from(env.clone()),
            loader_with(&aws.url(), at, SdkRetries::INTERACTIVE),
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(Self {
            ssm,
            sts,
            dynamodb,
            sqs,
            failed_events_queue,
            aws,
            slack,
            events,
            interactions,
            env,
            dynamodb_url,
            table: table_name,
        })
    }

    /// A second execution environment of the events function (as after a cold start).
    pub async fn another_events_environment(&self) -> EventsApp {
        EventsApp::from_env(
            &env_from(self.env.clone()),
            loader_with(
                &self.aws.url(),
                self.dynamodb_url.as_deref(),
                SdkRetries::BACKGROUND,
            ),
        )
        .await
        .unwrap()
    }

    /// A second execution environment of the interactions function.
    pub async fn another_interactions_environment(&self) -> InteractionsApp {
        InteractionsApp::from_env(
            &env_from(self.env.clone()),
            loader_with(
                &self.aws.url(),
                self.dynamodb_url.as_deref(),
                SdkRetries::INTERACTIVE,
            ),
        )
        .await
        .unwrap()
    }

    /// An environment of the interactions function whose variables differ from the
    /// harness's by `changes` (the same stand-ins behind it).
    pub async fn interactions_with(&self, changes: &[(&str, &str)]) -> InteractionsApp {
        let mut env = self.env.clone();
        for (name, value) in changes {
            env.insert((*name).into(), (*value).into());
        }
        InteractionsApp::from_env(
            &env_from(env),
            loader_with(
                &self.aws.url(),
                self.dynamodb_url.as_deref(),
                SdkRetries::INTERACTIVE,
            ),
        )
        .await
        .unwrap()
    }

    /// Every call made to an AWS stand-in so far (SSM, DynamoDB, STS). In the emulator
    /// run DynamoDB's calls go to the emulator, where nobody counts them: there this
    /// counts SSM and STS only, and says so, so a "no AWS call" assertion checks what it
    /// can (that the account's SSM was not asked) and no more.
    pub fn aws_calls(&self) -> usize {
        if let Some(url) = &self.dynamodb_url {
            eprintln!(
                "aws_calls: SSM and STS only; DynamoDB's calls go to the emulator at {url}, uncounted"
            );
        }
        self.ssm.calls().len() + self.dynamodb.calls().len() + self.sts.assume_role_calls().len()
    }

    /// A runbook with a preparation step, then an approval, then the change.
    pub fn start_runbook(&self, min_approvals: u32) -> String {
        self.ssm.start_automation(runbook(min_approvals))
    }

    pub fn start_sample_runbook(&self) -> String {
        self.ssm
            .start_automation_with_id(SAMPLE_EXECUTION_ID, runbook(1))
    }

    /// Delivers every event SSM emitted so far to the events function, as EventBridge would.
    pub async fn deliver_events(&self) -> Vec<EventOutcome> {
        let mut outcomes = vec![];
        for event in self.ssm.take_events() {
            outcomes.push(
                handle_automation_event(&self.events, &event, &Deadline::for_event(None))
                    .await
                    .expect("event handled"),
            );
        }
        outcomes
    }

    /// Lambda gives up on `event` after its last try failed with `error`: its
    /// invocation record goes to the failed-events queue, as the function's on-failure
    /// destination sends it.
    pub fn lambda_gives_up(&self, event: &Value, error: approvals::handlers::events::EventError) {
        let diagnostic = lambda_runtime::Diagnostic::from(error);
        let record = serde_json::json!({
            "version": "1.0",
            "timestamp": "2026-12-07T04:00:00.000Z",
            "requestContext": {
                "requestId": format!("{:016x}", approvals::deadline::random_u64()),
                "functionArn": format!("arn:aws:lambda:{REGION}:{FUNCTION_ACCOUNT}:function:approvals-AutomationEventsFunction:$LATEST"),
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": diagnostic.error_type, "errorMessage": diagnostic.error_message}
        });
        self.sqs
            .send(&self.failed_events_queue, &record.to_string());
    }

    /// The step event of the approval step entering Waiting, from the events SSM emitted.
    pub fn take_waiting_step_event(&self) -> Value {
        self.ssm
            .take_events()
            .into_iter()
            .find(|e| e["detail"]["Status"] == "Waiting")
            .expect("SSM emitted a Waiting event")
    }

    pub async fn deliver(
        &self,
        event: &Value,
    ) -> Result<EventOutcome, approvals::handlers::events::EventError> {
        handle_automation_event(&self.events, event, &Deadline::for_event(None)).await
    }

    /// Sends an API Gateway event (JSON) to the interactions function, as the runtime would.
    pub async fn invoke_interactions(&self, event: &Value) -> (u16, String) {
        Self::invoke_on(&self.interactions, event).await
    }

    /// Sends an API Gateway event to `app`, one environment of the interactions function.
    pub async fn invoke_on(app: &InteractionsApp, event: &Value) -> (u16, String) {
        let request =
            lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event");
        let response = handle_slack_request(app, request).await;
        let status = response.status().as_u16();
        let body = match response.body() {
            Body::Empty => String::new(),
            Body::Text(t) => t.clone(),
            Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        (status, body)
    }

    pub async fn click(
        &self,
        channel: &str,
        ts: &str,
        person: &Person,
        action_id: &str,
    ) -> (u16, String) {
        let click: SignedClick = self
            .slack
            .click(channel, ts, person, action_id)
            .expect("button present");
        self.invoke_interactions(&click.to_apigw_v2_event(false))
            .await
    }

    /// The single prompt in the channel.
    pub fn only_prompt(&self) -> stand_ins::slack::StoredMessage {
        let messages = self.slack.messages();
        assert_eq!(
            messages.len(),
            1,
            "expected exactly one message, got {messages:#?}"
        );
        messages.into_iter().next().unwrap()
    }

    /// The approval steps' items in the approvals table, for `execution_id`.
    pub fn step_items(&self, execution_id: &str) -> Vec<Value> {
        self.table_items()
            .into_iter()
            .filter(|i| i["execution_id"]["S"] == execution_id)
            .collect()
    }

    /// Every item of the approvals table (DynamoDB JSON), wherever the table is.
    pub fn table_items(&self) -> Vec<Value> {
        match &self.dynamodb_url {
            None => self.dynamodb.items(TABLE),
            Some(url) => emulator::items(url, &self.table),
        }
    }

    /// Writes `item` (DynamoDB JSON) into the approvals table as it is, wherever it is.
    pub fn put_table_item(&self, item: Value) {
        match &self.dynamodb_url {
            None => self.dynamodb.put_raw(TABLE, item),
            Some(url) => emulator::put(url, &self.table, item),
        }
    }

    /// The DynamoDB stand-in, for a test of what the stand-in alone can do (faults, its
    /// record of calls): `None` when the tests run against another emulator.
    pub fn dynamodb_stand_in(&self) -> Option<&DynamoDbStandIn> {
        self.dynamodb_url.is_none().then_some(&self.dynamodb)
    }

    /// The `ts` of the prompt recorded for the execution's only approval step.
    pub fn prompt_ts(&self, execution_id: &str) -> String {
        let items = self.step_items(execution_id);
        assert_eq!(items.len(), 1, "{items:#?}");
        items[0]["ts"]["S"]
            .as_str()
            .expect("a recorded prompt")
            .to_owned()
    }

    /// The next `requests` calls of `operation` (DynamoDB's `UpdateItem`, …) are held
    /// until all have arrived, then go on together: a race forced, not hoped for. Not
    /// for the emulator run (DynamoDB calls do not reach the stand-ins there).
    pub fn force_race(&self, operation: &str, requests: usize) -> stand_ins::aws::Race {
        assert!(
            self.dynamodb_url.is_none() || !operation.ends_with("Item"),
            "a forced race on DynamoDB needs the stand-in"
        );
        self.aws.hold_until(operation, requests)
    }

    /// Like [`Harness::force_race`], holding the first arrivals at most `patience` for
    /// the rest: for racers that each have a deadline of their own (clicks).
    pub fn force_race_within(
        &self,
        operation: &str,
        requests: usize,
        patience: std::time::Duration,
    ) -> stand_ins::aws::Race {
        assert!(self.dynamodb_url.is_none() || !operation.ends_with("Item"));
        self.aws.hold_until_within(operation, requests, patience)
    }

    pub fn signals_sent(&self) -> usize {
        self.ssm.count_calls("SendAutomationSignal")
    }
}

pub fn runbook(min_approvals: u32) -> RunbookSpec {
    RunbookSpec::sample(
        "Roll payments 2026.11.21-1 out to production?",
        min_approvals,
    )
}

/// The sample runbook with a second approval step after the change.
pub fn two_approvals() -> RunbookSpec {
    let mut spec = runbook(1);
    spec.steps.push(stand_ins::ssm::StepSpec::approve(
        "approveCleanup",
        "Clean up the old fleet?",
        1,
        &[FUNCTION_ROLE, FUNCTION_SESSION],
    ));
    spec
}

impl Harness {
    /// Moves the claim on the execution's only step item back past its lease, as if
    /// its poster had claimed it that long ago.
    pub fn expire_claim(&self, execution_id: &str) {
        let mut items = self.step_items(execution_id);
        assert_eq!(items.len(), 1, "{items:#?}");
        let mut item = items.remove(0);
        let long_ago = approvals::deadline::unix_now_ms() / 1000
            - approvals::domain::record::CLAIM_LEASE_SECS as u64;
        item["claimed_at"] = serde_json::json!({"N": long_ago.to_string()});
        self.put_table_item(item);
    }
}

impl Harness {
    /// Moves the decision claim on the execution's only step item back past its lease,
    /// as if the click holding it had died that long ago.
    pub fn expire_decision_claim(&self, execution_id: &str) {
        let mut items = self.step_items(execution_id);
        assert_eq!(items.len(), 1, "{items:#?}");
        let mut item = items.remove(0);
        assert!(
            item.get("deciding_token").is_some(),
            "no decision claim: {item:#}"
        );
        let long_ago = approvals::deadline::unix_now_ms() / 1000
            - approvals::domain::record::DECISION_LEASE_SECS as u64;
        item["deciding_at"] = serde_json::json!({"N": long_ago.to_string()});
        self.put_table_item(item);
    }
}

/// The secret token of the `response_url` in a click's form body.
pub fn response_url_token(form_body: &str) -> String {
    let payload =
        approvals::domain::inbound::form::payload_from_form(form_body.as_bytes()).unwrap();
    let payload: Value = serde_json::from_str(&payload).unwrap();
    let url = payload["response_url"].as_str().unwrap();
    url.rsplit('/').next().unwrap().to_owned()
}

/// The block ID of the first buttons in `message` (an `/approvals` answer, say).
pub fn first_buttons_block(message: &Value) -> String {
    message["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .expect("buttons")["block_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub fn has_buttons(blocks: &[Value]) -> bool {
    blocks.iter().any(|b| b["type"] == "actions")
}

pub fn text_of(blocks: &[Value]) -> String {
    serde_json::to_string(blocks).unwrap()
}

/// An event file from `events/`.
pub fn event_file(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

/// The sample runbook whose approval needs `needed` approvals from these people's sessions.
pub fn quorum_runbook(needed: u32, people: &[&str]) -> stand_ins::ssm::RunbookSpec {
    let mut spec = runbook(needed);
    let approvers: Vec<String> = people.iter().map(|p| session_arn(p)).collect();
    let approvers: Vec<&str> = approvers.iter().map(String::as_str).collect();
    spec.steps[1] = stand_ins::ssm::StepSpec::approve(
        "approveRollout",
        "Fail the payments database over?",
        needed,
        &approvers,
    );
    spec
}

/// What `user` was told last, only them (an ephemeral answer).
pub fn last_ephemeral(h: &Harness, user: &str) -> String {
    h.slack
        .ephemeral()
        .into_iter()
        .rev()
        .find(|e| e.user_id == user)
        .map(|e| e.text)
        .unwrap_or_else(|| panic!("{user} was told nothing"))
}

impl Harness {
    /// `person`'s click on `action` of the prompt at (`channel`, `ts`), its button's
    /// value (the step target, JSON) edited by `forge`, and signed again as Slack signs
    /// whatever it forwards.
    pub fn forged_click(
        &self,
        channel: &str,
        ts: &str,
        person: &Person,
        action: &str,
        forge: impl FnOnce(&mut Value),
    ) -> Value {
        let mut click = self
            .slack
            .click(channel, ts, person, action)
            .unwrap()
            .to_apigw_v2_event(false);
        stand_ins::slack::edit_payload(&mut click, |payload| {
            let value = payload["actions"][0]["value"].as_str().unwrap();
            let mut target: Value = serde_json::from_str(value).unwrap();
            forge(&mut target);
            payload["actions"][0]["value"] = serde_json::json!(target.to_string());
        })
        .unwrap();
        let now = approvals::deadline::unix_now_ms() / 1000;
        stand_ins::slack::resign_event(&mut click, SIGNING_SECRET, now as i64).unwrap();
        click
    }

    /// `person`'s `/approvals` answer in `channel`, shown to them (so checked as Block Kit
    /// by the Slack stand-in): the answer and the ephemeral message's ID.
    pub async fn approvals_list(&self, person: &Person, channel: &str) -> (Value, String) {
        let command = self.slack.slash_command(person, channel, "/approvals", "");
        let (status, body) = self
            .invoke_interactions(&command.to_apigw_v2_event(false))
            .await;
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        let list = self
            .slack
            .show_ephemeral_answer(person, channel, &answer)
            .expect("valid Block Kit");
        (answer, list)
    }

    /// SSM as another principal signing with `access_key` sees it (the console, another
    /// tool): the real SDK, at the stand-ins.
    pub fn ssm_as(&self, access_key: &str) -> aws_sdk_ssm::Client {
        let config = aws_sdk_ssm::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.aws_url())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(access_key, "secret", None, None, "test"))
            .build();
        aws_sdk_ssm::Client::from_conf(config)
    }

    /// The shared AWS stand-ins' endpoint (what `AWS_ENDPOINT_URL` would be).
    pub fn aws_url(&self) -> String {
        self.aws.url()
    }

    /// The scheduled sweep over what waits, as EventBridge Scheduler invokes it.
    pub async fn sweep(&self) -> approvals::handlers::sweep::SweepReport {
        let input = serde_json::json!({"sweep": "waiting-steps"});
        match handle_automation_event(&self.events, &input, &Deadline::for_event(None)).await {
            Ok(EventOutcome::Swept(report)) => report,
            other => panic!("the sweep did not run: {other:?}"),
        }
    }

    /// `person` opens the app's Home tab: Slack's Events API delivery, as sent.
    pub async fn open_home(&self, person: &Person) -> (u16, String) {
        let delivery = self.slack.app_home_opened(person);
        self.invoke_interactions(&delivery.to_apigw_v2_event(false))
            .await
    }

    /// `person` clicks the `nth` button `action_id` in their Home tab.
    pub async fn click_home(&self, person: &Person, action_id: &str, nth: usize) -> (u16, String) {
        let click = self
            .slack
            .click_home(person, action_id, nth)
            .expect("the button is on the Home tab");
        self.invoke_interactions(&click.to_apigw_v2_event(false))
            .await
    }

    /// Moves when the execution's only waiting step started waiting (and was last
    /// reminded of) `secs` into the past, as if that much time had gone by.
    pub fn age_waiting_step(&self, execution_id: &str, secs: i64) {
        let mut items = self.step_items(execution_id);
        assert_eq!(items.len(), 1, "{items:#?}");
        let mut item = items.remove(0);
        for attribute in ["waiting_since", "reminded_at"] {
            if let Some(n) = item[attribute]["N"].as_str() {
                let aged = n.parse::<i64>().unwrap() - secs;
                item[attribute] = serde_json::json!({"N": aged.to_string()});
            }
        }
        self.put_table_item(item);
    }
}

/// Waits (up to 10 s) until `done` holds, checking every 5 ms: for a test to go on
/// once something it can see has happened (a call recorded by a stand-in), never after
/// a guessed delay.
pub async fn until(what: &str, done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "waited 10 s for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
