//! Who may decide from Slack: the rule for the step's account, Region and runbook (the
//! rules document, else `SLACK_APPROVERS`), membership of its user groups (read from
//! Slack, cached), and the workspaces a person may come from (`SLACK_ALLOWED_TEAMS`).
//! Every Slack surface asks here first, before any call about the step: a person who
//! may not decide costs the account nothing. (The rules document itself is read again
//! every few minutes; see [`RuleBook`].)

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::deadline::Deadline;
use crate::domain::approvers::{ApproverPolicy, Verdict};
use crate::domain::inbound::Actor;
use crate::domain::messages::text::{escape, mention};
use crate::domain::place::Place;
use crate::domain::rules::{Fallback, Rules};
use crate::rules::{AppliedRule, RuleBook};
use crate::slack::SlackClient;
use crate::ssm::Ssm;

type Members = Arc<HashSet<String>>;

pub struct Authorizer {
    rules: RuleBook,
    /// Parameter Store, for re-reading the rules.
    home_ssm: Ssm,
    /// User-group members and when they were read; trusted for `group_cache`.
    groups: Mutex<HashMap<String, (Instant, Members)>>,
    group_cache: Duration,
    /// The app's own workspace: `SLACK_TEAM_ID`, or `auth.test` on the first click.
    own_team: tokio::sync::OnceCell<String>,
    allowed_teams: BTreeSet<String>,
}

impl Authorizer {
    pub fn new(
        rules: RuleBook,
        home_ssm: Ssm,
        group_cache: Duration,
        team_id: Option<String>,
        allowed_teams: BTreeSet<String>,
    ) -> Self {
        Self {
            rules,
            home_ssm,
            groups: Mutex::default(),
            group_cache,
            own_team: tokio::sync::OnceCell::new_with(team_id),
            allowed_teams,
        }
    }

    /// Who may decide a step of `runbook` in `place`. `runbook` is `None` only for a
    /// button from before buttons named it: refused when a rule could depend on it.
    pub async fn applied(
        &self,
        place: &Place,
        runbook: Option<&str>,
        deadline: &Deadline,
    ) -> Result<AppliedRule, String> {
        let rules = self.rules.rules(&self.home_ssm, deadline).await;
        let Some(runbook) = runbook.or((!rules.names_runbooks()).then_some("")) else {
            return Err(
                "Nothing was done: this prompt was posted before rules named runbooks, so who                  may decide it cannot be told from it. Decide it from /approvals or the AWS console."
                    .into(),
            );
        };
        Ok(self.rules.fallback().applied(&rules, place, runbook).into())
    }

    /// The rules in force and today's single rule, for a list that checks many steps.
    pub async fn rules(&self, deadline: &Deadline) -> (Arc<Rules>, &Fallback) {
        (
            self.rules.rules(&self.home_ssm, deadline).await,
            self.rules.fallback(),
        )
    }

    /// `Ok` when the person is one of `approvers`; otherwise the sentence to show
    /// them. Slack may be asked (the app's workspace, user-group members); AWS never is.
    pub async fn authorize(
        &self,
        slack: &SlackClient,
        actor: &Actor,
        approvers: &ApproverPolicy,
        deadline: &Deadline,
    ) -> Result<(), String> {
        let user_id = actor.user.id.as_str();
        let groups = match approvers.verdict(user_id) {
            Verdict::NoApproversConfigured => {
                return Err(
                    "Nobody can approve or reject from Slack yet: no approvers are configured \
                     for this app. Nothing was done; ask whoever runs it to name the approvers."
                        .into(),
                );
            }
            verdict => verdict,
        };
        self.check_workspace(slack, actor, deadline).await?;
        let groups = match groups {
            Verdict::Allowed => return Ok(()),
            Verdict::CheckGroups(groups) => groups,
            Verdict::NoApproversConfigured => unreachable!("handled above"),
        };
        for group in groups {
            let members = match self.cached_group(group) {
                Some(m) => m,
                None => match slack.usergroup_members(group, deadline).await {
                    Ok(users) => self.cache_group(group, users),
                    Err(e) => {
                        tracing::warn!(group = %group, error = %e, "could not read user-group members");
                        return Err("Your membership in the approver groups could not be checked \
                                    right now (Slack did not answer). Nothing was done; please try again."
                            .into());
                    }
                },
            };
            if members.contains(user_id) {
                return Ok(());
            }
        }
        Err(format!(
            "Sorry {}, only {} can approve or reject these runbooks, so nothing was done. \
             The request still waits for one of them.",
            mention(user_id, actor.user.handle()),
            approvers.describe()
        ))
    }

    /// The person must belong to the app's own workspace, or to one allowed by
    /// `SLACK_ALLOWED_TEAMS` (shared Slack Connect channels let other organizations click).
    async fn check_workspace(
        &self,
        slack: &SlackClient,
        actor: &Actor,
        deadline: &Deadline,
    ) -> Result<(), String> {
        let Some(team) = actor.team() else {
            return Err(
                "Slack did not say which workspace you belong to, so nothing was done.".into(),
            );
        };
        if self.allowed_teams.contains(team) {
            return Ok(());
        }
        let own = self
            .own_team
            .get_or_try_init(|| async {
                slack
                    .auth_test(deadline)
                    .await
                    .map(|identity| identity.team_id)
            })
            .await;
        match own {
            Ok(own) if own == team => Ok(()),
            Ok(_) => {
                tracing::warn!(clicker_team = %team, "click refused: from another workspace");
                Err(format!(
                    "Sorry, only people of this app's own Slack workspace can approve or reject \
                     these runbooks; you belong to another one ({}). Nothing was done.",
                    escape(team)
                ))
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the app's own workspace (auth.test)");
                Err(
                    "Your workspace could not be checked right now (Slack did not answer). \
                     Nothing was done; please try again."
                        .into(),
                )
            }
        }
    }

    fn cached_group(&self, group: &str) -> Option<Members> {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let (read_at, members) = groups.get(group)?;
        (read_at.elapsed() < self.group_cache).then(|| members.clone())
    }

    fn cache_group(&self, group: &str, users: Vec<String>) -> Members {
        let members: Members = Arc::new(users.into_iter().collect());
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(group.to_owned(), (Instant::now(), members.clone()));
        members
    }
}
