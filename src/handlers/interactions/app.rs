//! The interactions function's clients and settings, read once at start-up.

use aws_config::ConfigLoader;

use super::super::{StartupError, aws_clients};
use crate::config::{Env, InteractionsSettings, ReasonMode, Secret};
use crate::deadline::{Deadline, STARTUP_BUDGET};
use crate::domain::approvers::ApproverPolicy;
use crate::domain::messages::prompt::PromptStyle;
use crate::domain::place::{AccountNames, Place, Shown};
use crate::domain::routes::Routes;
use crate::domain::rules::Fallback;
use crate::domain::waiting::StepTarget;
use crate::permissions::Permissions;
use crate::places::Places;
use crate::rules::RuleBook;
use crate::sessions::PersonSessions;
use crate::slack::SlackClient;
use crate::starters::Starters;
use crate::store::ApprovalStore;

pub struct InteractionsApp {
    pub(super) signing_secret: Secret,
    /// Who may decide and see: the permission boundary.
    pub(super) permissions: Permissions,
    /// SSM in each step's own account and Region.
    pub(super) places: Places,
    pub(super) store: ApprovalStore,
    pub(super) slack: SlackClient,
    /// Per-person STS sessions, in the accounts that have an approver role
    /// (`APPROVER_ROLE_ARN`, `SPOKE_APPROVER_ROLE_NAME`).
    pub(super) sessions: PersonSessions,
    pub(super) account_names: AccountNames,
    pub(super) reject_reason: ReasonMode,
    /// Who started a run, in Slack (cached e-mail lookups).
    pub(super) starters: Starters,
}

impl InteractionsApp {
    pub async fn from_env(env: &impl Env, loader: ConfigLoader) -> Result<Self, StartupError> {
        let settings = InteractionsSettings::from_env(env)?;
        let organization = settings.organization;
        let aws = aws_clients(
            loader,
            &settings.table,
            &organization,
            settings.approver_role.clone(),
        )
        .await;
        let sessions = PersonSessions::new(aws_sdk_sts::Client::new(&aws.sdk));
        // Both secrets and the rules at once: fewer Parameter Store round trips in a
        // row on a cold start.
        let deadline = Deadline::after(STARTUP_BUDGET);
        let home = aws.places.home_ssm();
        let fallback = Fallback {
            channel: None,
            routes: Routes::default(),
            approvers: settings.approvers,
            self_approval: settings.starters.self_approval,
        };
        let nobody_by_default = fallback.approvers == ApproverPolicy::Nobody;
        let none_by_default = fallback.approvers == ApproverPolicy::NobodyFromSlack;
        let (bot_token, signing_secret, rules) = tokio::join!(
            home.resolve_secret(&settings.bot_token, &deadline),
            home.resolve_secret(&settings.signing_secret, &deadline),
            RuleBook::load(fallback, organization.rules.clone(), home, &deadline)
        );
        let (bot_token, signing_secret, rules) = (bot_token?, signing_secret?, rules?);
        let slack = SlackClient::new(&settings.slack_api_url, bot_token)?;
        if none_by_default {
            tracing::info!(
                "SLACK_APPROVERS is none: steps no rule names are decided in the AWS console"
            );
        }
        if nobody_by_default {
            if organization.rules.is_some() {
                tracing::info!("SLACK_APPROVERS is empty: only the rules' approvers may decide");
            } else {
                tracing::warn!("SLACK_APPROVERS is empty: every click will be refused");
            }
        }
        Ok(Self {
            signing_secret,
            permissions: Permissions::new(
                rules,
                settings.resumable,
                home.clone(),
                settings.group_cache,
                settings.team_id,
                settings.allowed_teams,
            ),
            places: aws.places,
            store: aws.store,
            slack,
            sessions,
            account_names: organization.account_names,
            reject_reason: settings.reject_reason,
            starters: Starters::default(),
        })
    }

    /// How prompts of steps in `place` are drawn.
    pub(super) fn style(&self, place: &Place) -> PromptStyle {
        PromptStyle {
            per_person: self.places.per_person(place),
            reason_modal: self.reject_reason != ReasonMode::Off,
            // Only the prompt the events function posts says how many must approve.
            rule_approvals: 0,
            // A step nobody may decide from Slack is never listed with buttons.
            nobody_from_slack: false,
        }
    }

    /// The place a button names: the deployment's own account and Region unless it
    /// names others.
    pub(super) fn place_of(&self, target: &StepTarget) -> Place {
        self.places
            .place_of(target.account.as_deref(), target.region.as_deref())
    }

    pub(super) fn shown<'a>(&self, place: &'a Place) -> Shown<'a> {
        let name = place.account.as_deref().and_then(|account| {
            self.permissions
                .rule_book()
                .account_name(&self.account_names, account)
        });
        Shown::named(place, name)
    }
}
