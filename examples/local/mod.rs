//! What the measuring examples (`step-check-latency`, `soak`, `group-miss-latency`,
//! `self-approval-latency`) share: the AWS and Slack stand-ins on loopback, the events
//! handler in-process to post prompts, and a built `slack-interactions` binary
//! configured against them as Lambda would run it.
// Each example uses its own part of this.
#![allow(dead_code)]

pub mod table;

use std::process::Command;

use approvals::deadline::Deadline;
use approvals::handlers::events::{EventOutcome, EventsApp, handle_automation_event};
use approvals::ssm::{SdkRetries, config_loader};
use aws_sdk_ssm::config::{Credentials, Region};
use stand_ins::aws::AwsEndpoint;
use stand_ins::dynamodb::DynamoDbStandIn;
use stand_ins::slack::{Person, SlackStandIn};
use stand_ins::ssm::{RunbookSpec, SsmStandIn};
use stand_ins::sts::StsStandIn;

pub type Error = Box<dyn std::error::Error>;

pub const SECRET: &str = "local-measuring-signing-secret";
pub const TOKEN: &str = "xoxb-local-measuring";
pub const CHANNEL: &str = "C0APPROVALS";
/// The functions' own AWS access key (their role), trusted by [`ROLE`].
const KEY: &str = "AKIDLOCAL";
/// The approver role of per-person sessions.
pub const ROLE: &str = "arn:aws:iam::123456789012:role/SlackApprover";

pub struct Local {
    pub ssm: SsmStandIn,
    pub sts: StsStandIn,
    pub dynamodb: DynamoDbStandIn,
    pub slack: SlackStandIn,
    pub alice: Person,
    events: EventsApp,
    _aws: AwsEndpoint,
}

impl Local {
    pub async fn start() -> Result<Self, Error> {
        let any = "127.0.0.1:0".parse()?;
        let ssm = SsmStandIn::start(any, "us-east-1").await?;
        let sts = StsStandIn::start(any, ssm.principals()).await?;
        sts.add_role(ROLE, &[KEY], true);
        let dynamodb = DynamoDbStandIn::start(any).await?;
        table::create_approvals_table(&dynamodb);
        let aws =
            AwsEndpoint::start_with_sts(any, ssm.clone(), dynamodb.clone(), sts.clone()).await?;
        let slack = SlackStandIn::start(any, TOKEN, SECRET).await?;
        let alice = Person::new("U0ALICE", "alice");
        slack.add_person(alice.clone());
        let events = EventsApp::from_env(
            &|name: &str| match name {
                "SLACK_CHANNEL" => Some(CHANNEL.to_owned()),
                "APPROVALS_TABLE" => Some("approvals".to_owned()),
                "SLACK_API_URL" => Some(slack.api_url()),
                "SLACK_BOT_TOKEN" => Some(TOKEN.to_owned()),
                _ => None,
            },
            config_loader(SdkRetries::BACKGROUND)
                .endpoint_url(aws.url())
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new(KEY, "local", None, None, "local")),
        )
        .await?;
        Ok(Self {
            ssm,
            sts,
            dynamodb,
            slack,
            alice,
            events,
            _aws: aws,
        })
    }

    /// Starts `spec`, delivers its events to the events handler, and returns the
    /// `ts` of the prompt it posted.
    pub async fn prompt(&self, spec: RunbookSpec) -> Result<String, Error> {
        self.ssm.start_automation(spec);
        let mut posted = None;
        for event in self.ssm.take_events() {
            let outcome =
                handle_automation_event(&self.events, &event, &Deadline::for_event(None)).await?;
            if let EventOutcome::Posted { ts, .. } = outcome {
                posted = Some(ts);
            }
        }
        Ok(posted.ok_or("no prompt posted")?)
    }

    /// The `slack-interactions` binary with a clean environment configured against
    /// the stand-ins, polling the Runtime API at `runtime_api`. The caller adds its
    /// own variables (log level and format, sessions) and its output.
    pub fn interactions(&self, binary: &str, runtime_api: &str) -> Command {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "slack-interactions")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL_SSM", self.ssm.url())
            .env("AWS_ENDPOINT_URL_DYNAMODB", self.dynamodb.url())
            .env("APPROVALS_TABLE", "approvals")
            .env("SLACK_API_URL", self.slack.api_url())
            .env("SLACK_BOT_TOKEN", TOKEN)
            .env("SLACK_SIGNING_SECRET", SECRET)
            .env("SLACK_APPROVERS", "U0ALICE")
            .env("SLACK_TEAM_ID", stand_ins::slack::TEAM_ID);
        command
    }
}
