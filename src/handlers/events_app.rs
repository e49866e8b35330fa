//! What the events function and its scheduled sweep share: their clients and
//! settings, read once at start-up ([`EventsApp`]), and how a delivery fails ([`EventError`]).

use std::collections::HashSet;
use std::sync::Mutex;

use aws_config::ConfigLoader;

use super::{StartupError, aws_clients};
use crate::config::{Env, EventsSettings, ReasonMode, SweepSettings};
use crate::deadline::{Deadline, STARTUP_BUDGET};
use crate::domain::identity::Signers;
use crate::domain::messages::blocks::SlackMessage;
use crate::domain::place::{AccountNames, Place};
use crate::domain::routes::RunbookPrefixes;
use crate::domain::rules::Fallback;
use crate::places::{PlaceError, Places, READ_ONLY_SESSION_POLICY};
use crate::queue::FailedEvents;
use crate::rules::RuleBook;
use crate::slack::{SlackClient, SlackError};
use crate::ssm::SsmError;
use crate::starters::Starters;
use crate::store::{ApprovalStore, StoreError};

pub struct EventsApp {
    /// SSM in each step's own account and Region.
    pub(super) places: Places,
    pub(super) store: ApprovalStore,
    pub(super) slack: SlackClient,
    /// Which channel, and who may decide (shown on the prompt).
    pub(super) rules: RuleBook,
    pub(super) account_names: AccountNames,
    pub(super) resumable: RunbookPrefixes,
    pub(super) reason_modal: bool,
    /// Reminders, the last call, and the sweep's bounds.
    pub(super) sweep: SweepSettings,
    /// Who signs decisions for this deployment: the trail credits only them.
    pub(super) signers: Signers,
    /// Who started a run, in Slack (cached e-mail lookups).
    pub(super) starters: Starters,
    /// Tell a matched starter when their run waits and how it was decided.
    pub(super) notify_starter: bool,
    /// Where Lambda puts events whose every try failed; the sweep reads them back.
    pub(super) failed_events: Option<FailedEvents>,
    /// Places this execution environment already recorded as sending events.
    pub(super) places_noted: Mutex<HashSet<Place>>,
}
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error(transparent)]
    Ssm(#[from] SsmError),
    #[error(transparent)]
    Slack(#[from] SlackError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot call SSM in {place}: {source}")]
    Place {
        place: Place,
        #[source]
        source: PlaceError,
    },
    #[error(
        "the prompt of step {step_key} is being posted by another delivery (claimed {age_s} s ago); \
         retry to make sure it was"
    )]
    BeingPosted { step_key: String, age_s: i64 },
}

impl From<EventError> for lambda_runtime::Diagnostic {
    fn from(e: EventError) -> Self {
        let error_type = match e {
            EventError::Ssm(_) => "Retryable.Ssm",
            EventError::Slack(_) => "Retryable.Slack",
            EventError::Store(_) => "Retryable.DynamoDB",
            EventError::Place { .. } => "Retryable.Sts",
            EventError::BeingPosted { .. } => "Retryable.BeingPosted",
        };
        Self {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}
impl EventsApp {
    /// The name prompts show for `place`'s account (the rules document's, else
    /// `ACCOUNT_NAMES`).
    pub(super) fn account_name(&self, place: &Place) -> Option<String> {
        let account = place.account.as_deref()?;
        self.rules.account_name(&self.account_names, account)
    }

    /// A direct message to a run's starter: news, never worth failing a delivery for.
    pub(super) async fn tell_starter(
        &self,
        person: &str,
        news: &SlackMessage,
        deadline: &Deadline,
    ) {
        if let Err(e) = self.slack.post_message(person, news, deadline).await {
            tracing::warn!(error = %e, "could not tell the run's starter");
        }
    }

    pub async fn from_env(env: &impl Env, loader: ConfigLoader) -> Result<Self, StartupError> {
        let settings = EventsSettings::from_env(env)?;
        let organization = settings.organization;
        let spoke = organization.spoke.as_ref();
        let signers = Signers {
            own_role: settings.interactions_role.clone(),
            approver_role: settings.approver_role.clone(),
            spoke_role: spoke.map(|s| {
                s.signer_role_name
                    .clone()
                    .unwrap_or_else(|| s.role_name.clone())
            }),
            spoke_approver_role: spoke.and_then(|s| s.approver_role_name.clone()),
        };
        let aws = aws_clients(
            loader,
            &settings.table,
            &organization,
            settings.approver_role.clone(),
        )
        .await;
        let deadline = Deadline::after(STARTUP_BUDGET);
        let home = aws.places.home_ssm();
        let fallback = Fallback {
            channel: Some(settings.channel),
            routes: settings.routes,
            approvers: settings.approvers,
            self_approval: settings.starters.self_approval,
        };
        let (bot_token, rules) = tokio::join!(
            home.resolve_secret(&settings.bot_token, &deadline),
            RuleBook::load(fallback, organization.rules, home, &deadline)
        );
        let slack = SlackClient::new(&settings.slack_api_url, bot_token?)?;
        let failed_events = settings
            .failed_events_queue
            .as_deref()
            .map(|url| FailedEvents::new(aws_sdk_sqs::Client::new(&aws.sdk), url));
        Ok(Self {
            // It never signals: its sessions in member accounts may only read.
            places: aws.places.with_session_policy(READ_ONLY_SESSION_POLICY),
            store: aws.store,
            slack,
            rules: rules?,
            account_names: organization.account_names,
            resumable: settings.resumable,
            reason_modal: settings.reject_reason != ReasonMode::Off,
            sweep: settings.sweep,
            signers,
            starters: Starters::default(),
            notify_starter: settings.starters.notify,
            failed_events,
            places_noted: Mutex::default(),
        })
    }
}
